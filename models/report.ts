/** Plain-text tables and summaries of task DAGs, for the CLI and the benchmarks. Pure. */
import type { TaskGraph } from '../schemas/graph.ts';

export const KIB = 1024;
export const MIB = 1024 * 1024;

/** Columns padded to their widest cell; `right` marks right-aligned (numeric) columns. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>, right: ReadonlySet<number> = new Set()): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function fixed(value: number, digits: number): string {
  return value.toFixed(digits);
}

export interface GraphSummary {
  modelId: string;
  tasks: number;
  paramBytes: number;
  flops: number;
  /** The task holding the most weights. */
  largestTask: { id: string; paramBytes: number } | undefined;
  /** Largest activation memory of any task. */
  peakActivationBytes: number;
}

export function summarizeGraph(graph: TaskGraph): GraphSummary {
  let largest: GraphSummary['largestTask'];
  let paramBytes = 0;
  let flops = 0;
  let peak = 0;
  for (const t of graph.tasks) {
    paramBytes += t.paramBytes;
    flops += t.flops;
    peak = Math.max(peak, t.activationBytes);
    if (!largest || t.paramBytes > largest.paramBytes) largest = { id: t.id, paramBytes: t.paramBytes };
  }
  return { modelId: graph.modelId, tasks: graph.tasks.length, paramBytes, flops, largestTask: largest, peakActivationBytes: peak };
}

/** The `models inspect` table: per task id, kind, output KiB, params MiB, MFLOPs, preds. */
export function formatTaskTable(graph: TaskGraph): string {
  const rows = graph.tasks.map((t) => [
    t.id,
    t.kind,
    fixed(t.outputBytes / KIB, 1),
    fixed(t.paramBytes / MIB, 3),
    fixed(t.flops / 1e6, 2),
    String(t.layers.length),
    t.preds.join(','),
  ]);
  return formatTable(['id', 'kind', 'out KiB', 'params MiB', 'MFLOPs', 'layers', 'preds'], rows, new Set([2, 3, 4, 5]));
}
