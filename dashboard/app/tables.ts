/** The devices table and the jobs list: rebuilt from their rows on each render. */
import { el, swatch } from './dom.ts';
import { formatBps, formatClock, formatMs } from '../model/format.ts';
import type { DeviceRow, JobRow, LinkFigures } from '../model/views.ts';

function link(l: LinkFigures | null): string {
  if (!l || (!(l.upBps > 0) && !(l.downBps > 0))) return '–';
  return `${formatBps(l.upBps)} / ${formatBps(l.downBps)}, ${formatMs(l.rttMs)}`;
}

function speed(row: DeviceRow): string {
  const announced = row.speed > 0 ? `${row.speed.toFixed(2)}×` : '–';
  if (!row.estimated || !(row.estimated.speed > 0)) return announced;
  return `${announced} → ${row.estimated.speed.toFixed(2)}×`;
}

export function renderDevices(tbody: HTMLTableSectionElement, empty: HTMLElement, rows: DeviceRow[]): void {
  empty.hidden = rows.length > 0;
  const loadPct = (load: number): number => Math.round(Math.min(1, Math.max(0, load)) * 100);
  tbody.replaceChildren(...rows.map((r) => {
    const bar = el('span', { class: 'loadbar' }, el('span'));
    (bar.firstChild as HTMLElement).style.width = `${loadPct(r.load)}%`;
    return el('tr', { 'data-device': r.id, 'data-state': r.state, 'data-role': r.role },
      el('td', {}, swatch(r.color), el('b', {}, r.id)),
      el('td', { class: 'state', 'data-state': r.state }, r.state),
      el('td', {}, r.role),
      el('td', {}, r.engine || '–'),
      el('td', { class: 'num', title: `${r.workers} executor(s)` }, bar, `${loadPct(r.load)}%`),
      el('td', { class: 'num' }, String(r.queuedStages)),
      el('td', { class: 'num' }, link(r.nominal)),
      el('td', { class: 'num', title: r.estimated ? `planner ${r.estimated.plannerId}; load factor ${r.estimated.loadFactor.toFixed(2)}, queued ${formatMs(r.estimated.queuedMs)}` : 'no planner estimate yet' }, link(r.estimated)),
      el('td', { class: 'num' }, speed(r)),
      el('td', { class: 'num' }, r.traceUpBps > 0 ? formatBps(r.traceUpBps) : '–'),
    );
  }));
}

const MAX_JOBS_SHOWN = 100;
const shownJobs = new WeakMap<HTMLElement, string>();

export function renderJobs(list: HTMLUListElement, empty: HTMLElement, rows: JobRow[]): void {
  empty.hidden = rows.length > 0;
  // Rebuilt only when something shown changed, so a click never lands on a replaced item.
  const signature = JSON.stringify(rows.slice(0, MAX_JOBS_SHOWN));
  if (shownJobs.get(list) === signature) return;
  shownJobs.set(list, signature);
  list.replaceChildren(...rows.slice(0, MAX_JOBS_SHOWN).map((j) => {
    const progress = j.status === 'running' ? `${j.stagesDone}/${j.stagesTotal} stages` : j.status;
    const figures = j.latencyMs > 0
      ? `${formatMs(j.latencyMs)} (predicted ${formatMs(j.predictedMs)})${j.speedup > 0 ? `, ${j.speedup.toFixed(2)}× vs local` : ''}`
      : `predicted ${formatMs(j.predictedMs)}`;
    return el('li', { 'data-job-key': j.key, 'data-status': j.status, 'aria-selected': j.selected ? 'true' : 'false', role: 'option', tabindex: 0 },
      el('span', { class: 'job-id', title: j.key }, `${j.model || '?'} · ${j.algorithm || '?'} · ${j.jobId}`),
      el('span', { class: 'status' }, progress),
      el('span', { class: 'detail' }, `${formatClock(j.firstSeenAtMs)} from ${j.originId} — ${figures}`),
    );
  }));
}
