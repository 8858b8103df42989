// Checks that a .pth checkpoint (torch's zip layout) is whole: the end-of-central-directory
// record is found, every entry lies inside the file and every stored entry's bytes match the
// CRC-32 the writer put in the central directory. A header-only parser would accept a file
// whose tensor data was torn; this reads every byte. Returns undefined when whole, else why not.
import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';

const EOCD = 0x06054b50, ZIP64_EOCD = 0x06064b50, ZIP64_LOCATOR = 0x07064b50, CENTRAL = 0x02014b50, LOCAL = 0x04034b50;

export function checkZipWhole(path) {
  let b;
  try { b = readFileSync(path); } catch (e) { return `cannot read: ${e.message}`; }
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 65535); i--) if (b.readUInt32LE(i) === EOCD) { eocd = i; break; }
  if (eocd < 0) return 'no end of central directory (truncated)';
  let count = b.readUInt16LE(eocd + 10);
  let cdOffset = b.readUInt32LE(eocd + 16);
  if (eocd >= 20 && b.readUInt32LE(eocd - 20) === ZIP64_LOCATOR) {
    const z = Number(b.readBigUInt64LE(eocd - 20 + 8));
    if (z + 56 > b.length || b.readUInt32LE(z) !== ZIP64_EOCD) return 'bad zip64 end record';
    count = Number(b.readBigUInt64LE(z + 32));
    cdOffset = Number(b.readBigUInt64LE(z + 48));
  }
  let at = cdOffset;
  for (let n = 0; n < count; n++) {
    if (at + 46 > b.length || b.readUInt32LE(at) !== CENTRAL) return `central entry ${n} out of place`;
    const method = b.readUInt16LE(at + 10), crc = b.readUInt32LE(at + 16);
    let size = b.readUInt32LE(at + 20), local = b.readUInt32LE(at + 42);
    const nameLen = b.readUInt16LE(at + 28), extraLen = b.readUInt16LE(at + 30), commentLen = b.readUInt16LE(at + 32);
    const name = b.toString('utf8', at + 46, at + 46 + nameLen);
    // zip64 extra field: sizes and offset that did not fit 32 bits, in this order
    for (let e = at + 46 + nameLen; e + 4 <= at + 46 + nameLen + extraLen;) {
      const id = b.readUInt16LE(e), len = b.readUInt16LE(e + 2);
      if (id === 1) {
        let f = e + 4;
        if (b.readUInt32LE(at + 24) === 0xffffffff) f += 8;  // uncompressed size comes first
        if (size === 0xffffffff) { size = Number(b.readBigUInt64LE(f)); f += 8; }
        if (local === 0xffffffff) local = Number(b.readBigUInt64LE(f));
      }
      e += 4 + len;
    }
    if (local + 30 > b.length || b.readUInt32LE(local) !== LOCAL) return `${name}: local header out of place`;
    const data = local + 30 + b.readUInt16LE(local + 26) + b.readUInt16LE(local + 28);
    if (data + size > b.length) return `${name}: data past the end of the file`;
    if (method === 0 && crc32(b.subarray(data, data + size)) !== crc) return `${name}: CRC mismatch`;
    at += 46 + nameLen + extraLen + commentLen;
  }
  return count > 0 ? undefined : 'empty archive';
}
