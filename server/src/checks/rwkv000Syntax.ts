// RWKV000: problems the parsers report (unterminated quotes, YAML/JSON syntax, binary files).
import type { Check } from './types';

export const check: Check = {
  code: 'RWKV000',
  name: 'syntax',
  docs: {
    what: 'Reports what the shell, YAML or JSON parser could not read: unterminated quotes, invalid YAML, binary files, and Windows (CRLF) line endings in a shell script.',
    why: 'An unterminated quote swallows the rest of the script, so bash runs something else than what you see.',
    example: `peft_config='{"r":64}`,
    fix: 'Close the quote or fix the syntax at the marked place.',
  },
  checkDocument(config) {
    return config.problems.map((p) => ({ code: 'RWKV000', severity: p.severity, message: p.message, span: p.span, ...(p.fix ? { fixes: [{ ...p.fix, preferred: true }] } : {}) }));
  },
};
