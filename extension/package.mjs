// `npm run package`: a platform VSIX (the engine and the addon in dist/bin are native, so each
// VSIX is built for one target). Bundles in production mode, then @vscode/vsce with
// --target; .vscodeignore keeps sources, tests and caches out.
//   node extension/package.mjs [--target linux-x64|linux-arm64|darwin-arm64|darwin-x64|win32-x64]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TARGETS = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64', 'win32-arm64', 'alpine-x64'];
const argTarget = process.argv.indexOf('--target');
const target = argTarget > 0 ? process.argv[argTarget + 1] : `${process.platform}-${process.arch}`;
if (!TARGETS.includes(target)) {
  console.error(`package: unknown target "${target}"; one of ${TARGETS.join(', ')}`);
  process.exit(2);
}
const hostTarget = `${process.platform}-${process.arch}`;
if (target !== hostTarget) {
  // dist/bin holds binaries built on this host; packing them under another target would ship
  // an engine that cannot start there.
  console.error(`package: dist/bin was built for ${hostTarget}; build on a ${target} machine to package for it.`);
  process.exit(2);
}

const run = (cmd, args, env = {}) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
// Stale source maps of a development build would be packed too.
for (const f of readdirSync(join(root, 'dist'))) if (f.endsWith('.map')) rmSync(join(root, 'dist', f));
run(process.execPath, ['.ci/esbuild.mjs'], { NODE_ENV: 'production' });

for (const required of ['dist/extension.js', 'dist/webview.js', 'dist/webview.css']) {
  if (!existsSync(join(root, required))) { console.error(`package: ${required} is missing`); process.exit(1); }
}
for (const optional of ['dist/server.js', 'dist/bin/rwkv-train', 'dist/bin/rwkv_studio.node']) {
  if (!existsSync(join(root, optional))) console.warn(`package: warning: ${optional} is missing; the VSIX works without it only in part (npm run build first).`);
}

const { version, name } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const out = join(root, `${name}-${target}-${version}.vsix`);
run(process.execPath, [join(root, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--target', target, '--no-dependencies', '--allow-missing-repository', '--skip-license', '--no-rewrite-relative-links', '--out', out]);
console.log(`package: ${out} (${(statSync(out).size / 1024 / 1024).toFixed(1)} MiB)`);
