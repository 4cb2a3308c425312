/**
 * The fleet's capacity for a mix of jobs: the most jobs per second of that mix its devices and
 * links can finish, each job placed the way this planner would place it on part of the fleet.
 *
 * For every stream of the mix (an origin submitting one model) the planner plans the job on the
 * idle fleet restricted to the origin alone, to the origin with each other device, and to the
 * whole fleet: a handful of ways to run it, each with the time it takes on every device's
 * executors and on every uplink and downlink. Ways slower than LATENCY_BOUND times the stream's
 * best are left out: a job run that way would not count as served. A linear program then splits
 * each stream's jobs among its ways so that the mix's rate is highest while no device's
 * executors and no link are busy more than all the time. That rate is the capacity; the
 * resources the split keeps fully busy are the bottleneck. Pure: core planning and arithmetic.
 */
import { planJob } from './core/registry.ts';
import type { DeviceSpec, Plan, PlanRequest } from './core/types.ts';
import { maximize } from './simplex.ts';

export interface CapacityStream {
  /**
   * What a job of this stream asks for, over the devices that can run it as the planner sees
   * them for its model (profiles, learned speeds and links; taken idle: busy intervals are ignored).
   */
  request: PlanRequest;
  /** Its share of the jobs (a positive weight, e.g. its rate). */
  weight: number;
}

export interface Capacity {
  /** Jobs per second of the mix the fleet sustains. */
  jobsPerS: number;
  /** The resources busy all the time at that rate ("edge1 compute", "cloud1 downlink"). */
  bottleneck: string[];
}

/**
 * Ways to run a job slower than this many times its best (on the idle fleet) do not count: a
 * fleet that serves jobs that way is not keeping latency near unloaded (the load bench's bound
 * on the median is the same 1.5).
 */
export const LATENCY_BOUND = 1.5;

interface Way {
  stream: number;
  /** Resource index -> seconds of it per job. */
  use: Map<number, number>;
}

/** The fleet's capacity for `streams`; undefined when the mix is empty or a stream's job cannot be placed at all. */
export function fleetCapacity(streams: readonly CapacityStream[]): Capacity | undefined {
  const live = streams.filter((s) => s.weight > 0 && s.request.devices.length > 0);
  if (live.length === 0) return undefined;
  // Resources: each device's executors, uplink and downlink, with how much of each a second holds.
  const names: string[] = [];
  const capacity: number[] = [];
  const index = new Map<string, number>();
  for (const d of live.flatMap((s) => s.request.devices)) {
    if (index.has(`${d.id} compute`)) continue;
    for (const [kind, amount] of [['compute', Math.max(1, d.workers ?? 1)], ['uplink', 1], ['downlink', 1]] as const) {
      index.set(`${d.id} ${kind}`, names.length);
      names.push(`${d.id} ${kind}`);
      capacity.push(amount);
    }
  }
  const ways: Way[] = [];
  for (const [s, stream] of live.entries()) {
    const { origin } = stream.request;
    const idle = stream.request.devices.map(({ busy: _b, busyUntilMs: _u, uplinkBusy: _ub, downlinkBusy: _db, uplinkBusyUntilMs: _uu, downlinkBusyUntilMs: _du, ...d }) => d);
    const byId = new Map(idle.map((d) => [d.id, d]));
    const subsets = [[origin], ...idle.filter((d) => d.id !== origin).map((d) => [origin, d.id]), idle.map((d) => d.id)];
    const found: { plan: Plan; use: Map<number, number> }[] = [];
    for (const ids of subsets) {
      const fleet = ids.map((id) => byId.get(id)).filter((d): d is DeviceSpec => d !== undefined);
      const outcome = planJob({ ...stream.request, devices: fleet });
      if (outcome.ok) found.push({ plan: outcome.plan, use: usage(outcome.plan, origin, byId, index) });
    }
    if (found.length === 0) return undefined;
    const best = Math.min(...found.map((f) => f.plan.predictedLatencyMs));
    for (const f of found) if (f.plan.predictedLatencyMs <= LATENCY_BOUND * best) ways.push({ stream: s, use: f.use });
  }
  // Variables: the mix's rate, then each way's jobs per second. Rows: each stream is served its
  // share of the rate (share x rate - its ways' rates <= 0), then each resource's busy time.
  const total = live.reduce((sum, x) => sum + x.weight, 0);
  const rows: number[][] = [];
  const rhs: number[] = [];
  for (const [s, stream] of live.entries()) {
    rows.push([stream.weight / total, ...ways.map((w) => (w.stream === s ? -1 : 0))]);
    rhs.push(0);
  }
  for (let r = 0; r < names.length; r++) {
    rows.push([0, ...ways.map((w) => w.use.get(r) ?? 0)]);
    rhs.push(capacity[r]!);
  }
  const solution = maximize([1, ...ways.map(() => 0)], rows, rhs);
  if (!solution) return undefined;
  const rate = solution[0]!;
  const bottleneck: string[] = [];
  for (let r = 0; r < names.length; r++) {
    const busy = ways.reduce((sum, w, i) => sum + (w.use.get(r) ?? 0) * solution[i + 1]!, 0);
    if (busy >= capacity[r]! * 0.999) bottleneck.push(names[r]!);
  }
  return { jobsPerS: rate, bottleneck };
}

/** Seconds of every resource one job run by `plan` takes: its tasks' compute, its transfers' time on each link. */
function usage(plan: Plan, origin: string, byId: Map<string, DeviceSpec>, index: Map<string, number>): Map<number, number> {
  const use = new Map<number, number>();
  const add = (name: string, seconds: number): void => {
    const i = index.get(name);
    if (i !== undefined && seconds > 0) use.set(i, (use.get(i) ?? 0) + seconds);
  };
  for (const t of plan.tasks) add(`${t.device} compute`, (t.finishMs - t.startMs) / 1000);
  const transfers = [
    ...plan.edges.map((e) => ({ from: e.fromDevice, to: e.toDevice, bytes: e.bytes })),
    ...plan.results.map((r) => ({ from: r.fromDevice, to: origin, bytes: r.bytes })),
  ];
  for (const x of transfers) {
    const from = byId.get(x.from);
    const to = byId.get(x.to);
    if (!from || !to || x.from === x.to) continue;
    add(`${x.from} uplink`, (x.bytes * 8) / from.link.upBps);
    add(`${x.to} downlink`, (x.bytes * 8) / to.link.downBps);
  }
  return use;
}
