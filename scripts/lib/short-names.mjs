// Shortens the names that a wasm-bindgen `--target web` build's .wasm and its JS glue share.
// Every import the glue provides (`__wbg_setonmessage_4f1baf9a00be3c74`: a 16-hex-digit hash
// that gzip cannot compress) and every export the glue calls (`anamclient_addContext`,
// `__wbindgen_malloc`) is spelled out in both files, and terser cannot shorten property names.
// Renamed to `a`, `b`, … `aa`, … in both files at once, they cost a byte or two each.
// Only the import and export sections of the .wasm change; every other section is copied byte
// for byte. Anything that does not look like wasm-bindgen's glue throws: a half-renamed pair
// would only fail when a browser instantiates it.
// Usage: shortenNames({ wasm, js, wasmDts?, dts? }) -> the same files rewritten, plus the renames.

import {
  KIND_FUNCTION,
  KIND_GLOBAL,
  KIND_TABLE,
  Reader,
  SECTION_EXPORT,
  SECTION_IMPORT,
  readImports,
  splitSections,
} from "./wasm-reader.mjs";

// The JS variable that holds the instance's exports in wasm-bindgen's glue.
const EXPORTS_VAR = "wasm";
// wasm-bindgen names every import it generates with one of these prefixes; a key like that which
// the .wasm does not import means the two files are not from the same build.
const GLUE_IMPORT_PREFIXES = ["__wbg_", "__wbindgen_"];
// Exports kept whatever the glue does: `memory` is what callers of `init()` use from its result.
const KEEP_EXPORTS = new Set(["memory"]);

// Names that `export const NAME` (the .wasm.d.ts) or an object literal key cannot be.
const RESERVED = new Set([
  "await", "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete",
  "do", "else", "enum", "export", "extends", "false", "finally", "for", "function", "if", "import",
  "in", "instanceof", "new", "null", "return", "super", "switch", "this", "throw", "true", "try",
  "typeof", "var", "void", "while", "with", "yield", "let", "static", "implements", "interface",
  "package", "private", "protected", "public", "arguments", "eval", "__proto__",
]);

function fail(message) {
  throw new Error(`short-names: ${message}`);
}

// ---------------------------------------------------------------------------------------------
// Writing the binary format (reading it: ./wasm-reader.mjs).

function encodeU32(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Uint8Array.from(out);
}

function encodeName(text) {
  const utf8 = new TextEncoder().encode(text);
  return concat([encodeU32(utf8.length), utf8]);
}

function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function readExports(bytes, section) {
  const r = new Reader(bytes, section.bodyStart, section.end);
  const exports = [];
  for (let n = r.u32(); n > 0; n--) {
    const name = r.name();
    const descStart = r.pos;
    const kind = r.byte();
    r.u32();
    exports.push({ name, kind, desc: bytes.subarray(descStart, r.pos) });
  }
  if (r.pos !== section.end) fail("export section has trailing bytes");
  return exports;
}

function encodeImports(imports) {
  const chunks = [encodeU32(imports.length)];
  for (const i of imports) chunks.push(encodeName(i.module), encodeName(i.field), i.desc);
  return concat(chunks);
}

function encodeExports(exports) {
  const chunks = [encodeU32(exports.length)];
  for (const e of exports) chunks.push(encodeName(e.name), e.desc);
  return concat(chunks);
}

/** The module with the given section bodies replaced; every other byte as it was. */
function replaceSections(bytes, sections, bodies) {
  const chunks = [bytes.subarray(0, 8)];
  for (const s of sections) {
    const body = bodies.get(s);
    if (body) chunks.push(Uint8Array.of(s.id), encodeU32(body.length), body);
    else chunks.push(bytes.subarray(s.start, s.end));
  }
  return concat(chunks);
}

function onlySection(sections, id, what) {
  const found = sections.filter((s) => s.id === id);
  if (found.length !== 1) fail(`expected one ${what} section, found ${found.length}`);
  return found[0];
}

// ---------------------------------------------------------------------------------------------
// Short names.

const FIRST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$";
const REST = `${FIRST}0123456789`;

// Bijective numbering: 0..53 are one character, the next 54 * 64 two, and so on.
function nthName(n) {
  let name = FIRST[n % FIRST.length];
  n = Math.floor(n / FIRST.length);
  while (n > 0) {
    n -= 1;
    name += REST[n % REST.length];
    n = Math.floor(n / REST.length);
  }
  return name;
}

/** `count` distinct short identifiers, none reserved and none in `taken`. */
function shortNames(count, taken = new Set()) {
  const names = [];
  for (let n = 0; names.length < count; n++) {
    const name = nthName(n);
    if (!RESERVED.has(name) && !taken.has(name)) names.push(name);
  }
  return names;
}

// ---------------------------------------------------------------------------------------------
// Finding the names in the glue. Each match is an exact identifier, bounded on both sides.

const IDENT = /[A-Za-z_$][\w$]*/g;
const IDENT_CHAR = /[\p{ID_Continue}$\u200c\u200d]/u;

function isIdentChar(ch) {
  return ch !== undefined && IDENT_CHAR.test(ch);
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Every whole identifier `name` in the text: [{ at, name }]. */
function identifiers(text, name) {
  const out = [];
  for (const m of text.matchAll(new RegExp(escapeRegExp(name), "g"))) {
    const end = m.index + name.length;
    if (!isIdentChar(text[m.index - 1]) && !isIdentChar(text[end])) out.push({ at: m.index, name });
  }
  return out;
}

/** Every `wasm.NAME` (not `x.wasm.NAME`): [{ at: index of NAME, name }]. */
function exportAccesses(js) {
  const out = [];
  for (const { at } of identifiers(js, EXPORTS_VAR)) {
    const dot = at + EXPORTS_VAR.length;
    if (js[at - 1] === "." || js[dot] !== ".") continue;
    const name = new RegExp(IDENT.source, "y");
    name.lastIndex = dot + 1;
    const m = name.exec(js);
    if (m) out.push({ at: m.index, name: m[0] });
  }
  return out;
}

function neighbour(text, at, step) {
  for (let i = at; i >= 0 && i < text.length; i += step) if (!/\s/.test(text[i])) return text[i];
  return undefined;
}

/** Object literal keys written as bare identifiers (`{ key:` / `, key:`) in [from, to). */
function objectKeys(js, from, to) {
  const out = [];
  const region = js.slice(from, to);
  for (const m of region.matchAll(IDENT)) {
    const at = from + m.index;
    const end = at + m[0].length;
    if (isIdentChar(js[at - 1]) || js[at - 1] === "." || isIdentChar(js[end])) continue;
    if (neighbour(js, end, 1) === ":" && "{,".includes(neighbour(js, at - 1, -1))) out.push({ at, name: m[0] });
  }
  return out;
}

/** Where each occurrence of the string literal `text` starts, in any quotes. */
function stringLiterals(js, text) {
  const out = [];
  for (const q of ["\"", "'", "`"]) {
    for (const m of js.matchAll(new RegExp(escapeRegExp(q + text + q), "g"))) out.push(m.index);
  }
  return out.sort((a, b) => a - b);
}

// `__wbg_get_imports()` builds the import object and ends by returning it under the glue
// module's name: the import keys are the object keys between the two.
function importsRegion(js, moduleName) {
  const start = js.indexOf("function __wbg_get_imports(");
  if (start < 0 || js.indexOf("function __wbg_get_imports(", start + 1) >= 0) {
    fail("expected exactly one `function __wbg_get_imports(` in the JS");
  }
  const key = stringLiterals(js, moduleName).find(
    (at) => at > start && neighbour(js, at + moduleName.length + 2, 1) === ":",
  );
  if (key === undefined) fail(`"${moduleName}" is not a key of the object __wbg_get_imports() returns`);
  return { start, end: key, moduleKey: key + 1 };
}

function applyEdits(text, edits) {
  const sorted = [...edits].sort((a, b) => a.at - b.at);
  let out = "";
  let last = 0;
  for (const e of sorted) {
    if (e.at < last) fail("overlapping edits");
    out += text.slice(last, e.at) + e.text;
    last = e.at + e.length;
  }
  return out + text.slice(last);
}

// ---------------------------------------------------------------------------------------------
// The renames.

/** The one import module the glue itself provides: "./x_bg.js" (or "wbg" in older builds). */
function glueModule(imports) {
  const modules = [...new Set(imports.map((i) => i.module))];
  const glue = modules.filter((m) => m === "wbg" || /^\.\/[^/]+_bg\.js$/.test(m));
  if (glue.length !== 1) {
    fail(`expected one wasm-bindgen glue module among the imports, found ${JSON.stringify(modules)} (names already shortened? rebuild the .wasm)`);
  }
  return { name: glue[0], others: new Set(modules.filter((m) => m !== glue[0])) };
}

function planImports(imports, js) {
  const glue = glueModule(imports);
  const newModule = shortNames(1, glue.others)[0];
  // The module's name is renamed only where it is the key of the import object.
  const spelled = stringLiterals(js, glue.name).length;
  if (spelled !== 1) fail(`the JS spells the glue module "${glue.name}" ${spelled} times, expected once`);
  const region = importsRegion(js, glue.name);
  const keys = objectKeys(js, region.start, region.end);
  const fields = [...new Set(imports.filter((i) => i.module === glue.name).map((i) => i.field))];
  const short = shortNames(fields.length);
  const renames = new Map(fields.map((f, n) => [f, short[n]]));
  const edits = [{ at: region.moduleKey, length: glue.name.length, text: newModule }];
  for (const [field, to] of renames) {
    const found = keys.filter((k) => k.name === field);
    if (found.length !== 1) fail(`the wasm imports ${field}, found as a key ${found.length} times in __wbg_get_imports(), expected once`);
    edits.push({ at: found[0].at, length: field.length, text: to });
  }
  for (const k of keys) {
    if (GLUE_IMPORT_PREFIXES.some((p) => k.name.startsWith(p)) && !renames.has(k.name)) {
      fail(`the JS provides the import ${k.name}, which the wasm does not import (are the two files from one build?)`);
    }
  }
  return { module: { from: glue.name, to: newModule }, renames, edits };
}

const RENAMABLE_EXPORT = new Set([KIND_FUNCTION, KIND_TABLE, KIND_GLOBAL]);

function planExports(exports, js) {
  const byName = new Map(exports.map((e) => [e.name, e]));
  const accesses = exportAccesses(js);
  const uses = new Map();
  for (const a of accesses) {
    if (!byName.has(a.name)) fail(`the JS uses ${EXPORTS_VAR}.${a.name}, which the wasm does not export`);
    uses.set(a.name, (uses.get(a.name) ?? 0) + 1);
  }
  const renamable = (e) => uses.has(e.name) && RENAMABLE_EXPORT.has(e.kind) && !KEEP_EXPORTS.has(e.name);
  const kept = new Set(exports.filter((e) => !renamable(e)).map((e) => e.name));
  // The most used get the one-letter names (malloc and realloc are called once per string).
  const order = exports.filter(renamable).sort((a, b) => uses.get(b.name) - uses.get(a.name));
  const short = shortNames(order.length, kept);
  const renames = new Map(order.map((e, n) => [e.name, short[n]]));
  const edits = accesses
    .filter((a) => renames.has(a.name))
    .map((a) => ({ at: a.at, length: a.name.length, text: renames.get(a.name) }));
  return { renames, edits };
}

// A name the glue also spells as a string (`wasm["name"]`, a string passed to Reflect) or reaches
// another way (`instance.exports.name`) cannot be renamed safely.
function checkNoOtherUses(js, imports, exports) {
  for (const name of [...imports.keys(), ...exports.keys()]) {
    if (stringLiterals(js, name).length > 0) fail(`the JS spells ${name} as a string; it cannot be renamed safely`);
  }
  for (const name of imports.keys()) {
    const n = identifiers(js, name).length;
    if (n !== 1) fail(`the JS names the import ${name} ${n} times, expected only as its key`);
  }
  const accessed = new Set(exportAccesses(js).map((a) => a.at));
  for (const name of exports.keys()) {
    const other = identifiers(js, name).filter(({ at }) => js[at - 1] === "." && !accessed.has(at));
    if (other.length > 0) fail(`the JS reads .${name} from something other than ${EXPORTS_VAR}; it cannot be renamed safely`);
  }
}

// Every old name is gone from where the glue used it, and every new one is where it belongs.
function verifyJs(js, plan) {
  const region = importsRegion(js, plan.module.to);
  const keys = new Set(objectKeys(js, region.start, region.end).map((k) => k.name));
  for (const [from, to] of plan.imports) {
    if (identifiers(js, from).length > 0) fail(`the import ${from} is still named in the JS`);
    if (!keys.has(to)) fail(`the import ${from} -> ${to} is not a key of the import object`);
  }
  const used = new Set(exportAccesses(js).map((a) => a.name));
  for (const [from, to] of plan.exports) {
    if (used.has(from)) fail(`${EXPORTS_VAR}.${from} is still used in the JS`);
    if (!used.has(to)) fail(`the export ${from} -> ${to} is not used by the JS`);
  }
}

// Each renamed export is declared once: `export const NAME:` in the .wasm.d.ts, `readonly NAME:`
// in the InitOutput interface of the module's .d.ts.
function renameDeclarations(text, renames, file, keyword, within) {
  const start = within ? text.indexOf(within) : 0;
  if (start < 0) fail(`${file}: no ${within}`);
  const end = within ? text.indexOf("\n}", start) : text.length;
  const edits = [];
  for (const [from, to] of renames) {
    const re = new RegExp(`^([ \\t]*${escapeRegExp(keyword)} )${escapeRegExp(from)}(?=\\s*:)`, "gm");
    const found = [...text.slice(start, end).matchAll(re)];
    if (found.length !== 1) fail(`${file}: ${from} is declared ${found.length} times, expected once`);
    edits.push({ at: start + found[0].index + found[0][1].length, length: from.length, text: to });
  }
  return applyEdits(text, edits);
}

/**
 * Renames the glue's imports (and their module) and the exports the glue calls, in the .wasm,
 * the JS and, when given, the .wasm.d.ts and the module's .d.ts. Throws if the files do not
 * match each other or do not look like wasm-bindgen `--target web` output.
 */
export function shortenNames({ wasm, js, wasmDts, dts }) {
  const bytes = wasm instanceof Uint8Array ? wasm : new Uint8Array(wasm);
  const sections = splitSections(bytes);
  const importSection = onlySection(sections, SECTION_IMPORT, "import");
  const exportSection = onlySection(sections, SECTION_EXPORT, "export");
  const imports = readImports(bytes, importSection);
  const exports = readExports(bytes, exportSection);

  const importPlan = planImports(imports, js);
  const exportPlan = planExports(exports, js);
  checkNoOtherUses(js, importPlan.renames, exportPlan.renames);
  const plan = { module: importPlan.module, imports: importPlan.renames, exports: exportPlan.renames };

  const renamedImports = imports.map((i) =>
    i.module === plan.module.from ? { ...i, module: plan.module.to, field: plan.imports.get(i.field) } : i,
  );
  const renamedExports = exports.map((e) => ({ ...e, name: plan.exports.get(e.name) ?? e.name }));
  const bodies = new Map([
    [importSection, encodeImports(renamedImports)],
    [exportSection, encodeExports(renamedExports)],
  ]);
  const outJs = applyEdits(js, [...importPlan.edits, ...exportPlan.edits]);
  verifyJs(outJs, plan);

  return {
    wasm: replaceSections(bytes, sections, bodies),
    js: outJs,
    wasmDts: wasmDts === undefined ? undefined : renameDeclarations(wasmDts, plan.exports, ".wasm.d.ts", "export const"),
    dts: dts === undefined ? undefined : renameDeclarations(dts, plan.exports, ".d.ts", "readonly", "export interface InitOutput {"),
    ...plan,
  };
}
