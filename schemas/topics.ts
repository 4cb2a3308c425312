/**
 * The one module that builds and parses edgeweave topics. Every topic is under
 * `edgeweave/v1/`; docs/PROTOCOL.md describes each. Ids (device, job, worker, planner)
 * are 1-64 characters of [A-Za-z0-9._-], so they never contain MQTT separators or wildcards.
 */
import { EdgeweaveError } from './errors.ts';

export const TOPIC_ROOT = 'edgeweave/v1';

const ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** Throws E_TOPIC when `id` cannot be a topic level. */
export function assertValidId(kind: string, id: string): string {
  if (!ID_PATTERN.test(id)) {
    throw new EdgeweaveError('E_TOPIC', `${kind} id ${JSON.stringify(id)} is invalid: use 1-64 characters of A-Z a-z 0-9 . _ -`);
  }
  return id;
}

/** Every kind of topic, with the ids its levels carry. */
export type ParsedTopic =
  | { kind: 'deviceStatus'; deviceId: string }
  | { kind: 'deviceProfile'; deviceId: string }
  | { kind: 'deviceAssign'; deviceId: string }
  | { kind: 'deviceInbox'; deviceId: string }
  | { kind: 'deviceHold'; deviceId: string }
  | { kind: 'workerInbox'; deviceId: string; workerId: string }
  | { kind: 'jobSubmit'; originId: string }
  | { kind: 'jobRejected'; originId: string }
  | { kind: 'jobPlan'; originId: string; jobId: string }
  | { kind: 'jobReport'; originId: string; jobId: string }
  | { kind: 'jobResult'; originId: string; jobId: string }
  | { kind: 'clockPing'; deviceId: string }
  | { kind: 'clockPong'; deviceId: string }
  | { kind: 'plannerStatus'; plannerId: string }
  | { kind: 'modelCard'; sha256: string }
  | { kind: 'debug'; path: string };

export type TopicKind = ParsedTopic['kind'];

const id = (kind: string, value: string): string => assertValidId(kind, value);

const SHA256_PATTERN = /^[0-9a-f]{64}$/;

/** Throws E_TOPIC unless `hash` is a sha256 in lower-case hex (a model's content hash). */
export function assertSha256(hash: string): string {
  if (!SHA256_PATTERN.test(hash)) throw new EdgeweaveError('E_TOPIC', `model hash ${JSON.stringify(hash)} is not a sha256 in lower-case hex`);
  return hash;
}

/** Builders: each returns the full topic string. */
export const topics = {
  deviceStatus: (deviceId: string) => `${TOPIC_ROOT}/devices/${id('device', deviceId)}/status`,
  deviceProfile: (deviceId: string) => `${TOPIC_ROOT}/devices/${id('device', deviceId)}/profile`,
  deviceAssign: (deviceId: string) => `${TOPIC_ROOT}/devices/${id('device', deviceId)}/assign`,
  deviceInbox: (deviceId: string) => `${TOPIC_ROOT}/devices/${id('device', deviceId)}/inbox`,
  /** Job input data an origin hands its own device from another host (HeldInputs). */
  deviceHold: (deviceId: string) => `${TOPIC_ROOT}/devices/${id('device', deviceId)}/hold`,
  workerInbox: (deviceId: string, workerId: string) =>
    `${TOPIC_ROOT}/devices/${id('device', deviceId)}/workers/${id('worker', workerId)}/inbox`,
  jobSubmit: (originId: string) => `${TOPIC_ROOT}/jobs/${id('origin', originId)}/submit`,
  /** Answers to submissions whose job id cannot be a topic level (or could not be read at all). */
  jobRejected: (originId: string) => `${TOPIC_ROOT}/jobs/${id('origin', originId)}/rejected`,
  jobPlan: (originId: string, jobId: string) => `${TOPIC_ROOT}/jobs/${id('origin', originId)}/${id('job', jobId)}/plan`,
  jobReport: (originId: string, jobId: string) => `${TOPIC_ROOT}/jobs/${id('origin', originId)}/${id('job', jobId)}/report`,
  jobResult: (originId: string, jobId: string) => `${TOPIC_ROOT}/jobs/${id('origin', originId)}/${id('job', jobId)}/result`,
  clockPing: (deviceId: string) => `${TOPIC_ROOT}/clock/${id('device', deviceId)}/ping`,
  clockPong: (deviceId: string) => `${TOPIC_ROOT}/clock/${id('device', deviceId)}/pong`,
  plannerStatus: (plannerId: string) => `${TOPIC_ROOT}/planners/${id('planner', plannerId)}/status`,
  /** A model's card (retained), under its content hash. */
  modelCard: (sha256: string) => `${TOPIC_ROOT}/models/${assertSha256(sha256)}`,
  /** The JSON mirror of a message published on `topic` (itself a full edgeweave topic). */
  debug: (topic: string) => {
    const rest = stripRoot(topic);
    if (rest === undefined) throw new EdgeweaveError('E_TOPIC', `cannot mirror ${JSON.stringify(topic)}: not an ${TOPIC_ROOT} topic`);
    return `${TOPIC_ROOT}/debug/${rest}`;
  },
} as const;

/** Subscription filters (MQTT wildcards) for the subscribers of each topic kind. */
export const filters = {
  allDeviceStatus: () => `${TOPIC_ROOT}/devices/+/status`,
  allDeviceProfiles: () => `${TOPIC_ROOT}/devices/+/profile`,
  allJobSubmits: () => `${TOPIC_ROOT}/jobs/+/submit`,
  /** Planners share job submissions: each job goes to one planner of the group. */
  sharedJobSubmits: (group = 'planners') => `$share/${id('group', group)}/${TOPIC_ROOT}/jobs/+/submit`,
  /** Executors of a device share its inbox: each stage input goes to one executor. */
  sharedDeviceInbox: (deviceId: string) => `$share/${id('device', deviceId)}/${topics.deviceInbox(deviceId)}`,
  jobReports: (originId = '+') => `${TOPIC_ROOT}/jobs/${originId === '+' ? '+' : id('origin', originId)}/+/report`,
  jobResults: (originId = '+') => `${TOPIC_ROOT}/jobs/${originId === '+' ? '+' : id('origin', originId)}/+/result`,
  jobRejections: (originId = '+') => `${TOPIC_ROOT}/jobs/${originId === '+' ? '+' : id('origin', originId)}/rejected`,
  jobPlans: (originId = '+') => `${TOPIC_ROOT}/jobs/${originId === '+' ? '+' : id('origin', originId)}/+/plan`,
  allClockPings: () => `${TOPIC_ROOT}/clock/+/ping`,
  allPlannerStatus: () => `${TOPIC_ROOT}/planners/+/status`,
  allModelCards: () => `${TOPIC_ROOT}/models/+`,
  debug: () => `${TOPIC_ROOT}/debug/#`,
} as const;

function stripRoot(topic: string): string | undefined {
  const prefix = `${TOPIC_ROOT}/`;
  return topic.startsWith(prefix) ? topic.slice(prefix.length) : undefined;
}

/**
 * Parses a topic (as received, without any `$share/...` prefix). Returns undefined for
 * anything that is not a well-formed edgeweave topic, never throws.
 */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const rest = stripRoot(topic);
  if (rest === undefined) return undefined;
  const l = rest.split('/');
  const ok = (...ids: Array<string | undefined>): boolean => ids.every((x) => x !== undefined && ID_PATTERN.test(x));
  switch (l[0]) {
    case 'devices': {
      const deviceId = l[1];
      if (!ok(deviceId)) return undefined;
      const d = deviceId as string;
      if (l.length === 3) {
        switch (l[2]) {
          case 'status': return { kind: 'deviceStatus', deviceId: d };
          case 'profile': return { kind: 'deviceProfile', deviceId: d };
          case 'assign': return { kind: 'deviceAssign', deviceId: d };
          case 'inbox': return { kind: 'deviceInbox', deviceId: d };
          case 'hold': return { kind: 'deviceHold', deviceId: d };
          default: return undefined;
        }
      }
      if (l.length === 5 && l[2] === 'workers' && l[4] === 'inbox' && ok(l[3])) return { kind: 'workerInbox', deviceId: d, workerId: l[3] as string };
      return undefined;
    }
    case 'jobs': {
      const originId = l[1];
      if (!ok(originId)) return undefined;
      const o = originId as string;
      if (l.length === 3 && l[2] === 'submit') return { kind: 'jobSubmit', originId: o };
      if (l.length === 3 && l[2] === 'rejected') return { kind: 'jobRejected', originId: o };
      if (l.length !== 4 || !ok(l[2])) return undefined;
      const jobId = l[2] as string;
      switch (l[3]) {
        case 'plan': return { kind: 'jobPlan', originId: o, jobId };
        case 'report': return { kind: 'jobReport', originId: o, jobId };
        case 'result': return { kind: 'jobResult', originId: o, jobId };
        default: return undefined;
      }
    }
    case 'clock': {
      if (l.length !== 3 || !ok(l[1])) return undefined;
      const d = l[1] as string;
      if (l[2] === 'ping') return { kind: 'clockPing', deviceId: d };
      if (l[2] === 'pong') return { kind: 'clockPong', deviceId: d };
      return undefined;
    }
    case 'planners':
      if (l.length === 3 && l[2] === 'status' && ok(l[1])) return { kind: 'plannerStatus', plannerId: l[1] as string };
      return undefined;
    case 'models':
      if (l.length === 2 && SHA256_PATTERN.test(l[1] ?? '')) return { kind: 'modelCard', sha256: l[1] as string };
      return undefined;
    case 'debug':
      return l.length > 1 && !l.slice(1).some((x) => x === '') ? { kind: 'debug', path: l.slice(1).join('/') } : undefined;
    default:
      return undefined;
  }
}

/** Splits `$share/{group}/{filter}` into its parts; undefined when `filter` is not a shared subscription. */
export function parseSharedFilter(filter: string): { group: string; filter: string } | undefined {
  if (!filter.startsWith('$share/')) return undefined;
  const rest = filter.slice('$share/'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return undefined;
  const group = rest.slice(0, slash);
  if (group.includes('+') || group.includes('#')) return undefined;
  return { group, filter: rest.slice(slash + 1) };
}

/** MQTT topic-filter matching (`+` one level, `#` the rest); topics starting with `$` never match a leading wildcard. */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}
