import { numberOption, stringOption, type Command } from '../command.ts';
import { startDashboardServer } from '../../dashboard/index.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';
import { settleWithin } from '../../transport/settle-within.ts';

export const DEFAULT_DASHBOARD_BROKER = 'ws://127.0.0.1:9001/mqtt';

export const command: Command = {
  name: 'dashboard',
  summary: 'serve the live dashboard: devices, jobs, task DAGs, timelines, energy, bandwidth',
  usage: '[--broker ws://127.0.0.1:9001/mqtt] [--port 8080] [--host 127.0.0.1] [--username <observer> --password <pw>] [--json]',
  help: [
    ['--broker <url>', `the broker's MQTT over WebSocket URL, ws:// or wss:// (default ${DEFAULT_DASHBOARD_BROKER}); a loopback host is replaced by the host name the browser used`],
    ['--port <n>', 'HTTP port of the page; 0 picks a free one (default 8080)'],
    ['--host <addr>', 'interface to listen on (default 127.0.0.1; 0.0.0.0 for all)'],
    ['--username <name>', 'an observer user on a broker with --auth (every browser that opens the page gets this login)'],
    ['--password <pw>', 'its password (or set EDGEWEAVE_PASSWORD)'],
    ['--json', 'print the page URL as one JSON line'],
  ],
  options: {
    broker: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const brokerUrl = stringOption(ctx.values, 'broker') ?? process.env['EDGEWEAVE_DASHBOARD_BROKER'] ?? DEFAULT_DASHBOARD_BROKER;
    if (!/^wss?:\/\/[^\s/]+/.test(brokerUrl)) {
      throw new EdgeweaveError('E_USAGE', `--broker "${brokerUrl}": the browser speaks MQTT over WebSocket; give ws://host:9001/mqtt or wss://host:9001/mqtt`);
    }
    const username = stringOption(ctx.values, 'username');
    const password = stringOption(ctx.values, 'password') ?? (username !== undefined ? process.env['EDGEWEAVE_PASSWORD'] : undefined);
    if (username !== undefined && password === undefined) throw new EdgeweaveError('E_USAGE', '--username needs --password (or EDGEWEAVE_PASSWORD)');
    if (username === undefined && stringOption(ctx.values, 'password') !== undefined) throw new EdgeweaveError('E_USAGE', '--password needs --username');
    const server = await startDashboardServer({
      host: stringOption(ctx.values, 'host') ?? '127.0.0.1',
      port: numberOption(ctx.values, 'port', 8080, { min: 0, max: 65535, integer: true }),
      brokerUrl,
      ...(username !== undefined && password !== undefined ? { username, password } : {}),
      log: ctx.log,
    });
    ctx.stdout.write(ctx.values['json'] === true ? JSON.stringify({ url: server.url, brokerUrl }) + '\n' : `dashboard: ${server.url}\nbroker: ${brokerUrl}\n`);
    const signal = await ctx.stopSignal;
    ctx.log.info({ signal }, 'shutting down');
    // The server drops its open connections on close; bounded all the same.
    if (!(await settleWithin(server.close(), 2000))) {
      ctx.log.warn('the dashboard server did not close in time');
      return 1;
    }
    return 0;
  },
};
