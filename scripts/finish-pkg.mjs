// Completes a wasm-pack build in place: appends the runtime enum objects (js/enums.js) to the
// package's JS module and the hand-written public types (js/anam.d.ts) to its .d.ts, because
// wasm-bindgen can export neither string-valued objects nor generic listener signatures; puts
// the loader (js/loader.js) in front of wasm-bindgen's exported functions, which become
// module-private (`wasm_<name>`), so that no export needs `init()` first; then
// minifies the JS module, which a page downloads as it is (wasm-bindgen's glue is 62 KB of
// readable text, 12 KB gzip; minified 28 KB, 8 KB gzip). Before minifying, it renames the
// imports and exports the .wasm and the JS share to one or two letters in both files
// (scripts/lib/short-names.mjs): terser cannot shorten them, being property names.
// Idempotent: a module that is already minified (it starts with FINISHED) is left as it is, and
// so is its .wasm, whose names were shortened in the same run.
// Usage: node scripts/finish-pkg.mjs [pkg-dir]
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { minify } from "terser";
import { shortenNames } from "./lib/short-names.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pkg = path.resolve(process.argv[2] ?? path.join(root, "pkg"));
const MARK = "\n/* --- anam-wasm: appended by scripts/finish-pkg.mjs --- */\n";
const FINISHED = "/* anam-wasm: finished by scripts/finish-pkg.mjs */";

function appended(text, ...sources) {
  const at = text.indexOf(MARK);
  const tail = sources.map((s) => readFileSync(path.join(root, "js", s), "utf8")).join("\n");
  return (at >= 0 ? text.slice(0, at) : text) + MARK + tail;
}

// wasm-bindgen's exported functions and its `init` become private to the module: the loader
// exports the public functions and calls these. The classes stay exported (their types).
function behindLoader(glue) {
  const exportList = /^export \{ initSync, __wbg_init as default \};?$/m;
  for (const [what, re] of [["its export list", exportList], ["__wbg_init", /^async function __wbg_init\(/m], ["wasm", /^let [^;]*\bwasm\b[^;]*;/m]]) {
    if (!re.test(glue)) throw new Error(`finish-pkg: wasm-bindgen's glue has no ${what} (has its output changed?)`);
  }
  // The functions js/loader.js calls as wasm_<name>.
  for (const name of ["createClient", "sessionTokenOf", "preflight", "version"]) {
    if (!new RegExp(`^export function ${name}\\(`, "m").test(glue)) throw new Error(`finish-pkg: the glue exports no function ${name}, which js/loader.js calls`);
  }
  return glue.replace(exportList, "").replace(/^export function (\w+)\(/gm, "function wasm_$1(");
}

function append(target, source) {
  const file = path.join(pkg, target);
  writeFileSync(file, appended(readFileSync(file, "utf8"), source));
}

// js/loader.js sends the client's first start-session request before the module has loaded;
// its body is made of two Rust constants, read here so that the two cannot drift apart.
function withFirstBody(loader) {
  const cargo = readFileSync(path.join(root, "Cargo.toml"), "utf8");
  const version = cargo.match(/\[workspace\.package\][^[]*?\nversion\s*=\s*"([^"]+)"/)?.[1];
  const config = readFileSync(path.join(root, "crates", "core", "src", "session", "config.rs"), "utf8");
  const client = config.match(/pub const CLIENT_NAME: &str = "([^"]+)";/)?.[1];
  const placeholder = '"__ANAM_FIRST_START_SESSION_BODY__"';
  if (!version || !client || !loader.includes(placeholder)) {
    throw new Error("finish-pkg: cannot write the first start-session body into js/loader.js");
  }
  return loader.replace(placeholder, JSON.stringify(JSON.stringify({ clientMetadata: { client, version } })));
}

async function minified(code) {
  const result = await minify(code, {
    module: true,
    compress: { passes: 2 },
    mangle: true,
    format: { preamble: FINISHED },
  });
  return result.code;
}

// Everything is computed before anything is written, and the JS (which carries FINISHED) is
// written last: a run that fails leaves the package as it was, or, if it dies between the
// writes, with a .wasm whose names no longer match the JS, which the next run refuses loudly.
async function finishModule() {
  const file = (name) => path.join(pkg, name);
  const wasmDtsFile = file("anam_wasm_bg.wasm.d.ts");
  const short = shortenNames({
    wasm: readFileSync(file("anam_wasm_bg.wasm")),
    js: readFileSync(file("anam_wasm.js"), "utf8"),
    wasmDts: existsSync(wasmDtsFile) ? readFileSync(wasmDtsFile, "utf8") : undefined,
    dts: readFileSync(file("anam_wasm.d.ts"), "utf8"),
  });
  const js = await minified(withFirstBody(appended(behindLoader(short.js), "enums.js", "loader.js")));
  if (short.wasmDts !== undefined) writeFileSync(wasmDtsFile, short.wasmDts);
  writeFileSync(file("anam_wasm.d.ts"), short.dts);
  writeFileSync(file("anam_wasm_bg.wasm"), short.wasm);
  writeFileSync(file("anam_wasm.js"), js);
  console.log(`finish-pkg: shortened ${short.imports.size} import and ${short.exports.size} export names`);
}

if (!readFileSync(path.join(pkg, "anam_wasm.js"), "utf8").startsWith(FINISHED)) await finishModule();
append("anam_wasm.d.ts", "anam.d.ts");

// Every export the README and js/anam.d.ts document must exist in the module text.
const js = readFileSync(path.join(pkg, "anam_wasm.js"), "utf8");
for (const name of ["default", "initSync", "version", "createClient", "fetchSessionToken", "preflight", "AnamEvent", "ConnectionClosedCode", "ErrorCode", "AudioPermissionState", "DIRECTOR_NOTE_CUE_TAGS"]) {
  if (!new RegExp(`export (const|function|class) ${name}\\b|export ?\\{[^}]*\\b${name}\\b|export ${name}\\b`).test(js)) {
    console.error(`finish-pkg: ${name} is not exported by ${pkg}/anam_wasm.js`);
    process.exit(1);
  }
}
console.log(`finish-pkg: completed ${pkg}`);
