/**
 * Small, dependency-free SVG charts for self-contained HTML reports (they open offline,
 * anywhere): grouped bars, lines over x (linear or log), scatter plots with an optional y = x
 * line, and stacked panels over one x axis (a drive: latency above, bandwidth below).
 */

const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const W = 720;
const H = 320;
const M = { top: 36, right: 150, bottom: 56, left: 64 };

export function colorOf(index: number): string {
  return PALETTE[index % PALETTE.length]!;
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceMax(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1000) return `${(v / 1000).toFixed(v >= 10000 ? 0 : 1)}k`;
  if (Math.abs(v) >= 10) return v.toFixed(0);
  if (Math.abs(v) >= 1) return v.toFixed(1);
  return v.toPrecision(2);
}

function frame(title: string, yLabel: string, xLabel: string, yMax: number, body: string, legend: string[], yMin = 0): string {
  const ih = H - M.top - M.bottom;
  const ticks = Array.from({ length: 6 }, (_, i) => yMin + ((yMax - yMin) * i) / 5);
  const grid = ticks.map((t) => {
    const y = M.top + ih - ((t - yMin) / (yMax - yMin)) * ih;
    return `<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#e5e5e5"/><text x="${M.left - 6}" y="${y + 4}" text-anchor="end" font-size="11">${fmt(t)}</text>`;
  }).join('');
  const leg = legend.map((name, i) => `<rect x="${W - M.right + 12}" y="${M.top + i * 18}" width="12" height="12" fill="${colorOf(i)}"/><text x="${W - M.right + 30}" y="${M.top + i * 18 + 10}" font-size="12">${esc(name)}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="system-ui, sans-serif" role="img" aria-label="${esc(title)}">`
    + `<text x="${M.left}" y="20" font-size="14" font-weight="600">${esc(title)}</text>${grid}`
    + `<text transform="translate(16 ${M.top + ih / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(yLabel)}</text>`
    + `<text x="${M.left + (W - M.left - M.right) / 2}" y="${H - 8}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`
    + `${body}${leg}</svg>`;
}

export interface BarSeries {
  name: string;
  values: Array<number | null>;
}

/** Grouped bars: one group per category, one bar per series. */
export function barChart(title: string, yLabel: string, categories: string[], series: BarSeries[], xLabel = ''): string {
  const iw = W - M.left - M.right;
  const ih = H - M.top - M.bottom;
  const yMax = niceMax(Math.max(0, ...series.flatMap((s) => s.values.map((v) => v ?? 0))));
  const group = iw / Math.max(1, categories.length);
  const bar = (group * 0.8) / Math.max(1, series.length);
  let body = '';
  categories.forEach((c, ci) => {
    const gx = M.left + ci * group + group * 0.1;
    series.forEach((s, si) => {
      const v = s.values[ci];
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      const h = (v / yMax) * ih;
      body += `<rect x="${gx + si * bar}" y="${M.top + ih - h}" width="${Math.max(1, bar - 1)}" height="${h}" fill="${colorOf(si)}"><title>${esc(`${s.name} / ${c}: ${fmt(v)}`)}</title></rect>`;
    });
    body += `<text x="${M.left + ci * group + group / 2}" y="${M.top + ih + 16}" text-anchor="middle" font-size="11">${esc(c)}</text>`;
  });
  return frame(title, yLabel, xLabel, yMax, body, series.map((s) => s.name));
}

export interface LineSeries {
  name: string;
  points: Array<[number, number]>;
}

interface Scales {
  x: (v: number) => number;
  y: (v: number) => number;
  xMax: number;
  yMax: number;
  xMin: number;
  logX: boolean;
}

/** Axis options of line and scatter charts. */
export interface AxisOptions {
  /** A logarithmic x axis (every x must be > 0), e.g. bandwidth over decades. */
  logX?: boolean;
}

function scales(series: LineSeries[], diagonal: boolean, options: AxisOptions = {}): Scales {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const iw = W - M.left - M.right;
  const ih = H - M.top - M.bottom;
  if (options.logX === true && !diagonal) {
    const pos = xs.filter((v) => v > 0);
    const xMin = 10 ** Math.floor(Math.log10(pos.length > 0 ? Math.min(...pos) : 1));
    const xMax = 10 ** Math.ceil(Math.log10(pos.length > 0 ? Math.max(...pos) : 10));
    const yMax = niceMax(Math.max(...ys, 0));
    const span = Math.log10(xMax) - Math.log10(xMin) || 1;
    return { x: (v) => M.left + ((Math.log10(Math.max(v, xMin)) - Math.log10(xMin)) / span) * iw, y: (v) => M.top + ih - (v / yMax) * ih, xMax, yMax, xMin, logX: true };
  }
  const xMin = Math.min(0, ...xs);
  let xMax = niceMax(Math.max(...xs, 0));
  let yMax = niceMax(Math.max(...ys, 0));
  if (diagonal) xMax = yMax = Math.max(xMax, yMax);
  return { x: (v) => M.left + ((v - xMin) / (xMax - xMin || 1)) * iw, y: (v) => M.top + ih - (v / yMax) * ih, xMax, yMax, xMin, logX: false };
}

function xTicks(s: Scales): string {
  const ih = H - M.top - M.bottom;
  const ticks: number[] = [];
  if (s.logX) {
    for (let d = s.xMin; d <= s.xMax * 1.0001; d *= 10) for (const m of [1, 2, 5]) if (d * m <= s.xMax * 1.0001) ticks.push(d * m);
  } else {
    for (let i = 0; i < 6; i++) ticks.push(s.xMin + ((s.xMax - s.xMin) * i) / 5);
  }
  return ticks.map((t) => `<text x="${s.x(t)}" y="${M.top + ih + 16}" text-anchor="middle" font-size="11">${fmt(t)}</text>`).join('');
}

/** Lines over a numeric x axis. */
export function lineChart(title: string, xLabel: string, yLabel: string, series: LineSeries[], options: AxisOptions = {}): string {
  const s = scales(series, false, options);
  const body = series.map((ser, i) => {
    const pts = [...ser.points].sort((a, b) => a[0] - b[0]);
    const d = pts.map((p, j) => `${j === 0 ? 'M' : 'L'}${s.x(p[0]).toFixed(1)},${s.y(p[1]).toFixed(1)}`).join('');
    const dots = pts.length <= 60 ? pts.map((p) => `<circle cx="${s.x(p[0])}" cy="${s.y(p[1])}" r="2.5" fill="${colorOf(i)}"><title>${esc(`${ser.name}: ${fmt(p[0])}, ${fmt(p[1])}`)}</title></circle>`).join('') : '';
    return `<path d="${d}" fill="none" stroke="${colorOf(i)}" stroke-width="1.8"/>${dots}`;
  }).join('');
  return frame(title, yLabel, xLabel, s.yMax, body + xTicks(s), series.map((x) => x.name));
}

/** Points, with the y = x line when `diagonal` (predicted against measured). */
export function scatterChart(title: string, xLabel: string, yLabel: string, series: LineSeries[], diagonal = false, options: AxisOptions = {}): string {
  const s = scales(series, diagonal, options);
  let body = diagonal ? `<line x1="${s.x(0)}" y1="${s.y(0)}" x2="${s.x(s.xMax)}" y2="${s.y(s.yMax)}" stroke="#999" stroke-dasharray="4 4"/>` : '';
  series.forEach((ser, i) => {
    for (const p of ser.points) body += `<circle cx="${s.x(p[0]).toFixed(1)}" cy="${s.y(p[1]).toFixed(1)}" r="3.5" fill="${colorOf(i)}" fill-opacity="0.75"><title>${esc(`${ser.name}: ${fmt(p[0])}, ${fmt(p[1])}`)}</title></circle>`;
  });
  return frame(title, yLabel, xLabel, s.yMax, body + xTicks(s), series.map((x) => x.name));
}

export interface TrackPanel {
  yLabel: string;
  series: LineSeries[];
  /** Draw each series as a step function (a value holds until the next point), without dots. */
  step?: boolean;
}

/**
 * Panels stacked over one shared numeric x axis (e.g. latency along a drive above the
 * bandwidth at each moment): one y axis per panel, one legend for all series.
 */
export function trackChart(title: string, xLabel: string, panels: TrackPanel[], xRange?: [number, number]): string {
  const panelH = 170;
  const gap = 40;
  const height = M.top + panels.length * panelH + (panels.length - 1) * gap + M.bottom;
  const iw = W - M.left - M.right;
  const xs = panels.flatMap((p) => p.series.flatMap((s) => s.points.map((q) => q[0])));
  const xMin = xRange?.[0] ?? Math.min(0, ...xs);
  const xMax = xRange?.[1] ?? niceMax(Math.max(...xs, 0));
  const x = (v: number): number => M.left + ((v - xMin) / (xMax - xMin || 1)) * iw;
  let body = '';
  let colorIndex = 0;
  const legend: Array<{ name: string; color: string }> = [];
  panels.forEach((panel, pi) => {
    const top = M.top + pi * (panelH + gap);
    const yMax = niceMax(Math.max(0, ...panel.series.flatMap((s) => s.points.map((q) => q[1]))));
    const y = (v: number): number => top + panelH - (v / yMax) * panelH;
    for (let i = 0; i <= 5; i++) {
      const t = (yMax * i) / 5;
      body += `<line x1="${M.left}" x2="${W - M.right}" y1="${y(t)}" y2="${y(t)}" stroke="#e5e5e5"/><text x="${M.left - 6}" y="${y(t) + 4}" text-anchor="end" font-size="11">${fmt(t)}</text>`;
    }
    body += `<text transform="translate(16 ${top + panelH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(panel.yLabel)}</text>`;
    for (const ser of panel.series) {
      const color = colorOf(colorIndex++);
      legend.push({ name: ser.name, color });
      const pts = [...ser.points].filter((q) => q[0] >= xMin && q[0] <= xMax).sort((a, b) => a[0] - b[0]);
      let d = '';
      pts.forEach((q, j) => {
        if (j === 0) d += `M${x(q[0]).toFixed(1)},${y(q[1]).toFixed(1)}`;
        else if (panel.step === true) d += `H${x(q[0]).toFixed(1)}V${y(q[1]).toFixed(1)}`;
        else d += `L${x(q[0]).toFixed(1)},${y(q[1]).toFixed(1)}`;
      });
      if (panel.step === true && pts.length > 0) d += `H${x(xMax).toFixed(1)}`;
      body += `<path d="${d}" fill="none" stroke="${color}" stroke-width="${panel.step === true ? 1.5 : 1.2}" stroke-opacity="${panel.step === true ? 1 : 0.6}"/>`;
      if (panel.step !== true) {
        for (const q of pts) body += `<circle cx="${x(q[0]).toFixed(1)}" cy="${y(q[1]).toFixed(1)}" r="2.8" fill="${color}"><title>${esc(`${ser.name}: ${fmt(q[0])}, ${fmt(q[1])}`)}</title></circle>`;
      }
    }
  });
  const bottom = M.top + panels.length * panelH + (panels.length - 1) * gap;
  const step = niceMax((xMax - xMin) / 8);
  for (let t = Math.ceil(xMin / step) * step; t <= xMax + step * 1e-9; t += step) {
    body += `<text x="${x(t)}" y="${bottom + 16}" text-anchor="middle" font-size="11">${fmt(t)}</text>`;
  }
  const leg = legend.map((l, i) => `<rect x="${W - M.right + 12}" y="${M.top + i * 18}" width="12" height="12" fill="${l.color}"/><text x="${W - M.right + 30}" y="${M.top + i * 18 + 10}" font-size="12">${esc(l.name)}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" font-family="system-ui, sans-serif" role="img" aria-label="${esc(title)}">`
    + `<text x="${M.left}" y="20" font-size="14" font-weight="600">${esc(title)}</text>${body}`
    + `<text x="${M.left + iw / 2}" y="${height - 8}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>${leg}</svg>`;
}

/** A minimal self-contained HTML page around sections of text, tables and charts. */
export function htmlPage(title: string, sections: string[]): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>`
    + '<style>body{font-family:system-ui,sans-serif;margin:24px;max-width:1100px;color:#222}table{border-collapse:collapse;margin:12px 0}'
    + 'th,td{border:1px solid #ddd;padding:4px 8px;text-align:right;font-size:13px}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}'
    + 'svg{margin:8px 0;max-width:100%;height:auto}.charts{display:flex;flex-wrap:wrap;gap:8px}</style></head>'
    + `<body><h1>${esc(title)}</h1>${sections.join('\n')}</body></html>\n`;
}

export function htmlTable(header: string[], rows: Array<Array<string | number>>): string {
  return `<table><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>`
    + rows.map((r) => `<tr>${r.map((c) => `<td>${esc(String(c))}</td>`).join('')}</tr>`).join('') + '</tbody></table>';
}

export { esc as escapeHtml };
