import { totalmem } from 'node:os';
import { join } from 'node:path';
import { numberOption, stringOption, type Command } from '../command.ts';
import { CONNECTION_HELP, CONNECTION_OPTIONS, connectionOf } from '../connection.ts';
import { Device, type DeviceConfig } from '../../node-runtime/device.ts';
import { parseLinkSpec } from '../../node-runtime/link.ts';
import { parseDataSources } from '../../node-runtime/data-sources.ts';
import { isPowerPresetName, isRadioKind, POWER_PRESET_NAMES } from '../../power/presets.ts';
import type { DeviceRole, PowerPresetName, RadioKind } from '../../power/types.ts';
import { isValidId } from '../../schemas/topics.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';

export const DEFAULT_DEVICE_MODELS = ['chain', 'mobilenetv2', 'resnet18', 'vgg16', 'inception', 'fusion'];
const ROLES: DeviceRole[] = ['iot', 'edge', 'cloud'];
const ENGINES = ['tfjs-node', 'wasm', 'cpu'] as const;

export const command: Command = {
  name: 'node',
  summary: 'run a device: the same runtime on an IoT board, an edge server or a cloud VM',
  usage: '--id <id> --role iot|edge|cloud [--broker <url>] [--speed 1] [--memory <MiB>] [--link up=<Mbps>,down=<Mbps>,rtt=<ms>] [--trace <file>] [--workers 1] [options]',
  help: [
    ['--id <id>', 'device id: 1-64 characters of A-Z a-z 0-9 . _ -'],
    ['--role <role>', 'iot, edge or cloud'],
    ...CONNECTION_HELP,
    ['--speed <factor>', 'emulated compute speed against this host: 0.1 = ten times slower (default 1: no emulation)'],
    ['--memory <MiB>', 'memory offered for model stages (default: this host\'s memory)'],
    ['--link <spec>', 'emulated link to the broker, e.g. up=10,down=20,rtt=10 (Mbps, Mbps, ms); default: none, no added delay'],
    ['--trace <file>', 'the emulated uplink follows this bandwidth trace (time_s<TAB>Mbps per line); needs --link'],
    ['--workers <n>', 'executor processes (default 1: in this process)'],
    ['--power <preset>', `power figures: ${POWER_PRESET_NAMES.join(', ')} (default by role)`],
    ['--radio <kind>', 'wifi, lte, 3g or wired (default by power preset)'],
    ['--engine <name>', 'tfjs-node, wasm or cpu (default: the fastest that loads; or EDGEWEAVE_ENGINE)'],
    ['--models <list>', `models held, comma-separated zoo names or model.json paths (default ${DEFAULT_DEVICE_MODELS.join(',')})`],
    ['--data <key>=<src>', 'a data source this device supplies as job input: image.png|.jpg, tensor.json or random[:seed]; repeatable'],
    ['--data-dir <dir>', 'profiles and caches (default ./.edgeweave)'],
    ['--heartbeat-ms <ms>', 'status heartbeat interval (default 2000)'],
    ['--no-profile', 'do not profile models at start (the planner then estimates from FLOPs)'],
    ['--profile-layers', 'also profile the unfused (per-layer) DAG'],
    ['--profile-runs <n>', 'timed runs per task when profiling (default 3)'],
    ['--debug-json', 'mirror every message this device publishes as JSON under edgeweave/v1/debug/...'],
    ['--local-socket <path|off>', 'where programs on this host hand the device job data (default: a Unix socket under the temporary directory; off: none, they use MQTT)'],
    ['--held-mib <MiB>', 'job data held for this device\'s jobs at most (default 256)'],
    ['--compute <mode>', 'real (default: stages run the model) or virtual (stages take this host\'s profiled time over --speed and hand on made-up tensors of the right shapes: many devices on one host)'],
  ],
  options: {
    id: { type: 'string' },
    role: { type: 'string' },
    ...CONNECTION_OPTIONS,
    speed: { type: 'string' },
    memory: { type: 'string' },
    link: { type: 'string' },
    trace: { type: 'string' },
    workers: { type: 'string' },
    power: { type: 'string' },
    radio: { type: 'string' },
    engine: { type: 'string' },
    models: { type: 'string' },
    data: { type: 'string', multiple: true },
    'data-dir': { type: 'string' },
    'heartbeat-ms': { type: 'string' },
    'no-profile': { type: 'boolean' },
    'profile-layers': { type: 'boolean' },
    'profile-runs': { type: 'string' },
    'debug-json': { type: 'boolean' },
    'local-socket': { type: 'string' },
    'held-mib': { type: 'string' },
    compute: { type: 'string' },
  },
  async run(ctx) {
    const config = deviceConfigOf(ctx.values);
    const device = new Device(config, ctx.log);
    // A signal while the device starts (loading models, starting workers) stops it at once.
    const signal = await Promise.race([device.start().then(() => ctx.stopSignal), ctx.stopSignal]);
    ctx.log.info({ signal }, 'stopping');
    await device.stop();
    return 0;
  },
};

export function deviceConfigOf(values: Parameters<Command['run']>[0]['values']): DeviceConfig {
  const id = stringOption(values, 'id');
  if (id === undefined) throw new EdgeweaveError('E_USAGE', '--id is required (e.g. --id car1)');
  if (!isValidId(id)) throw new EdgeweaveError('E_USAGE', `--id "${id}": use 1-64 characters of A-Z a-z 0-9 . _ -`);
  const role = stringOption(values, 'role');
  if (role === undefined || !ROLES.includes(role as DeviceRole)) throw new EdgeweaveError('E_USAGE', `--role must be one of ${ROLES.join(', ')}${role ? `, got "${role}"` : ''}`);
  const linkRaw = stringOption(values, 'link');
  const trace = stringOption(values, 'trace');
  if (trace !== undefined && linkRaw === undefined) throw new EdgeweaveError('E_USAGE', '--trace needs --link (the trace replaces the uplink bandwidth; down and rtt come from --link)');
  const power = stringOption(values, 'power');
  if (power !== undefined && !isPowerPresetName(power)) throw new EdgeweaveError('E_USAGE', `--power must be one of ${POWER_PRESET_NAMES.join(', ')}, got "${power}"`);
  const radio = stringOption(values, 'radio');
  if (radio !== undefined && !isRadioKind(radio)) throw new EdgeweaveError('E_USAGE', `--radio must be wifi, lte, 3g or wired, got "${radio}"`);
  const engine = stringOption(values, 'engine') ?? process.env['EDGEWEAVE_ENGINE'];
  if (engine !== undefined && engine !== '' && !(ENGINES as readonly string[]).includes(engine)) throw new EdgeweaveError('E_USAGE', `--engine must be one of ${ENGINES.join(', ')}, got "${engine}"`);
  const models = (stringOption(values, 'models') ?? DEFAULT_DEVICE_MODELS.join(',')).split(',').map((m) => m.trim()).filter((m) => m !== '');
  const data = values['data'];
  const config: DeviceConfig = {
    id,
    role: role as DeviceRole,
    ...connectionOf({ values }),
    speed: numberOption(values, 'speed', 1, { min: 1e-4, max: 1e4 }),
    memoryBytes: numberOption(values, 'memory', Math.floor(totalmem() / 2 ** 20), { min: 1 }) * 2 ** 20,
    workers: numberOption(values, 'workers', 1, { min: 1, max: 64, integer: true }),
    models,
    dataSources: parseDataSources(Array.isArray(data) ? (data as string[]) : []),
    dataDir: stringOption(values, 'data-dir') ?? process.env['EDGEWEAVE_DATA_DIR'] ?? '.edgeweave',
    heartbeatMs: numberOption(values, 'heartbeat-ms', 2000, { min: 100, max: 600_000, integer: true }),
    profile: values['no-profile'] !== true,
    profileLayers: values['profile-layers'] === true,
    profileRuns: numberOption(values, 'profile-runs', 3, { min: 1, max: 1000, integer: true }),
    version: '0.1.0',
    debugJson: values['debug-json'] === true,
  };
  config.cacheDir = process.env['EDGEWEAVE_CACHE_DIR'] ?? join(config.dataDir, 'models');
  if (linkRaw !== undefined) config.link = parseLinkSpec(linkRaw);
  if (trace !== undefined) config.tracePath = trace;
  if (power !== undefined) config.power = power as PowerPresetName;
  if (radio !== undefined) config.radio = radio as RadioKind;
  if (engine !== undefined && engine !== '') config.engine = engine as DeviceConfig['engine'] & string;
  const socket = stringOption(values, 'local-socket');
  if (socket === 'off') config.localSocket = false;
  else if (socket !== undefined) {
    if (socket === '' || socket.length > 100) throw new EdgeweaveError('E_USAGE', `--local-socket "${socket}": give a path of at most 100 characters, or off`);
    config.localSocket = socket;
  }
  if (values['held-mib'] !== undefined) config.heldBytes = numberOption(values, 'held-mib', 256, { min: 1 }) * 2 ** 20;
  const compute = stringOption(values, 'compute');
  if (compute !== undefined && compute !== 'real' && compute !== 'virtual') throw new EdgeweaveError('E_USAGE', `--compute must be real or virtual, got "${compute}"`);
  if (compute !== undefined) config.compute = compute;
  return config;
}
