// Regenerates extension/src/runs/protocol.ts and ARCHITECTURE.md's run protocol section from
// engine/core/protocol.schema.json:
//   npx tsx extension/scripts/gen-protocol.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { DOC_PATH, TYPES_PATH, loadSchema, renderProtocolTypes, withProtocolDoc } from './protocolCodegen';

const schema = loadSchema();
writeFileSync(TYPES_PATH, renderProtocolTypes(schema));
writeFileSync(DOC_PATH, withProtocolDoc(readFileSync(DOC_PATH, 'utf8'), schema));
console.log(`updated ${TYPES_PATH} and ${DOC_PATH}`);
