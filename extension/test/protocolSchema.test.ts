// The run protocol has one source, engine/core/protocol.schema.json: extension/src/runs/protocol.ts
// and ARCHITECTURE.md's protocol section are generated from it and must be current.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { PROTOCOL_VERSION } from '../src/runs/protocol';
import { DOC_PATH, TYPES_PATH, eventDefs, loadSchema, renderProtocolTypes, withProtocolDoc } from '../scripts/protocolCodegen';

const FIX = 'run: npx tsx extension/scripts/gen-protocol.ts';

test('extension/src/runs/protocol.ts is what the schema generates', () => {
  assert.equal(readFileSync(TYPES_PATH, 'utf8'), renderProtocolTypes(loadSchema()), FIX);
});

test("ARCHITECTURE.md's run protocol section is what the schema generates", () => {
  const doc = readFileSync(DOC_PATH, 'utf8');
  assert.equal(doc, withProtocolDoc(doc, loadSchema()), FIX);
});

test('the schema names every event once, each with the envelope and a closed set of fields', () => {
  const schema = loadSchema();
  assert.equal(schema.version, PROTOCOL_VERSION);
  const names = eventDefs(schema).map(([n]) => n);
  assert.deepEqual(names, ['start', 'step', 'checkpoint', 'epoch', 'warning', 'error', 'end', 'probe']);  // probe: rwkv-train probe only
  for (const [name, def] of eventDefs(schema)) {
    assert.equal(def.additionalProperties, false, name);
    assert.deepEqual(def.properties?.event, { const: name }, name);
    for (const k of ['event', 'v', 'time']) assert.ok(def.required?.includes(k), `${name} requires ${k}`);
    for (const k of def.required ?? []) assert.ok(def.properties?.[k], `${name} requires ${k}, which it does not describe`);
  }
});

test('the fields the issue found missing are in the schema', () => {
  const defs = loadSchema().$defs ?? {};
  for (const k of ['peft', 'data', 'backend_memory_bytes', 'plan', 'planned_memory_bytes']) assert.ok(defs.start.properties?.[k], k);
  for (const k of ['gpu_mem_used_bytes', 'gpu_mem_reserved_bytes', 'real_step']) assert.ok(defs.step.properties?.[k], k);
  for (const k of ['init', 'pissa_init', 'state']) assert.ok(defs.checkpoint.properties?.kind.enum?.includes(k), k);
});
