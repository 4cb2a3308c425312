/**
 * The scenario file of `edgeweave experiment`: JSON, checked once against the schema of
 * docs/EXPERIMENTS.md, with every mistake reported under its field's path. Paths in the file
 * (the trace) are relative to the file. The result is plain data, frozen.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { FieldIssues, ObjectReader, isObject, show, stringItem, type Json } from './fields.ts';
import { zooModelNames } from '../../models/zoo/catalog.ts';
import { loadTrace } from '../../node-runtime/link.ts';
import { ALGORITHM_NAMES } from '../../planner/core/registry.ts';
import { POWER_PRESET_NAMES, RADIO_KINDS } from '../../power/presets.ts';
import { isValidId } from '../../schemas/topics.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';

export type Role = 'iot' | 'edge' | 'cloud';
export type Radio = 'wifi' | 'lte' | '3g' | 'wired';

export interface LinkMbps {
  upMbps: number;
  downMbps: number;
  rttMs: number;
}

export interface ScenarioDevice {
  id: string;
  role: Role;
  speed: number;
  memoryMiB?: number;
  power?: string;
  radio?: Radio;
  link?: LinkMbps;
  workers?: number;
}

/** One link setting of the origin in a sweep. */
export interface LinkSetting extends LinkMbps {
  name: string;
  radio?: Radio;
}

/** One speed setting of a sweep: device id -> speed (the others as declared). */
export interface SpeedSetting {
  name: string;
  speeds: Record<string, number>;
}

interface ScenarioBase {
  name: string;
  /** Absolute path of the scenario file ('' when parsed from text). */
  file: string;
  seed: number;
  devices: ScenarioDevice[];
  /** The device jobs come from (in a trajectory, the template of the cars). */
  origin: string;
  timeoutMs: number;
  warmupJobs: number;
}

export interface SweepScenario extends ScenarioBase {
  kind: 'sweep';
  models: string[];
  algorithms: string[];
  links: LinkSetting[];
  speeds: SpeedSetting[];
  jobsPerCell: number;
}

/** A strategy of a trajectory: a planner algorithm, or `fixed` (plan once with auto, then reuse). */
export const FIXED = 'fixed';

export interface TrajectoryScenario extends ScenarioBase {
  kind: 'trajectory';
  model: string;
  strategies: string[];
  /** Absolute path of the bandwidth trace. */
  trace: string;
  /** Length of one loop of the trace, seconds. */
  traceDurationS: number;
  jobsPerSecond: number;
  durationS: number;
  timeScale: number;
  /** The cars' link: the trace replaces the uplink; downlink and RTT are fixed. */
  link: { downMbps: number; rttMs: number; radio?: Radio };
  schedule: 'parallel' | 'sequential';
}

export type Scenario = SweepScenario | TrajectoryScenario;

/** The demo's devices: a Raspberry Pi 4 class car, an edge server and a cloud VM. */
export const DEFAULT_DEVICES: readonly ScenarioDevice[] = Object.freeze([
  { id: 'car1', role: 'iot', speed: 0.1, memoryMiB: 1024, power: 'raspberry-pi-4', radio: 'wifi', link: { upMbps: 10, downMbps: 20, rttMs: 10 } },
  { id: 'edge1', role: 'edge', speed: 0.5, link: { upMbps: 200, downMbps: 200, rttMs: 2 } },
  { id: 'cloud1', role: 'cloud', speed: 1, link: { upMbps: 50, downMbps: 50, rttMs: 40 } },
]);
export const DEFAULT_ALGORITHMS = ['local', 'edge', 'cloud', 'neurosurgeon', 'auto'];
export const DEFAULT_STRATEGIES = [FIXED, 'auto', 'local'];
const ROLES: readonly Role[] = ['iot', 'edge', 'cloud'];

/** The car of one strategy in a trajectory. */
export function strategyDeviceId(origin: string, strategy: string): string {
  return `${origin}-${strategy}`;
}

export function linkText(l: LinkMbps): string {
  return `up=${l.upMbps},down=${l.downMbps},rtt=${l.rttMs}`;
}

function readLink(r: ObjectReader, needUp: boolean): LinkMbps {
  return {
    upMbps: needUp ? r.number('upMbps', undefined, { above: 0 }) ?? 1 : 0,
    downMbps: r.number('downMbps', undefined, { above: 0 }) ?? 1,
    rttMs: r.number('rttMs', undefined, { min: 0 }) ?? 0,
  };
}

function readDevice(v: Json, path: string, issues: FieldIssues): ScenarioDevice | undefined {
  if (!isObject(v)) return void issues.add(path, `must be an object, got ${show(v)}`);
  const r = new ObjectReader(v, path, issues);
  const id = r.string('id', undefined);
  if (id !== undefined && !isValidId(id)) issues.add(r.at('id'), `must be 1-64 characters of A-Z a-z 0-9 . _ -, got ${show(id)}`);
  const d: ScenarioDevice = {
    id: id ?? '?',
    role: (r.string('role', undefined, ROLES) ?? 'edge') as Role,
    speed: r.number('speed', 1, { above: 0, max: 1e4 }) ?? 1,
  };
  const memory = r.number('memoryMiB', 0, { above: 0 });
  if (r.has('memoryMiB') && memory) d.memoryMiB = memory;
  const power = r.string('power', '', POWER_PRESET_NAMES);
  if (power) d.power = power;
  const radio = r.string('radio', '', RADIO_KINDS);
  if (radio) d.radio = radio as Radio;
  const link = r.object('link', undefined, (l) => readLink(l, true));
  if (link) d.link = link;
  const workers = r.number('workers', 0, { min: 1, max: 64, integer: true });
  if (workers) d.workers = workers;
  r.done();
  return d;
}

function readLinkSetting(v: Json, path: string, issues: FieldIssues): LinkSetting | undefined {
  if (!isObject(v)) return void issues.add(path, `must be an object {name, upMbps, downMbps, rttMs, radio}, got ${show(v)}`);
  const r = new ObjectReader(v, path, issues);
  const link = readLink(r, true);
  const name = r.string('name', `${link.upMbps}/${link.downMbps} Mbps ${link.rttMs} ms`)!;
  const radio = r.string('radio', '', RADIO_KINDS);
  r.done();
  return { name, ...link, ...(radio ? { radio: radio as Radio } : {}) };
}

function readSpeedSetting(v: Json, path: string, issues: FieldIssues, ids: Set<string>): SpeedSetting | undefined {
  if (!isObject(v)) return void issues.add(path, `must be an object {"<device id>": <speed>, ...}, got ${show(v)}`);
  const speeds: Record<string, number> = {};
  for (const [id, s] of Object.entries(v)) {
    if (!ids.has(id)) issues.add(`${path}.${id}`, `is not a declared device (devices: ${[...ids].join(', ')})`);
    else if (typeof s !== 'number' || !(s > 0) || s > 1e4) issues.add(`${path}.${id}`, `must be a number > 0 and <= 10000, got ${show(s)}`);
    else speeds[id] = s;
  }
  const name = Object.keys(speeds).length === 0 ? 'as declared' : Object.entries(speeds).map(([id, s]) => `${id}=${s}`).join(' ');
  return { name, speeds };
}

/**
 * A model item: a zoo name, or the path of a model.json (or a folder holding one), relative to
 * the scenario file; paths come back absolute.
 */
function modelItem(issues: FieldIssues, file: string): (v: Json, path: string) => string | undefined {
  const zoo = zooModelNames();
  return (v, path) => {
    if (typeof v !== 'string' || v === '') {
      issues.add(path, `must be a zoo model or a model.json path, got ${show(v)}`);
      return undefined;
    }
    if (zoo.includes(v)) return v;
    const p = resolve(file === '' ? process.cwd() : dirname(file), v);
    const isFile = existsSync(p) && statSync(p).isFile();
    if (isFile || existsSync(join(p, 'model.json'))) return p;
    issues.add(path, `must be a zoo model: ${zoo.join(', ')}, or the path of a model.json or of its folder, relative to the scenario (no ${p}), got ${show(v)}`);
    return undefined;
  };
}

/** Checks a parsed scenario document; throws E_CONFIG listing every problem. */
export function parseScenario(doc: Json, file = ''): Scenario {
  const where = file === '' ? 'scenario' : file;
  if (!isObject(doc)) throw new EdgeweaveError('E_CONFIG', `${where}: a scenario is a JSON object, got ${show(doc)}`);
  const issues = new FieldIssues();
  const r = new ObjectReader(doc, '', issues);
  const kind = r.string('kind', undefined, ['sweep', 'trajectory']);
  r.raw('$schema');
  r.raw('description');
  const ids = new Set<string>();
  const devices = r.list('devices', DEFAULT_DEVICES.map((d) => ({ ...d })), (v, p) => {
    const d = readDevice(v, p, issues);
    if (d && ids.has(d.id)) issues.add(`${p}.id`, `duplicate device id ${show(d.id)}`);
    if (d) ids.add(d.id);
    return d;
  })!;
  if (!r.has('devices')) for (const d of devices) ids.add(d.id);
  const firstIot = devices.find((d) => d.role === 'iot')?.id;
  const origin = r.string('origin', firstIot ?? '')!;
  if (origin === '') issues.add('origin', 'is required when no device has role iot');
  else if (!ids.has(origin)) issues.add('origin', `must be one of the devices (${[...ids].join(', ')}), got ${show(origin)}`);
  const base: ScenarioBase = {
    name: r.string('name', file === '' ? 'experiment' : basename(file).replace(/\.json$/i, ''))!,
    file: file === '' ? '' : resolve(file),
    seed: r.number('seed', 1, { min: 0, max: 2 ** 31 - 1, integer: true })!,
    devices, origin,
    timeoutMs: r.number('timeoutMs', 180_000, { min: 1000, max: 3_600_000, integer: true })!,
    warmupJobs: r.number('warmupJobs', 1, { min: 0, max: 100, integer: true })!,
  };
  const models = modelItem(issues, file);
  let scenario: Scenario | undefined;
  if (kind === 'sweep') {
    const names = new Set<string>();
    const links = r.list('links', undefined, (v, p) => {
      const l = readLinkSetting(v, p, issues);
      if (l && names.has(l.name)) issues.add(`${p}.name`, `duplicate link setting name ${show(l.name)}`);
      if (l) names.add(l.name);
      return l;
    }) ?? [];
    scenario = {
      ...base, kind,
      models: r.list('models', undefined, models) ?? [],
      algorithms: r.list('algorithms', DEFAULT_ALGORITHMS, stringItem(issues, ALGORITHM_NAMES, 'an algorithm:'))!,
      links,
      speeds: r.list('speeds', [{ name: 'as declared', speeds: {} }], (v, p) => readSpeedSetting(v, p, issues, ids))!,
      jobsPerCell: r.number('jobsPerCell', 1, { min: 1, max: 10_000, integer: true })!,
    };
  } else if (kind === 'trajectory') {
    scenario = readTrajectory(r, base, file, issues, models, ids);
  }
  r.done();
  if (!issues.ok || !scenario) {
    throw new EdgeweaveError('E_CONFIG', `${where}: ${issues.issues.length === 1 ? 'a problem' : `${issues.issues.length} problems`}:\n  ${issues.issues.join('\n  ')}`);
  }
  return deepFreeze(scenario);
}

function readTrajectory(
  r: ObjectReader, base: ScenarioBase, file: string, issues: FieldIssues, models: (v: Json, path: string) => string | undefined, ids: Set<string>,
): TrajectoryScenario {
  const raw = r.raw('model');
  const model = raw === undefined ? (issues.add('model', 'is required: a zoo model or a model.json path'), '') : (models(raw, 'model') ?? '');
  const name = stringItem(issues, [FIXED, ...ALGORITHM_NAMES], 'fixed or an algorithm:');
  const seen = new Set<string>();
  const carOf = (s: string, path: string): void => {
    const id = strategyDeviceId(base.origin, s);
    if (!isValidId(id)) issues.add(path, `the car ${show(id)} is not a valid device id`);
    else if (ids.has(id)) issues.add(path, `the car ${show(id)} clashes with a declared device`);
  };
  const strategies = r.list('strategies', DEFAULT_STRATEGIES, (v, path) => {
    const s = name(v, path);
    if (s === undefined) return undefined;
    if (seen.has(s)) return void issues.add(path, `duplicate strategy ${show(s)}`);
    seen.add(s);
    carOf(s, path);
    return s;
  })!;
  if (!r.has('strategies')) strategies.forEach((s) => carOf(s, `strategies (default ${DEFAULT_STRATEGIES.join(', ')})`));
  const traceRef = r.string('trace', undefined);
  let trace = '';
  let traceDurationS = 0;
  if (traceRef !== undefined) {
    trace = resolve(file === '' ? process.cwd() : dirname(file), traceRef);
    try {
      traceDurationS = loadTrace(trace).durationS;
    } catch (err) {
      issues.add('trace', (err as Error).message);
    }
  }
  const origin = base.devices.find((d) => d.id === base.origin);
  const fallbackLink = { downMbps: origin?.link?.downMbps ?? 20, rttMs: origin?.link?.rttMs ?? 10, ...(origin?.radio ? { radio: origin.radio } : {}) };
  const link = r.object('link', fallbackLink, (l) => {
    const down = l.number('downMbps', fallbackLink.downMbps, { above: 0 })!;
    const rtt = l.number('rttMs', fallbackLink.rttMs, { min: 0 })!;
    const radio = l.string('radio', fallbackLink.radio ?? '', RADIO_KINDS);
    return { downMbps: down, rttMs: rtt, ...(radio ? { radio: radio as Radio } : {}) };
  })!;
  const durationS = r.number('durationS', traceDurationS > 0 ? traceDurationS : 1, { above: 0, max: 86_400 })!;
  const jobsPerSecond = r.number('jobsPerSecond', 0.5, { above: 0, max: 100 })!;
  if (Math.floor(durationS * jobsPerSecond) < 1) issues.add('jobsPerSecond', `durationS x jobsPerSecond gives no job (${durationS} s x ${jobsPerSecond}/s)`);
  return {
    ...base, kind: 'trajectory', model, strategies, trace, traceDurationS, jobsPerSecond, durationS,
    timeScale: r.number('timeScale', 1, { min: 0.01, max: 1000 })!,
    link,
    schedule: r.string('schedule', 'parallel', ['parallel', 'sequential']) as 'parallel' | 'sequential',
  };
}

/** Reads and checks a scenario file. */
export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new EdgeweaveError('E_CONFIG', `cannot read scenario ${path}: ${(err as Error).message}`, { cause: err });
  }
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch (err) {
    throw new EdgeweaveError('E_CONFIG', `${path}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseScenario(doc, path);
}

/** How many jobs a scenario submits (warm-ups not counted). */
export function jobCount(s: Scenario): number {
  if (s.kind === 'sweep') return s.models.length * s.algorithms.length * s.links.length * s.speeds.length * s.jobsPerCell;
  return s.strategies.length * Math.floor(s.durationS * s.jobsPerSecond);
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
