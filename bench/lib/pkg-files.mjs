// Which files of the npm package a web page actually downloads, and how big they are once
// compressed the way a web server would send them. Shared by the bench and by
// scripts/size-check.mjs (the budget in `make test`), so both count exactly the same bytes.
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

/** gzip at level 9 and brotli at maximum quality (text mode for JS, generic for wasm). */
export function compressedSizes(buf, { text = true } = {}) {
  return {
    raw: buf.length,
    gzip: zlib.gzipSync(buf, { level: 9 }).length,
    brotli: zlib.brotliCompressSync(buf, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY,
        [zlib.constants.BROTLI_PARAM_MODE]: text ? zlib.constants.BROTLI_MODE_TEXT : zlib.constants.BROTLI_MODE_GENERIC,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: buf.length,
      },
    }).length,
  };
}

// Static and dynamic module specifiers, `export … from`, and string literals naming a .wasm file
// (wasm-bindgen's glue loads it with `new URL('x_bg.wasm', import.meta.url)`).
const IMPORT_RE = /(?:\bimport\s*(?:[\w*{}\s,$]+\s*from\s*)?|\bexport\s*[\w*{}\s,$]*\s*from\s*|\bimport\s*\(\s*)(["'])(\.{1,2}\/[^"']+)\1/g;
const WASM_RE = /(["'])((?:\.{1,2}\/)?[\w./-]+\.wasm)\1/g;

/** The package's entry module: package.json `module`, else `main`, else `anam_wasm.js`. */
export function entryOf(pkgDir) {
  const manifest = path.join(pkgDir, "package.json");
  if (existsSync(manifest)) {
    const pkg = JSON.parse(readFileSync(manifest, "utf8"));
    const entry = pkg.module || pkg.browser || pkg.main;
    if (typeof entry === "string") return entry.replace(/^\.\//, "");
  }
  return "anam_wasm.js";
}

/**
 * Follows the relative imports from the entry module and collects every JS module and wasm
 * file a page loads, each with its raw/gzip/brotli size. Throws if a referenced file is missing
 * (a broken package must not look small).
 */
export function pageLoadedFiles(pkgDir) {
  const root = path.resolve(pkgDir);
  const seen = new Map();
  const queue = [entryOf(root)];
  while (queue.length) {
    const rel = queue.shift();
    if (seen.has(rel)) continue;
    const file = path.join(root, rel);
    if (!file.startsWith(root + path.sep)) throw new Error(`${rel} points outside ${root}`);
    if (!existsSync(file)) throw new Error(`${rel} is referenced but missing from ${root}`);
    const buf = readFileSync(file);
    const isWasm = rel.endsWith(".wasm");
    seen.set(rel, { file: rel, kind: isWasm ? "wasm" : "js", ...compressedSizes(buf, { text: !isWasm }) });
    if (isWasm) continue;
    const src = buf.toString("utf8");
    const dir = path.posix.dirname(rel);
    for (const m of src.matchAll(IMPORT_RE)) queue.push(path.posix.normalize(path.posix.join(dir, m[2])));
    for (const m of src.matchAll(WASM_RE)) queue.push(path.posix.normalize(path.posix.join(dir, m[2])));
  }
  const files = [...seen.values()];
  const total = files.reduce(
    (t, f) => ({ raw: t.raw + f.raw, gzip: t.gzip + f.gzip, brotli: t.brotli + f.brotli }),
    { raw: 0, gzip: 0, brotli: 0 },
  );
  return { files, total };
}
