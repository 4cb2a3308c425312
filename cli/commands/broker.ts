import { readFile } from 'node:fs/promises';
import { numberOption, stringOption, type Command, type CommandContext } from '../command.ts';
import { DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_SHARED_INFLIGHT, parsePersistence, readAuthFile, startBroker, type BrokerOptions, type TlsOptions } from '../../broker/index.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';
import { settleWithin } from '../../transport/settle-within.ts';

/** Closing the listeners, the clients' connections and the persistence (Redis) may take this long on a stop. */
const CLOSE_WITHIN_MS = 3000;

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };

/** `65536`, `64KiB`, `64MiB`, `1GiB` (binary units; k/m/g mean the same). */
export function parseByteSize(name: string, raw: string): number {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(raw.trim());
  const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) throw new EdgeweaveError('E_USAGE', `--${name} must be a size like 65536, 512KiB or 64MiB, got "${raw}"`);
  return Number(match[1]) * unit;
}

async function readTls(ctx: CommandContext): Promise<TlsOptions | null> {
  const certPath = stringOption(ctx.values, 'tls-cert');
  const keyPath = stringOption(ctx.values, 'tls-key');
  if (certPath === undefined && keyPath === undefined) return null;
  if (certPath === undefined || keyPath === undefined) throw new EdgeweaveError('E_USAGE', '--tls-cert and --tls-key go together');
  const read = async (path: string, what: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new EdgeweaveError('E_CONFIG', `cannot read TLS ${what} ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  return { cert: await read(certPath, 'certificate'), key: await read(keyPath, 'key') };
}

/** `--dashboard`: the dashboard's request handler for the WebSocket port, built before the broker listens. */
async function dashboardOption(ctx: CommandContext, options: BrokerOptions): Promise<NonNullable<BrokerOptions['httpHandler']>> {
  if (options.wsPort === null) throw new EdgeweaveError('E_USAGE', '--dashboard is served on the WebSocket port: it cannot go with --ws-port off');
  const username = stringOption(ctx.values, 'dashboard-username');
  const password = stringOption(ctx.values, 'dashboard-password') ?? (username !== undefined ? process.env['EDGEWEAVE_DASHBOARD_PASSWORD'] : undefined);
  if ((username === undefined) !== (password === undefined)) throw new EdgeweaveError('E_USAGE', '--dashboard-username and --dashboard-password go together');
  if (options.auth && username === undefined) ctx.log.warn('--dashboard with --auth and no --dashboard-username: the page will be refused by the broker');
  const { dashboardHandler } = await import('../../dashboard/index.ts');
  const handler = dashboardHandler({ log: ctx.log, ...(username !== undefined && password !== undefined ? { username, password } : {}) });
  await handler.ready();
  return handler;
}

export const command: Command = {
  name: 'broker',
  summary: 'run the embedded MQTT broker (TCP + WebSocket, $share groups, auth)',
  usage: '[--host 127.0.0.1] [--port 1883] [--ws-port 9001|off] [--auth auth.json] [--tls-cert c.pem --tls-key k.pem] [--max-payload 64MiB] [--persist redis://127.0.0.1:6379] [--dashboard [--dashboard-username <u> --dashboard-password <p>]] [--json]',
  help: [
    ['--host <addr>', 'interface to listen on (default 127.0.0.1; 0.0.0.0 for all)'],
    ['--port <n>', 'MQTT port, or MQTT over TLS with --tls-*; 0 picks a free one (default 1883)'],
    ['--ws-port <n|off>', 'MQTT over WebSocket port, path /mqtt; 0 picks a free one (default 9001)'],
    ['--auth <file>', 'users, roles and password hashes (see `edgeweave auth`); without it anyone may connect and do anything'],
    ['--tls-cert <file>', 'PEM certificate: serve MQTT over TLS and WebSocket over TLS'],
    ['--tls-key <file>', 'PEM private key for --tls-cert'],
    ['--max-payload <size>', 'largest message payload; bigger publishes close the publisher\'s connection (default 64MiB)'],
    ['--persist <store>', 'memory (default) or redis://host:6379[/db]: sessions, retained messages and queued QoS 1 messages survive a restart'],
    ['--shared-inflight <n>', `unacknowledged QoS 1 messages a $share member holds at most; each message goes to the member holding fewest (default ${DEFAULT_SHARED_INFLIGHT})`],
    ['--dashboard', 'also serve the live dashboard over plain HTTP(S) on the WebSocket port: http://<host>:<ws-port>/'],
    ['--dashboard-username <u>', 'observer login the dashboard page uses with --auth (every browser that opens it gets it)'],
    ['--dashboard-password <p>', 'its password (or set EDGEWEAVE_DASHBOARD_PASSWORD)'],
    ['--json', 'print the listening URLs as one JSON line'],
  ],
  options: {
    host: { type: 'string' },
    port: { type: 'string' },
    'ws-port': { type: 'string' },
    auth: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'max-payload': { type: 'string' },
    'shared-inflight': { type: 'string' },
    persist: { type: 'string' },
    dashboard: { type: 'boolean' },
    'dashboard-username': { type: 'string' },
    'dashboard-password': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const wsRaw = stringOption(ctx.values, 'ws-port');
    const maxPayloadRaw = stringOption(ctx.values, 'max-payload');
    const authPath = stringOption(ctx.values, 'auth');
    const options: BrokerOptions = {
      host: stringOption(ctx.values, 'host') ?? '127.0.0.1',
      port: numberOption(ctx.values, 'port', 1883, { min: 0, max: 65535, integer: true }),
      wsPort: wsRaw === 'off' ? null : numberOption(ctx.values, 'ws-port', 9001, { min: 0, max: 65535, integer: true }),
      auth: authPath === undefined ? null : await readAuthFile(authPath),
      tls: await readTls(ctx),
      maxPayloadBytes: maxPayloadRaw === undefined ? DEFAULT_MAX_PAYLOAD_BYTES : parseByteSize('max-payload', maxPayloadRaw),
      persistence: parsePersistence(stringOption(ctx.values, 'persist') ?? 'memory'),
      shared: { maxInflightPerMember: numberOption(ctx.values, 'shared-inflight', DEFAULT_SHARED_INFLIGHT, { min: 1, max: 65535, integer: true }) },
      log: ctx.log,
    };
    if (options.auth === null) ctx.log.warn('no --auth file: anonymous clients may publish and subscribe to anything');
    if (ctx.values['dashboard'] === true) options.httpHandler = await dashboardOption(ctx, options);
    const broker = await startBroker(options);
    const { url, wsUrl } = broker;
    const dashboardUrl = options.httpHandler && wsUrl ? wsUrl.replace(/^ws/, 'http').replace(/\/mqtt$/, '/') : null;
    ctx.stdout.write(ctx.values['json'] === true
      ? JSON.stringify({ url, wsUrl, ...(dashboardUrl ? { dashboardUrl } : {}) }) + '\n'
      : `mqtt: ${url}\n${wsUrl ? `websocket: ${wsUrl}\n` : ''}${dashboardUrl ? `dashboard: ${dashboardUrl}\n` : ''}`);
    const signal = await ctx.stopSignal;
    ctx.log.info({ signal }, 'shutting down');
    if (!(await settleWithin(broker.close(), CLOSE_WITHIN_MS))) {
      ctx.log.warn({ withinMs: CLOSE_WITHIN_MS }, 'the broker did not close in time');
      return 1;
    }
    return 0;
  },
};
