// Every check, in code order, and the one function the server calls to run them.
import type { FactsSnapshot } from '../facts/snapshot';
import type { TrainConfig } from '../parse/trainConfig';
import type { Check, Finding } from './types';
import { check as c000 } from './rwkv000Syntax';
import { check as c001 } from './rwkv001UnknownFlag';
import { check as c002 } from './rwkv002FlagValue';
import { check as c003 } from './rwkv003OtherTrainer';
import { check as c004 } from './rwkv004StrayArgument';
import { check as c005 } from './rwkv005MissingFlag';
import { check as c006 } from './rwkv006SizeFromName';
import { check as c007 } from './rwkv007CheckpointShape';
import { check as c008 } from './rwkv008VocabSize';
import { check as c009 } from './rwkv009ModelVersion';
import { check as c010 } from './rwkv010DataSuffix';
import { check as c011 } from './rwkv011PathMissing';
import { check as c012 } from './rwkv012PeftSettings';
import { check as c013 } from './rwkv013LoraAlpha';
import { check as c014 } from './rwkv014PeftLearningRate';
import { check as c015 } from './rwkv015MixedForms';
import { check as c016 } from './rwkv016LearningRateOrder';
import { check as c017 } from './rwkv017EmbdMultiple';
import { check as c018 } from './rwkv018CtxMultiple';
import { check as c019 } from './rwkv019MagicPrime';
import { check as c020 } from './rwkv020ExitTokens';
import { check as c021 } from './rwkv021GpuMemory';
import { check as c022 } from './rwkv022FactsUnavailable';
import { check as c023 } from './rwkv023DuplicateFlag';
import { check as c024 } from './rwkv024UnresolvedVariable';
import { check as c025 } from './rwkv025UnreadableFile';
import { check as c026 } from './rwkv026EngineSupport';
import { check as c027 } from './rwkv027MiniEpoch';

export const CHECKS: readonly Check[] = [c000, c001, c002, c003, c004, c005, c006, c007, c008, c009, c010, c011, c012, c013, c014, c015, c016, c017, c018, c019, c020, c021, c022, c023, c024, c025, c026, c027];

/** Runs every check; a check that throws is reported as a finding instead of hiding the others. */
export function runChecks(config: TrainConfig, facts: FactsSnapshot, only?: ReadonlySet<string>): Finding[] {
  const out: Finding[] = [];
  for (const check of CHECKS) {
    if (only && !only.has(check.code)) continue;
    try {
      if (check.checkDocument) out.push(...check.checkDocument(config, facts));
      if (check.checkRun) config.runs.forEach((run, runIndex) => out.push(...check.checkRun!({ config, run, runIndex, facts })));
    } catch (e) {
      out.push({ code: check.code, severity: 'warning', message: `Internal error in check ${check.code} (${check.name}): ${(e as Error).message}`, span: { start: 0, end: 0 } });
    }
  }
  // one finding per cause: three calls reading one variable's missing path are one warning at its assignment
  const seen = new Set<string>();
  return out.filter((f) => {
    const key = `${f.code}\u0000${f.span.start}\u0000${f.span.end}\u0000${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
