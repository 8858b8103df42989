// Regenerates the diagnostic reference in server/README.md from the check files:
//   npx tsx server/scripts/gen-docs.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withCheckDocs } from '../src/checks/docs';

const path = join(__dirname, '..', 'README.md');
writeFileSync(path, withCheckDocs(readFileSync(path, 'utf8')));
console.log(`updated ${path}`);
