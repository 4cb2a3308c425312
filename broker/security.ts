/**
 * The broker's gatekeeping, installed as aedes hooks: authentication against the auth
 * file, the topic ACL for publishes, subscriptions and last wills, the payload limit,
 * and the hand-off of `$share` subscriptions to the dispatcher. Every refusal is logged
 * with client id, user and topic, and none of them throws on the message path.
 */
import type { Aedes, AuthenticateError, Client, PublishPacket, Subscription } from 'aedes';
import type { Logger } from 'pino';
import type { ErrorCode } from '../schemas/errors.ts';
import { compileAcl, type Acl } from './acl.ts';
import { dropRefusedPublishes, pendingWill } from './aedes-internals.ts';
import type { AuthFile } from './auth-file.ts';
import { DEFAULT_SCRYPT_PARAMS, hashPassword, parsePasswordHash, verifyPassword, type ScryptParams } from './password.ts';
import type { SharedSubscriptions } from './shared-subscriptions.ts';
import { isSharedSubscription, parseSharedSubscription } from './topic-filter.ts';

export interface SecurityOptions {
  /** Users and roles; null = anonymous clients allowed and no ACL (development only). */
  auth: AuthFile | null;
  maxPayloadBytes: number;
  shares: SharedSubscriptions;
  log: Logger;
}

/** What the rest of the broker needs to know about a connection's identity. */
export interface Security {
  userOf(client: Client): string | undefined;
}

const RETURN_CODE = { badCredentials: 4, notAuthorized: 5, unavailable: 3 } as const;
const REFUSAL_LOG_INTERVAL_MS = 5_000;
const REFUSAL_TOPICS_TRACKED = 256;

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/** The scrypt parameters of the first user (so an unknown user costs the same), else the defaults. */
function decoyParams(auth: AuthFile): ScryptParams {
  const first = Object.values(auth.users)[0];
  const parsed = first ? parsePasswordHash(first.password) : null;
  return parsed && typeof parsed !== 'string' ? { N: parsed.N, r: parsed.r, p: parsed.p } : DEFAULT_SCRYPT_PARAMS;
}

interface Credentials {
  passwordHash: string;
  acl: Acl;
}

export function installSecurity(broker: Aedes, options: SecurityOptions): Security {
  const { auth, maxPayloadBytes, shares, log } = options;
  const credentials = new Map<string, Credentials>();
  for (const [user, entry] of Object.entries(auth?.users ?? {})) {
    credentials.set(user, { passwordHash: entry.password, acl: compileAcl(user, entry.role) });
  }
  // verified against when the user is unknown, so that case costs what a wrong password costs
  const decoyHash = auth ? hashPassword('decoy', decoyParams(auth)) : null;
  decoyHash?.catch(() => {});
  const acls = new WeakMap<Client, Acl>();
  const refused = new WeakSet<object>();
  const lastRefusalLog = new WeakMap<Client, Map<string, { atMs: number; suppressed: number }>>();

  const userOf = (client: Client): string | undefined => acls.get(client)?.user;
  const who = (client: Client | null): { clientId: string | null; user: string | undefined } => ({
    clientId: client?.id ?? null,
    user: client ? userOf(client) : undefined,
  });

  /**
   * Warns about a refused publish. Each topic is reported, but a client repeating the same
   * refused topic is reported at most once per interval (a looping device must not flood the log).
   */
  const warnRefusal = (client: Client, topic: string, fields: Record<string, unknown>, message: string): void => {
    const now = Date.now();
    let perTopic = lastRefusalLog.get(client);
    if (perTopic === undefined || perTopic.size > REFUSAL_TOPICS_TRACKED) lastRefusalLog.set(client, (perTopic = new Map()));
    const last = perTopic.get(topic);
    if (last && now - last.atMs < REFUSAL_LOG_INTERVAL_MS) {
      last.suppressed++;
      return;
    }
    perTopic.set(topic, { atMs: now, suppressed: 0 });
    log.warn({ ...who(client), topic, ...fields, ...(last?.suppressed ? { suppressedSinceLast: last.suppressed } : {}) }, message);
  };

  const checkCredentials = async (client: Client, username: string | undefined, password: Buffer | undefined): Promise<Acl | null> => {
    if (auth === null) return null;
    if (username === undefined || password === undefined) {
      log.warn({ clientId: client.id, user: username ?? null, code: 'E_AUTH' }, 'connection refused: no credentials');
      throw authError('credentials required', RETURN_CODE.badCredentials);
    }
    const entry = credentials.get(username);
    const ok = await verifyPassword(password.toString('utf8'), entry?.passwordHash ?? (await decoyHash!));
    if (!entry || !ok) {
      log.warn({ clientId: client.id, user: username, code: 'E_AUTH', reason: entry ? 'wrong password' : 'unknown user' }, 'connection refused: bad credentials');
      throw authError('bad user name or password', RETURN_CODE.badCredentials);
    }
    return entry.acl;
  };

  const checkWill = (client: Client, acl: Acl | null): void => {
    const will = pendingWill(client);
    if (will === null) return;
    const reason = will.topic.startsWith('$')
      ? 'will topic starts with $'
      : will.payloadBytes > maxPayloadBytes
        ? 'will payload exceeds --max-payload'
        : acl !== null && !acl.canPublish(will.topic)
          ? 'will topic not allowed for this role'
          : null;
    if (reason !== null) {
      log.warn({ clientId: client.id, user: acl?.user, topic: will.topic, code: 'E_ACL', reason }, 'connection refused: last will not allowed');
      throw authError(reason, RETURN_CODE.notAuthorized);
    }
  };

  /**
   * A client id belongs to its user: `{user}` or `{user}.{anything}` (admins excepted). Otherwise
   * one authenticated client could take over another's session, and the messages queued for it.
   */
  const checkClientId = (client: Client, acl: Acl | null): void => {
    if (acl === null || acl.role === 'admin') return;
    const id = client.id ?? '';
    if (id === acl.user || id.startsWith(`${acl.user}.`)) return;
    log.warn({ clientId: id, user: acl.user, code: 'E_AUTH', reason: 'client id not owned by the user' }, 'connection refused: client id must be the user name or start with "<user>."');
    throw authError('client id not allowed for this user', RETURN_CODE.notAuthorized);
  };

  broker.authenticate = (client, username, password, done) => {
    checkCredentials(client, username, password)
      .then((acl) => {
        checkClientId(client, acl);
        checkWill(client, acl);
        return acl;
      })
      .then(
        (acl) => {
          if (acl !== null) acls.set(client, acl);
          shares.sessionStarted(client);
          log.debug({ clientId: client.id, user: acl?.user }, 'client authenticated');
          done(null, true);
        },
        (err: unknown) => {
          if (err instanceof Error && 'returnCode' in err) return done(err as AuthenticateError, false);
          log.error({ err, clientId: client.id }, 'authentication failed unexpectedly');
          done(authError('server unavailable', RETURN_CODE.unavailable), false);
        },
      );
  };

  broker.authorizePublish = (client, packet, done) => {
    if (client === null) return done(null); // a will of a client of another broker instance, checked when it connected
    const topic = packet.topic;
    const payloadBytes = packet.payload.length;
    if (payloadBytes > maxPayloadBytes) {
      log.warn({ ...who(client), topic, payloadBytes, maxPayloadBytes, code: 'E_PAYLOAD_TOO_LARGE' }, 'publish refused: payload too large; closing the connection');
      return done(new Error(`payload of ${payloadBytes} bytes exceeds the broker's limit of ${maxPayloadBytes}`));
    }
    const acl = acls.get(client);
    const reason = topic.startsWith('$') ? 'topics starting with $ are reserved' : acl !== undefined && !acl.canPublish(topic) ? 'not allowed for this role' : null;
    if (reason !== null) {
      warnRefusal(client, topic, { code: 'E_ACL', reason }, 'publish refused and dropped');
      refused.add(packet);
    }
    done(null);
  };

  broker.authorizeSubscribe = (client, sub, done) => {
    const refuse = (reason: string, code: ErrorCode = 'E_ACL'): void => {
      log.warn({ ...who(client), topic: sub.topic, qos: sub.qos, code, reason }, 'subscription refused');
      done(null, null);
    };
    const acl = acls.get(client);
    if (!isSharedSubscription(sub.topic)) {
      if (acl !== undefined && !acl.canSubscribe(sub.topic)) return refuse('not allowed for this role');
      return done(null, sub);
    }
    const shared = parseSharedSubscription(sub.topic);
    if (shared === null) return refuse('malformed: expected $share/{group}/{filter}', 'E_TOPIC');
    if (sub.qos > 1) return refuse('shared subscriptions support QoS 0 and 1', 'E_UNSUPPORTED');
    if (acl !== undefined && !acl.canSubscribe(shared.filter)) return refuse('not allowed for this role');
    shares.join(client, shared.group, shared.filter, sub.qos as 0 | 1, () => done(null, sub as Subscription));
  };

  broker.on('unsubscribe', (topics: string[], client: Client) => {
    for (const topic of topics) {
      const shared = isSharedSubscription(topic) ? parseSharedSubscription(topic) : null;
      if (shared) shares.leave(client, shared.group, shared.filter);
    }
  });

  dropRefusedPublishes(broker, (packet: PublishPacket) => refused.delete(packet));
  return { userOf };
}
