// The SIGKILL soak of rwkv-train (issue 14): a tiny CPU run is killed at random moments —
// mid-step, mid-checkpoint (the moment a temporary checkpoint file appears), during start-up —
// then launched again with the same argv, a few times per trial, and finally run to the end.
// Figures per soak: trials, kills (by kind), steps lost per kill (the last step the killed run
// reported minus the step the next launch resumed from; at most one epoch, the resume interval),
// files left that do not load, partial files a later launch did not remove, metrics.jsonl lines
// that do not parse, and losses that differ from an uninterrupted run's (compared exactly).
// Used by test/unit/engineFaults.test.ts (a few trials) and test/bench/faults.bench.mjs (many).
import { spawn, spawnSync } from 'node:child_process';
import { watch } from 'node:fs';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeBinidx } from '../e2e/demoWorkspace.mjs';
import { checkZipWhole } from './zipCheck.mjs';

export const STEPS_PER_EPOCH = 4;
export const EPOCHS = 6;
const VARIANTS = {
  full: [],
  lora: ['--peft', 'lora', '--peft_config', '{"r":4,"lora_alpha":8,"lora_dropout":0.05}', '--merge', '1'],
};

/** A deterministic generator (the soak's trials repeat for a seed). */
export function rng(seed) {
  let s = seed >>> 0 || 1;
  return (n) => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return (s >>> 8) % n; };
}

/** The data and base model every trial trains on (L2 D64 vocab 24: a checkpoint in milliseconds). */
export function makeSoakWorld(engine, dir) {
  mkdirSync(dir, { recursive: true });
  const next = rng(5);
  const docs = [];
  for (let d = 0; d < 100; d++) {
    let cur = next(23);
    const stride = next(2) ? 1 : 3, doc = [];
    for (let t = 0; t < 40; t++) { doc.push(1 + cur); cur = (cur + stride) % 23; }
    docs.push(Buffer.from(doc));
  }
  writeBinidx(join(dir, 'data'), docs);
  const init = spawnSync(engine, ['init', join(dir, 'base.pth'), '--n_layer', '2', '--n_embd', '64', '--vocab_size', '24', '--dtype', 'fp32'], { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`rwkv-train init failed: ${init.stderr}`);
  const argv = (projDir, variant) => ['--load_model', join(dir, 'base.pth'), '--proj_dir', projDir, '--data_file', join(dir, 'data'),
    '--data_type', 'binidx', '--vocab_size', '24', '--n_layer', '2', '--n_embd', '64', '--ctx_len', '16', '--micro_bsz', '2',
    '--epoch_steps', String(STEPS_PER_EPOCH), '--epoch_count', String(EPOCHS), '--epoch_save', '1', '--lr_init', '2e-3',
    '--lr_final', '5e-4', '--accelerator', 'cpu', '--random_seed', '3', ...VARIANTS[variant]];
  return { engine, dir, argv };
}

/**
 * One launch. plan: undefined (run to the end), { kind: 'mid-step', afterStep, delayMs },
 * { kind: 'mid-checkpoint', nth } (SIGKILL when the nth temporary file appears in proj_dir) or
 * { kind: 'startup', delayMs }. Resolves with the events read, the last step seen and how it ended.
 */
export function launch(world, projDir, variant, plan) {
  mkdirSync(projDir, { recursive: true });
  return new Promise((resolve) => {
    const child = spawn(world.engine, world.argv(projDir, variant), { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, OMP_NUM_THREADS: '1' } });
    const events = [];
    let pending = '', lastStep = 0, killed = false, watcher, temps = 0;
    const kill = () => { if (!killed) { killed = true; child.kill('SIGKILL'); } };
    if (plan?.kind === 'mid-checkpoint') {
      watcher = watch(projDir, (_type, name) => { if (name && name.includes('.tmp-') && ++temps === plan.nth) kill(); });
    } else if (plan?.kind === 'startup') setTimeout(kill, plan.delayMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text) => {
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) {
        let e;
        try { e = JSON.parse(line); } catch { continue; }
        events.push(e);
        if (e.event === 'start') lastStep = e.resumed_from_step ?? 0;  // killed before its first step: nothing new done
        if (e.event === 'step') {
          lastStep = e.step;
          if (plan?.kind === 'mid-step' && e.step === plan.afterStep) setTimeout(kill, plan.delayMs);
        }
      }
    });
    child.on('close', (code, signal) => {
      watcher?.close();
      resolve({ events, lastStep, code, signal, killedBySoak: killed && signal === 'SIGKILL' });
    });
  });
}

/** Step -> loss of an uninterrupted run (the soak compares every resumed step with it). */
export async function referenceLosses(world, variant) {
  const projDir = join(world.dir, `reference-${variant}`);
  rmSync(projDir, { recursive: true, force: true });
  const r = await launch(world, projDir, variant);
  if (r.code !== 0) throw new Error(`reference run exited ${r.code}`);
  const losses = new Map(r.events.filter((e) => e.event === 'step').map((e) => [e.step, e.loss]));
  const finals = new Map(readdirSync(projDir).filter((n) => /^rwkv-\d+\.pth$/.test(n)).map((n) => [n, readFileSync(join(projDir, n))]));
  // as many steps as the uninterrupted run trained (a --peft_config script's epoch is the newest
  // RWKV-PEFT's one pass: epoch_steps / micro_bsz steps, train/epoch_plan.h)
  return { losses, finals, steps: losses.size };
}

function randomPlan(next, totalSteps) {
  switch (next(3)) {
    case 0: return { kind: 'mid-step', afterStep: 1 + next(totalSteps - 1), delayMs: next(5) };
    case 1: return { kind: 'mid-checkpoint', nth: 1 + next(2 * EPOCHS) };
    default: return { kind: 'startup', delayMs: next(80) };
  }
}

/** Runs `trials` trials of up to `killsPerTrial` kills each; returns the figures (and the problems seen). */
export async function soak(world, { trials, killsPerTrial = 3, seed = 1, onTrial } = {}) {
  const next = rng(seed);
  const refs = { full: await referenceLosses(world, 'full'), lora: await referenceLosses(world, 'lora') };
  const f = { trials: 0, launches: 0, kills: 0, killsByKind: { 'mid-step': 0, 'mid-checkpoint': 0, startup: 0 }, maxStepsLost: 0,
    stepsLostTotal: 0, lossMismatches: 0, stepsCompared: 0, filesChecked: 0, badFiles: 0, staleTemps: 0, badMetricLines: 0,
    finalFilesDiffer: 0, failedLaunches: 0, problems: [] };
  const problem = (text) => { if (f.problems.length < 20) f.problems.push(text); };
  for (let t = 0; t < trials; t++) {
    const variant = t % 2 ? 'lora' : 'full', ref = refs[variant];
    const projDir = join(world.dir, `trial-${t}`);
    rmSync(projDir, { recursive: true, force: true });
    let lastSeen;  // the last step a killed launch reported
    const kills = 1 + next(killsPerTrial);
    for (let k = 0; k <= kills; k++) {
      const plan = k < kills ? randomPlan(next, ref.steps) : undefined;
      const r = await launch(world, projDir, variant, plan);
      f.launches++;
      const start = r.events.find((e) => e.event === 'start');
      if (lastSeen !== undefined && start) {
        const lost = lastSeen - (start.resumed_from_step ?? 0);
        f.maxStepsLost = Math.max(f.maxStepsLost, lost);
        f.stepsLostTotal += Math.max(0, lost);
        if (lost < 0 || lost > STEPS_PER_EPOCH) problem(`trial ${t}: lost ${lost} steps (resumed from ${start.resumed_from_step} after step ${lastSeen})`);
      }
      if (start) lastSeen = undefined;  // a launch that died before its start event keeps the earlier count
      if (r.killedBySoak) {
        f.kills++;
        f.killsByKind[plan.kind]++;
        lastSeen = Math.max(lastSeen ?? 0, r.lastStep);
      } else if (r.code !== 0 || r.events.at(-1)?.event !== 'end') {
        f.failedLaunches++;
        problem(`trial ${t}: launch ${k} ended ${r.code ?? r.signal} (${JSON.stringify(r.events.find((e) => e.event === 'error') ?? {})})`);
      }
      // every checkpoint left loads, whatever moment the kill hit
      for (const name of readdirSync(projDir)) {
        if (name.includes('.tmp-')) { if (!r.killedBySoak) { f.staleTemps++; problem(`trial ${t}: ${name} left after a launch that ended`); } continue; }
        if (!name.endsWith('.pth')) continue;
        f.filesChecked++;
        const why = checkZipWhole(join(projDir, name));
        if (why) { f.badFiles++; problem(`trial ${t}: ${name}: ${why}`); }
      }
      if (!r.killedBySoak) break;  // the kill came too late to land: the run finished
    }
    // the whole metrics.jsonl: every line parses, every step's loss is the uninterrupted run's
    const lines = readFileSync(join(projDir, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l !== '');
    const seen = new Set();
    for (const line of lines) {
      let e;
      try { e = JSON.parse(line); } catch { f.badMetricLines++; problem(`trial ${t}: metrics line does not parse: ${line.slice(0, 80)}`); continue; }
      if (e.event !== 'step') continue;
      f.stepsCompared++;
      seen.add(e.step);
      if (e.loss !== ref.losses.get(e.step)) { f.lossMismatches++; problem(`trial ${t} (${variant}): step ${e.step} loss ${e.loss} != ${ref.losses.get(e.step)}`); }
    }
    if (seen.size !== ref.steps) { f.lossMismatches++; problem(`trial ${t}: ${seen.size} of ${ref.steps} steps in metrics.jsonl`); }
    for (const [name, bytes] of ref.finals) {
      let mine;
      try { mine = readFileSync(join(projDir, name)); } catch { mine = undefined; }
      if (!mine || !mine.equals(bytes)) { f.finalFilesDiffer++; problem(`trial ${t}: ${name} differs from the uninterrupted run's`); }
    }
    rmSync(projDir, { recursive: true, force: true });
    f.trials++;
    onTrial?.(f);
  }
  return f;
}
