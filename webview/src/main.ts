// The training dashboard inside a VS Code webview: four charts (loss raw + smoothed, learning
// rate, tokens/s, GPU memory against the device total), a run table, export to PNG and CSV.
// Points come from the extension ('reset' replays a run, 'points' appends live ones); only the
// UI choices live in getState/setState, so a reopened panel asks for a replay.
import {
  Chart, Decimation, Legend, LinearScale, LineController, LineElement, PointElement, Ticks, Tooltip,
  type ChartDataset, type Scale, type ScatterDataPoint, type Tick,
} from 'chart.js';
import type { FromWebview, RunSummary, StepPoint, ToWebview } from './messages';
import { LodSeries } from './lod';
import { ranksText } from './devices';
import { formatBytes, formatDuration, formatNumber, Smoother, stepGap, xOf, type XAxis } from './series';
import { skipMarks } from './skipMarks';
import { stringsFor } from './strings';
import './style.css'; // esbuild emits it as dist/webview.css

Chart.register(LineController, LineElement, PointElement, LinearScale, Decimation, Legend, Tooltip);

interface VsCodeApi {
  postMessage(message: FromWebview): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

interface UiState { xAxis: XAxis; smoothing: number; shown: string[] }

const vscode = acquireVsCodeApi();
const t = stringsFor(document.documentElement.lang || 'en');
const saved = (vscode.getState() ?? {}) as Partial<UiState>;
const ui: UiState = {
  xAxis: saved.xAxis === 'tokens' || saved.xAxis === 'time' || saved.xAxis === 'realStep' ? saved.xAxis : 'step',
  smoothing: typeof saved.smoothing === 'number' ? Math.min(0.999, Math.max(0, saved.smoothing)) : 0.9,
  shown: Array.isArray(saved.shown) ? saved.shown.filter((s): s is string => typeof s === 'string') : [],
};
let runs: RunSummary[] = [];
const points: Record<string, StepPoint[]> = {};

type MetricId = 'loss' | 'lr' | 'tps' | 'mem';
type XY = ScatterDataPoint;

// ---- DOM -----------------------------------------------------------------------------------
const app = document.getElementById('app')!;
app.innerHTML = `
<header class="toolbar">
  <label>${t.xAxis} <select id="x-axis"><option value="step">${t.step}</option><option value="realStep">${t.realStep}</option><option value="tokens">${t.tokens}</option><option value="time">${t.time}</option></select></label>
  <label>${t.smoothing} <input id="smoothing" type="range" min="0" max="0.99" step="0.01"><output id="smoothing-value"></output></label>
  <span class="spacer"></span>
  <button id="export-png">${t.exportPng}</button>
  <button id="export-csv">${t.exportCsv}</button>
</header>
<main class="charts">
  <section><h2>${t.loss}</h2><div class="chart-box"><canvas id="chart-loss"></canvas></div></section>
  <section><h2>${t.lr}</h2><div class="chart-box"><canvas id="chart-lr"></canvas></div></section>
  <section><h2>${t.tokensPerS}</h2><div class="chart-box"><canvas id="chart-tps"></canvas></div></section>
  <section><h2>${t.memory}</h2><div class="chart-box"><canvas id="chart-mem"></canvas></div></section>
</main>
<section class="runs"><h2>${t.runs}</h2>
<table id="run-table"><thead><tr><th></th><th>${t.run}</th><th>${t.status}</th><th>${t.steps}</th><th>${t.bestLoss}</th><th>${t.duration}</th><th>${t.config}</th><th></th></tr></thead><tbody></tbody></table>
<p id="no-runs" class="hint">${t.noRuns}</p>
</section>`;

const xSelect = document.getElementById('x-axis') as HTMLSelectElement;
const smoothingInput = document.getElementById('smoothing') as HTMLInputElement;
const smoothingValue = document.getElementById('smoothing-value') as HTMLOutputElement;
xSelect.value = ui.xAxis;
smoothingInput.value = String(ui.smoothing);
smoothingValue.textContent = ui.smoothing.toFixed(2);

// ---- Theme ---------------------------------------------------------------------------------
interface Theme { fg: string; grid: string; bg: string; red: string; palette: string[] }
function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}
function readTheme(): Theme {
  return {
    fg: cssVar('--vscode-foreground', '#cccccc'),
    grid: cssVar('--vscode-editorWidget-border', cssVar('--vscode-panel-border', 'rgba(128,128,128,0.35)')),
    bg: cssVar('--vscode-editor-background', '#1e1e1e'),
    red: cssVar('--vscode-errorForeground', cssVar('--vscode-charts-red', '#f14c4c')),
    palette: ['--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-purple', '--vscode-charts-red', '--vscode-charts-yellow']
      .map((v, i) => cssVar(v, ['#3794ff', '#d18616', '#89d185', '#b180d7', '#f14c4c', '#cca700'][i])),
  };
}
let theme = readTheme();
function withAlpha(color: string, alpha: number): string {
  const hex = /^#([0-9a-f]{6})$/i.exec(color);
  if (hex) return `#${hex[1]}${Math.round(alpha * 255).toString(16).padStart(2, '0')}`;
  const rgb = /^rgba?\(([^)]+)\)$/i.exec(color);
  if (rgb) { const [r, g, b] = rgb[1].split(',').map((s) => s.trim()); return `rgba(${r}, ${g}, ${b}, ${alpha})`; }
  return color;
}

/** Chart.js's own tick numbers (precise enough to tell ticks apart), with a lower-case exponent. */
function tickLabel(this: Scale, value: number | string, index: number, ticks: Tick[]): string {
  return String(Ticks.formatters.numeric.call(this, Number(value), index, ticks)).replace(/E/g, 'e');
}

// ---- Charts --------------------------------------------------------------------------------
function makeChart(id: MetricId, yTitle: string, fromZero = false): Chart<'line', XY[]> {
  const canvas = document.getElementById(`chart-${id}`) as HTMLCanvasElement;
  return new Chart<'line', XY[]>(canvas, {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false,
      parsing: false,
      normalized: true,
      spanGaps: true,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      elements: { point: { radius: 0, hitRadius: 4 }, line: { borderWidth: 1.5 } },
      plugins: {
        decimation: { enabled: true, algorithm: 'lttb', samples: 1000, threshold: 2000 },
        // Helper lines and series a run does not report (no GPU memory on the CPU) stay out of the legend.
        legend: { display: true, labels: { boxWidth: 12, filter: (item, data) => !String(item.text).endsWith('\u200b') && (data.datasets[item.datasetIndex ?? 0]?.data.length ?? 0) > 0 } },
        tooltip: { enabled: true },
      },
      scales: {
        x: { type: 'linear', title: { display: true, text: '' } },
        y: { type: 'linear', beginAtZero: fromZero, title: { display: !!yTitle, text: yTitle }, ticks: { callback: tickLabel } },
      },
    },
  });
}
const charts: Record<MetricId, Chart<'line', XY[]>> = {
  loss: makeChart('loss', ''),
  lr: makeChart('lr', ''),
  tps: makeChart('tps', '', true),
  mem: makeChart('mem', 'GiB', true),
};

/** Per run and metric, the dataset arrays the charts draw (kept, then extended by live points). */
interface RunSeries { color: string; loss: LodSeries; lossSmooth: LodSeries; smoother: Smoother; lastLossPoint?: StepPoint; lr: LodSeries; tps: LodSeries; memUsed: LodSeries; memReserved: LodSeries; memTotal: XY[] }
/** The full series behind each drawn array (for the test hook's counts). */
const lodOf = new WeakMap<XY[], LodSeries>();
function lod(): LodSeries {
  const l = new LodSeries();
  lodOf.set(l.data, l);
  return l;
}
const series = new Map<string, RunSeries>();
const GIB = 1024 ** 3;

function buildSeries(runId: string, colorIndex: number): RunSeries {
  const s: RunSeries = { color: theme.palette[colorIndex % theme.palette.length], loss: lod(), lossSmooth: lod(), smoother: new Smoother(ui.smoothing), lr: lod(), tps: lod(), memUsed: lod(), memReserved: lod(), memTotal: [] };
  appendToSeries(runId, s, points[runId] ?? []);
  return s;
}

function appendToSeries(runId: string, s: RunSeries, newPoints: readonly StepPoint[]): void {
  const total = runs.find((r) => r.id === runId)?.totalMemory;
  for (const p of newPoints) {
    const x = xOf(p, ui.xAxis);
    if (x === undefined) continue;
    if (p.loss !== undefined) {
      s.loss.push({ x, y: p.loss });
      s.lossSmooth.push({ x, y: s.smoother.next(p.loss, stepGap(p, s.lastLossPoint)) });
      s.lastLossPoint = p;
    }
    if (p.lr !== undefined) s.lr.push({ x, y: p.lr });
    if (p.tokensPerS !== undefined) s.tps.push({ x, y: p.tokensPerS });
    if (p.memUsed !== undefined) s.memUsed.push({ x, y: p.memUsed / GIB });
    if (p.memReserved !== undefined) s.memReserved.push({ x, y: p.memReserved / GIB });
  }
  // The device total is a flat line across the x range seen so far.
  s.memTotal.length = 0;
  const span = s.memUsed.count ? s.memUsed : s.memReserved;
  if (total && span.first && span.last) s.memTotal.push({ x: span.first.x, y: total / GIB }, { x: span.last.x, y: total / GIB });
}

function dataset(label: string, data: XY[], color: string, extra: Partial<ChartDataset<'line', XY[]>> = {}): ChartDataset<'line', XY[]> {
  return { label, data, borderColor: color, backgroundColor: color, pointRadius: 0, borderWidth: 1.5, ...extra };
}

/** Rebuilds every dataset from the points (x axis, smoothing, shown runs or theme changed). */
function rebuildCharts(): void {
  series.clear();
  const shown = ui.shown.filter((id) => runs.some((r) => r.id === id));
  shown.forEach((id, i) => series.set(id, buildSeries(id, i)));
  const multi = shown.length > 1;
  const name = (id: string) => runs.find((r) => r.id === id)?.title ?? id;
  const suffix = (id: string, what: string) => (multi ? `${name(id)} ${what}` : what);
  const hidden = '\u200b'; // legend filter marker for helper lines
  charts.loss.data.datasets = [...series].flatMap(([id, s]) => {
    const skipped = runs.find((r) => r.id === id)?.skippedSteps ?? [];
    return [
      dataset(suffix(id, t.raw), s.loss.data, withAlpha(s.color, 0.3), { borderWidth: 1 }),
      dataset(suffix(id, t.smoothed), s.lossSmooth.data, s.color, { borderWidth: 2 }),
      // the steps the engine's bad-step guard skipped: a cross on the loss line
      ...(skipped.length ? [dataset(suffix(id, t.skipped), skipMarks(skipped, points[id] ?? [], ui.xAxis), theme.red, { showLine: false, pointRadius: 5, pointStyle: 'crossRot', borderWidth: 2 })] : []),
    ];
  });
  charts.lr.data.datasets = [...series].map(([id, s]) => dataset(multi ? name(id) : t.lr, s.lr.data, s.color));
  charts.tps.data.datasets = [...series].map(([id, s]) => dataset(multi ? name(id) : t.tokensPerS, s.tps.data, s.color));
  charts.mem.data.datasets = [...series].flatMap(([id, s]) => [
    dataset(suffix(id, t.used), s.memUsed.data, s.color, { borderWidth: 2 }),
    dataset(suffix(id, t.reserved), s.memReserved.data, withAlpha(s.color, 0.55), { borderDash: [6, 3] }),
    dataset(suffix(id, t.total) + (s.memTotal.length ? '' : hidden), s.memTotal, theme.fg, { borderDash: [2, 2], borderWidth: 1 }),
  ]);
  const xTitle = ui.xAxis === 'step' ? t.step : ui.xAxis === 'realStep' ? t.realStep : ui.xAxis === 'tokens' ? t.tokens : t.time;
  for (const chart of Object.values(charts)) {
    const scales = chart.options.scales!;
    (scales.x as { title: { text: string } }).title.text = xTitle;
    for (const axis of [scales.x!, scales.y!]) {
      axis.ticks = { ...(axis.ticks ?? {}), color: theme.fg } as typeof axis.ticks;
      axis.grid = { ...(axis.grid ?? {}), color: withAlpha(theme.grid, 0.5) };
      (axis as { title?: { color?: string } }).title!.color = theme.fg;
    }
    chart.options.plugins!.legend!.labels!.color = theme.fg;
    chart.update('none');
  }
}

let frameRequested = false;
/** CPU time of the last live redraw of all four charts (read by the benchmark). */
let lastUpdateMs = 0;
function scheduleUpdate(): void {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(() => {
    frameRequested = false;
    const t0 = performance.now();
    for (const chart of Object.values(charts)) chart.update('none');
    lastUpdateMs = performance.now() - t0;
  });
}

// ---- Run table -----------------------------------------------------------------------------
function renderTable(): void {
  const body = document.querySelector('#run-table tbody')!;
  body.textContent = '';
  (document.getElementById('no-runs') as HTMLElement).hidden = runs.length > 0;
  for (const run of [...runs].reverse()) {
    const tr = document.createElement('tr');
    tr.dataset.runId = run.id;
    const cell = (text: string, cls = '') => { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); return td; };
    const check = document.createElement('input');
    check.type = 'checkbox';
    check.checked = ui.shown.includes(run.id);
    check.title = run.id;
    check.addEventListener('change', () => {
      ui.shown = check.checked ? [...ui.shown, run.id] : ui.shown.filter((id) => id !== run.id);
      saveState();
      vscode.postMessage({ type: 'show', shown: ui.shown });
      rebuildCharts();
    });
    const first = document.createElement('td');
    first.appendChild(check);
    tr.appendChild(first);
    const color = series.get(run.id)?.color;
    const titleCell = cell(run.title, 'title');
    if (color) titleCell.style.borderLeft = `3px solid ${color}`;
    cell(run.status, `status status-${run.status}`);
    cell(run.totalSteps ? `${run.steps} / ${run.totalSteps}` : String(run.steps), 'num');
    cell(formatNumber(run.bestLoss), 'num');
    cell(formatDuration(run.durationS), 'num');
    cell(run.config + (run.deviceName ? ` · ${run.deviceName}` : '') + (run.totalMemory ? ` ${formatBytes(run.totalMemory)}` : '') + ranksText(run), 'config');
    const actions = document.createElement('td');
    const live = run.status === 'running' || run.status === 'starting';
    const resumable = run.source === 'engine' && (run.status === 'stopped' || run.status === 'crashed' || run.status === 'failed');
    if (live || resumable) {
      const button = document.createElement('button');
      button.textContent = live ? t.stop : t.resume;
      button.addEventListener('click', () => vscode.postMessage({ type: 'runCommand', command: live ? 'stop' : 'resume', runId: run.id }));
      actions.appendChild(button);
    }
    tr.appendChild(actions);
    body.appendChild(tr);
  }
}

function saveState(): void {
  vscode.setState(ui);
}

// ---- Export --------------------------------------------------------------------------------
function exportPng(): void {
  const canvases = Object.values(charts).map((c) => c.canvas);
  const width = Math.max(...canvases.map((c) => c.width));
  const out = document.createElement('canvas');
  out.width = width * 2;
  out.height = Math.max(canvases[0].height, canvases[1].height) + Math.max(canvases[2].height, canvases[3].height);
  const ctx = out.getContext('2d')!;
  ctx.fillStyle = theme.bg;
  ctx.fillRect(0, 0, out.width, out.height);
  canvases.forEach((c, i) => ctx.drawImage(c, (i % 2) * width, i < 2 ? 0 : Math.max(canvases[0].height, canvases[1].height)));
  vscode.postMessage({ type: 'exportPng', fileName: 'rwkv-dashboard.png', dataUrl: out.toDataURL('image/png') });
}
document.getElementById('export-png')!.addEventListener('click', exportPng);
document.getElementById('export-csv')!.addEventListener('click', () => {
  vscode.postMessage({ type: 'exportCsv', fileName: 'rwkv-runs.csv', shown: ui.shown, smoothing: ui.smoothing });
});
xSelect.addEventListener('change', () => { ui.xAxis = xSelect.value as XAxis; saveState(); rebuildCharts(); });
smoothingInput.addEventListener('input', () => {
  ui.smoothing = Number(smoothingInput.value);
  smoothingValue.textContent = ui.smoothing.toFixed(2);
  saveState();
  rebuildCharts();
});

// VS Code swaps the body's theme class and CSS variables when the colour theme changes.
new MutationObserver(() => { theme = readTheme(); rebuildCharts(); renderTable(); })
  .observe(document.body, { attributes: true, attributeFilter: ['class', 'data-vscode-theme-kind', 'style'] });

// ---- Messages ------------------------------------------------------------------------------
window.addEventListener('message', (e: MessageEvent<ToWebview>) => {
  const msg = e.data;
  if (!msg || typeof msg !== 'object') return;
  switch (msg.type) {
    case 'reset':
      runs = msg.runs;
      for (const k of Object.keys(points)) delete points[k];
      Object.assign(points, msg.points);
      ui.shown = msg.shown.length ? msg.shown : ui.shown;
      saveState();
      rebuildCharts();
      renderTable();
      break;
    case 'runs': {
      const before = new Map(runs.map((r) => [r.id, r.totalMemory]));
      const skippedBefore = new Map(runs.map((r) => [r.id, r.skippedSteps?.length ?? 0]));
      runs = msg.runs;
      renderTable();
      if (runs.some((r) => series.has(r.id) && (before.get(r.id) !== r.totalMemory || skippedBefore.get(r.id) !== (r.skippedSteps?.length ?? 0)))) rebuildCharts();
      break;
    }
    case 'points': {
      (points[msg.runId] ??= []).push(...msg.points);
      const s = series.get(msg.runId);
      if (s) { appendToSeries(msg.runId, s, msg.points); scheduleUpdate(); }
      break;
    }
    case 'show':
      ui.shown = msg.shown;
      saveState();
      rebuildCharts();
      renderTable();
      break;
  }
});

/** Test hook: what each chart holds (dataset labels and point counts, first and last points). */
(window as unknown as { rwkvDashboard: unknown }).rwkvDashboard = {
  summary: () => Object.fromEntries(Object.entries(charts).map(([id, chart]) => [id, chart.data.datasets.map((d) => {
    const data = ((d as { _data?: XY[] })._data ?? d.data) as XY[];
    const full = lodOf.get(data);
    return {
      label: d.label, color: d.borderColor,
      points: full ? full.count : data.length, // points held
      given: data.length, // points handed to chart.js (level of detail)
      drawn: (chart.getDatasetMeta(chart.data.datasets.indexOf(d)).data ?? []).length, // after chart.js decimation
      first: full ? full.first : data[0], last: full ? full.last : data[data.length - 1],
    };
  })])),
  ui: () => ({ ...ui }),
  lastUpdateMs: () => lastUpdateMs,
  theme: () => ({ ...theme }),
};

vscode.postMessage({ type: 'ready' });
