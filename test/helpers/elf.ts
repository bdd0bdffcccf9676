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
