/**
 * Checks a Plan against its request from first principles (not through the planner's own
 * structures): every task placed once on a live device, pins and memory respected, precedence
 * and transfer times respected in the predicted schedule, executors never double-booked, stages
 * well formed (back to back, inputs before start, only the last task feeds other executors, no
 * cycle between stages), latency and energy consistent. Returns the violations found.
 */
import type { Plan, PlanRequest } from '../../planner/core/index.ts';
import { resolveDevicePower } from '../../planner/core/index.ts';

const close = (a: number, b: number, tol = 1e-6): boolean => Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));
const atLeast = (a: number, b: number, tol = 1e-6): boolean => a >= b - tol * Math.max(1, Math.abs(a), Math.abs(b));

export function checkPlanInvariants(request: PlanRequest, plan: Plan): string[] {
  const bad: string[] = [];
  const excluded = new Set(request.excludeDevices ?? []);
  const devices = new Map(request.devices.filter((d) => !excluded.has(d.id)).map((d) => [d.id, d]));
  const tasks = new Map(request.graph.tasks.map((t) => [t.id, t]));
  const timing = new Map(plan.tasks.map((t) => [t.id, t]));
  const serial = request.cost?.timing === 'serial';

  // Placement.
  if (Object.keys(plan.placement).length !== tasks.size) bad.push(`placement lists ${Object.keys(plan.placement).length} of ${tasks.size} tasks`);
  for (const id of tasks.keys()) {
    const d = plan.placement[id];
    if (d === undefined) bad.push(`task ${id} not placed`);
    else if (!devices.has(d)) bad.push(`task ${id} on unknown or excluded device ${d}`);
    if (timing.get(id)?.device !== d) bad.push(`task ${id}: schedule device differs from placement`);
  }
  // Pins.
  const pinInputs = request.cost?.pinInputsToOrigin ?? true;
  for (const t of tasks.values()) {
    const pin = request.pins?.[t.id] ?? t.pinned ?? (pinInputs && request.graph.inputs.includes(t.id) ? request.origin : undefined);
    if (pin !== undefined && plan.placement[t.id] !== pin) bad.push(`task ${t.id} pinned to ${pin} but placed on ${plan.placement[t.id]}`);
  }
  // Memory.
  for (const [id, d] of devices) {
    const mine = [...tasks.values()].filter((t) => plan.placement[t.id] === id);
    const need = mine.reduce((s, t) => s + t.paramBytes, 0) + Math.max(0, ...mine.map((t) => t.activationBytes));
    if (need > d.memoryBytes) bad.push(`device ${id} needs ${need} bytes of ${d.memoryBytes}`);
  }
  // Encoded bytes of an edge, as the transport options allow.
  const lossy = request.transport?.allowLossy ?? false;
  const bytesOf = (p: string, t: string): number => {
    const f32 = request.cost?.edgeBytes?.[`${p}->${t}`] ?? tasks.get(p)!.outputBytes;
    let b = f32;
    const shape = tasks.get(p)!.outputShape;
    const u8 = request.transport?.inputAsUint8 ?? 'auto';
    const image = shape.length === 3 && [1, 3, 4].includes(shape[2]!);
    if (request.graph.inputs.includes(p) && (u8 === true || (u8 === 'auto' && image))) b = Math.min(b, Math.ceil(f32 / 4));
    if (lossy === true || lossy === 'float16') b = Math.min(b, Math.ceil(f32 / 2));
    if (lossy === true || lossy === 'int8') b = Math.min(b, Math.ceil(f32 / 4));
    return b;
  };
  const transfer = (bytes: number, a: string, c: string): number => {
    if (a === c) return 0;
    const da = devices.get(a)!;
    const dc = devices.get(c)!;
    return (bytes * 8000) / da.link.upBps + (bytes * 8000) / dc.link.downBps + (da.link.rttMs + dc.link.rttMs) / 2;
  };
  // Schedule: durations, precedence with transfers.
  for (const t of plan.tasks) {
    if (!(t.computeMs > 0)) bad.push(`task ${t.id} has compute ${t.computeMs}`);
    if (!close(t.finishMs, t.startMs + t.computeMs)) bad.push(`task ${t.id}: finish != start + compute`);
    if (!atLeast(t.startMs, 0)) bad.push(`task ${t.id} starts before 0`);
    for (const p of tasks.get(t.id)!.preds) {
      const pt = timing.get(p)!;
      const need = pt.finishMs + transfer(bytesOf(p, t.id), pt.device, t.device);
      if (!atLeast(t.startMs, need)) bad.push(`task ${t.id} starts at ${t.startMs} before input ${p} arrives at ${need}`);
    }
  }
  // Executors: no overlap, within the device's workers and around busy time.
  const byLane = new Map<string, Array<[number, number, string]>>();
  for (const t of plan.tasks) {
    const d = devices.get(t.device)!;
    if (t.worker < 0 || t.worker >= (d.workers ?? 1)) bad.push(`task ${t.id} on worker ${t.worker} of ${d.workers ?? 1}`);
    const key = `${t.device}/${t.worker}`;
    if (!byLane.has(key)) byLane.set(key, []);
    byLane.get(key)!.push([t.startMs, t.finishMs, t.id]);
    const busy = [...(d.busy ?? []).filter((b) => b.worker === undefined || b.worker === t.worker)];
    if (d.busyUntilMs !== undefined) busy.push({ startMs: 0, endMs: d.busyUntilMs });
    for (const b of busy) {
      if (t.startMs < b.endMs - 1e-9 && t.finishMs > b.startMs + 1e-9) bad.push(`task ${t.id} overlaps busy time [${b.startMs}, ${b.endMs}) on ${key}`);
    }
  }
  for (const [key, list] of byLane) {
    list.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < list.length; i++) {
      if (list[i]![0] < list[i - 1]![1] - 1e-9 * Math.max(1, list[i]![0])) bad.push(`${list[i - 1]![2]} and ${list[i]![2]} overlap on ${key}`);
    }
  }
  // Stages.
  const stageOf = new Map<string, string>();
  for (const s of plan.stages) {
    for (const id of s.tasks) {
      if (stageOf.has(id)) bad.push(`task ${id} in two stages`);
      stageOf.set(id, s.id);
      const t = timing.get(id)!;
      if (t.device !== s.device || t.worker !== s.worker) bad.push(`task ${id} not on its stage's executor`);
    }
    const first = timing.get(s.tasks[0]!)!;
    const last = timing.get(s.tasks[s.tasks.length - 1]!)!;
    if (!close(first.startMs, s.startMs) || !close(last.finishMs, s.finishMs)) bad.push(`stage ${s.id}: start/finish differ from its tasks`);
    for (let i = 1; i < s.tasks.length; i++) {
      if (!close(timing.get(s.tasks[i]!)!.startMs, timing.get(s.tasks[i - 1]!)!.finishMs)) bad.push(`stage ${s.id}: ${s.tasks[i]} does not follow ${s.tasks[i - 1]} back to back`);
    }
    if (!atLeast(s.startMs, s.readyMs)) bad.push(`stage ${s.id} starts before it is ready`);
  }
  if (stageOf.size !== tasks.size) bad.push('stages do not cover every task');
  const lastOf = new Map(plan.stages.map((s) => [s.id, s.tasks[s.tasks.length - 1]!]));
  for (const t of tasks.values()) {
    const s = stageOf.get(t.id)!;
    for (const p of t.preds) {
      const ps = stageOf.get(p)!;
      if (ps === s) continue;
      const pt = timing.get(p)!;
      const tt = timing.get(t.id)!;
      const stage = plan.stages.find((x) => x.id === s)!;
      // Outputs leave when their stage ends.
      const producerStage = plan.stages.find((x) => x.id === ps)!;
      const arrive = producerStage.finishMs + transfer(bytesOf(p, t.id), pt.device, tt.device);
      if (!serial && !atLeast(stage.startMs, arrive)) bad.push(`stage ${s} starts before ${p} (stage ${ps}) arrives`);
      if ((pt.device !== tt.device || pt.worker !== tt.worker) && lastOf.get(ps) !== p) bad.push(`task ${p} feeds another executor but is not the last of stage ${ps}`);
    }
  }
  // Stage graph is acyclic.
  const succ = new Map<string, Set<string>>(plan.stages.map((s) => [s.id, new Set()]));
  const indeg = new Map<string, number>(plan.stages.map((s) => [s.id, 0]));
  for (const e of plan.edges) {
    if (!succ.get(e.fromStage)!.has(e.toStage)) {
      succ.get(e.fromStage)!.add(e.toStage);
      indeg.set(e.toStage, indeg.get(e.toStage)! + 1);
    }
  }
  const queue = [...indeg].filter(([, d]) => d === 0).map(([s]) => s);
  let seen = 0;
  while (queue.length > 0) {
    const s = queue.pop()!;
    seen++;
    for (const x of succ.get(s)!) {
      indeg.set(x, indeg.get(x)! - 1);
      if (indeg.get(x) === 0) queue.push(x);
    }
  }
  if (seen !== plan.stages.length) bad.push('stages form a cycle');
  // Latency.
  const returnResult = request.cost?.returnResult ?? true;
  let latest = Math.max(...plan.tasks.map((t) => t.finishMs));
  for (const o of request.graph.outputs) {
    const t = timing.get(o)!;
    if (returnResult) latest = Math.max(latest, t.finishMs + transfer(tasks.get(o)!.outputBytes, t.device, request.origin));
  }
  if (serial ? !atLeast(plan.predictedLatencyMs, latest) : !close(plan.predictedLatencyMs, latest)) bad.push(`latency ${plan.predictedLatencyMs} but the schedule ends at ${latest}`);
  // Energy.
  let total = 0;
  for (const [id, j] of Object.entries(plan.predictedEnergyJ)) {
    if (!(j >= 0)) bad.push(`device ${id} energy ${j}`);
    total += j;
  }
  if (!close(total, plan.totalEnergyJ)) bad.push('total energy is not the sum over devices');
  const origin = devices.get(request.origin)!;
  const power = resolveDevicePower(origin);
  const originCompute = plan.tasks.filter((t) => t.device === request.origin).reduce((s, t) => s + t.computeMs, 0);
  const floor = (power.busyW * originCompute + power.idleW * Math.max(0, plan.predictedLatencyMs - originCompute)) / 1000;
  if (!atLeast(plan.originEnergyJ, floor)) bad.push(`origin energy ${plan.originEnergyJ} J below its compute + idle floor ${floor} J`);
  return bad;
}
