// Where a WebAssembly module's bytes go, read with scripts/lib/wasm-reader.mjs:
// the size of every section, of every function body, and the function names when the module
// keeps a `name` section. Used when `twiggy` is not installed.
import { gzipSync } from "node:zlib";
import { KIND_FUNCTION, Reader, SECTION_IMPORT, readImports, splitSections } from "../../scripts/lib/wasm-reader.mjs";

const SECTION_NAMES = [
  "custom", "type", "import", "function", "table", "memory", "global",
  "export", "start", "element", "code", "data", "datacount", "tag",
];

/** Function names from the `name` custom section's subsection 1. */
function functionNames(r) {
  const names = new Map();
  while (r.pos < r.end) {
    const id = r.byte();
    const size = r.u32();
    const next = r.pos + size;
    if (id === 1) {
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        const idx = r.u32();
        names.set(idx, r.name());
      }
    }
    r.pos = next;
  }
  return names;
}

/**
 * Sections (id, name, bytes incl. header), function bodies (index, name if known, offset in
 * the module, bytes), and totals. Throws on a module that is not wasm.
 */
export function anatomy(bytes) {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (buf.length < 8 || buf[0] !== 0 || buf[1] !== 0x61 || buf[2] !== 0x73 || buf[3] !== 0x6d) {
    throw new Error("not a WebAssembly module");
  }
  const sections = [];
  let imported = 0;
  const bodies = [];
  let names = new Map();
  for (const { id, start, bodyStart, end } of splitSections(buf)) {
    const section = { id, name: SECTION_NAMES[id] ?? `unknown(${id})`, bytes: end - start };
    const sr = new Reader(buf, bodyStart, end);
    if (id === 0) {
      section.name = `custom:${sr.name()}`;
      if (section.name === "custom:name") names = functionNames(sr);
    } else if (id === SECTION_IMPORT) {
      imported = readImports(buf, { bodyStart, end }).filter((i) => i.kind === KIND_FUNCTION).length;
    } else if (id === 10) {
      const n = sr.u32();
      for (let i = 0; i < n; i++) {
        const bodyOffset = sr.pos;
        const len = sr.u32();
        sr.pos += len;
        bodies.push({ index: imported + i, offset: bodyOffset, bytes: sr.pos - bodyOffset });
      }
    }
    sections.push(section);
  }
  const functions = bodies.map((f) => ({ ...f, name: names.get(f.index) ?? null }));
  return { total: buf.length, sections, functions, importedFunctions: imported, hasNames: names.size > 0 };
}

const CRATE = String.raw`([A-Za-z_][A-Za-z0-9_]*)(?:\[[0-9a-f]+\])?::`;
const LEADING_PATH = new RegExp(`^${CRATE}`);
const TRAIT_PATH = new RegExp(` as &?(?:mut )?${CRATE}`);

/**
 * The crate a Rust symbol belongs to: the first path segment (`serde_json::de::…`), for an
 * impl on a primitive or a type parameter (`<f64 as core::fmt::Display>::fmt`) the trait's
 * crate, and for functions without a path (wasm-bindgen's export shims, `__externref_*`) the
 * group "wasm-bindgen exports and shims".
 */
export function crateOf(name) {
  if (!name) return "(no name section)";
  const bare = name.replace(/^(?:[<&\s*]|dyn |mut |const )+/, "");
  const own = bare.match(LEADING_PATH);
  if (own) return own[1];
  const viaTrait = bare.match(TRAIT_PATH);
  if (viaTrait) return viaTrait[1];
  if (/^(?:bool|char|str|[iuf](?:8|16|32|64|128|size))>::/.test(bare)) return "core";
  if (!name.includes("::")) return "wasm-bindgen exports and shims";
  return "(other)";
}

/**
 * gzip -9 size of the given function bodies of `module` (the bytes `anatomy` read) laid end to
 * end: what that code costs compressed on its own, without back-references into the rest.
 */
export function gzipOfBodies(module, functions) {
  const buf = module instanceof Uint8Array ? module : new Uint8Array(module);
  const parts = functions.map((f) => buf.subarray(f.offset, f.offset + f.bytes));
  return gzipSync(Buffer.concat(parts), { level: 9 }).length;
}

/**
 * Sums function bytes per crate (see crateOf), largest first; given the module's bytes, also
 * each crate's code compressed on its own (see gzipOfBodies).
 */
export function bytesByCrate(functions, module = null) {
  const groups = new Map();
  for (const f of functions) {
    const key = crateOf(f.name);
    const g = groups.get(key) ?? { crate: key, bytes: 0, functions: 0, members: [] };
    g.bytes += f.bytes;
    g.functions += 1;
    g.members.push(f);
    groups.set(key, g);
  }
  return [...groups.values()]
    .map(({ members, ...g }) => (module ? { ...g, gzip: gzipOfBodies(module, members) } : g))
    .sort((a, b) => b.bytes - a.bytes);
}
