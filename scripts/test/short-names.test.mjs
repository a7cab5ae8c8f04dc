// Unit tests of scripts/lib/short-names.mjs and of its use in scripts/finish-pkg.mjs, on a
// hand-assembled module and glue shaped like wasm-bindgen's `--target web` output.
// Run: node --test scripts/test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { shortenNames } from "../lib/short-names.mjs";
import { leb, section, str } from "../lib/wasm-builder.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const FINISHED = "/* anam-wasm: finished by scripts/finish-pkg.mjs */";

const vec = (items) => [...leb(items.length), ...items.flat()];
const body = (code) => [...leb(code.length + 1), 0, ...code]; // no locals

const LONG_IMPORT = "__wbg_double_0123456789abcdef";

// Imports: two from the glue, one from a snippet. Functions 3 (add), 4 (start), 5 (unused).
function fixtureWasm(glueModule) {
  const i32ToI32 = [0x60, 1, 0x7f, 1, 0x7f];
  const nothing = [0x60, 0, 0];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([i32ToI32, nothing])),
    ...section(0, [...str("keep.me"), 1, 2, 3]),
    ...section(2, vec([
      [...str(glueModule), ...str(LONG_IMPORT), 0x00, 0],
      [...str(glueModule), ...str("__wbindgen_init_externref_table"), 0x00, 1],
      [...str("./snippets/fixture/inline0.js"), ...str("hello"), 0x00, 1],
    ])),
    ...section(3, vec([[0], [1], [0]])),
    ...section(4, vec([[0x6f, 0x00, 2]])), // externref table, min 2
    ...section(5, vec([[0x00, 1]])), // one page
    ...section(6, vec([[0x7f, 0x00, 0x41, 42, 0x0b], [0x7f, 0x01, 0x41, 0, 0x0b]])),
    ...section(7, vec([
      [...str("memory"), 0x02, 0],
      [...str("add"), 0x00, 3],
      [...str("__wbindgen_start"), 0x00, 4],
      [...str("__wbindgen_externrefs"), 0x01, 0],
      [...str("__wbg_counter"), 0x03, 0],
      [...str("__abort_handler"), 0x03, 1],
      [...str("unused"), 0x00, 5],
    ])),
    ...section(10, vec([
      body([0x20, 0, 0x10, 0, 0x41, 1, 0x6a, 0x0b]), // double(x) + 1
      body([0x10, 1, 0x10, 2, 0x0b]), // init the table, say hello
      body([0x20, 0, 0x0b]),
    ])),
    ...section(0, [...str("tail"), 9, 8, 7]),
  ]);
}

function fixtureJs(glueModule) {
  return `let wasm;
let started = false;
export function add(x) {
    const ret = wasm.add(x);
    return ret;
}
export function counter() {
    return wasm.__wbg_counter.value;
}
export function tableLength() {
    return wasm.__wbindgen_externrefs.length;
}
export function isStarted() {
    return started;
}
export function createClient() {
    return { talk() {} };
}
export function sessionTokenOf() {}
export function preflight() {}
export function version() {
    return String(wasm.__wbg_counter.value);
}
function __wbg_get_imports() {
    const import0 = {
        __proto__: null,
        ${LONG_IMPORT}: function(arg0) {
            const ret = arg0 * 2;
            return ret;
        },
        __wbindgen_init_externref_table: function() {
            const table = wasm.__wbindgen_externrefs;
            table.set(0, undefined);
        },
    };
    const import1 = {
        __proto__: null,
        hello: function() {
            started = true;
        },
    };
    return {
        __proto__: null,
        "${glueModule}": import0,
        "./snippets/fixture/inline0.js": import1,
    };
}
function initSync({ module }) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(module), __wbg_get_imports());
    wasm = instance.exports;
    wasm.__wbindgen_start();
    return wasm;
}
async function __wbg_init() {
    throw new Error("the fixture loads with initSync only");
}
export { initSync, __wbg_init as default };
`;
}

const WASM_DTS = `export const memory: WebAssembly.Memory;
export const add: (a: number) => number;
export const __wbindgen_start: () => void;
export const __wbindgen_externrefs: WebAssembly.Table;
export const __wbg_counter: WebAssembly.Global;
`;

const DTS = `export function add(x: number): number;
export interface Unrelated {
    readonly add: number;
}
export interface InitOutput {
    readonly memory: WebAssembly.Memory;
    readonly add: (a: number) => number;
    readonly __wbindgen_start: () => void;
    readonly __wbindgen_externrefs: WebAssembly.Table;
    readonly __wbg_counter: WebAssembly.Global;
}
`;

// An independent reader: [{ id, body }] of every section.
function sections(bytes) {
  const out = [];
  let pos = 8;
  while (pos < bytes.length) {
    const id = bytes[pos++];
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[pos++];
      size += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) break;
    }
    out.push({ id, body: Buffer.from(bytes.subarray(pos, pos + size)) });
    pos += size;
  }
  return out;
}

function importModule(js) {
  return import(`data:text/javascript;charset=utf-8,${encodeURIComponent(js)}`);
}

const GLUE = "./fixture_bg.js";

test("the glue's imports and the exports it calls get short names in the .wasm and the JS alike", async () => {
  const wasm = fixtureWasm(GLUE);
  const js = fixtureJs(GLUE);
  const out = shortenNames({ wasm, js });

  assert.equal(out.module.from, GLUE);
  assert.deepEqual([...out.imports.values()].sort(), ["a", "b"]);
  assert.deepEqual([...out.exports.keys()].sort(), ["__wbg_counter", "__wbindgen_externrefs", "__wbindgen_start", "add"]);
  for (const name of [...out.imports.values(), ...out.exports.values(), out.module.to]) assert.ok(name.length <= 2, name);
  assert.ok(out.wasm.length < wasm.length && out.js.length < js.length);

  // Only the import and export sections change; custom sections stay where they were.
  const before = sections(wasm);
  const after = sections(out.wasm);
  assert.deepEqual(after.map((s) => s.id), before.map((s) => s.id));
  for (const [i, s] of before.entries()) {
    if (s.id === 2 || s.id === 7) assert.notDeepEqual(after[i].body, s.body);
    else assert.deepEqual(after[i].body, s.body, `section ${i} (id ${s.id}) changed`);
  }

  assert.ok(WebAssembly.validate(out.wasm));
  const module = new WebAssembly.Module(out.wasm);
  const imports = WebAssembly.Module.imports(module);
  assert.deepEqual(imports.map((i) => i.module), [out.module.to, out.module.to, "./snippets/fixture/inline0.js"]);
  assert.equal(imports[2].name, "hello");
  const exported = WebAssembly.Module.exports(module).map((e) => e.name);
  for (const kept of ["memory", "__abort_handler", "unused"]) assert.ok(exported.includes(kept), kept);
  for (const long of out.exports.keys()) assert.ok(!exported.includes(long), long);

  for (const long of out.imports.keys()) assert.ok(!out.js.includes(long), long);
  assert.ok(!out.js.includes(GLUE));
  assert.ok(!/wasm\.(add|__wbindgen_start|__wbindgen_externrefs|__wbg_counter)\b/.test(out.js));

  // The renamed pair still works together: instantiated through the renamed import object.
  const glue = await importModule(out.js);
  const instance = glue.initSync({ module: out.wasm });
  assert.equal(glue.add(20), 41);
  assert.equal(glue.counter(), 42);
  assert.equal(glue.tableLength(), 2);
  assert.equal(glue.isStarted(), true);
  assert.ok(instance.memory instanceof WebAssembly.Memory);
});

test("the .d.ts declarations follow the renamed exports, only in InitOutput", () => {
  const out = shortenNames({ wasm: fixtureWasm(GLUE), js: fixtureJs(GLUE), wasmDts: WASM_DTS, dts: DTS });
  const add = out.exports.get("add");
  assert.match(out.wasmDts, new RegExp(`^export const ${add}: \\(a: number\\) => number;$`, "m"));
  assert.match(out.wasmDts, /^export const memory: /m);
  assert.ok(!/__wbindgen|__wbg_counter|const add/.test(out.wasmDts));
  assert.match(out.dts, /export function add\(x: number\): number;/);
  assert.match(out.dts, /interface Unrelated \{\n {4}readonly add: number;/);
  assert.match(out.dts, new RegExp(`readonly ${add}: \\(a: number\\) => number;`));
  assert.throws(
    () => shortenNames({ wasm: fixtureWasm(GLUE), js: fixtureJs(GLUE), wasmDts: WASM_DTS.replace(/.*add.*\n/, "") }),
    /add is declared 0 times/,
  );
});

test("files that do not match each other are refused, not half renamed", () => {
  const wasm = fixtureWasm(GLUE);
  const js = fixtureJs(GLUE);
  const refused = (text, pattern) => assert.throws(() => shortenNames({ wasm, js: text }), pattern);
  refused(js.replace(LONG_IMPORT, "__wbg_double_fedcba9876543210"), /imports __wbg_double_0123456789abcdef, found as a key 0 times/);
  refused(js.replace("__proto__: null,\n        __wbg", "__proto__: null,\n        __wbg_extra_1: function() {},\n        __wbg"), /provides the import __wbg_extra_1/);
  refused(js.replace("wasm.add(x)", "wasm.nope(x)"), /wasm\.nope, which the wasm does not export/);
  refused(js.replace("return started;", 'return started && wasm["add"];'), /spells add as a string/);
  refused(js.replace("return started;", "return started && instance.exports.add;"), /reads \.add from something other than wasm/);
  // An export the glue reads only in a way that cannot be rewritten simply keeps its name.
  assert.ok(!shortenNames({ wasm, js: js.replace("wasm.add(x)", 'wasm["add"](x)') }).exports.has("add"));
  refused(js.replace(`"${GLUE}": import0`, `"${GLUE}": import0, again: "${GLUE}"`), /spells the glue module/);
  assert.throws(() => shortenNames({ wasm: Buffer.from("not wasm at all"), js }), /not a WebAssembly 1\.0 module/);
  assert.throws(() => shortenNames({ wasm: wasm.subarray(0, 30), js }), /runs past the end|truncated/);
});

test("finish-pkg shortens the names once and leaves a finished package as it is", async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "short-names-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const glue = "./anam_wasm_bg.js";
  writeFileSync(path.join(dir, "anam_wasm_bg.wasm"), fixtureWasm(glue));
  writeFileSync(path.join(dir, "anam_wasm.js"), fixtureJs(glue));
  writeFileSync(path.join(dir, "anam_wasm_bg.wasm.d.ts"), WASM_DTS);
  writeFileSync(path.join(dir, "anam_wasm.d.ts"), DTS);
  const files = ["anam_wasm_bg.wasm", "anam_wasm.js", "anam_wasm_bg.wasm.d.ts", "anam_wasm.d.ts"];
  const finish = () => {
    const r = spawnSync(process.execPath, [path.join(root, "scripts", "finish-pkg.mjs"), dir], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr || r.stdout);
    return Object.fromEntries(files.map((f) => [f, readFileSync(path.join(dir, f))]));
  };

  const first = finish();
  assert.ok(first["anam_wasm.js"].toString().startsWith(FINISHED));
  assert.ok(first["anam_wasm_bg.wasm"].length < fixtureWasm(glue).length);
  assert.ok(!first["anam_wasm_bg.wasm.d.ts"].toString().includes("__wbindgen_start"));
  assert.deepEqual(finish(), first);

  const mod = await import(pathToFileURL(path.join(dir, "anam_wasm.js")).href);
  // The glue's functions are behind the loader now; its exports call them.
  assert.equal(mod.add, undefined);
  assert.throws(() => mod.version(), /await init\(\) first/);
  mod.initSync({ module: first["anam_wasm_bg.wasm"] });
  assert.equal(mod.version(), "42");
  assert.equal(typeof mod.AnamEvent.SESSION_READY, "string");
});
