// `npm run build:engine`: configures (once) and builds the engine with CMake into dist/bin.
// Incremental: a second run only rebuilds what changed. RWKV_CUDA=0 skips the CUDA backend.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const buildDir = process.env.RWKV_ENGINE_BUILD_DIR ?? 'build/engine';
function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.error) { console.error(`engine build: cannot run ${cmd}: ${r.error.message}`); process.exit(1); }
  if (r.status !== 0) process.exit(r.status ?? 1);
}
if (!existsSync(`${buildDir}/CMakeCache.txt`)) {
  run('cmake', ['-S', 'engine', '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release',
    `-DRWKV_WITH_CUDA=${process.env.RWKV_CUDA === '0' ? 'OFF' : 'ON'}`]);
}
run('cmake', ['--build', buildDir, '-j', String(Math.max(1, availableParallelism()))]);
