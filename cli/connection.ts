/** Broker connection options shared by every command that talks MQTT. */
import { readFileSync } from 'node:fs';
import { stringOption, type CommandContext, type OptionSpec } from './command.ts';
import { EdgeweaveError } from '../schemas/errors.ts';
import type { BrokerConnection } from '../transport/mqtt-transport.ts';

export const CONNECTION_OPTIONS: OptionSpec = {
  broker: { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
  ca: { type: 'string' },
};

export const CONNECTION_HELP: Array<[string, string]> = [
  ['--broker <url>', 'MQTT broker: mqtt://, mqtts://, ws:// or wss:// (default mqtt://127.0.0.1:1883)'],
  ['--username <name>', 'user name on a broker with --auth (default: the device or planner id)'],
  ['--password <pw>', 'password (or set EDGEWEAVE_PASSWORD)'],
  ['--ca <file>', 'PEM certificate to trust for mqtts:// and wss:// (a self-signed broker certificate)'],
];

/** The broker and login every command connects with. */
export type Connection = BrokerConnection;

export const DEFAULT_BROKER = 'mqtt://127.0.0.1:1883';

export function connectionOf(ctx: Pick<CommandContext, 'values'>): Connection {
  const brokerUrl = stringOption(ctx.values, 'broker') ?? process.env['EDGEWEAVE_BROKER'] ?? DEFAULT_BROKER;
  if (!/^(mqtts?|wss?):\/\/[^\s]+$/.test(brokerUrl)) {
    throw new EdgeweaveError('E_USAGE', `--broker "${brokerUrl}" is not a broker URL; use mqtt://host:1883, mqtts://host:8883, ws://host:9001/mqtt or wss://...`);
  }
  const out: Connection = { brokerUrl };
  const username = stringOption(ctx.values, 'username');
  if (username !== undefined) out.username = username;
  const password = stringOption(ctx.values, 'password') ?? process.env['EDGEWEAVE_PASSWORD'];
  if (password !== undefined) out.password = password;
  const caPath = stringOption(ctx.values, 'ca');
  if (caPath !== undefined) {
    try {
      out.ca = readFileSync(caPath, 'utf8');
    } catch (err) {
      throw new EdgeweaveError('E_CONFIG', `cannot read --ca ${caPath}: ${(err as Error).message}`, { cause: err });
    }
  }
  return out;
}
