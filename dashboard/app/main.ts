/**
 * The dashboard page: reads its config, connects to the broker as an observer, folds every
 * message into the state with the pure reducer, and redraws at most ten times a second.
 */
import { byId } from './dom.ts';
import { connectBroker } from './connection.ts';
import { renderDevices, renderJobs } from './tables.ts';
import { DagPanel } from './dag-view.ts';
import { BandwidthChart, EnergyChart, GanttChart, LatencyChart, LoadChart } from './charts.ts';
import { initialState, reduce, type DashboardState } from '../model/state.ts';
import type { DashboardEvent } from '../model/events.ts';
import type { DashboardConfig } from '../model/config.ts';
import {
  bandwidthSeries, dagView, deviceRows, energyView, ganttView, jobRow, jobRows, latencySeries, loadSeries, selectedJob, tracePlaying,
} from '../model/views.ts';
import { formatJ, formatMs } from '../model/format.ts';

const RENDER_EVERY_MS = 100;

function summaryText(state: DashboardState): string[] {
  const job = selectedJob(state);
  if (!job) return [];
  const row = jobRow(state, job);
  const plan = job.plan;
  const energy = energyView(state, job);
  const parts = [
    `origin ${job.originId}`, `model ${row.model || '?'}`, `algorithm ${row.algorithm || '?'}`, `status ${row.status}`,
    `stages ${row.stagesDone}/${row.stagesTotal}`,
    `latency ${row.latencyMs > 0 ? formatMs(row.latencyMs) : '–'} (predicted ${formatMs(row.predictedMs)})`,
  ];
  if (plan && plan.predictedLocalLatencyMs > 0) parts.push(`local, predicted ${formatMs(plan.predictedLocalLatencyMs)}${row.speedup > 0 ? ` → ${row.speedup.toFixed(2)}× speed-up` : ''}`);
  if (energy.length > 0) parts.push(`energy ${formatJ(energy.reduce((s, e) => s + (e.measuredJ || e.predictedJ), 0))} total`);
  if (job.result?.error?.code) parts.push(`error ${job.result.error.code}: ${job.result.error.message}`);
  return parts;
}

function start(config: DashboardConfig): void {
  let state = initialState(Date.now());
  const header = { connection: byId('connection'), broker: byId('broker'), counts: byId('counts'), problems: byId('problems') };
  const devices = { body: byId<HTMLTableElement>('devices').tBodies[0]!, empty: byId('no-devices') };
  const jobs = { list: byId<HTMLUListElement>('jobs'), empty: byId('no-jobs') };
  const dag = new DagPanel(byId('dag'), byId('dag-legend'));
  const gantt = new GanttChart(byId('gantt'));
  const energy = new EnergyChart(byId('energy'));
  const latency = new LatencyChart(byId('latency'));
  const bandwidth = new BandwidthChart(byId('bandwidth'));
  const load = new LoadChart(byId('load'));
  const jobTitle = byId('job-title');
  const summary = byId('job-summary');
  const traceNote = byId('trace-note');

  const render = (): void => {
    const now = Date.now();
    const c = state.connection;
    const refused = state.refusedFilters.length > 0 ? 'refused' : c.state;
    header.connection.textContent = refused === 'refused' && c.state === 'connected' ? 'subscriptions refused' : c.state;
    header.connection.dataset['state'] = refused;
    document.body.dataset['connection'] = refused;
    document.body.dataset['subscriptions'] = state.subscriptions;
    if (state.refusedFilters.length > 0) header.connection.title = `refused: ${state.refusedFilters.join(', ')} (the page needs an observer login)`;
    else header.connection.title = c.detail;
    const rows = deviceRows(state, now);
    const online = rows.filter((r) => r.state === 'online').length;
    header.counts.textContent = `${online}/${rows.length} devices online · ${Object.keys(state.planners).length} planner(s) · ${state.jobOrder.length} job(s)`;
    header.problems.hidden = state.problems.count === 0;
    header.problems.textContent = state.problems.count > 0 ? `${state.problems.count} undecodable message(s)` : '';
    header.problems.title = state.problems.last;
    renderDevices(devices.body, devices.empty, rows);
    renderJobs(jobs.list, jobs.empty, jobRows(state));

    const job = selectedJob(state);
    jobTitle.textContent = job ? job.key : '— pick one';
    summary.replaceChildren(...summaryText(state).map((t) => Object.assign(document.createElement('span'), { textContent: t })));
    dag.update(job ? dagView(state, job) : null);
    gantt.update(job ? ganttView(job) : null);
    energy.update(job?.key ?? '', job ? energyView(state, job) : []);
    latency.update(latencySeries(state));
    bandwidth.update(bandwidthSeries(state));
    load.update(loadSeries(state));
    traceNote.textContent = tracePlaying(state) ? '' : '(no device replays a trace now)';
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  const schedule = (): void => {
    timer ??= setTimeout(() => {
      timer = undefined;
      render();
    }, RENDER_EVERY_MS);
  };
  const dispatch = (event: DashboardEvent): void => {
    const next = reduce(state, event);
    if (next === state) return;
    state = next;
    schedule();
  };

  jobs.list.addEventListener('click', (e) => {
    const li = (e.target as HTMLElement).closest('li[data-job-key]');
    if (li instanceof HTMLElement) dispatch({ kind: 'selectJob', jobKey: li.dataset['jobKey'] ?? null });
  });
  jobs.list.addEventListener('keydown', (e) => {
    const li = (e.target as HTMLElement).closest('li[data-job-key]');
    if (li instanceof HTMLElement && (e.key === 'Enter' || e.key === ' ')) dispatch({ kind: 'selectJob', jobKey: li.dataset['jobKey'] ?? null });
  });
  window.addEventListener('resize', () => dag.resize());

  const link = connectBroker(config, dispatch);
  header.broker.textContent = link.url;
  // Devices that stop heartbeating turn `silent` with time alone.
  setInterval(schedule, 1000);
  render();
}

async function main(): Promise<void> {
  const res = await fetch('config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
  const config = (await res.json()) as DashboardConfig;
  document.title = config.title;
  start(config);
}

main().catch((err: unknown) => {
  const badge = document.getElementById('connection');
  if (badge) {
    badge.textContent = `failed: ${err instanceof Error ? err.message : String(err)}`;
    badge.dataset['state'] = 'refused';
  }
  console.error(err);
});
