// Bench: inspecting a multi-GB checkpoint's header through the addon must take <= 50 ms
// (issue 7). The checkpoint is an official-shaped RWKV-7 1.5B (L24 D2048, vocab 65536, bf16,
// 3.05 GB) written here in torch.save's layout (zip of archive/data.pkl + archive/data/N) with
// its tensor data left as sparse holes, so it costs no real disk and no PyTorch. The pickle is
// protocol 2 as torch writes it (persistent ids for storages, _rebuild_tensor_v2 per tensor).
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import zlib from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const addonPath = process.env.RWKV_STUDIO_ADDON ?? join(root, 'dist', 'bin', 'rwkv_studio.node');
const BUDGET_MS = 50;

// --- the tensors of RWKV-7 1.5B, in the order the released files list them ----------------
function x070Tensors(L, C, V) {
  const lr = (f, e) => Math.max(32, Math.round((f * C ** e) / 32) * 32);
  const [dw, dv, dg] = [lr(1.8, 0.5), lr(1.3, 0.5), lr(0.6, 0.8)];
  const t = [['emb.weight', [V, C]]];
  for (let i = 0; i < L; i++) {
    const p = `blocks.${i}.`;
    if (i === 0) t.push([p + 'ln0.weight', [C]], [p + 'ln0.bias', [C]]);
    t.push([p + 'ln1.weight', [C]], [p + 'ln1.bias', [C]], [p + 'ln2.weight', [C]], [p + 'ln2.bias', [C]]);
    for (const k of ['x_r', 'x_w', 'x_k', 'x_v', 'x_a', 'x_g']) t.push([p + 'att.' + k, [1, 1, C]]);
    t.push([p + 'att.w0', [1, 1, C]], [p + 'att.w1', [C, dw]], [p + 'att.w2', [dw, C]]);
    t.push([p + 'att.a0', [1, 1, C]], [p + 'att.a1', [C, dw]], [p + 'att.a2', [dw, C]]);
    t.push([p + 'att.v0', [1, 1, C]], [p + 'att.v1', [C, dv]], [p + 'att.v2', [dv, C]]);
    t.push([p + 'att.g1', [C, dg]], [p + 'att.g2', [dg, C]]);
    t.push([p + 'att.k_k', [1, 1, C]], [p + 'att.k_a', [1, 1, C]], [p + 'att.r_k', [C / 64, 64]]);
    for (const m of ['receptance', 'key', 'value', 'output']) t.push([p + `att.${m}.weight`, [C, C]]);
    t.push([p + 'att.ln_x.weight', [C]], [p + 'att.ln_x.bias', [C]], [p + 'ffn.x_k', [1, 1, C]]);
    t.push([p + 'ffn.key.weight', [4 * C, C]], [p + 'ffn.value.weight', [C, 4 * C]]);
  }
  t.push(['ln_out.weight', [C]], ['ln_out.bias', [C]], ['head.weight', [V, C]]);
  return t;
}

// --- pickle protocol 2, the subset torch.save emits for a state dict -----------------------
class Pickle {
  constructor() { this.parts = []; }
  op(...bytes) { this.parts.push(Buffer.from(bytes)); }
  global(mod, name) { this.parts.push(Buffer.from(`c${mod}\n${name}\n`, 'latin1')); }
  str(s) { const b = Buffer.from(s, 'utf8'); const h = Buffer.alloc(5); h[0] = 0x58; h.writeUInt32LE(b.length, 1); this.parts.push(h, b); }
  int(n) {
    if (n >= 0 && n < 256) return this.op(0x4b, n);                     // BININT1
    if (n >= -(2 ** 31) && n < 2 ** 31) { const b = Buffer.alloc(5); b[0] = 0x4a; b.writeInt32LE(n, 1); return this.parts.push(b); }
    const b = Buffer.alloc(10); b[0] = 0x8a; b[1] = 8; b.writeBigInt64LE(BigInt(n), 2); this.parts.push(b);  // LONG1
  }
  tuple(xs) { this.op(0x28); for (const x of xs) this.int(x); this.op(0x74); }
  bytes() { return Buffer.concat(this.parts); }
}

function statePickle(tensors) {
  const p = new Pickle();
  p.op(0x80, 0x02);
  p.global('collections', 'OrderedDict'); p.op(0x29, 0x52);            // OrderedDict()
  p.op(0x28);                                                           // MARK for SETITEMS
  tensors.forEach(([name, shape], key) => {
    const numel = shape.reduce((a, b) => a * b, 1);
    const stride = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
    p.str(name);
    p.global('torch._utils', '_rebuild_tensor_v2');
    p.op(0x28);
    p.op(0x28); p.str('storage'); p.global('torch', 'BFloat16Storage'); p.str(String(key)); p.str('cpu'); p.int(numel); p.op(0x74, 0x51);  // BINPERSID
    p.int(0); p.tuple(shape); p.tuple(stride); p.op(0x89);             // offset, size, stride, requires_grad=False
    p.global('collections', 'OrderedDict'); p.op(0x29, 0x52);          // backward hooks
    p.op(0x74, 0x52);                                                   // args tuple, REDUCE
  });
  p.op(0x75, 0x2e);                                                     // SETITEMS, STOP
  return p.bytes();
}

// --- a stored (uncompressed) zip whose data entries are holes --------------------------------
function crcOfZeros(length) {
  const chunk = Buffer.alloc(64 << 20);
  let crc = 0;
  for (let left = length; left > 0; left -= chunk.length) crc = zlib.crc32(chunk.subarray(0, Math.min(left, chunk.length)), crc);
  return crc >>> 0;
}

function writeSparseCheckpoint(path, tensors) {
  const entries = [
    { name: 'archive/data.pkl', data: statePickle(tensors) },
    { name: 'archive/byteorder', data: Buffer.from('little') },
    ...tensors.map(([, shape], key) => ({ name: `archive/data/${key}`, size: shape.reduce((a, b) => a * b, 1) * 2 })),
    { name: 'archive/version', data: Buffer.from('3\n') },
  ];
  const zeroCrc = new Map();
  const fd = openSync(path, 'w');
  let offset = 0;
  const central = [];
  for (const e of entries) {
    const size = e.data ? e.data.length : e.size;
    const crc = e.data ? zlib.crc32(e.data) >>> 0 : (zeroCrc.get(size) ?? zeroCrc.set(size, crcOfZeros(size)).get(size));
    const name = Buffer.from(e.name);
    // torch aligns each entry's data to 64 bytes with an extra field; we do the same.
    const base = offset + 30 + name.length + 4;
    const pad = (64 - (base % 64)) % 64;
    const extra = Buffer.alloc(4 + pad); extra.writeUInt16LE(0x4246, 0); extra.writeUInt16LE(pad, 2);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(size, 18); local.writeUInt32LE(size, 22); local.writeUInt16LE(name.length, 26); local.writeUInt16LE(extra.length, 28);
    writeSync(fd, Buffer.concat([local, name, extra]), 0, undefined, offset);
    const dataAt = offset + 30 + name.length + extra.length;
    if (e.data) writeSync(fd, e.data, 0, e.data.length, dataAt);      // else: a hole
    central.push({ name, crc, size, at: offset });
    offset = dataAt + size;
  }
  const cdStart = offset;
  for (const c of central) {
    const h = Buffer.alloc(46);
    h.writeUInt32LE(0x02014b50, 0); h.writeUInt16LE(20, 4); h.writeUInt16LE(20, 6); h.writeUInt32LE(c.crc, 16);
    h.writeUInt32LE(c.size, 20); h.writeUInt32LE(c.size, 24); h.writeUInt16LE(c.name.length, 28); h.writeUInt32LE(c.at, 42);
    writeSync(fd, Buffer.concat([h, c.name]), 0, undefined, offset);
    offset += 46 + c.name.length;
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(central.length, 8); end.writeUInt16LE(central.length, 10);
  end.writeUInt32LE(offset - cdStart, 12); end.writeUInt32LE(cdStart, 16);
  writeSync(fd, end, 0, 22, offset);
  ftruncateSync(fd, offset + 22);
  closeSync(fd);
}

// --- the bench ------------------------------------------------------------------------------
// `node addon.bench.mjs --write FILE L C V` only writes such a checkpoint (to check the layout
// with torch.load, or for other tests).
if (process.argv[2] === '--write') {
  const [file, L, C, V] = process.argv.slice(3);
  writeSparseCheckpoint(file, x070Tensors(Number(L), Number(C), Number(V)));
  process.exit(0);
}
if (!existsSync(addonPath)) {
  console.log(`addon bench: ${addonPath} is missing (build it with npm run build:engine); nothing measured`);
  process.exit(1);
}
const addon = createRequire(import.meta.url)(addonPath);
const dir = join(root, 'build', 'bench');
mkdirSync(dir, { recursive: true });
const file = join(dir, 'sparse-rwkv7-1.5b-L24-D2048.pth');
const tensors = x070Tensors(24, 2048, 65536);
if (!existsSync(file)) writeSparseCheckpoint(file, tensors);
const gb = statSync(file).size / 1e9;

const times = [];
let facts;
for (let i = 0; i < 30; i++) {
  const t0 = process.hrtime.bigint();
  facts = await addon.inspectCheckpoint(file);
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
times.sort((a, b) => a - b);
const p50 = times[Math.floor(times.length / 2)], p95 = times[Math.floor(times.length * 0.95)];
const first = times[0];
const shapesOk = facts.nLayer === 24 && facts.nEmbd === 2048 && facts.vocabSize === 65536 && facts.version === 'x070' &&
  facts.tensors.length === tensors.length;
console.log('| file | size | tensors | p50 ms | p95 ms | min ms | budget |');
console.log('|---|---|---|---|---|---|---|');
console.log(`| RWKV-7 1.5B (sparse) | ${gb.toFixed(2)} GB | ${facts.tensors.length} | ${p50.toFixed(2)} | ${p95.toFixed(2)} | ${first.toFixed(2)} | ${BUDGET_MS} |`);
if (!shapesOk) console.log(`addon bench: wrong facts: ${JSON.stringify({ ...facts, tensors: facts.tensors.length })}`);
process.exit(shapesOk && p95 <= BUDGET_MS ? 0 : 1);
