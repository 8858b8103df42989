// What a check is: a pure function from a parsed document (and facts already gathered about the
// files and GPUs it names) to findings, in the project's own terms (spans, not LSP ranges).
import type { Span } from '../core/span';
import type { FactsSnapshot } from '../facts/snapshot';
import type { TrainConfig, TrainRun } from '../parse/trainConfig';

export type Severity = 'error' | 'warning' | 'info' | 'hint';

export interface Edit { span: Span; newText: string }
export interface Fix { title: string; edits: Edit[]; preferred?: boolean }
export interface Related { span: Span; message: string }

export interface Finding {
  code: string;
  severity: Severity;
  message: string;
  span: Span;
  related?: Related[];
  fixes?: Fix[];
}

export interface CheckDocs {
  /** What it does (one sentence). */
  what: string;
  /** Why it matters. */
  why: string;
  /** A line that triggers it. */
  example: string;
  /** How to fix it (and the quick fix offered, if any). */
  fix: string;
}

export interface RunContext {
  config: TrainConfig;
  run: TrainRun;
  runIndex: number;
  facts: FactsSnapshot;
}

export interface Check {
  code: string;
  name: string;
  docs: CheckDocs;
  /** Findings for one train.py run (most checks). */
  checkRun?(ctx: RunContext): Finding[];
  /** Findings for the whole document (parse problems, standalone peft_config files). */
  checkDocument?(config: TrainConfig, facts: FactsSnapshot): Finding[];
}
