// RWKV022: one informational message when the engine addon is missing and facts-based checks are off.
import type { Check } from './types';
import { runHead } from './util';

export const check: Check = {
  code: 'RWKV022',
  name: 'facts-unavailable',
  docs: {
    what: 'Says once per document that checkpoint, dataset, GPU and memory checks are skipped because the engine\'s Node addon could not be loaded.',
    why: 'So that the absence of RWKV007-RWKV009, RWKV019-RWKV021 findings is not mistaken for a clean bill.',
    example: '(any training script, when dist/bin/rwkv_studio.node is missing)',
    fix: 'Build the engine (npm run build) or reinstall the extension.',
  },
  checkDocument(config, facts) {
    const first = config.runs[0];
    if (!facts.unavailable || !first) return [];
    return [{ code: 'RWKV022', severity: 'info', message: `Checkpoint, dataset, GPU and memory checks are off: ${facts.unavailable}.`, span: runHead(first) }];
  },
};
