// Completes a wasm-pack build in place: appends the runtime enum objects (js/enums.js) to the
// package's JS module and the hand-written public types (js/anam.d.ts) to its .d.ts, because
// wasm-bindgen can export neither string-valued objects nor generic listener signatures; then
// minifies the JS module, which a page downloads as it is (wasm-bindgen's glue is 62 KB of
// readable text, 12 KB gzip; minified 28 KB, 8 KB gzip).
// Idempotent: a module that is already minified (it starts with FINISHED) is left as it is.
// Usage: node scripts/finish-pkg.mjs [pkg-dir]
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { minify } from "terser";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pkg = path.resolve(process.argv[2] ?? path.join(root, "pkg"));
const MARK = "\n/* --- anam-wasm: appended by scripts/finish-pkg.mjs --- */\n";
const FINISHED = "/* anam-wasm: finished by scripts/finish-pkg.mjs */";

function append(target, source) {
  const file = path.join(pkg, target);
  let text = readFileSync(file, "utf8");
  const at = text.indexOf(MARK);
  if (at >= 0) text = text.slice(0, at);
  writeFileSync(file, text + MARK + readFileSync(path.join(root, "js", source), "utf8"));
}

async function minifyModule(target) {
  const file = path.join(pkg, target);
  const result = await minify(readFileSync(file, "utf8"), {
    module: true,
    compress: { passes: 2 },
    mangle: true,
    format: { preamble: FINISHED },
  });
  writeFileSync(file, result.code);
}

if (!readFileSync(path.join(pkg, "anam_wasm.js"), "utf8").startsWith(FINISHED)) {
  append("anam_wasm.js", "enums.js");
  await minifyModule("anam_wasm.js");
}
append("anam_wasm.d.ts", "anam.d.ts");

// Every export the issue promises must now exist in the module text.
const js = readFileSync(path.join(pkg, "anam_wasm.js"), "utf8");
for (const name of ["createClient", "fetchSessionToken", "preflight", "AnamEvent", "ConnectionClosedCode", "ErrorCode", "AudioPermissionState", "DIRECTOR_NOTE_CUE_TAGS"]) {
  if (!new RegExp(`export (const|function|class) ${name}\\b|export \\{[^}]*\\b${name}\\b`).test(js)) {
    console.error(`finish-pkg: ${name} is not exported by ${pkg}/anam_wasm.js`);
    process.exit(1);
  }
}
console.log(`finish-pkg: completed ${pkg}`);
