/** The Chart.js panels: the job's Gantt and energy, and the latency, bandwidth and load histories. */
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip,
  type ChartConfiguration, type ChartDataset, type ScriptableContext,
} from 'chart.js';
import { canvasIn } from './dom.ts';
import { formatBps, formatClock, formatJ, formatMs } from '../model/format.ts';
import type { BandwidthSeries, EnergyRow, GanttBar, GanttPhase, GanttView, LatencyPointView, LoadSeries } from '../model/views.ts';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Legend, Tooltip);
Chart.defaults.animation = false;
Chart.defaults.font.size = 11;

const PHASE_COLOR: Record<GanttPhase, string> = { transfer: '#E69F00', wait: '#9aa3af', compute: '#0072B2' };
const PHASES: GanttPhase[] = ['transfer', 'wait', 'compute'];

function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

function drawnElements(chart: Chart): number {
  let n = 0;
  for (let i = 0; i < chart.data.datasets.length; i++) if (chart.isDatasetVisible(i)) n += chart.getDatasetMeta(i).data.length;
  return n;
}

interface GanttPoint { x: [number, number]; y: string; bar: GanttBar }

export class GanttChart {
  private readonly chart: Chart<'bar', GanttPoint[], string>;
  private shown = '';

  constructor(private readonly container: HTMLElement) {
    const color = (phase: GanttPhase) => (ctx: ScriptableContext<'bar'>): string => {
      const p = ctx.raw as GanttPoint | undefined;
      return p?.bar.source === 'predicted' ? withAlpha(PHASE_COLOR[phase], 0.35) : PHASE_COLOR[phase];
    };
    const config: ChartConfiguration<'bar', GanttPoint[], string> = {
      type: 'bar',
      data: {
        labels: [],
        datasets: PHASES.map((phase) => ({
          label: phase, data: [], grouped: false, backgroundColor: color(phase), borderColor: PHASE_COLOR[phase], borderWidth: 1,
          borderSkipped: false, barPercentage: 0.75, categoryPercentage: 0.9, minBarLength: 2,
        })),
      },
      options: {
        indexAxis: 'y', responsive: true, maintainAspectRatio: false,
        scales: {
          x: { type: 'linear', min: 0, title: { display: true, text: 'ms after submission' } },
          y: { type: 'category', ticks: { font: (ctx) => ({ weight: String(ctx.tick?.label ?? '').includes('predicted') ? 'normal' : 'bold' }) } },
        },
        plugins: {
          legend: { position: 'bottom' },
          tooltip: {
            callbacks: {
              label: (ctx) => {
                const b = (ctx.raw as GanttPoint).bar;
                return `${b.source} ${b.phase}, stage ${b.stageId}: ${formatMs(b.startMs)} → ${formatMs(b.endMs)} (${formatMs(b.endMs - b.startMs)})`;
              },
            },
          },
        },
      },
    };
    this.chart = new Chart(canvasIn(container), config);
  }

  update(view: GanttView | null): void {
    const signature = view ? `${view.jobKey}|${view.bars.length}|${view.endMs}` : '';
    if (signature === this.shown) return;
    this.shown = signature;
    this.chart.data.labels = view?.rows ?? [];
    PHASES.forEach((phase, i) => {
      this.chart.data.datasets[i]!.data = (view?.bars ?? []).filter((b) => b.phase === phase).map((bar) => ({ x: [bar.startMs, bar.endMs], y: bar.row, bar }));
    });
    this.chart.update();
    const d = this.container.dataset;
    d['job'] = view?.jobKey ?? '';
    d['rows'] = String(view?.rows.length ?? 0);
    d['bars'] = String(drawnElements(this.chart as unknown as Chart));
    d['measuredStages'] = String(view?.measuredStages ?? 0);
  }
}

export class EnergyChart {
  private readonly chart: Chart<'bar', number[], string>;
  private shown = '';

  constructor(private readonly container: HTMLElement) {
    this.chart = new Chart(canvasIn(container), {
      type: 'bar',
      data: { labels: [], datasets: [
        { label: 'predicted', data: [], backgroundColor: [], borderColor: [], borderWidth: 1 },
        { label: 'measured', data: [], backgroundColor: [] },
      ] },
      options: {
        responsive: true, maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, title: { display: true, text: 'joules' } } },
        plugins: { legend: { position: 'bottom' }, tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${formatJ(Number(ctx.raw))}` } } },
      },
    });
  }

  update(jobKey: string, rows: EnergyRow[]): void {
    const signature = `${jobKey}|${rows.map((r) => `${r.deviceId}:${r.predictedJ}:${r.measuredJ}`).join(',')}`;
    if (signature === this.shown) return;
    this.shown = signature;
    const [predicted, measured] = this.chart.data.datasets as [typeof this.chart.data.datasets[0], typeof this.chart.data.datasets[0]];
    this.chart.data.labels = rows.map((r) => r.deviceId);
    predicted.data = rows.map((r) => r.predictedJ);
    predicted.backgroundColor = rows.map((r) => withAlpha(r.color, 0.3));
    predicted.borderColor = rows.map((r) => r.color);
    measured.data = rows.map((r) => r.measuredJ);
    measured.backgroundColor = rows.map((r) => r.color);
    this.chart.update();
    this.container.dataset['job'] = jobKey;
    this.container.dataset['bars'] = String(rows.length);
  }
}

interface XY { x: number; y: number }

const timeAxis = (): { type: 'linear'; ticks: { maxTicksLimit: number; callback: (v: number | string) => string } } =>
  ({ type: 'linear', ticks: { maxTicksLimit: 8, callback: (v) => formatClock(Number(v)) } });

/** A time axis at least a minute wide, starting just before the first point. */
function setTimeWindow(chart: Chart<'line', XY[]>, firstMs: number, lastMs: number, padMs: number): void {
  const x = chart.options.scales?.['x'];
  if (!x || !Number.isFinite(firstMs)) return;
  x.min = firstMs - padMs;
  x.max = Math.max(lastMs + padMs, firstMs - padMs + 60_000);
}

export class LatencyChart {
  private readonly chart: Chart<'line', XY[]>;
  private shown = '';

  constructor(private readonly container: HTMLElement) {
    this.chart = new Chart(canvasIn(container), {
      type: 'line',
      data: { datasets: [
        { label: 'latency, measured', data: [], borderColor: '#0072B2', backgroundColor: '#0072B2', yAxisID: 'y' },
        { label: 'latency, predicted', data: [], borderColor: '#0072B2', backgroundColor: '#ffffff', borderDash: [5, 4], yAxisID: 'y' },
        { label: 'speed-up over local', data: [], borderColor: '#D55E00', backgroundColor: '#D55E00', yAxisID: 'speedup' },
      ] },
      options: {
        responsive: true, maintainAspectRatio: false, parsing: false,
        scales: {
          x: timeAxis(),
          y: { beginAtZero: true, title: { display: true, text: 'ms' } },
          speedup: { position: 'right', beginAtZero: true, title: { display: true, text: '× vs local' }, grid: { drawOnChartArea: false } },
        },
        plugins: { legend: { position: 'bottom' } },
      },
    });
  }

  update(points: LatencyPointView[]): void {
    const signature = `${points.length}|${points[points.length - 1]?.atMs ?? 0}`;
    if (signature === this.shown) return;
    this.shown = signature;
    const [measured, predicted, speedup] = this.chart.data.datasets;
    measured!.data = points.map((p) => ({ x: p.atMs, y: p.latencyMs }));
    predicted!.data = points.map((p) => ({ x: p.atMs, y: p.predictedMs }));
    speedup!.data = points.filter((p) => p.speedup > 0).map((p) => ({ x: p.atMs, y: p.speedup }));
    if (points.length > 0) setTimeWindow(this.chart, points[0]!.atMs, points[points.length - 1]!.atMs, 5000);
    this.chart.update();
    this.container.dataset['points'] = String(points.length);
  }
}

export class BandwidthChart {
  private readonly chart: Chart<'line', XY[]>;
  private shown = '';

  constructor(private readonly container: HTMLElement) {
    this.chart = new Chart(canvasIn(container), {
      type: 'line',
      data: { datasets: [] },
      options: {
        responsive: true, maintainAspectRatio: false, parsing: false,
        elements: { point: { radius: 0 } },
        scales: { x: timeAxis(), y: { beginAtZero: true, title: { display: true, text: 'Mbps' } } },
        plugins: {
          legend: { position: 'bottom' },
          tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${formatBps((ctx.raw as XY).y * 1e6)}` } },
        },
      },
    });
  }

  update(series: BandwidthSeries[]): void {
    const total = series.reduce((n, s) => n + s.trace.length + s.estimatedUp.length, 0);
    const last = series.reduce((m, s) => Math.max(m, s.trace[s.trace.length - 1]?.atMs ?? 0, s.estimatedUp[s.estimatedUp.length - 1]?.atMs ?? 0), 0);
    const signature = `${series.length}|${total}|${last}`;
    if (signature === this.shown) return;
    this.shown = signature;
    const mbps = (p: { atMs: number; bps: number }): XY => ({ x: p.atMs, y: p.bps / 1e6 });
    this.chart.data.datasets = series.flatMap((s) => [
      ...(s.trace.length > 0 ? [{ label: `${s.deviceId} trace`, data: s.trace.map(mbps), borderColor: s.color, backgroundColor: s.color, stepped: true as const }] : []),
      ...(s.estimatedUp.length > 0 ? [{ label: `${s.deviceId} estimated`, data: s.estimatedUp.map(mbps), borderColor: s.color, backgroundColor: s.color, borderDash: [5, 4] }] : []),
    ]);
    const first = series.reduce((m, s) => Math.min(m, s.trace[0]?.atMs ?? Infinity, s.estimatedUp[0]?.atMs ?? Infinity), Infinity);
    setTimeWindow(this.chart, first, last, 1000);
    this.chart.update();
    this.container.dataset['points'] = String(total);
    this.container.dataset['tracePoints'] = String(series.reduce((n, s) => n + s.trace.length, 0));
  }
}

type LoadFigure = 'queuedMs' | 'uplinkBacklogMs' | 'downlinkBacklogMs' | 'queuedStages';

/** The lines drawn per device: three in ms on the left axis; the stage count on the right one, hidden until picked in the legend. */
const LOAD_LINES: ReadonlyArray<{ figure: LoadFigure; name: string; dash: number[]; axis: 'y' | 'stages' }> = [
  { figure: 'queuedMs', name: 'queue', dash: [], axis: 'y' },
  { figure: 'uplinkBacklogMs', name: 'uplink backlog', dash: [6, 3], axis: 'y' },
  { figure: 'downlinkBacklogMs', name: 'downlink backlog', dash: [2, 3], axis: 'y' },
  { figure: 'queuedStages', name: 'stages waiting', dash: [1, 2], axis: 'stages' },
];

export class LoadChart {
  private readonly chart: Chart<'line', XY[]>;
  /** Datasets by label, kept from one update to the next so a line hidden from the legend stays hidden. */
  private readonly datasets = new Map<string, ChartDataset<'line', XY[]>>();
  private shown = '';

  constructor(private readonly container: HTMLElement) {
    this.chart = new Chart(canvasIn(container), {
      type: 'line',
      data: { datasets: [] },
      options: {
        responsive: true, maintainAspectRatio: false, parsing: false,
        elements: { point: { radius: 0 } },
        scales: {
          x: timeAxis(),
          y: { beginAtZero: true, title: { display: true, text: 'ms' } },
          stages: { position: 'right', display: 'auto', beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'stages waiting' }, grid: { drawOnChartArea: false } },
        },
        plugins: {
          legend: { position: 'bottom' },
          tooltip: {
            callbacks: {
              label: (ctx) => {
                const y = (ctx.raw as XY).y;
                return `${ctx.dataset.label}: ${ctx.dataset.yAxisID === 'stages' ? String(y) : formatMs(y)}`;
              },
            },
          },
        },
      },
    });
  }

  update(series: LoadSeries[]): void {
    const lines = series.flatMap((s) => LOAD_LINES.map((line) => ({ s, line, values: s[line.figure] }))).filter((l) => l.values.length > 0);
    const total = lines.reduce((n, l) => n + l.values.length, 0);
    const last = lines.reduce((m, l) => Math.max(m, l.values[l.values.length - 1]!.atMs), 0);
    const signature = `${lines.length}|${total}|${last}`;
    if (signature === this.shown) return;
    this.shown = signature;
    this.chart.data.datasets = lines.map(({ s, line, values }) => {
      const label = `${s.deviceId} ${line.name}`;
      let dataset = this.datasets.get(label);
      if (!dataset) {
        dataset = {
          label, data: [], borderColor: s.color, backgroundColor: s.color, borderDash: line.dash, stepped: true,
          borderWidth: line.axis === 'stages' ? 1 : 2, yAxisID: line.axis, hidden: line.axis === 'stages',
        };
        this.datasets.set(label, dataset);
      }
      dataset.data = values.map((v) => ({ x: v.atMs, y: v.value }));
      return dataset;
    });
    const first = lines.reduce((m, l) => Math.min(m, l.values[0]!.atMs), Infinity);
    setTimeWindow(this.chart, first, last, 1000);
    this.chart.update();
    this.container.dataset['points'] = String(total);
    this.container.dataset['devices'] = String(series.filter((s) => s.queuedMs.length > 0).length);
  }
}
