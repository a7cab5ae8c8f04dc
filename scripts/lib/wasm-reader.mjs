// Reading the WebAssembly binary format, as far as the project's tools need it: the section
// layout of a module and its imports. Shared by scripts/lib/short-names.mjs (which rewrites
// the import and export sections) and bench/lib/wasm-anatomy.mjs (which measures a module).

export const SECTION_IMPORT = 2;
export const SECTION_EXPORT = 7;
export const KIND_FUNCTION = 0x00;
export const KIND_TABLE = 0x01;
export const KIND_MEMORY = 0x02;
export const KIND_GLOBAL = 0x03;
export const KIND_TAG = 0x04;

export class Reader {
  constructor(bytes, pos = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = pos;
    this.end = end;
  }
  byte() {
    if (this.pos >= this.end) throw new Error(`wasm truncated at byte ${this.pos}`);
    return this.bytes[this.pos++];
  }
  /** Unsigned LEB128 (up to 35 bits, as every length and index in the format is u32). */
  u32() {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    throw new Error(`LEB128 longer than 5 bytes at byte ${this.pos}`);
  }
  // Skips a LEB128 of any width (memory64 limits, s33 heap types) without decoding it.
  skipLeb() {
    while (this.byte() & 0x80);
  }
  name() {
    const len = this.u32();
    if (this.pos + len > this.end) throw new Error(`name runs past its section at byte ${this.pos}`);
    const text = new TextDecoder("utf-8", { fatal: true }).decode(this.bytes.subarray(this.pos, this.pos + len));
    this.pos += len;
    return text;
  }
}

/** Every section as its id, [start, end) of the whole section, and the start of its body. */
export function splitSections(bytes) {
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (bytes.length < 8 || header.some((b, i) => bytes[i] !== b)) throw new Error("not a WebAssembly 1.0 module");
  const sections = [];
  const r = new Reader(bytes, 8);
  while (r.pos < bytes.length) {
    const start = r.pos;
    const id = r.byte();
    const size = r.u32();
    const bodyStart = r.pos;
    if (bodyStart + size > bytes.length) throw new Error(`section ${id} runs past the end of the module`);
    r.pos = bodyStart + size;
    sections.push({ id, start, bodyStart, end: r.pos });
  }
  return sections;
}

// Value and reference types are one byte, except a typed reference `(ref null? ht)`.
function skipValType(r) {
  const t = r.byte();
  if (t === 0x63 || t === 0x64) r.skipLeb();
}

function skipLimits(r) {
  const flags = r.byte();
  r.skipLeb();
  if (flags & 0x01) r.skipLeb();
  if (flags & 0x08) r.u32(); // custom page size
}

// An import's descriptor is only walked to find where it ends.
function skipImportDesc(r, kind) {
  switch (kind) {
    case KIND_FUNCTION:
      r.u32(); // type index
      break;
    case KIND_TABLE:
      skipValType(r);
      skipLimits(r);
      break;
    case KIND_MEMORY:
      skipLimits(r);
      break;
    case KIND_GLOBAL:
      skipValType(r);
      r.byte(); // mutability
      break;
    case KIND_TAG:
      r.byte(); // attribute
      r.u32(); // type index
      break;
    default:
      throw new Error(`unknown import kind ${kind}`);
  }
}

/** The imports of an import section: module, field, kind and the descriptor's bytes. */
export function readImports(bytes, section) {
  const r = new Reader(bytes, section.bodyStart, section.end);
  const imports = [];
  for (let n = r.u32(); n > 0; n--) {
    const module = r.name();
    const field = r.name();
    const descStart = r.pos;
    const kind = r.byte();
    skipImportDesc(r, kind);
    imports.push({ module, field, kind, desc: bytes.subarray(descStart, r.pos) });
  }
  if (r.pos !== section.end) throw new Error("import section has trailing bytes");
  return imports;
}
