// The one --peft table (flags.json peftMethods): every RWKV-PEFT script form in
// engine/tests/fixtures/peft_script_forms.json (which the engine's peft_names_test reads too)
// resolves here to the method the engine trains, in the trainer the engine detects, and the
// PEFT checks find nothing wrong with it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import table from '../src/flags/flags.json';
import { runChecks } from '../src/checks';
import { gatherFacts } from '../src/facts/gather';
import { kindOf, parseDocument } from '../src/parse/parseDocument';
import { methodOf } from '../src/checks/peftSettings';
import { fakeFacts, fakeFiles, world } from './fakeWorld';
import { flagSpec } from '../src/flags/flagTable';
import { LEGACY_FLAG_OF, PEFT_NAMES, peftConfigKeys, peftMethod, peftName } from '../src/peft/peftKeys';

interface Form { source: string; trainer: string | null; argv: string[]; method: string; r: number; configFlag: string }
const forms = (JSON.parse(readFileSync(join(__dirname, '../../engine/tests/fixtures/peft_script_forms.json'), 'utf8')) as { forms: Form[] }).forms;

test('the table: bone and disha are miss with --disha_config, miss has --miss_config', () => {
  assert.equal(peftMethod('bone'), 'miss');
  assert.equal(peftMethod('disha'), 'miss');
  assert.equal(LEGACY_FLAG_OF.bone, 'disha_config');
  assert.equal(LEGACY_FLAG_OF.disha, 'disha_config');
  assert.equal(LEGACY_FLAG_OF.miss, 'miss_config');
  assert.equal(peftConfigKeys('bone'), peftConfigKeys('miss'));
  // --peft's values are the table's names; each config flag exists in the trainers that spell the name
  assert.deepEqual([...(flagSpec('peft')!.values ?? [])].sort(), PEFT_NAMES.map((n) => n.name).sort());
  for (const n of PEFT_NAMES) {
    if (!n.configFlag) continue;
    const spec = flagSpec(n.configFlag);
    assert.ok(spec, `${n.name}: ${n.configFlag} is a table flag`);
    for (const t of n.trainers) assert.ok(spec.trainers.includes(t), `${n.name}: ${n.configFlag} exists in ${t}`);
  }
  // the trainer detection's older method names are the names only the older trainer spells
  const legacyOnly = PEFT_NAMES.filter((n) => n.trainers.length === 1 && n.trainers[0] === 'peft-legacy').map((n) => n.name);
  assert.deepEqual([...table.trainerDetection.legacyPeft].sort(), legacyOnly.sort());
});

const shellQuote = (w: string): string => (/^[\w./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

test('every RWKV-PEFT script form resolves to the engine\'s method, with no PEFT finding', async () => {
  assert.ok(forms.length >= 10);
  for (const form of forms) {
    const script = `python train.py --load_model m.pth --n_layer 24 --n_embd 2048 --vocab_size 65536 --data_file d --data_type binidx --ctx_len 512 --lr_init 1e-5 --lr_final 1e-5 ${form.argv.map(shellQuote).join(' ')}\n`;
    const config = parseDocument(script, kindOf('', 'x.sh'), 'x.sh');
    const run = config.runs[0]!;
    if (form.trainer) assert.equal(run.trainer, form.trainer, `${form.source}: trainer`);
    const name = form.argv.includes('--train_type') ? 'state' : methodOf(run);
    assert.equal(peftMethod(name), form.method, `${form.source}: method`);
    assert.ok(peftName(name)?.supported, `${form.source}: the engine trains it`);
    if (form.configFlag && form.configFlag !== 'peft_config') assert.equal(LEGACY_FLAG_OF[name], form.configFlag, `${form.source}: settings flag`);
    const snapshot = await gatherFacts(config, { cwd: world.cwd, facts: fakeFacts(), files: fakeFiles() });
    const findings = runChecks(config, snapshot, new Set(['RWKV012', 'RWKV015'])).map((f) => `${f.code} ${f.message}`);
    assert.deepEqual(findings, [], `${form.source}: PEFT findings`);
  }
});
