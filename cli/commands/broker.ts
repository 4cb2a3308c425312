import { readFile } from 'node:fs/promises';
import { numberOption, stringOption, type Command, type CommandContext } from '../command.ts';
import { DEFAULT_MAX_PAYLOAD_BYTES, readAuthFile, startBroker, type BrokerOptions, type TlsOptions } from '../../broker/index.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';

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

export const command: Command = {
  name: 'broker',
  summary: 'run the embedded MQTT broker (TCP + WebSocket, $share groups, auth)',
  usage: '[--host 127.0.0.1] [--port 1883] [--ws-port 9001|off] [--auth auth.json] [--tls-cert c.pem --tls-key k.pem] [--max-payload 64MiB] [--json]',
  help: [
    ['--host <addr>', 'interface to listen on (default 127.0.0.1; 0.0.0.0 for all)'],
    ['--port <n>', 'MQTT port, or MQTT over TLS with --tls-*; 0 picks a free one (default 1883)'],
    ['--ws-port <n|off>', 'MQTT over WebSocket port, path /mqtt; 0 picks a free one (default 9001)'],
    ['--auth <file>', 'users, roles and password hashes (see `edgeweave auth`); without it anyone may connect and do anything'],
    ['--tls-cert <file>', 'PEM certificate: serve MQTT over TLS and WebSocket over TLS'],
    ['--tls-key <file>', 'PEM private key for --tls-cert'],
    ['--max-payload <size>', 'largest message payload; bigger publishes close the publisher\'s connection (default 64MiB)'],
    ['--shared-inflight <n>', 'unacknowledged QoS 1 messages per $share member before another member is preferred (default 1)'],
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
      shared: { maxInflightPerMember: numberOption(ctx.values, 'shared-inflight', 1, { min: 1, max: 65535, integer: true }) },
      log: ctx.log,
    };
    if (options.auth === null) ctx.log.warn('no --auth file: anonymous clients may publish and subscribe to anything');
    const broker = await startBroker(options);
    const { url, wsUrl } = broker;
    ctx.stdout.write(ctx.values['json'] === true ? JSON.stringify({ url, wsUrl }) + '\n' : `mqtt: ${url}\n${wsUrl ? `websocket: ${wsUrl}\n` : ''}`);
    const signal = await ctx.stopSignal;
    ctx.log.info({ signal }, 'shutting down');
    await broker.close();
    return 0;
  },
};
