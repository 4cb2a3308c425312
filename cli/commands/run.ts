import { numberOption, stringOption, type Command } from '../command.ts';
import { CONNECTION_HELP, CONNECTION_OPTIONS, connectionOf } from '../connection.ts';
import { objectiveOption } from './planner.ts';
import { JobClient, DEFAULT_TIMEOUT_MS } from '../../node-runtime/client.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { summarizeOutcome } from '../../node-runtime/job-summary.ts';
import { streamJobs, summarizeStream, type StreamSummary } from '../../node-runtime/client-stream.ts';
import { JobHistory, type HistoryRecord } from '../../node-runtime/history.ts';
import { discoverFleet, resolveModelArgument } from '../../node-runtime/model-argument.ts';
import { ALGORITHM_NAMES, isAlgorithmName } from '../../planner/core/registry.ts';
import { ObjectiveKind, JobStatus, type ObjectiveInit } from '../../schemas/generated/edgeweave.ts';
import { isValidId } from '../../schemas/topics.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';

const OBJECTIVE_KIND = {
  latency: ObjectiveKind.OBJECTIVE_LATENCY, energy: ObjectiveKind.OBJECTIVE_ENERGY,
  'energy-total': ObjectiveKind.OBJECTIVE_ENERGY_TOTAL, weighted: ObjectiveKind.OBJECTIVE_WEIGHTED,
} as const;

const f1 = (n: number): string => n.toFixed(1);

/** The human-readable report of one job. */
export function formatJobReport(r: HistoryRecord): string {
  const lines: string[] = [];
  lines.push(`job ${r.jobId}: ${r.status}${r.error ? ` (${r.error})` : ''}`);
  if (r.status !== 'ok') return lines.join('\n') + '\n';
  lines.push(`model ${r.model}, algorithm ${r.algorithm}, objective ${r.objective}`);
  if (r.top && r.top.length > 0) {
    lines.push('top classes:');
    for (const c of r.top) lines.push(`  #${c.index}${c.label ? ` ${c.label}` : ''}  ${(c.probability * 100).toFixed(2)}%`);
  }
  const err = r.predictedLatencyMs > 0 ? ` (${((r.latencyMs / r.predictedLatencyMs - 1) * 100).toFixed(1)}% off)` : '';
  lines.push(`end-to-end latency: ${f1(r.latencyMs)} ms measured, ${f1(r.predictedLatencyMs)} ms predicted${err}`);
  if (r.lossy) lines.push(`lossy transport: output deviates from float32 transport by at most ${r.lossy.maxAbs.toExponential(2)} (${(r.lossy.maxRel * 100).toFixed(3)}% of its range)`);
  lines.push('');
  const header = ['stage', 'device', 'tasks', 'wait ms', 'transfer in ms', 'compute ms', 'predicted ms', 'done at ms', 'predicted at ms'];
  const rows = r.stages.map((s) => [s.stageId, s.deviceId, String(s.tasks), f1(s.waitMs), f1(s.transferInMs), f1(s.computeMs), f1(s.predictedComputeMs), f1(s.finishMs), f1(s.predictedFinishMs)]);
  lines.push(table(header, rows));
  lines.push('');
  const eRows = Object.entries(r.energyJ).map(([d, e]) => [d, e.measured.toFixed(3), e.predicted.toFixed(3)]);
  lines.push(table(['device', 'energy J (measured)', 'energy J (predicted)'], eRows));
  return lines.join('\n') + '\n';
}

/** The human-readable report of a stream (`--rate`). */
export function formatStreamReport(s: StreamSummary, rate: number, durationS: number): string {
  const refused = Object.entries(s.refusedBy).map(([code, n]) => `${code} ${n}`).join(', ');
  return [
    `stream: ${rate} jobs/s for ${durationS} s`,
    `submitted ${s.submitted}, ok ${s.ok}, rejected ${s.rejected}${refused ? ` (${refused})` : ''}, failed ${s.failed}, timed out ${s.timedOut}`,
    `offered ${s.offeredPerS.toFixed(2)} jobs/s, throughput ${s.throughputPerS.toFixed(2)} jobs/s`,
    `latency p50 / p95 / p99: ${f1(s.p50Ms)} / ${f1(s.p95Ms)} / ${f1(s.p99Ms)} ms`,
  ].join('\n') + '\n';
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export const command: Command = {
  name: 'run',
  summary: 'submit an inference job from a device and print its result, timeline and energy',
  usage: '--model <path|id|hash> --from <deviceId> [--input random|<image>|<input>=<src>]... [--broker <url>] [--algorithm auto] [--objective latency] [--rate <jobs/s> --duration <s>] [--json]',
  help: [
    ['--model <path|id|hash>', 'a model.json (or its folder) here, a zoo name, or the id or hash (8+ hex digits) of a model the fleet holds'],
    ['--from <deviceId>', 'the device submitting the job: it receives the result, and inputs start there'],
    ['--input <spec>', 'random[:seed] (default), an image file, or <input>=<random|image|@device:key>; repeatable'],
    ...CONNECTION_HELP,
    ['--algorithm <name>', `${ALGORITHM_NAMES.join(', ')} (default: the planner's)`],
    ['--objective <kind>', 'latency, energy, energy-total or weighted (default: the planner\'s)'],
    ['--latency-weight <w>', 'with --objective weighted (default 1)'],
    ['--energy-weight <w>', 'with --objective weighted (default 1)'],
    ['--deadline-ms <ms>', 'refuse plans that cannot finish in time'],
    ['--energy-budget-j <J>', 'refuse plans that cost the origin more energy'],
    ['--allow-lossy', 'cut tensors may travel as float16/int8'],
    ['--layers', 'plan over the per-layer DAG instead of the fused one'],
    ['--top-k <k>', 'top classes to return (default 5)'],
    ['--timeout-ms <ms>', `give up after this long (default ${DEFAULT_TIMEOUT_MS})`],
    ['--repeat <n>', 'submit the job n times, one after another (default 1)'],
    ['--rate <jobs/s>', 'a stream, as from a camera: submit the job at this rate, not waiting for earlier ones, and print throughput and latency percentiles'],
    ['--duration <s>', 'with --rate: how long the stream lasts (default 10)'],
    ['--data-dir <dir>', 'job history goes to <dir>/history.json (default ./.edgeweave)'],
    ['--json', 'print the job record(s) as JSON'],
    ['--debug-json', 'mirror the job request as JSON under edgeweave/v1/debug/...'],
  ],
  options: {
    model: { type: 'string' },
    from: { type: 'string' },
    input: { type: 'string', multiple: true },
    ...CONNECTION_OPTIONS,
    algorithm: { type: 'string' },
    objective: { type: 'string' },
    'latency-weight': { type: 'string' },
    'energy-weight': { type: 'string' },
    'deadline-ms': { type: 'string' },
    'energy-budget-j': { type: 'string' },
    'allow-lossy': { type: 'boolean' },
    layers: { type: 'boolean' },
    'top-k': { type: 'string' },
    'timeout-ms': { type: 'string' },
    repeat: { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    'data-dir': { type: 'string' },
    json: { type: 'boolean' },
    'debug-json': { type: 'boolean' },
  },
  async run(ctx) {
    const model = stringOption(ctx.values, 'model');
    if (model === undefined) throw new EdgeweaveError('E_USAGE', '--model is required (e.g. --model mobilenetv2)');
    const from = stringOption(ctx.values, 'from');
    if (from === undefined || !isValidId(from)) throw new EdgeweaveError('E_USAGE', '--from <deviceId> is required: the device the job is submitted from');
    const algorithm = stringOption(ctx.values, 'algorithm');
    if (algorithm !== undefined && !isAlgorithmName(algorithm)) throw new EdgeweaveError('E_USAGE', `--algorithm must be one of ${ALGORITHM_NAMES.join(', ')}, got "${algorithm}"`);
    const objective = objectiveOption(ctx.values);
    const fused = ctx.values['layers'] !== true;
    const connection = connectionOf(ctx);
    const discover = (): ReturnType<typeof discoverFleet> => discoverFleet({ ...connection, username: connection.username ?? from }, ctx.log);
    const { ref, graph, localPath, preprocessing } = await resolveModelArgument(model, { fused, origin: from, discover });
    const specs = ctx.values['input'];
    const inputs = await buildJobInputs(graph, Array.isArray(specs) ? (specs as string[]) : [], preprocessing);
    const wireObjective: ObjectiveInit = {
      kind: objective ? OBJECTIVE_KIND[objective.kind] : ObjectiveKind.OBJECTIVE_UNSPECIFIED,
      deadlineMs: numberOption(ctx.values, 'deadline-ms', 0, { min: 0 }),
      energyBudgetJ: numberOption(ctx.values, 'energy-budget-j', 0, { min: 0 }),
      ...(objective?.kind === 'weighted' ? { latencyWeight: objective.latencyWeight, energyWeight: objective.energyWeight } : {}),
    };
    const repeat = numberOption(ctx.values, 'repeat', 1, { min: 1, max: 100_000, integer: true });
    const rate = ctx.values['rate'] === undefined ? undefined : numberOption(ctx.values, 'rate', 1, { min: 0.001, max: 10_000 });
    if (ctx.values['duration'] !== undefined && rate === undefined) throw new EdgeweaveError('E_USAGE', '--duration goes with --rate (e.g. --rate 2 --duration 30)');
    if (rate !== undefined && ctx.values['repeat'] !== undefined) throw new EdgeweaveError('E_USAGE', '--repeat submits one job after another, --rate a stream: give one of them');
    const durationS = numberOption(ctx.values, 'duration', 10, { min: 0.001, max: 86_400 });
    const allowLossy = ctx.values['allow-lossy'] === true;
    const modelPaths = new Map<string, string>();
    if (localPath !== undefined) for (const key of [ref.sha256 ?? '', ref.name ?? '']) if (key !== '') modelPaths.set(key, localPath);
    const client = await JobClient.connect({ ...connection, origin: from, log: ctx.log, debugJson: ctx.values['debug-json'] === true, checkLossy: allowLossy, modelPaths });
    const history = await JobHistory.open(stringOption(ctx.values, 'data-dir') ?? process.env['EDGEWEAVE_DATA_DIR'] ?? '.edgeweave');
    const records: HistoryRecord[] = [];
    let failed = 0;
    const job = {
      model: ref, inputs, algorithm: algorithm ?? '', objective: wireObjective, fused,
      allowLossy, topK: numberOption(ctx.values, 'top-k', 5, { min: 0, max: 1000, integer: true }),
      timeoutMs: numberOption(ctx.values, 'timeout-ms', DEFAULT_TIMEOUT_MS, { min: 1, integer: true }),
    };
    if (rate !== undefined) {
      try {
        const started = Date.now();
        const outcomes = await streamJobs(client, job, {
          ratePerS: rate, durationMs: durationS * 1000,
          onProgress: (p) => ctx.log.info({ elapsedS: Math.round(p.elapsedMs / 1000), submitted: p.submitted, done: p.done }, 'stream under way'),
        });
        const summary = summarizeStream(outcomes, Date.now() - started);
        records.push(...outcomes.map((o) => summarizeOutcome(o, from, graph.modelId, client.originStatus?.power?.idleW)));
        ctx.stdout.write(ctx.values['json'] === true ? JSON.stringify(summary, null, 2) + '\n' : formatStreamReport(summary, rate, durationS));
        return summary.ok === summary.submitted ? 0 : 1;
      } finally {
        await history.add(...records);
        await client.close();
      }
    }
    try {
      for (let i = 0; i < repeat; i++) {
        const outcome = await client.submit(job);
        const record = summarizeOutcome(outcome, from, graph.modelId, client.originStatus?.power?.idleW);
        records.push(record);
        if (outcome.result.status !== JobStatus.JOB_STATUS_OK) failed++;
        if (ctx.values['json'] !== true) ctx.stdout.write(formatJobReport(record) + (i + 1 < repeat ? '\n' : ''));
      }
    } finally {
      await history.add(...records);
      await client.close();
    }
    if (ctx.values['json'] === true) ctx.stdout.write(JSON.stringify(repeat === 1 ? records[0] : records, null, 2) + '\n');
    return failed > 0 ? 1 : 0;
  },
};
