// Finds or installs the tools the end-to-end scenarios need, cached outside the repository
// (~/.cache/rwkv-studio-e2e, or $RWKV_E2E_CACHE) so reruns are quick:
//   - Debian's chromium (apt-get install -y chromium, when running as root with apt),
//   - code-server 4.100.3 from npm on the machine's Node 20, with the work-arounds of
//     ../../../shared/reference/E2E.md (ripgrep pre-seeded from Debian's rg, unsafe-perm).
// Every function returns undefined with a printed reason instead of throwing, so a scenario can
// print a clear SKIP.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const CACHE = process.env.RWKV_E2E_CACHE ?? join(homedir(), '.cache', 'rwkv-studio-e2e');
export const CODE_SERVER_VERSION = '4.100.3';

/**
 * Where the e2e tests write their screenshots: the committed test/screenshots/ only when asked
 * (E2E_SCREENSHOTS=1, to refresh the README's images), otherwise a scratch folder, so that a test
 * run never leaves the checkout modified.
 */
export function screenshotDir(root) {
  const dir = process.env.E2E_SCREENSHOTS === '1' ? join(root, 'test', 'screenshots') : join(tmpdir(), 'rwkv-studio-e2e-screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}
const RIPGREP_CACHE = `vscode-ripgrep-cache-1.15.11`;
const RIPGREP_ASSET = 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz';

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function aptInstall(packages, why) {
  if (process.getuid?.() !== 0 || !which('apt-get')) {
    console.log(`e2e: cannot install ${packages.join(' ')} (${why}): not root or no apt-get`);
    return false;
  }
  console.log(`e2e: apt-get install -y ${packages.join(' ')} (${why})`);
  let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit' });
    r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  return r.status === 0;
}

export function ensureChromium() {
  const found = which('chromium') ?? which('chromium-browser');
  if (found) return found;
  if (aptInstall(['chromium'], 'the browser that drives the dashboard and code-server')) return which('chromium');
  return undefined;
}

export function ensureCodeServer() {
  const dir = join(CACHE, `code-server-${CODE_SERVER_VERSION}`);
  const bin = join(dir, 'node_modules', '.bin', 'code-server');
  if (existsSync(bin)) return bin;
  if (process.env.RWKV_E2E_NO_INSTALL) { console.log('e2e: code-server not cached and RWKV_E2E_NO_INSTALL is set'); return undefined; }
  let rg = which('rg');
  if (!rg && aptInstall(['ripgrep'], 'code-server needs rg; its own download is from GitHub')) rg = which('rg');
  if (!rg) { console.log('e2e: no ripgrep, cannot install code-server offline'); return undefined; }
  // Its kerberos module compiles against the GSSAPI headers.
  if (!existsSync('/usr/include/gssapi/gssapi.h') && !aptInstall(['libkrb5-dev'], 'headers for code-server\'s kerberos module')) return undefined;
  // code-server's @vscode/ripgrep fetches a tarball from GitHub at install: give it Debian's rg.
  const tmp = process.env.TMPDIR ?? tmpdir();
  const seed = join(tmp, RIPGREP_CACHE);
  mkdirSync(seed, { recursive: true });
  const staging = join(CACHE, 'rg-staging');
  mkdirSync(staging, { recursive: true });
  copyFileSync(rg, join(staging, 'rg'));
  execFileSync('tar', ['-czf', join(seed, RIPGREP_ASSET), '-C', staging, 'rg']);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'rwkv-studio-e2e-tools', private: true }));
  console.log(`e2e: installing code-server ${CODE_SERVER_VERSION} into ${dir} (about a minute, once)`);
  // Its native modules (argon2, kerberos) build with node-gyp, which downloads Node's headers
  // unless told where they are: Debian's nodejs ships them under /usr/include/node.
  const nodedir = !process.env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h') ? { npm_config_nodedir: '/usr' } : {};
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', `code-server@${CODE_SERVER_VERSION}`], {
    cwd: dir, stdio: 'inherit',
    env: { ...process.env, ...nodedir, npm_config_unsafe_perm: 'true', npm_config_yes: 'true', TMPDIR: tmp },
  });
  if (r.status !== 0 || !existsSync(bin)) { console.log('e2e: code-server install failed'); return undefined; }
  return bin;
}

if (process.argv[1] && process.argv[1].endsWith('tools.mjs')) {
  console.log('chromium:', ensureChromium());
  console.log('code-server:', ensureCodeServer());
}
