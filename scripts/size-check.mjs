// The size budget of `make test`: the gzip -9 size of everything a page downloads from pkg/
// (the JS module, what it imports, and the .wasm it fetches) must not exceed size-budget.json.
// Usage: node scripts/size-check.mjs [pkg-dir] [budget-file]
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { pageLoadedFiles } from "../bench/lib/pkg-files.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pkgDir = path.resolve(process.argv[2] ?? path.join(root, "pkg"));
const budgetFile = path.resolve(process.argv[3] ?? path.join(root, "size-budget.json"));

function fail(message) {
  console.error(`size-check: FAIL: ${message}`);
  process.exit(1);
}

let budget;
try {
  budget = JSON.parse(readFileSync(budgetFile, "utf8"));
} catch (e) {
  fail(`cannot read ${budgetFile}: ${e.message}`);
}
if (!Number.isInteger(budget.gzipBytes) || budget.gzipBytes <= 0) fail(`${budgetFile}: gzipBytes must be a positive integer`);

let loaded;
try {
  loaded = pageLoadedFiles(pkgDir);
} catch (e) {
  fail(`${pkgDir}: ${e.message} (build it with make pkg)`);
}
if (!loaded.files.some((f) => f.kind === "wasm")) fail(`${pkgDir}: the entry module references no .wasm file`);
for (const f of loaded.files) console.log(`  ${f.file.padEnd(28)} ${String(f.raw).padStart(9)} B raw ${String(f.gzip).padStart(8)} B gzip -9`);
const { gzip } = loaded.total;
const line = `${gzip} B gzip -9 for what a page loads, budget ${budget.gzipBytes} B (${((gzip / budget.gzipBytes) * 100).toFixed(1)}%)`;
if (gzip > budget.gzipBytes) fail(`${line}. Shrink the client, or raise size-budget.json with a reason in its note.`);
console.log(`size-check: ok: ${line}`);
