/**
 * The topic ACL, as data. Each role lists the topic filters it may publish to and
 * subscribe to, relative to `root`; `{me}` stands for the authenticated user name
 * (the identity). A publish is allowed when its topic matches one of the role's
 * publish filters; a subscription when every topic it can match is matched by one of
 * the role's subscribe filters (see `filterCovers`). A `$share/{group}/{filter}`
 * subscription is checked as `{filter}`: sharing only narrows what a client receives,
 * and a group is identified by its name *and* filter, so it cannot steal another
 * filter's messages. Change access here, not in code.
 */

import { TOPIC_ROOT } from '../schemas/topics.ts';

export const ROLES = ['device', 'planner', 'observer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface RoleRules {
  /** Prefix of every filter below. */
  root: string;
  publish: readonly string[];
  subscribe: readonly string[];
}

const ROOT = `${TOPIC_ROOT}/`;

export const ACL_TABLE: Readonly<Record<Role, RoleRules>> = {
  device: {
    root: ROOT,
    publish: [
      'devices/{me}/status',
      'devices/{me}/profile',
      'devices/{me}/hold',
      'models/+',
      'jobs/{me}/submit',
      'devices/+/inbox',
      'devices/+/workers/+/inbox',
      'jobs/+/+/report',
      'jobs/+/+/result',
      'clock/{me}/ping',
      'debug/devices/{me}/#',
    ],
    subscribe: [
      'devices/{me}/assign',
      'devices/{me}/hold',
      'devices/{me}/inbox',
      'devices/{me}/workers/+/inbox',
      'jobs/{me}/+/result',
      'jobs/{me}/+/plan',
      'jobs/{me}/+/report',
      'jobs/{me}/rejected',
      'clock/{me}/pong',
      'planners/+/status',
      'devices/+/status',
      'models/+',
    ],
  },
  planner: {
    root: ROOT,
    publish: [
      'devices/+/assign',
      'devices/+/inbox',
      'devices/+/workers/+/inbox',
      'jobs/+/+/plan',
      'jobs/+/+/result',
      'jobs/+/rejected',
      'clock/+/pong',
      'planners/{me}/status',
      'debug/#',
    ],
    subscribe: [
      'jobs/+/submit',
      'devices/+/status',
      'devices/+/profile',
      'jobs/+/+/report',
      'jobs/+/+/result',
      'clock/+/ping',
      'planners/+/status',
      'models/+',
    ],
  },
  observer: {
    root: ROOT,
    publish: [],
    subscribe: [
      'devices/+/status',
      'devices/+/profile',
      'jobs/+/+/plan',
      'jobs/+/+/report',
      'jobs/+/+/result',
      'jobs/+/rejected',
      'planners/+/status',
      'models/+',
      'debug/#',
    ],
  },
  admin: {
    root: '',
    publish: ['#'],
    subscribe: ['#', '$SYS/#'],
  },
};

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
