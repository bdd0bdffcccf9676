#!/usr/bin/env node
// Writes the raw BTF of a kernel image (vmlinuz as Debian ships it) to a file
// bpftool can dump: `extract-btf.mjs VMLINUZ OUT.btf`.
// arm64's vmlinuz is the raw Image; x86's bzImage holds the kernel compressed
// (zstd, xz or gzip, as the kernel's own scripts/extract-vmlinux finds it).
// Either way the kernel's .BTF section is found by its header.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: extract-btf.mjs VMLINUZ OUT.btf');
  process.exit(2);
}

/** BTF header (include/uapi/linux/btf.h): magic 0xeB9F, version 1, flags 0, hdr_len 24. */
function findBtf(image) {
  const magic = Buffer.from([0x9f, 0xeb, 0x01, 0x00, 0x18, 0x00, 0x00, 0x00]);
  for (let at = image.indexOf(magic); at >= 0; at = image.indexOf(magic, at + 1)) {
    const typeOff = image.readUInt32LE(at + 8);
    const typeLen = image.readUInt32LE(at + 12);
    const strOff = image.readUInt32LE(at + 16);
    const strLen = image.readUInt32LE(at + 20);
    const end = at + 24 + Math.max(typeOff + typeLen, strOff + strLen);
    // vmlinux's BTF: types first, then strings, and big enough to be a kernel's
    if (typeOff === 0 && strOff === typeLen && typeLen > 1 << 20 && end <= image.length) return image.subarray(at, end);
  }
  return undefined;
}

function decompressed(image) {
  const tools = [
    { magic: [0x28, 0xb5, 0x2f, 0xfd], cmd: ['zstd', '-dcq'] },
    { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], cmd: ['xz', '-dcq'] },
    { magic: [0x1f, 0x8b, 0x08], gunzip: true },
  ];
  for (const t of tools) {
    const at = image.indexOf(Buffer.from(t.magic));
    if (at < 0) continue;
    const payload = image.subarray(at);
    if (t.gunzip) return gunzipSync(payload, { finishFlush: 2 /* Z_SYNC_FLUSH: ignore trailing bytes */ });
    // trailing bytes after the stream make the tools complain; what they wrote is the kernel
    const r = spawnSync(t.cmd[0], t.cmd.slice(1), { input: payload, maxBuffer: 1 << 30 });
    if (r.stdout && r.stdout.length > 0) return r.stdout;
  }
  return undefined;
}

const image = readFileSync(input);
const btf = findBtf(image) ?? (() => {
  const inner = decompressed(image);
  return inner && findBtf(inner);
})();
if (!btf) {
  console.error(`extract-btf: no kernel BTF found in ${input} (a kernel built without CONFIG_DEBUG_INFO_BTF?)`);
  process.exit(1);
}
writeFileSync(output, btf);
console.error(`extract-btf: ${btf.length} bytes of BTF from ${input}`);
