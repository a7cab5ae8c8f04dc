// Unit tests of the bench's pure parts: statistics, wasm parsing, package file discovery, wrk
// output parsing, argument parsing and the smoke checker. Run: node --test bench/test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { percentile, median, summarize, ratio, ratioInterval, slope } from "../lib/stats.mjs";
import { anatomy, bytesByCrate, crateOf, gzipOfBodies } from "../lib/wasm-anatomy.mjs";
import { pageLoadedFiles, compressedSizes } from "../lib/pkg-files.mjs";
import { parseWrk, parseDuration } from "../measure/load.mjs";
import { parseArgs } from "../lib/args.mjs";
import { checkSmoke } from "../lib/smoke.mjs";
import { fastestFloor, runFromMarks } from "../measure/ttff.mjs";
import { releaseWasmOptArgs } from "../measure/size.mjs";
import { leb, section, str } from "../../scripts/lib/wasm-builder.mjs";

test("percentiles are nearest-rank samples and the median averages the middle pair", () => {
  const xs = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
  assert.equal(percentile(xs, 90), 9);
  assert.equal(percentile(xs, 100), 10);
  assert.equal(percentile(xs, 1), 1);
  assert.equal(median(xs), 5.5);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([]), null);
  assert.throws(() => percentile(xs, 0), RangeError);
  const s = summarize([3, null, NaN, 1, 2]);
  assert.deepEqual(s, { n: 3, min: 1, median: 2, p90: 3, p99: 3, max: 3 });
});

test("ratio and slope handle missing data", () => {
  assert.equal(ratio(1, 2), 0.5);
  assert.equal(ratio(1, 0), null);
  assert.equal(ratio(null, 2), null);
  assert.equal(slope([10, 12, 14, 16]), 2);
  assert.equal(slope([5]), null);
  assert.ok(Math.abs(slope([7, 7, 7])) < 1e-12);
});

test("the bootstrap interval of a ratio of medians is seeded, holds the ratio and narrows with more runs", () => {
  // Two clients whose runs spread ±10 ms around 100 and 80 ms: the ratio of medians is 1.25.
  const spread = (center, n) => Array.from({ length: n }, (_, i) => center - 10 + (20 * i) / (n - 1));
  const [lo, hi] = ratioInterval(spread(100, 21), spread(80, 21));
  assert.deepEqual(ratioInterval(spread(100, 21), spread(80, 21)), [lo, hi], "the same samples, the same interval");
  assert.ok(lo < 1.25 && 1.25 < hi, `[${lo}, ${hi}] holds 1.25`);
  const [lo2, hi2] = ratioInterval(spread(100, 201), spread(80, 201));
  assert.ok(hi2 - lo2 < (hi - lo) / 2, "ten times the runs, a much narrower interval");
  // Identical runs leave nothing to resample: the interval is the ratio itself.
  assert.deepEqual(ratioInterval([90, 90, 90], [60, 60]), [1.5, 1.5]);
  assert.equal(ratioInterval([], [1]), null);
  assert.equal(ratioInterval([1], [null]), null);
});

// A hand-assembled module: one imported function, two defined functions, a name section.
function tinyModule() {
  const type = section(1, [1, 0x60, 0, 0]);
  const imports = section(2, [1, ...str("env"), ...str("f"), 0x00, 0]);
  const funcs = section(3, [2, 0, 0]);
  const body1 = [0, 0x0b]; // no locals, end
  const body2 = [0, 0x01, 0x01, 0x01, 0x0b]; // three nops
  const code = section(10, [2, ...leb(body1.length), ...body1, ...leb(body2.length), ...body2]);
  const names = [1, ...leb(0)];
  const fnames = [3, ...leb(0), ...str("env_f"), ...leb(1), ...str("my_crate::small"), ...leb(2), ...str("<other::T as core::X>::big")];
  const nameSub = [1, ...leb(fnames.length), ...fnames];
  const custom = section(0, [...str("name"), ...nameSub]);
  void names;
  return Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...type, ...imports, ...funcs, ...code, ...custom]);
}

test("the wasm reader finds sections, function bodies and names", () => {
  const a = anatomy(tinyModule());
  assert.deepEqual(a.sections.map((s) => s.name), ["type", "import", "function", "code", "custom:name"]);
  assert.equal(a.importedFunctions, 1);
  assert.equal(a.hasNames, true);
  assert.deepEqual(a.functions.map((f) => [f.index, f.bytes, f.name]), [[1, 3, "my_crate::small"], [2, 6, "<other::T as core::X>::big"]]);
  assert.equal(a.sections.reduce((s, x) => s + x.bytes, 0) + 8, a.total);
  const byCrate = bytesByCrate(a.functions);
  assert.deepEqual(byCrate.map((c) => [c.crate, c.bytes]), [["other", 6], ["my_crate", 3]]);
  assert.equal(byCrate[0].gzip, undefined, "no gzip column without the module's bytes");
  // Each crate's bodies, cut out by offset, are exactly the bytes gzipped for it.
  const module = tinyModule();
  const [big, small] = [a.functions[1], a.functions[0]];
  assert.deepEqual([...module.subarray(big.offset, big.offset + big.bytes)], [5, 0, 0x01, 0x01, 0x01, 0x0b]);
  const expected = (f) => zlib.gzipSync(module.subarray(f.offset, f.offset + f.bytes), { level: 9 }).length;
  assert.deepEqual(bytesByCrate(a.functions, module).map((c) => [c.crate, c.gzip]), [["other", expected(big)], ["my_crate", expected(small)]]);
  const both = zlib.gzipSync(Buffer.concat([module.subarray(small.offset, small.offset + small.bytes), module.subarray(big.offset, big.offset + big.bytes)]), { level: 9 }).length;
  assert.equal(gzipOfBodies(module, [small, big]), both);
  assert.throws(() => anatomy(Buffer.from("not wasm at all")), /not a WebAssembly module/);
  assert.throws(() => anatomy(tinyModule().subarray(0, 28)), /truncated|past the end|runs past/);
});

test("symbols are attributed to crates, primitives' impls to the trait's crate", () => {
  assert.equal(crateOf("serde_json::de::from_str::h123"), "serde_json");
  assert.equal(crateOf("core[c5930c85a12de822]::num::flt2dec::x"), "core");
  assert.equal(crateOf("<f64 as core[c5930c85a12de822]::fmt::Display>::fmt"), "core");
  assert.equal(crateOf("<T as alloc::string::ToString>::to_string::h2"), "alloc");
  assert.equal(crateOf("<&mut serde_json::ser::Serializer<W,F> as serde_core::ser::Serializer>::x"), "serde_json");
  assert.equal(crateOf("<char>::escape_debug_ext"), "core");
  assert.equal(crateOf("createClient externref shim multivalue shim"), "wasm-bindgen exports and shims");
  assert.equal(crateOf(null), "(no name section)");
});

test("pageLoadedFiles follows imports and the wasm URL, and refuses missing files", (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "bench-pkg-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, "snippets"));
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ main: "entry.js" }));
  writeFileSync(path.join(dir, "entry.js"), `import { x } from './snippets/a.js';\nconst u = new URL('app_bg.wasm', import.meta.url);\n`);
  writeFileSync(path.join(dir, "snippets", "a.js"), "export const x = 1;\n");
  writeFileSync(path.join(dir, "app_bg.wasm"), Buffer.alloc(1000, 7));
  writeFileSync(path.join(dir, "unused.js"), "export const never = 'loaded';\n");
  const { files, total } = pageLoadedFiles(dir);
  assert.deepEqual(files.map((f) => f.file).sort(), ["app_bg.wasm", "entry.js", "snippets/a.js"]);
  assert.equal(total.gzip, files.reduce((s, f) => s + f.gzip, 0));
  writeFileSync(path.join(dir, "entry.js"), `import './gone.js';\n`);
  assert.throws(() => pageLoadedFiles(dir), /gone\.js is referenced but missing/);
});

test("the names-kept build takes wasm-pack's release wasm-opt arguments from Cargo.toml", () => {
  const toml = '[profile.release]\nwasm-opt = ["-O1"]\n[package.metadata.wasm-pack.profile.release]\nwasm-opt = ["-Oz", "-ocimfs", "7"]\n';
  assert.deepEqual(releaseWasmOptArgs(toml), ["-Oz", "-ocimfs", "7"]);
  assert.throws(() => releaseWasmOptArgs("[package]\n"), /no wasm-opt list/);
  // The real file: whatever it says, the list starts with an optimisation level.
  assert.match(releaseWasmOptArgs()[0], /^-O/);
});

test("compressed sizes match zlib at level 9", () => {
  const buf = Buffer.from("hello hello hello hello ".repeat(100));
  const s = compressedSizes(buf);
  assert.equal(s.raw, buf.length);
  assert.equal(s.gzip, zlib.gzipSync(buf, { level: 9 }).length);
  assert.ok(s.brotli > 0 && s.brotli < s.raw);
});

const WRK_OUTPUT = `Running 10s test @ http://127.0.0.1:1234/healthz
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   812.00us  300.00us   9.00ms   90.00%
    Req/Sec    19.50k     1.20k   22.00k    70.00%
  Latency Distribution
     50%  750.00us
     75%    1.01ms
     90%    1.20ms
     99%    2.01s
  388000 requests in 10.00s, 40.00MB read
  Socket errors: connect 0, read 1, write 2, timeout 3
  Non-2xx or 3xx responses: 17
Requests/sec:  38800.12
Transfer/sec:      4.00MB
`;

test("wrk output is parsed into requests/s and latency percentiles in ms", () => {
  const r = parseWrk(WRK_OUTPUT);
  assert.equal(r.requestsPerSec, 38800.12);
  assert.equal(r.requests, 388000);
  assert.deepEqual(r.latencyMs, { p50: 0.75, p75: 1.01, p90: 1.2, p99: 2010 });
  assert.equal(r.non2xx, 17);
  assert.equal(r.socketErrors, 6);
  assert.equal(parseDuration("1.5m"), 90000);
  assert.equal(parseDuration("junk"), null);
});

test("arguments: smoke defaults are small, full defaults follow the issue, bad input is refused", () => {
  const smoke = parseArgs(["--smoke"]);
  assert.equal(smoke.rounds, 1);
  assert.equal(smoke.attribution, false);
  const full = parseArgs(["--rounds=12", "--only", "size,ttff"]);
  assert.equal(full.rounds, 12);
  assert.equal(full.cycles, 20);
  assert.ok(full.rounds >= 10);
  assert.deepEqual(full.only, ["size", "ttff"]);
  assert.throws(() => parseArgs(["--only", "size,nope"]), /unknown nope/);
  assert.throws(() => parseArgs(["--rounds", "-1"]), /positive/);
  assert.throws(() => parseArgs(["--frobnicate"]), /unknown argument/);
});

test("time-to-first-frame numbers come from the marks, relative to createClient", () => {
  const marks = { createClient: 100, "first frame": 400, VIDEO_PLAY_STARTED: 405, "socket open": 180, "client loaded": 60 };
  const resources = [
    { name: "http://e/v1/engine/session", start: 101, end: 150, transfer: 0, encoded: 0 },
    { name: "http://b/api/session-token", start: 10, end: 90, transfer: 0, encoded: 0 },
    { name: "http://b/pkg/anam_wasm_bg.wasm", start: 5, end: 50, transfer: 1000, encoded: 900 },
  ];
  const r = runFromMarks("ours", { marks, resources });
  assert.equal(r.navToFirstFrame, 400);
  assert.equal(r.createToPlayStarted, 305);
  assert.equal(r.createToFirstFrame, 300);
  assert.equal(r.startSessionMs, 49);
  assert.equal(r.breakdown["start-session"], 50);
  assert.equal(r.breakdown.token, 90);
  assert.equal(r.breakdown["client loaded"], 60);
  assert.equal(r.breakdown["socket open"], 80);
  assert.equal(r.breakdown["ICE connected"], null);
  assert.equal(r.clientBytesTransferred, 1000);
  // The floor has no SDK event: its "play started" is the first frame.
  assert.equal(runFromMarks("floor", { marks, resources }).createToPlayStarted, 300);
});

test("the floor target is judged against the faster floor order of the run", () => {
  const run = (median) => ({ createToPlayStarted: { median } });
  assert.equal(fastestFloor({ floor: run(74), "floor-sdk-order": run(67), ours: run(50) }), "floor-sdk-order");
  assert.equal(fastestFloor({ floor: run(70), "floor-sdk-order": run(80) }), "floor");
  // A floor without runs is not a candidate; neither floor measured: none.
  assert.equal(fastestFloor({ floor: run(null), "floor-sdk-order": run(80) }), "floor-sdk-order");
  assert.equal(fastestFloor({ ours: run(50) }), null);
});

test("the smoke checker flags missing, failed and non-positive measurements", () => {
  const good = {
    size: { ours: { total: { gzip: 10, brotli: 9 }, files: [{ kind: "wasm" }] }, official: { gzip: 20 }, ratios: { gzip: 0.5 } },
    load: { healthz: { requestsPerSec: 5, latencyMs: { p50: 1, p99: 2 } }, sessionToken: { requestsPerSec: 5, latencyMs: { p50: 1, p99: 2 } } },
  };
  assert.deepEqual(checkSmoke(good, ["size", "load"]), []);
  assert.ok(checkSmoke({ ...good, size: { error: "boom" } }, ["size"]).some((p) => p.includes("boom")));
  assert.ok(checkSmoke({}, ["ttff"]).some((p) => p.includes("missing")));
  const bad = structuredClone(good);
  bad.load.healthz.requestsPerSec = 0;
  assert.ok(checkSmoke(bad, ["load"]).some((p) => p.includes("healthz")));
});

test("the report shows measured numbers, judges targets from them, and says what was not measured", async () => {
  const { renderReport } = await import("../lib/report.mjs");
  const results = {
    command: "node bench/run.mjs",
    machine: { date: "2026-01-01T00:00:00Z", nproc: 2, cpuModel: "cpu", ramGiB: 4, os: "Linux", chromium: "1.2.3", node: "v20" },
    binaries: { emulator: "e", backend: "b" },
    pkgDir: "pkg",
    officialVersion: "4.27.0",
    size: {
      ours: { files: [{ file: "a.js", kind: "js", raw: 100, gzip: 50, brotli: 40 }, { file: "a_bg.wasm", kind: "wasm", raw: 1000, gzip: 500, brotli: 400 }], total: { raw: 1100, gzip: 550, brotli: 440 } },
      official: { file: "dist/umd/anam.js", version: "4.27.0", raw: 2000, gzip: 1100, brotli: 900 },
      ratios: { raw: 0.55, gzip: 0.5, brotli: 440 / 900 },
    },
    load: { error: "no anam-backend binary" },
  };
  const md = renderReport(results);
  assert.match(md, /\| \*\*ours, total a page loads\*\* \| 1,100 B/);
  assert.match(md, /gzip size ≤ official \(ratio ≤ 1\.0\) \| 0\.50× \| met/);
  assert.match(md, /time to first frame ≤ 0\.9× official median \| – \| not measured/);
  assert.match(md, /Not measured: no anam-backend binary/);
});
