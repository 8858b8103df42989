// The dataset preview page inside a VS Code webview: a summary table, a chart.js histogram of
// document lengths and the sampled documents with their tokens coloured (render.ts). The data
// comes from the extension after the page says it is ready.
import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip } from 'chart.js';
import { binLabels, documentHtml, summaryHtml } from './render';
import type { FromPreview, ToPreview } from './types';
import './preview.css'; // esbuild emits it as dist/preview.css

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

declare function acquireVsCodeApi(): { postMessage(m: FromPreview): void };
const vscode = acquireVsCodeApi();
const app = document.getElementById('app')!;
let chart: Chart | undefined;

function show(m: ToPreview): void {
  if (m.type === 'error') {
    app.innerHTML = '';
    const p = document.createElement('p');
    p.className = 'error';
    p.textContent = m.message;
    app.append(p);
    return;
  }
  const p = m.preview;
  app.innerHTML = `<h1>Dataset preview</h1>${summaryHtml(p, m.elapsedMs)}` +
    `<h2>Document lengths (tokens${p.histogram.documents < p.histogram.ofDocuments ? `, first ${p.histogram.documents.toLocaleString('en-US')} documents` : ''})</h2>` +
    '<div class="chart"><canvas id="hist"></canvas></div>' +
    '<h2>Sample documents</h2><p class="legend"><span class="tok tok-a trains">trains</span><span class="tok tok-a ignored">no loss</span><span class="tok foreign">padding / next document</span> (hover a token for its id)</p>' +
    p.samples.map(documentHtml).join('');
  const style = getComputedStyle(document.body);
  const fg = style.getPropertyValue('--vscode-foreground').trim() || '#888';
  chart?.destroy();
  chart = new Chart(document.getElementById('hist') as HTMLCanvasElement, {
    type: 'bar',
    data: { labels: binLabels(p.histogram), datasets: [{ data: p.histogram.counts, backgroundColor: 'rgba(64, 160, 255, 0.6)' }] },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { tooltip: { callbacks: { label: (c) => `${Number(c.raw).toLocaleString('en-US')} documents` } } },
      scales: { x: { ticks: { color: fg, maxRotation: 60, autoSkip: true } }, y: { ticks: { color: fg }, beginAtZero: true } },
    },
  });
}

window.addEventListener('message', (e: MessageEvent<ToPreview>) => show(e.data));
vscode.postMessage({ type: 'ready' });
