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
import { exchanges, fastestFloor, runFromMarks, summarizeRuns } from "../measure/ttff.mjs";
import { PROFILES, cdpConditions, sequentialRoundTrips, tbfArgs } from "../lib/profiles.mjs";
import { PROFILE_NAMES } from "../lib/args.mjs";
import { startWsRelay } from "../lib/relay.mjs";
import { stripPlot, tickStep } from "../lib/plot.mjs";
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

test("arguments: smoke defaults are small, full defaults measure every profile, bad input is refused", () => {
  const smoke = parseArgs(["--smoke"]);
  assert.equal(smoke.rounds, 1);
  // The smoke run keeps one throttled profile so that the profile code runs in make test.
  assert.ok(smoke.profiles.some((p) => PROFILES[p].rttMs > 0));
  assert.deepEqual(parseArgs([]).profiles, ["loopback", "4g", "slow-4g"]);
  assert.throws(() => parseArgs(["--profiles", "3g"]), /unknown 3g/);
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
    loadRedis: { sessionToken: { requestsPerSec: 4, non2xx: 0, latencyMs: { p50: 1, p99: 3 } } },
    firefox: { clients: ["ours", "official"], summary: { ours: { navToFirstFrame: { median: 300 } }, official: { navToFirstFrame: { median: 350 } } } },
  };
  assert.deepEqual(checkSmoke(good, ["size", "load", "firefox"]), []);
  // The Redis row and the Firefox section are required when their parts ran.
  assert.ok(checkSmoke({ ...good, loadRedis: { error: "no redis-server" } }, ["load"]).some((p) => p.includes("no redis-server")));
  assert.ok(checkSmoke({ ...good, loadRedis: { sessionToken: { requestsPerSec: 4, non2xx: 3 } } }, ["load"]).some((p) => p.includes("Redis")));
  assert.ok(checkSmoke({ ...good, firefox: undefined }, ["firefox"]).some((p) => p.includes("firefox: missing")));
  const noFrame = structuredClone(good);
  noFrame.firefox.summary.official.navToFirstFrame.median = null;
  assert.ok(checkSmoke(noFrame, ["firefox"]).some((p) => p.includes("firefox official")));
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
  assert.match(md, /Not measured: no anam-backend binary/);

  // The Redis row beside the in-process one, and the Firefox section with ours over official.
  const stat = (rps, p99) => ({ requestsPerSec: rps, latencyMs: { p50: 1, p99 }, requests: 10, non2xx: 0, socketErrors: 0 });
  const more = renderReport({
    ...results,
    load: { threads: 2, connections: 32, seconds: 1, healthz: stat(900, 2), sessionToken: stat(500, 4) },
    loadRedis: { sessionToken: stat(400, 6) },
    firefox: {
      version: "153.8.0esr", rounds: 2, clients: ["ours", "official"], failures: [],
      summary: { ours: { runs: 2, navToFirstFrame: { median: 300, p90: 320 }, createToPlayStarted: { median: 200, p90: 210 } },
        official: { runs: 2, navToFirstFrame: { median: 400, p90: 420 }, createToPlayStarted: { median: 250, p90: 260 } } },
      ratios: { oursVsOfficial: { navToFirstFrame: 0.75, navToFirstFrameInterval: [0.7, 0.8] } },
    },
  });
  assert.match(more, /\| POST \/api\/session-token, in-process limits \| 500 \|/);
  assert.match(more, /\| POST \/api\/session-token, limits in Redis \| 400 \|/);
  assert.match(more, /## First frame in Firefox/);
  assert.match(more, /\| official 4\.27\.0 \| 2 \(0\) \| 400\.0 ms \(420\.0 ms\) \| 250\.0 ms \(260\.0 ms\) \| 0\.75× \(0\.70–0\.80\) \|/);
});

/** A two-client, two-visit ttff result for one profile, from navigation → first frame samples. */
function fakeTtff(profile, samples) {
  const runs = { cold: [], warm: [] };
  for (const [client, byVisit] of Object.entries(samples)) {
    for (const [visit, xs] of Object.entries(byVisit)) {
      xs.forEach((x, round) => runs[visit].push({ round, ...runFromMarks(client, { marks: { createClient: 10, "first frame": x, VIDEO_PLAY_STARTED: x }, resources: [] }), bytesReceived: 1000 }));
    }
  }
  const clients = Object.keys(samples);
  const visits = { cold: summarizeRuns(runs.cold, clients), warm: summarizeRuns(runs.warm, clients) };
  return { profiles: [profile], visits: ["cold", "warm"], warmup: 0, byProfile: { [profile]: { clients, rounds: 5, shaping: { applied: true, qdisc: "qdisc tbf 8001: root rate 9Mbit" }, visits, runs, failures: [] } } };
}

test("the inline floor page: floor.html with floor.js's code in place of its import", async () => {
  const { inlineFloorPage } = await import("../lib/setup.mjs");
  const html = '<head>\n<!-- The page\'s own code is a module of the bench\'s;\n     more -->\n<link rel="modulepreload" href="floor.js">\n</head>\n<script type="module">\nimport { runFloor, openMany } from "./floor.js";\nrunFloor();\n</script>\n';
  const page = inlineFloorPage(html, "const B = 1;\nexport async function runFloor() {}\nexport function openMany() {}\n");
  assert.equal(page, '<head>\n</head>\n<script type="module">\nconst B = 1;\nasync function runFloor() {}\nfunction openMany() {}\nrunFloor();\n</script>\n');
  assert.throws(() => inlineFloorPage(html.replace("./floor.js", "./other.js"), "x"), /floor\.js/);
});

test("round trips: the longest chain of exchanges one after another, up to the first frame", () => {
  const xs = [
    { name: "document", start: 0, end: 100 },
    { name: "probe.js", start: 101, end: 200 },
    { name: "module", start: 101, end: 210 },
    { name: "wasm", start: 210, end: 400 },
    { name: "token", start: 205, end: 300 },
    { name: "start-session", start: 300, end: 380 },
    { name: "socket handshake", start: 380, end: 450 },
    { name: "offer → answer", start: 450, end: 520 },
    { name: "after", start: 600, end: 700 },
  ];
  const r = sequentialRoundTrips(xs, 550);
  assert.equal(r.count, 6);
  assert.deepEqual(r.chain, ["document", "probe.js", "token", "start-session", "socket handshake", "offer → answer"]);
  assert.equal(sequentialRoundTrips([], 10).count, 0);
  // Exchanges come from the page's HTML, its uncached resources and the socket's marks.
  const ex = exchanges({
    marks: { "socket created": 5, "socket open": 9, "offer sent": 9, "answer received": 12 },
    resources: [{ name: "http://b/pkg/x.wasm", start: 1, end: 2, cached: true }, { name: "http://b/api/session-token", start: 2, end: 4, cached: false }],
    navigation: { start: 0, end: 1 },
  });
  assert.deepEqual(ex.map((e) => e.name), ["document", "/api/session-token", "socket handshake", "offer → answer"]);
});

test("profiles: CDP conditions in bytes/s with the round trip as latency, tbf at the down rate, none for loopback", () => {
  assert.equal(cdpConditions("loopback"), null);
  assert.deepEqual(cdpConditions("slow-4g"), { offline: false, latency: 150, downloadThroughput: 200000, uploadThroughput: 93750 });
  assert.deepEqual(tbfArgs("4g").slice(0, 2), ["rate", "9000kbit"]);
  assert.equal(tbfArgs("loopback"), null);
  assert.deepEqual(Object.keys(PROFILES), PROFILE_NAMES);
});

test("the WebSocket relay passes the handshake at once and delays later bytes", async () => {
  const net = await import("node:net");
  const server = net.createServer((s) => {
    s.once("data", () => {
      s.write("HTTP/1.1 101 Switching Protocols\r\n\r\n");
      s.on("data", (d) => s.write(d));
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const relay = await startWsRelay({ host: "127.0.0.1", port: server.address().port }, 40);
  const sock = net.connect(relay.port, "127.0.0.1");
  const next = () => new Promise((r) => sock.once("data", r));
  let t = performance.now();
  sock.write("GET / HTTP/1.1\r\n\r\n");
  await next();
  const handshake = performance.now() - t;
  t = performance.now();
  sock.write("ping");
  const echoed = String(await next());
  const echo = performance.now() - t;
  sock.destroy();
  await relay.stop();
  server.close();
  assert.equal(echoed, "ping");
  assert.ok(handshake < 40, `handshake took ${handshake} ms`);
  assert.ok(echo >= 79, `echo took ${echo} ms, expected two 40 ms legs`);
});

test("profile tables, targets judged on the interval, the strip plot, and kept hand-written sections", async () => {
  const { renderReport, keptSections } = await import("../lib/report.mjs");
  const ttff = fakeTtff("4g", {
    ours: { cold: [500, 510, 520, 530, 540], warm: [300, 310, 320, 330, 340] },
    official: { cold: [700, 710, 720, 730, 740], warm: [330, 320, 310, 300, 290] },
    "floor-inline": { cold: [400, 405, 410, 415, 420], warm: [300, 301, 302, 303, 304] },
  });
  const md = renderReport({ machine: {}, ttff, plotFile: "bench-first-frame.svg" }, { previous: "# B\n\n## Time to first frame\nold\n\n## Loader notes\nkeep me\n" });
  assert.match(md, /^# Benchmarks[^\n]*\n\n!\[[^\]]+\]\(bench-first-frame\.svg\)/);
  assert.match(md, /### 4G/);
  assert.match(md, /4G, cold first visit: ours ≤ 0\.9× official, navigation → first frame \| 0\.72× \([0-9.]+–[0-9.]+\) \| met/);
  // The inline floor's repeat visit is above 0.9× the official's: the verdict says no client reaches it.
  assert.match(md, /4G, repeat visit: ours ≤ 0\.9× official[^|]*\| 1\.03× \([0-9.]+–[0-9.]+\) \| (\*\*not met\*\*|not decided[^;]*); out of any client's reach: inline floor \/ official 0\.97×/);
  assert.match(md, /\| inline floor \/ official \(the bound on any client\) \| 0\.57× /);
  assert.match(md, /## Loader notes\nkeep me/);
  assert.doesNotMatch(md, /\nold\n/);
  assert.deepEqual(keptSections("x\n## A\na\n## B\nb\n", "## A\n"), ["## B\nb"]);
  const svg = stripPlot(ttff);
  assert.match(svg, /^<svg [^>]*viewBox/);
  assert.equal((svg.match(/<circle /g) ?? []).length, 30 + 2); // one per run, and the legend's two
  assert.match(svg, /4G: 9 Mbit\/s down/);
  assert.equal(tickStep(740), 200);
});
