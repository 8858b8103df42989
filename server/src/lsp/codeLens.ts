// textDocument/codeLens: above each train.py call, the lens of estimate/lensFigures.ts (memory of
// the GPU, time to finish, steps × tokens), with its explanation as the command's tooltip (VS
// Code shows it on hover). Clicking runs the client's `rwkvStudio.probeThroughput`, which times
// the run (rwkv-train probe) and sends the result back through `rwkv/estimateContext`.
import type { CodeLens } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { runHead } from '../checks/util';
import { previewTarget } from '../facts/previewTarget';
import { findArg } from '../parse/trainConfig';
import { lensFigures, type EstimateContext } from '../estimate/lensFigures';
import type { Analysis } from './analysis';
import { toRange } from './convert';

export const ESTIMATE_CONTEXT = 'rwkv/estimateContext';
export const PROBE_COMMAND = 'rwkvStudio.probeThroughput';
export const PREVIEW_COMMAND = 'rwkvStudio.previewDataset';

export function codeLenses(doc: TextDocument, a: Analysis, ctx: EstimateContext): CodeLens[] {
  const out: CodeLens[] = [];
  a.config.runs.forEach((run, i) => {
    if (run.unreachable) return;
    const rf = a.snapshot.runs[i];
    const figures = lensFigures(run, rf, a.snapshot.gpus?.gpus, ctx);
    if (figures) {
      out.push({
        range: toRange(doc, runHead(run)),
        command: { title: figures.title, command: PROBE_COMMAND, arguments: [a.uri, run.line], tooltip: figures.tooltip },
      });
    }
    // above the data_file flag: the dataset as the model sees it, when the data is there
    const target = rf && previewTarget(run, rf.cwd);
    const arg = findArg(run, 'data_file');
    const exists = target && (target.options.dataType === 'binidx' ? rf.paths.get(`${target.path}.idx`) === 'file' : rf.paths.get(target.path) === 'file');
    if (target && arg && exists) {
      out.push({
        range: toRange(doc, arg.nameSpan),
        command: { title: 'Preview dataset', command: PREVIEW_COMMAND, arguments: [target], tooltip: `Documents, tokens, a length histogram and sample documents of ${target.path} as this call trains on them (ctx_len ${target.options.ctxLen}, loss_mask ${target.options.lossMask})` },
      });
    }
  });
  return out;
}

/** The client's message, checked: anything malformed is dropped rather than trusted. */
export function parseEstimateContext(params: unknown): EstimateContext {
  const p = (params ?? {}) as { targetGpu?: { name?: unknown; totalBytes?: unknown }; probes?: unknown };
  const ctx: EstimateContext = { probes: [] };
  if (p.targetGpu && typeof p.targetGpu.name === 'string' && typeof p.targetGpu.totalBytes === 'number' && p.targetGpu.totalBytes > 0)
    ctx.targetGpu = { name: p.targetGpu.name, totalBytes: p.targetGpu.totalBytes };
  if (Array.isArray(p.probes)) {
    for (const x of p.probes as Record<string, unknown>[]) {
      const c = x?.config as Record<string, unknown> | undefined;
      const d = x?.device as Record<string, unknown> | undefined;
      const pr = x?.params as Record<string, unknown> | undefined;
      if (typeof x?.tokens_per_s === 'number' && c && d && pr && typeof d.name === 'string' && typeof pr.total === 'number')
        ctx.probes.push(x as unknown as EstimateContext['probes'][number]);
    }
  }
  return ctx;
}
