/**
 * The devices file of `edgeweave plan` (schema in docs/PLANNER.md): parsed and checked into the
 * planner core's DeviceSpec list. Pure: the caller reads the file. Every mistake is reported with
 * its JSON path; unknown keys are errors (with a suggestion), so typos never pass silently.
 */
import { isPowerPresetName, isRadioKind, POWER_PRESET_NAMES, RADIO_KINDS } from '../power/presets.ts';
import type { BusyInterval, CostModelOptions, DeviceRole, DeviceSpec, PlanIssue, PowerSpec, RadioPowerModel } from './core/types.ts';

export interface DevicesFile {
  origin: string;
  devices: DeviceSpec[];
  /** Devices marked offline in the file. */
  excludeDevices: string[];
  pins: Record<string, string>;
  cost: Pick<CostModelOptions, 'referenceFlopsPerSec' | 'taskOverheadMs'>;
}

export type DevicesFileOutcome = { ok: true; file: DevicesFile } | { ok: false; issues: PlanIssue[] };

const ID = /^[A-Za-z0-9._-]{1,64}$/;
const MiB = 2 ** 20;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

class Checker {
  readonly issues: PlanIssue[] = [];

  fail(path: string, message: string): void {
    this.issues.push({ code: 'E_CONFIG', message: `${path}: ${message}`, path });
  }

  keys(obj: Json, path: string, allowed: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (allowed.includes(key)) continue;
      const guess = closest(key, allowed);
      this.fail(`${path}.${key}`, `unknown key${guess ? ` (did you mean "${guess}"?)` : ''}; allowed: ${allowed.join(', ')}`);
    }
  }

  number(obj: Json, key: string, path: string, rule: { min?: number; above?: number; integer?: boolean; required?: boolean }): number | undefined {
    const v = obj[key];
    if (v === undefined) {
      if (rule.required) this.fail(`${path}.${key}`, 'is required');
      return undefined;
    }
    const ok = typeof v === 'number' && Number.isFinite(v) && (rule.min === undefined || v >= rule.min) &&
      (rule.above === undefined || v > rule.above) && (!rule.integer || Number.isInteger(v));
    if (!ok) {
      const bound = rule.above !== undefined ? `> ${rule.above}` : rule.min !== undefined ? `>= ${rule.min}` : '';
      this.fail(`${path}.${key}`, `must be ${rule.integer ? 'a whole number' : 'a number'}${bound ? ` ${bound}` : ''} (got ${JSON.stringify(v)})`);
      return undefined;
    }
    return v as number;
  }
}

/** Parses the text of a devices file. */
export function parseDevicesFile(text: string): DevicesFileOutcome {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, issues: [{ code: 'E_CONFIG', message: `not valid JSON: ${message}`, path: '$' }] };
  }
  return checkDevicesFile(value);
}

/** Checks an already parsed devices file. */
export function checkDevicesFile(value: unknown): DevicesFileOutcome {
  const c = new Checker();
  if (!isObject(value)) return { ok: false, issues: [{ code: 'E_CONFIG', message: '$: a devices file is a JSON object with "origin" and "devices"', path: '$' }] };
  c.keys(value, '$', ['$schema', 'comment', 'origin', 'devices', 'pins', 'referenceGflops', 'taskOverheadMs']);
  const devices: DeviceSpec[] = [];
  const excluded: string[] = [];
  const raw = value['devices'];
  if (!Array.isArray(raw) || raw.length === 0) c.fail('$.devices', 'must be a non-empty array of devices');
  else {
    const seen = new Set<string>();
    raw.forEach((entry: unknown, i) => {
      const spec = checkDevice(c, entry, `$.devices[${i}]`);
      if (!spec) return;
      if (seen.has(spec.device.id)) c.fail(`$.devices[${i}].id`, `duplicate device id "${spec.device.id}"`);
      seen.add(spec.device.id);
      devices.push(spec.device);
      if (spec.offline) excluded.push(spec.device.id);
    });
  }
  const origin = value['origin'];
  if (typeof origin !== 'string' || origin.length === 0) c.fail('$.origin', 'must name the device that submits the job');
  else if (devices.length > 0 && !devices.some((d) => d.id === origin)) {
    c.fail('$.origin', `"${origin}" is not one of the devices (${devices.map((d) => d.id).join(', ')})`);
  } else if (excluded.includes(origin)) c.fail('$.origin', `"${origin}" is marked offline`);
  const pins: Record<string, string> = {};
  if (value['pins'] !== undefined) {
    if (!isObject(value['pins'])) c.fail('$.pins', 'must map task ids to device ids');
    else {
      for (const [task, device] of Object.entries(value['pins'])) {
        if (typeof device !== 'string' || !devices.some((d) => d.id === device)) c.fail(`$.pins.${task}`, `must name one of the devices (got ${JSON.stringify(device)})`);
        else pins[task] = device;
      }
    }
  }
  const cost: DevicesFile['cost'] = {};
  const gflops = c.number(value, 'referenceGflops', '$', { above: 0 });
  if (gflops !== undefined) cost.referenceFlopsPerSec = gflops * 1e9;
  const overhead = c.number(value, 'taskOverheadMs', '$', { min: 0 });
  if (overhead !== undefined) cost.taskOverheadMs = overhead;
  if (c.issues.length > 0) return { ok: false, issues: c.issues };
  return { ok: true, file: { origin: origin as string, devices, excludeDevices: excluded, pins, cost } };
}

const DEVICE_KEYS = ['id', 'role', 'speed', 'memoryMiB', 'power', 'radio', 'link', 'workers', 'busyUntilMs', 'uplinkBusyUntilMs', 'downlinkBusyUntilMs', 'busy', 'loadFactor', 'offline', 'profileMs', 'comment'] as const;

function checkDevice(c: Checker, entry: unknown, path: string): { device: DeviceSpec; offline: boolean } | null {
  if (!isObject(entry)) {
    c.fail(path, 'a device is an object');
    return null;
  }
  const before = c.issues.length;
  c.keys(entry, path, DEVICE_KEYS);
  const id = entry['id'];
  if (typeof id !== 'string' || !ID.test(id)) c.fail(`${path}.id`, `must be 1-64 characters of [A-Za-z0-9._-] (got ${JSON.stringify(id)})`);
  const role = entry['role'];
  if (role !== 'iot' && role !== 'edge' && role !== 'cloud') c.fail(`${path}.role`, `must be "iot", "edge" or "cloud" (got ${JSON.stringify(role)})`);
  const speed = c.number(entry, 'speed', path, { above: 0, required: true });
  const memoryMiB = c.number(entry, 'memoryMiB', path, { above: 0, required: true });
  const workers = c.number(entry, 'workers', path, { min: 1, integer: true });
  if (workers !== undefined && workers > 1024) c.fail(`${path}.workers`, 'must be at most 1024');
  const busyUntilMs = c.number(entry, 'busyUntilMs', path, { min: 0 });
  const uplinkBusyUntilMs = c.number(entry, 'uplinkBusyUntilMs', path, { min: 0 });
  const downlinkBusyUntilMs = c.number(entry, 'downlinkBusyUntilMs', path, { min: 0 });
  const loadFactor = c.number(entry, 'loadFactor', path, { above: 0 });
  const offline = entry['offline'];
  if (offline !== undefined && typeof offline !== 'boolean') c.fail(`${path}.offline`, 'must be true or false');

  let link: DeviceSpec['link'] | undefined;
  const rawLink = entry['link'];
  if (!isObject(rawLink)) c.fail(`${path}.link`, 'is required: { "upMbps": ..., "downMbps": ..., "rttMs": ... }');
  else {
    c.keys(rawLink, `${path}.link`, ['upMbps', 'downMbps', 'rttMs']);
    const up = c.number(rawLink, 'upMbps', `${path}.link`, { above: 0, required: true });
    const down = c.number(rawLink, 'downMbps', `${path}.link`, { above: 0, required: true });
    const rtt = c.number(rawLink, 'rttMs', `${path}.link`, { min: 0, required: true });
    if (up !== undefined && down !== undefined && rtt !== undefined) link = { upBps: up * 1e6, downBps: down * 1e6, rttMs: rtt };
  }

  const radio = entry['radio'];
  if (radio !== undefined && (typeof radio !== 'string' || !isRadioKind(radio))) c.fail(`${path}.radio`, `must be one of ${RADIO_KINDS.join(', ')} (got ${JSON.stringify(radio)})`);
  const power = checkPower(c, entry['power'], `${path}.power`);

  let busy: BusyInterval[] | undefined;
  if (entry['busy'] !== undefined) {
    if (!Array.isArray(entry['busy'])) c.fail(`${path}.busy`, 'must be an array of { "startMs", "endMs", "worker"? }');
    else {
      busy = [];
      entry['busy'].forEach((b: unknown, k) => {
        const p = `${path}.busy[${k}]`;
        if (!isObject(b)) {
          c.fail(p, 'must be { "startMs", "endMs", "worker"? }');
          return;
        }
        c.keys(b, p, ['startMs', 'endMs', 'worker']);
        const s = c.number(b, 'startMs', p, { min: 0, required: true });
        const e = c.number(b, 'endMs', p, { min: 0, required: true });
        const w = c.number(b, 'worker', p, { min: 0, integer: true });
        if (w !== undefined && w >= (workers ?? 1)) c.fail(`${p}.worker`, `must be below workers (${workers ?? 1})`);
        if (s !== undefined && e !== undefined) {
          if (e < s) c.fail(p, 'endMs must not be before startMs');
          else busy!.push(w === undefined ? { startMs: s, endMs: e } : { startMs: s, endMs: e, worker: w });
        }
      });
    }
  }
  let profileMs: Record<string, number> | undefined;
  if (entry['profileMs'] !== undefined) {
    if (!isObject(entry['profileMs'])) c.fail(`${path}.profileMs`, 'must map task ids to measured milliseconds');
    else {
      profileMs = {};
      for (const [task, ms] of Object.entries(entry['profileMs'])) {
        if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) c.fail(`${path}.profileMs.${task}`, `must be a number >= 0 (got ${JSON.stringify(ms)})`);
        else profileMs[task] = ms;
      }
    }
  }
  if (c.issues.length > before || link === undefined) return null;
  const device: DeviceSpec = { id: id as string, role: role as DeviceRole, speed: speed!, memoryBytes: memoryMiB! * MiB, link };
  if (power !== undefined) device.power = power;
  if (radio !== undefined) device.radio = radio as DeviceSpec['radio'] & string;
  if (workers !== undefined) device.workers = workers;
  if (busyUntilMs !== undefined) device.busyUntilMs = busyUntilMs;
  if (uplinkBusyUntilMs !== undefined) device.uplinkBusyUntilMs = uplinkBusyUntilMs;
  if (downlinkBusyUntilMs !== undefined) device.downlinkBusyUntilMs = downlinkBusyUntilMs;
  if (busy !== undefined) device.busy = busy;
  if (loadFactor !== undefined) device.loadFactor = loadFactor;
  if (profileMs !== undefined) device.profileMs = profileMs;
  return { device, offline: offline === true };
}

function checkPower(c: Checker, raw: unknown, path: string): PowerSpec | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === 'string') {
    if (!isPowerPresetName(raw)) {
      const guess = closest(raw, POWER_PRESET_NAMES);
      c.fail(path, `unknown preset "${raw}"${guess ? ` (did you mean "${guess}"?)` : ''}; presets: ${POWER_PRESET_NAMES.join(', ')}`);
      return undefined;
    }
    return raw;
  }
  if (!isObject(raw)) {
    c.fail(path, 'must be a preset name or { "preset"?, "idleW"?, "busyW"?, "radioModel"? }');
    return undefined;
  }
  c.keys(raw, path, ['preset', 'idleW', 'busyW', 'radioModel']);
  const spec: Exclude<PowerSpec, string> = {};
  const preset = raw['preset'];
  if (preset !== undefined) {
    if (typeof preset !== 'string' || !isPowerPresetName(preset)) c.fail(`${path}.preset`, `must be one of ${POWER_PRESET_NAMES.join(', ')} (got ${JSON.stringify(preset)})`);
    else spec.preset = preset;
  }
  const idleW = c.number(raw, 'idleW', path, { min: 0 });
  const busyW = c.number(raw, 'busyW', path, { min: 0 });
  if (idleW !== undefined) spec.idleW = idleW;
  if (busyW !== undefined) spec.busyW = busyW;
  const radio = raw['radioModel'];
  if (radio !== undefined) {
    if (!isObject(radio)) c.fail(`${path}.radioModel`, 'must be { "upAlphaMwPerMbps"?, "downAlphaMwPerMbps"?, "betaMw"? }');
    else {
      c.keys(radio, `${path}.radioModel`, ['upAlphaMwPerMbps', 'downAlphaMwPerMbps', 'betaMw']);
      const model: Partial<RadioPowerModel> = {};
      for (const key of ['upAlphaMwPerMbps', 'downAlphaMwPerMbps', 'betaMw'] as const) {
        const v = c.number(radio, key, `${path}.radioModel`, { min: 0 });
        if (v !== undefined) model[key] = v;
      }
      spec.radioModel = model;
    }
  }
  return spec;
}

/** The allowed word nearest to `word` (edit distance <= 2), for "did you mean". */
function closest(word: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of allowed) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[b.length]!;
}
