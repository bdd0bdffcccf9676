import { readFileSync } from 'node:fs';

/** The sections of a little-endian ELF64 object: name -> bytes (test helper, no tool needed). */
export function elfSections(file: string): Map<string, Buffer> {
  const b = readFileSync(file);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) throw new Error(`${file}: not a little-endian ELF64 object`);
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const shstrndx = b.readUInt16LE(0x3e);
  const header = (i: number) => {
    const at = shoff + i * shentsize;
    return { name: b.readUInt32LE(at), type: b.readUInt32LE(at + 4), offset: Number(b.readBigUInt64LE(at + 0x18)), size: Number(b.readBigUInt64LE(at + 0x20)) };
  };
  const names = header(shstrndx);
  const out = new Map<string, Buffer>();
  for (let i = 1; i < shnum; i++) {
    const h = header(i);
    const start = names.offset + h.name;
    const name = b.subarray(start, b.indexOf(0, start)).toString('latin1');
    const SHT_NOBITS = 8;
    out.set(name, h.type === SHT_NOBITS ? Buffer.alloc(0) : b.subarray(h.offset, h.offset + h.size));
  }
  return out;
}

/** What binutils' readelf says of a shared object: its machine, the libraries it needs and the glibc symbol versions it asks for. */
export function readElf(file: string): { machine: string; needed: string[]; glibcVersions: string[] } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
  const out = (flag: string) => execFileSync('readelf', ['-W', flag, file], { encoding: 'utf8' });
  const machine = /Machine:\s+(.*)/.exec(out('-h'))?.[1].trim() ?? '';
  return {
    machine: machine === 'Advanced Micro Devices X86-64' ? 'x86-64' : machine === 'AArch64' ? 'aarch64' : machine,
    needed: [...out('-d').matchAll(/\(NEEDED\).*\[(.*)\]/g)].map((m) => m[1]),
    glibcVersions: [...new Set([...out('-V').matchAll(/GLIBC_([\d.]+)/g)].map((m) => m[1]))],
  };
}
