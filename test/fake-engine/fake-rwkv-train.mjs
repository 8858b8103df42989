#!/usr/bin/env node
// A stand-in for dist/bin/rwkv-train that speaks the run protocol, for tests of the run manager
// and the dashboard before (and beside) the real engine. FAKE_MODE picks a misbehaviour:
//   normal        start, steps, checkpoint, end completed
//   garbage       the same with stray prints, split writes, unknown events and fields, bad JSON
//   crash         a few steps, then exit 3 without an end event
//   nogpu         an error event (NO_CUDA) and end failed, exit 2
//   stubborn      ignores SIGINT and SIGTERM (so only SIGKILL ends it)
//   slow-stop     on SIGINT waits FAKE_STOP_MS before ending (still within the grace time)
//   hang          prints nothing at all and ignores SIGINT and SIGTERM (a hung engine)
//   flood         start, then --steps step lines written as fast as the pipe takes them, end
//                 (and, with --proj_dir, the same lines appended to metrics.jsonl, a batch a write)
//   badutf8       the normal run with bytes that are not UTF-8 in warnings, stray lines and
//                 inside step lines' strings, and multi-byte characters split across writes
//   hugeline      a 10 MB line without a newline for a while (FAKE_HUGE_MB), then the normal run
// Flags read: --steps N (default $FAKE_STEPS or 20), --step_ms N (default $FAKE_STEP_MS or 5), --proj_dir DIR.
// Like the real engine, a run continues from proj_dir/rwkv-resume.pth when a stop left one.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const flag = (name, fallback) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : fallback; };
const mode = process.env.FAKE_MODE ?? 'normal';
const steps = Number(flag('steps', process.env.FAKE_STEPS ?? '20'));
const stepMs = Number(flag('step_ms', process.env.FAKE_STEP_MS ?? '5'));
const projDir = flag('proj_dir', '');
const metrics = projDir ? join(projDir, 'metrics.jsonl') : '';
if (projDir) mkdirSync(projDir, { recursive: true });

const write = (text) => process.stdout.write(text);

// While the second half of a split line is due, nothing else may be written (a busy machine can
// run the next step's timer first).
let halfPending = false;
const emit = (event, fields) => {
  const line = JSON.stringify({ event, v: 1, time: Date.now() / 1000, ...fields }) + '\n';
  if (mode === 'garbage' && event === 'step') {
    const cut = Math.floor(line.length / 2); // a line split across two writes, a tick apart
    write(line.slice(0, cut));
    halfPending = true;
    setTimeout(() => { write(line.slice(cut)); halfPending = false; }, 0);
  } else write(line);
  if (metrics) appendFileSync(metrics, line);
};

if (mode === 'flood') {
  // one blocking write per batch of 2,000 lines, as fast as the reader drains the pipe
  const out = (text) => {
    if (metrics) appendFileSync(metrics, text);
    const b = Buffer.from(text);
    for (let at = 0; at < b.length;) {
      try { at += writeSync(1, b, at); } catch (e) { if (e.code !== 'EAGAIN') throw e; }
    }
  };
  const line = (step) => JSON.stringify({ event: 'step', v: 1, time: 1, step, loss: 4 * Math.exp(-step / 1e5) + 1, lr: 1e-4, tokens: step * 512, tokens_per_s: 1e6 }) + '\n';
  out(JSON.stringify({ event: 'start', v: 1, time: 1, run_id: 'flood', total_steps: steps }) + '\n');
  for (let s0 = 1; s0 <= steps; s0 += 2000) {
    let chunk = '';
    for (let s = s0; s < s0 + 2000 && s <= steps; s++) chunk += line(s);
    out(chunk);
  }
  out(JSON.stringify({ event: 'end', v: 1, time: 2, status: 'completed', steps }) + '\n');
  process.exit(0);
}
if (mode === 'hugeline') {
  const mb = Number(process.env.FAKE_HUGE_MB ?? 10);
  const piece = 'x'.repeat(1 << 16);
  write('{"event":"warning","v":1,"code":"W_HUGE","message":"');
  for (let i = 0; i < mb * 16; i++) write(piece);
  write('"}\n');
}
if (mode === 'badutf8') {
  const bytes = (...parts) => process.stdout.write(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p)))));
  bytes('{"event":"warning","v":1,"code":"W_BYTES","message":"bad ', [0xff, 0xfe, 0xc3], ' end"}\n');
  bytes([0x80, 0x81, 0xff], ' stray bytes on stdout\n');
  bytes('{"event":"checkpoint","v":1,"path":"/tmp/', [0xff, 0xc3, 0x28], '.pth","bytes":1,"step":0,"kind":"adapter"}\n');
  const euro = Buffer.from('{"event":"warning","v":1,"code":"W_SPLIT","message":"\u20ac split"}\n', 'utf8');
  const at = euro.indexOf(0xe2) + 1;  // the euro sign's three bytes, split after the first
  process.stdout.write(euro.subarray(0, at));
  process.stdout.write(euro.subarray(at));
}

const resumeFile = join(projDir || '.', 'rwkv-resume.pth');
const startStep = projDir && existsSync(resumeFile) ? Number(JSON.parse(readFileSync(resumeFile, 'utf8')).step) : 0;
let step = startStep;
let stopping = false;
const started = Date.now();

process.stderr.write(`fake-rwkv-train: mode=${mode} cwd=${process.cwd()} argv=${JSON.stringify(args)}\n`);
if (mode !== 'hang') emit('start', {
  run_id: 'fake', proj_dir: projDir, config: { argv: args, cwd: process.cwd(), env_CUDA_VISIBLE_DEVICES: process.env.CUDA_VISIBLE_DEVICES ?? null },
  model: { version: 'x070', n_layer: 2, n_embd: 64, vocab_size: 65536, head_size: 64 },
  device: { backend: 'cpu', name: 'fake', total_memory_bytes: 8e9 }, params: { trainable: 1000, total: 100000 },
  planned_memory_bytes: 1e9, plan: { weights: 5e8 }, total_steps: steps, resumed_from_step: startStep,
});

if (mode === 'nogpu') {
  emit('error', { code: 'NO_CUDA', message: 'no CUDA device is visible (CUDA_VISIBLE_DEVICES is empty or the driver is missing).', hint: 'Run on the CPU with --accelerator cpu.' });
  emit('end', { status: 'failed', steps: 0, elapsed_s: 0 });
  process.exit(2);
}
if (mode === 'garbage') {
  write('Loading model... (a stray print on stdout)\n');
  write('{"event":"futuristic","v":9,"payload":[1,2,3]}\n');
  write('{"event": "step", "step": "seven"}\n');
  write('{not json at all\n');
  write('[1,2,3]\n\n\r\n');
}

const finish = (status) => {
  if (status === 'stopped' && projDir) {
    writeFileSync(resumeFile, JSON.stringify({ step }));
    emit('checkpoint', { path: resumeFile, bytes: 12, step, kind: 'resume' });
  } else emit('checkpoint', { path: join(projDir || '.', `rwkv-${step}.pth`), bytes: 1234, step, kind: 'adapter' });
  emit('end', { status, steps: step, elapsed_s: (Date.now() - started) / 1000, final_loss: lossAt(step) });
  setTimeout(() => process.exit(status === 'completed' ? 0 : 130), 5);
};
const lossAt = (s) => 4 * Math.exp(-s / 30) + 1.5;

if (mode === 'stubborn' || mode === 'hang') {
  setInterval(() => {}, 1000); // stays alive after its last step until killed
  process.on('SIGINT', () => process.stderr.write('\nignoring SIGINT\n'));
  process.on('SIGTERM', () => process.stderr.write('\nignoring SIGTERM\n'));
} else {
  process.on('SIGINT', () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write('\nSIGINT: saving a resume checkpoint\n');
    setTimeout(() => finish('stopped'), mode === 'slow-stop' ? Number(process.env.FAKE_STOP_MS ?? 300) : 0);
  });
}

const timer = setInterval(() => {
  if (stopping || halfPending || mode === 'hang') return;
  step++;
  const fields = { step, epoch: 0, loss: lossAt(step), lr: 1e-4 * (1 - step / (steps + 1)), tokens: step * 512, tokens_per_s: 10000 + step, gpu_mem_used_bytes: 2e9, gpu_mem_reserved_bytes: 3e9, grad_norm: 1.0, elapsed_s: (Date.now() - started) / 1000 };
  if (mode === 'garbage') fields.future_field = { nested: true };
  if (mode === 'badutf8') fields.note = 'caf\u00e9';
  emit('step', fields);
  process.stderr.write(`\rstep ${step}/${steps}`);
  if (mode === 'crash' && step === 3) {
    process.stderr.write('\nfatal: simulated segfault in a kernel\n');
    process.exit(3);
  }
  if (step >= steps) {
    clearInterval(timer);
    // after the last split write has landed
    if (mode !== 'stubborn') {
      setTimeout(() => finish('completed'), 0);
    }
  }
}, stepMs);
