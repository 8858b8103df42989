// Bundles every TypeScript entry point into dist/ (DESIGN.md "Build outputs").
// Entries that do not exist yet are skipped, so each part can land on its own.
import { build } from 'esbuild';
import { existsSync, mkdirSync } from 'node:fs';

const entries = [
  { in: 'extension/src/extension.ts', out: 'dist/extension.js', platform: 'node', external: ['vscode'] },
  { in: 'server/src/main.ts', out: 'dist/server.js', platform: 'node', external: [] },
  { in: 'webview/src/main.ts', out: 'dist/webview.js', platform: 'browser', external: [] },
  { in: 'webview/src/preview/main.ts', out: 'dist/preview.js', platform: 'browser', external: [] },
];

mkdirSync('dist', { recursive: true });
const production = process.env.NODE_ENV === 'production';
await Promise.all(entries.filter((e) => existsSync(e.in)).map((e) => build({
  entryPoints: [e.in],
  outfile: e.out,
  bundle: true,
  platform: e.platform,
  format: e.platform === 'node' ? 'cjs' : 'iife',
  target: e.platform === 'node' ? 'node20' : 'es2022',
  external: e.external,
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
})));
