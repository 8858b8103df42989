// The SIGBUS window (issue 14): the dataset's .bin truncated under a running CPU run at a random
// step, with the engine's per-batch check of the data files off (RWKV_TEST_NO_DATA_CHECK=1), so
// the truncation is met by a read of the mapped .bin past its new end — what a truncation that
// lands between the check and the read meets. Each trial must end in an E_DATA_CHANGED `error`
// and a failed `end` with the trainer's exit status 2 (not a SIGBUS death, not 5, the handler's
// last-words exit), a whole rwkv-resume.pth, and a relaunch on the restored data that resumes at
// the last finished step. Used by test/unit/engineFaults.test.ts (a few trials) and
// test/bench/faults.bench.mjs (many).
import { spawn } from 'node:child_process';
import { copyFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { checkZipWhole } from './zipCheck.mjs';
import { rng } from './engineSoak.mjs';

function events(text) {
  return text.split('\n').flatMap((l) => { try { const e = JSON.parse(l); return e && typeof e.event === 'string' ? [e] : []; } catch { return []; } });
}

/** Launches argv; after `atStep` step events calls act(child); resolves with how it ended. */
function runAndAct(engine, argv, atStep, act, env = {}) {
  return new Promise((done) => {
    const child = spawn(engine, argv, { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, OMP_NUM_THREADS: '1', ...env } });
    let out = '', acted = false, actedAt = 0;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (t) => {
      out += t;
      if (!acted && (out.match(/"event":"step"/g)?.length ?? 0) >= atStep) { acted = true; actedAt = Date.now(); act(child); }
    });
    child.on('close', (code, signal) => done({ code, signal, events: events(out), ms: acted ? Date.now() - actedAt : 0 }));
  });
}

/**
 * world: makeSoakWorld's. Returns figures: trials, dataChanged (E_DATA_CHANGED + exit 2),
 * signalDeaths, otherEnds, resumeWhole, resumedAtLastStep, worstMs (truncation to exit), problems.
 */
export async function dataWindowTrials(world, { trials, seed = 1 }) {
  const next = rng(seed);
  const f = { trials: 0, dataChanged: 0, signalDeaths: 0, otherEnds: 0, resumeWhole: 0, resumedAtLastStep: 0, worstMs: 0, problems: [] };
  const argvFor = (projDir, prefix) => {
    const argv = world.argv(projDir, 'lora');
    argv[argv.indexOf('--data_file') + 1] = prefix;
    argv[argv.indexOf('--epoch_steps') + 1] = '400';
    argv[argv.indexOf('--epoch_count') + 1] = '50';
    return argv;
  };
  for (let t = 0; t < trials; t++) {
    const prefix = join(world.dir, `data-window-${seed}-${t}`);
    copyFileSync(join(world.dir, 'data.bin'), `${prefix}.bin`);
    copyFileSync(join(world.dir, 'data.idx'), `${prefix}.idx`);
    const projDir = join(world.dir, `window-${seed}-${t}`);
    const cut = 2 * next(1024);  // a whole token count under the first page, which stays mapped
    const r = await runAndAct(world.engine, argvFor(projDir, prefix), 1 + next(8), () => truncateSync(`${prefix}.bin`, cut),
      { RWKV_TEST_NO_DATA_CHECK: '1' });
    f.trials++;
    f.worstMs = Math.max(f.worstMs, r.ms);
    const error = r.events.find((e) => e.event === 'error');
    const end = r.events.at(-1);
    if (r.signal) { f.signalDeaths++; f.problems.push(`trial ${t}: killed by ${r.signal}`); continue; }
    if (r.code === 2 && error?.code === 'E_DATA_CHANGED' && /same command/.test(error.hint) && end?.event === 'end' && end.status === 'failed') {
      f.dataChanged++;
    } else {
      f.otherEnds++;
      f.problems.push(`trial ${t}: exit ${r.code}, ${JSON.stringify(error)}, last ${JSON.stringify(end)}`);
      continue;
    }
    if (checkZipWhole(join(projDir, 'rwkv-resume.pth')) === undefined) f.resumeWhole++;
    else f.problems.push(`trial ${t}: rwkv-resume.pth is not whole`);
    copyFileSync(join(world.dir, 'data.bin'), `${prefix}.bin`);
    const lastStep = Math.max(0, ...r.events.filter((x) => x.event === 'step').map((x) => x.step));
    const again = await runAndAct(world.engine, argvFor(projDir, prefix), 1, (child) => child.kill('SIGTERM'));
    const start = again.events.find((x) => x.event === 'start');
    if (start?.resumed_from_step === lastStep) f.resumedAtLastStep++;
    else f.problems.push(`trial ${t}: resumed from ${start?.resumed_from_step}, last finished step ${lastStep}`);
  }
  return f;
}
