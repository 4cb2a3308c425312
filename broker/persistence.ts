/**
 * Where the broker keeps sessions, retained messages and wills: in memory (aedes's default)
 * or in Redis (`--persist redis://host:port[/db]`, via aedes-persistence-redis@11, which fits
 * aedes 1.2's peer range), so they survive a broker restart. `$share` groups and their
 * backlogs live in this process whatever the persistence (see shared-subscriptions.ts):
 * members rejoin when they reconnect and resubscribe.
 */
import { createRequire } from 'node:module';
import { EdgeweaveError } from '../schemas/errors.ts';

export type PersistenceSpec = { kind: 'memory' } | { kind: 'redis'; url: string };

export interface Persistence {
  /** The aedes `persistence` option; undefined means aedes's own in-memory store. */
  instance: unknown;
  /** Releases connections (Redis); a no-op in memory. */
  close(): Promise<void>;
}

/** Parses `--persist`: `memory` or a `redis://` URL. */
export function parsePersistence(value: string): PersistenceSpec {
  if (value === 'memory') return { kind: 'memory' };
  if (/^rediss?:\/\//.test(value)) return { kind: 'redis', url: value };
  throw new EdgeweaveError('E_USAGE', `--persist must be "memory" or a redis:// URL (e.g. redis://127.0.0.1:6379), got "${value}"`);
}

type RedisFactory = (opts: Record<string, unknown>) => unknown;
interface RedisConnection {
  quit(): Promise<unknown>;
  disconnect(): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
}
type RedisClass = new (opts: Record<string, unknown>) => RedisConnection;

export async function createPersistence(spec: PersistenceSpec): Promise<Persistence> {
  switch (spec.kind) {
    case 'memory':
      return { instance: undefined, close: async () => undefined };
    case 'redis': {
      const url = new URL(spec.url);
      const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
      if (!Number.isInteger(db) || db < 0) throw new EdgeweaveError('E_CONFIG', `--persist ${spec.url}: the database must be a number`);
      const require = createRequire(import.meta.url);
      const factory = require('aedes-persistence-redis') as RedisFactory;
      // The connection is ours (ioredis, as aedes-persistence-redis itself uses it), so that
      // closing can wait for commands still in flight rather than cut them off.
      const Redis = createRequire(require.resolve('aedes-persistence-redis'))('ioredis') as RedisClass;
      const conn = new Redis({
        host: url.hostname, port: url.port === '' ? 6379 : Number(url.port), db,
        ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
        ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
        ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
        maxRetriesPerRequest: 3,
      });
      conn.on('error', () => undefined); // reported through the failing operations
      const instance = factory({ conn });
      return {
        instance,
        close: async () => {
          // Let the last writes of closing sessions (wills, retained statuses) land first.
          await new Promise((resolve) => setTimeout(resolve, 100));
          await conn.quit().catch(() => conn.disconnect());
        },
      };
    }
  }
}
