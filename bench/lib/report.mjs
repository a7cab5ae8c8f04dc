// Renders results.json as docs/BENCHMARKS.md: the hand-written method (bench/HEADER.md) and
// then only generated tables, so every number in the document is one the run measured.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { MILESTONES } from "../measure/ttff.mjs";
import { PROFILES } from "./profiles.mjs";

const VISIT_LABEL = { cold: "cold first visit", warm: "repeat visit" };

const HERE = path.dirname(fileURLToPath(import.meta.url));

const isNum = (x) => typeof x === "number" && Number.isFinite(x);
export const ms = (x) => (isNum(x) ? `${x.toFixed(1)} ms` : "–");
export const bytes = (x) => (isNum(x) ? `${Math.round(x).toLocaleString("en-US")} B (${(x / 1024).toFixed(1)} KiB)` : "–");
const kib = (x) => (isNum(x) ? `${(x / 1024).toFixed(1)} KiB` : "–");
const signedKib = (x) => (isNum(x) ? `${x >= 0 ? "+" : ""}${(x / 1024).toFixed(1)} KiB` : "–");
const times = (x) => (isNum(x) ? `${x.toFixed(2)}×` : "–");
/** A createClient → play ratio with its bootstrap interval, e.g. "1.18× (1.05–1.30)". */
const playRatio = (r) => {
  const [x, iv] = [r?.createToPlayStarted, r?.createToPlayStartedInterval];
  return isNum(x) && iv ? `${times(x)} (${iv[0].toFixed(2)}–${iv[1].toFixed(2)})` : times(x);
};
const num = (x, d = 0) => (isNum(x) ? x.toFixed(d) : "–");

function table(head, rows) {
  const esc = (c) => String(c ?? "–").replace(/\|/g, "\\|");
  return [`| ${head.map(esc).join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`)].join("\n");
}

const failed = (r) => (r?.error ? `Not measured: ${r.error}\n` : null);
const LABEL = {
  ours: "anam-wasm (ours, README page)",
  official: "@anam-ai/js-sdk",
  floor: "raw-JS floor",
  "floor-mic": "raw-JS floor + microphone",
  "ours-nomic": "anam-wasm, no microphone",
  "ours-pool2": "anam-wasm, ICE candidate pool 2",
  "ours-eager": "anam-wasm, wasm compiled eagerly (browser flag)",
  "ours-nohints": "anam-wasm, README page without its preload hints",
  // Shown where the README page and the driver page must not be confused.
  "floor-sdk-order": "raw-JS floor, SDK order",
  "floor-inline": "raw-JS floor + microphone, code inline",
};

function runSection(r) {
  const m = r.machine ?? {};
  return [
    "## This run",
    "",
    table(["", ""], [
      ["command", `\`${r.command}\``],
      ["date", m.date],
      ["machine", `${m.nproc} CPUs (${m.cpuModel}), ${m.ramGiB} GiB RAM, ${m.distro ?? m.os}`],
      ["kernel", m.os],
      ["load average (1/5/15 min)", `${m.loadAverage?.join(" / ") ?? "–"} at the start, ${r.loadAverageAtEnd?.join(" / ") ?? "–"} at the end (${m.nproc} CPUs)`],
      ["Chromium", m.chromium],
      ["Node", m.node],
      ["wrk", m.wrk],
      ["official SDK", `@anam-ai/js-sdk ${r.officialVersion}`],
      ["source", `git ${m.gitCommit}${m.gitDirty ? " with uncommitted changes" : ""}`],
      ["servers", `${r.binaries?.emulator} / ${r.binaries?.backend ?? "no backend"}`],
      ["package measured", `${r.pkgDir}/`],
      ["token", r.tokenSource],
      ["first-frame rounds", r.ttff?.byProfile ? Object.entries(r.ttff.byProfile).map(([p, x]) => `${PROFILES[p].label} ${x.rounds} (${x.clients.length} clients)`).join(", ") + ` + ${r.ttff.warmup} warm-up round(s); visits: ${r.ttff.visits.join(", ")}` : "–"],
      ["duration", `${num(r.durationSeconds)} s (${num(r.durationSeconds / 60, 1)} min)${r.ttff?.durationSeconds ? `, of which first frame ${num(r.ttff.durationSeconds / 60, 1)} min` : ""}`],
    ]),
    "",
  ].join("\n");
}

function sizeSection(s) {
  const out = ["## Size", ""];
  if (failed(s)) return [...out, failed(s)].join("\n");
  const rows = s.ours.files.map((f) => [`ours: ${f.file}`, bytes(f.raw), bytes(f.gzip), bytes(f.brotli)]);
  rows.push(["**ours, total a page loads**", bytes(s.ours.total.raw), bytes(s.ours.total.gzip), bytes(s.ours.total.brotli)]);
  rows.push([`official ${s.official.version}: ${s.official.file}`, bytes(s.official.raw), bytes(s.official.gzip), bytes(s.official.brotli)]);
  rows.push(["**ratio ours / official**", times(s.ratios.raw), times(s.ratios.gzip), times(s.ratios.brotli)]);
  out.push(table(["", "raw", "gzip -9", "brotli (q 11)"], rows), "");
  if (s.shippedHasNameSection) {
    out.push("**Warning:** the measured wasm still has its `name` section, so it is not the `-Oz` release build that `make pkg` produces (wasm-opt strips names); its size overstates a release build.", "");
  }
  if (s.shippedWasmSections) {
    out.push("Sections of the shipped wasm:", "", table(["section", "bytes"], s.shippedWasmSections.map((x) => [x.name, x.bytes.toLocaleString("en-US")])), "");
  }
  const a = s.attribution;
  if (a?.error) out.push(`Where the bytes go: not measured (${a.error}).`, "");
  else if (a) {
    out.push(
      "### Where the wasm bytes go",
      "",
      `Analysed: ${a.source}, ${a.totalBytes.toLocaleString("en-US")} B of which ${a.codeSectionBytes.toLocaleString("en-US")} B code section. Tool: ${a.tool}.`,
      "Function bodies grouped by the crate named first in their symbol (a monomorphised generic counts toward the crate that defines it, e.g. `alloc` or `core`, not the crate that used it):",
      "",
      table(
        ["crate", "bytes", "share of code", "functions", "gzip -9 on its own"],
        a.byCrate.slice(0, 15).map((c) => [c.crate, c.bytes.toLocaleString("en-US"), `${((c.bytes / a.codeSectionBytes) * 100).toFixed(1)}%`, c.functions, c.gzip?.toLocaleString("en-US") ?? "–"]),
      ),
      "",
    );
    if (a.ownCode) {
      const o = a.ownCode;
      const verdict = o.gzipRatioToOfficial > 1
        ? ": no saving in the standard library, wasm-bindgen or the allocator under it could close the size gap on its own"
        : "";
      out.push(
        `Our own code (${o.crates.map((c) => `\`${c}\``).join(" + ")}: ${o.bytes.toLocaleString("en-US")} B of function bodies) adds ${o.gzip.toLocaleString("en-US")} B to the gzip -9 size of the function bodies (all of them compressed, less all but ours compressed), ${times(o.gzipRatioToOfficial)} the official bundle's whole gzip size${verdict}. It is an underestimate: our async bodies, monomorphised inside \`js_sys::futures\`, count toward \`js_sys\`.`,
        "",
      );
    }
    out.push(
      "Largest functions:",
      "",
      table(["bytes", "function"], a.topFunctions.slice(0, 12).map((f) => [f.bytes.toLocaleString("en-US"), `\`${(f.name ?? `#${f.index}`).slice(0, 110)}\``])),
      "",
    );
    if (a.twiggy) out.push("`twiggy top`:", "", "```", a.twiggy.trim(), "```", "");
  }
  return out.join("\n");
}

/** A warning when the machine was busier than its CPU count during the run. */
function busyNote(m) {
  const load = m?.loadAverage?.[0];
  if (!isNum(load) || !isNum(m?.nproc) || load <= m.nproc) return [];
  return [
    `**Caution:** the 1-minute load average was ${load} on ${m.nproc} CPUs when this run started (other work on the machine), so the spread is wide: read differences smaller than the gap between a client's median and p90 as noise, and re-run on an idle machine before relying on them.`,
    "",
  ];
}

function ttffSection(t) {
  const out = ["## Time to first frame on loopback, cold: every client and the breakdown", ""];
  if (failed(t)) return [...out, failed(t)].join("\n");
  const clients = t.clients.filter((c) => t.summary[c]);
  out.push(
    `The loopback profile's cold first visits in detail: ${t.rounds} measured rounds after ${t.warmup} warm-up round(s); each round runs every client once in a browser profile of its own, the order rotating by one per round. "ours" is the README's first example (\`bench/pages/readme.html\`); "no microphone" and "ICE candidate pool 2" use the bench's driver page (\`bench/pages/ours.html\`: \`init()\` and the token request together).`,
    "",
    table(
      ["client", "runs (failed)", "createClient → VIDEO_PLAY_STARTED median", "p90", "navigation → first painted frame median", "p90", "first frame sent was the first painted", "client code transferred"],
      clients.map((c) => {
        const s = t.summary[c];
        return [LABEL[c] ?? c, `${s.runs} (${s.failures})`, ms(s.createToPlayStarted.median), ms(s.createToPlayStarted.p90), ms(s.navToFirstFrame.median), ms(s.navToFirstFrame.p90), `${s.firstSentPainted ?? "–"} of ${s.runs}`, bytes(s.clientBytesTransferred.median)];
      }),
    ),
    "",
    ...busyNote(t.machine),
    "For the floor pages \"createClient\" is the moment the page starts the session (token in hand) and \"VIDEO_PLAY_STARTED\" is the first painted frame; on the README page it is the `createClient` call, before the token request its token provider makes.",
    "",
    table(
      ["ratio of medians", "createClient → play (95% bootstrap interval)", "navigation → first frame"],
      [
        ["ours / official", t.ratios.oursVsOfficial],
        ["ours / floor", t.ratios.oursVsFloor],
        ["official / floor", t.ratios.officialVsFloor],
        ["ours / floor, SDK order", t.ratios.oursVsFloorSdkOrder],
        ["ours / floor + microphone", t.ratios.oursVsFloorMic],
        ["ours without microphone / floor", t.ratios.oursNoMicVsFloor],
        ["ours / ours with an ICE candidate pool of 2", t.ratios.oursVsPool2],
        ["ours / ours compiled eagerly", t.ratios.oursVsEager],
        ["ours compiled eagerly / the faster floor", t.ratios.eagerVsFastestFloor],
      ].map(([label, r]) => [label, playRatio(r), times(r?.navToFirstFrame)]),
    ),
    "",
    "The interval resamples each client's runs (4,000 draws): where it straddles a target, this run cannot tell whether the target is met.",
    "",
    "### Breakdown by milestone",
    "",
    "Median ms after createClient (token and client load: ms after navigation start). Marks come from the probe that every page loads first (`bench/pages/probe.js`): it observes the page's WebSocket and RTCPeerConnection and the `<video>` element, so the same milestones exist for every client; start-session and token are the requests' `responseEnd` from Resource Timing, and \"start-session sent\" is that request's `startTime`; \"offer/answer being set\" is the client's call of `setLocalDescription`/`setRemoteDescription` (\"offer set\" and \"answer applied\" the signalling state that follows), \"first local candidate\" the first `icecandidate` event and \"first remote candidate added\" the first `addIceCandidate` call.",
    "",
    table(["milestone", ...clients.map((c) => LABEL[c] ?? c)], MILESTONES.map((m) => [m, ...clients.map((c) => ms(t.summary[c].breakdown[m]?.median))])),
    "",
  );
  if (t.failures?.length) out.push(`Failed runs: ${t.failures.map((f) => `${f.client} (round ${f.round + 1}): ${f.error.slice(0, 160)}`).join("; ")}`, "");
  return out.join("\n");
}

function memorySection(mem) {
  const out = ["## Memory over stream/stop cycles", ""];
  if (!mem) return "";
  const rows = [];
  const series = [];
  for (const c of ["ours", "official"]) {
    const m = mem[c];
    if (!m || m.error) {
      rows.push([LABEL[c], `not measured: ${m?.error?.slice(0, 200) ?? "missing"}`, "", "", "", "", ""]);
      continue;
    }
    rows.push([
      LABEL[c],
      m.cycles,
      kib(m.samples[0].jsHeapUsed),
      kib(m.jsHeapAfterFirst),
      kib(m.jsHeapAfterLast),
      `${signedKib(m.jsHeapSlopePerCycle)}/cycle (last half ${signedKib(m.jsHeapSlopeSecondHalf)}/cycle)`,
      m.wasmMemoryAfterFirst === null ? "n/a (no wasm)" : `${kib(m.wasmMemoryAfterFirst)} → ${kib(m.wasmMemoryAfterLast)} (${signedKib(m.wasmMemorySlopePerCycle)}/cycle)`,
    ]);
    series.push(`- ${LABEL[c]}, JS heap after each cycle (KiB): ${m.samples.map((s) => (s.jsHeapUsed / 1024).toFixed(0)).join(", ")}`);
    if (m.wasmMemoryAfterFirst !== null) series.push(`- ${LABEL[c]}, wasm memory after each cycle (KiB): ${m.samples.map((s) => (s.wasmMemory / 1024).toFixed(0)).join(", ")}`);
    series.push(`- ${LABEL[c]}, DOM nodes / JS event listeners slope: ${num(m.domNodesSlopePerCycle, 2)} / ${num(m.listenersSlopePerCycle, 2)} per cycle`);
    if (m.failures?.length) series.push(`- ${LABEL[c]}: ${m.failures.length} of ${m.cycles} cycles failed (${m.failures.map((f) => `cycle ${f.cycle}: ${f.error.slice(0, 120)}`).join("; ")}); the sample after a failed cycle is still taken`);
  }
  out.push(
    "One client object per page; each cycle is streamToVideoElement → SESSION_READY → a painted frame → stopStreaming. After each cycle the bench forces two full GCs (CDP `HeapProfiler.collectGarbage`) and reads `Runtime.getHeapUsage`; the slope is a least-squares fit over cycles 1…N (cycle 0 is before the first session), and over the last half of them.",
    "",
    table(["client", "cycles", "JS heap before", "after cycle 1", "after last", "JS heap slope", "wasm memory"], rows),
    "",
    ...series,
    "",
  );
  return out.join("\n");
}

function talkSection(talk) {
  if (!talk) return "";
  const rows = ["ours", "official"].map((c) => {
    const t = talk[c];
    if (!t || t.error) return [LABEL[c], `not measured: ${t?.error?.slice(0, 200) ?? "missing"}`, "", "", "", "", ""];
    return [LABEL[c], t.count, ms(t.promise.median), ms(t.promise.p99), ms(t.receipt.median), ms(t.receipt.p99), ms(t.resolution.median)];
  });
  return [
    "## Talk latency",
    "",
    "Two upper bounds on \"talk() call → the emulator received the text\", per client on one live session: (1) the `talk()` promise, which resolves when the emulator has answered `POST /talk` (it answers after accepting the text); (2) the emulator session's own `talkTextsReceived` counter, polled back-to-back from Node through `GET /_emulator/sessions` (the emulator keeps no receipt timestamp), reported as the upper end of the polling bracket, whose median width is the last column. With fewer than 100 samples p99 is the largest sample.",
    "",
    table(["client", "talks", "talk() resolved median", "p99", "counted by session median", "p99", "poll resolution"], rows),
    "",
  ].join("\n");
}

function loadSection(l, redis) {
  const out = ["## Backend load", ""];
  if (!l) return "";
  if (failed(l)) return [...out, failed(l)].join("\n");
  const redisRow = redis && !failed(redis) ? [["POST /api/session-token, limits in Redis", redis.sessionToken]] : [];
  out.push(
    `\`wrk -t${l.threads} -c${l.connections} -d${l.seconds}s --latency\` on loopback against release builds; wrk, anam-backend and anam-emulator share the machine's cores. Each session-token request makes the backend mint a token at the emulator. The in-process limiter is the default; "limits in Redis" is a second backend with \`REDIS_URL\` set (a local \`redis-server\`), one Lua script call per request.`,
    "",
    table(
      ["route", "requests/s", "p50", "p99", "requests", "non-2xx", "socket errors"],
      [["GET /healthz", l.healthz], ["POST /api/session-token, in-process limits", l.sessionToken], ...redisRow].map(([n, r]) => [n, num(r?.requestsPerSec), ms(r?.latencyMs?.p50), ms(r?.latencyMs?.p99), r?.requests, r?.non2xx, r?.socketErrors]),
    ),
    "",
  );
  if (redis && failed(redis)) out.push(`Limits in Redis: ${failed(redis)}`, "");
  return out.join("\n");
}

function firefoxSection(f) {
  const out = ["## First frame in Firefox", ""];
  if (!f) return "";
  if (failed(f)) return [...out, failed(f)].join("\n");
  const label = { ours: "anam-wasm (README page)", official: "official 4.27.0", "floor-mic": "raw-JS floor + microphone" };
  const ratios = { ours: null, official: f.ratios?.oursVsOfficial, "floor-mic": f.ratios?.oursVsFloorMic };
  out.push(
    `Firefox ${f.version || "ESR"} over WebDriver BiDi (\`bench/measure/firefox.mjs\`), loopback only (Firefox has no DevTools network emulation), the same pages and probe marks as the Chromium rows; ${f.rounds} rounds, the order reversed every other round, each run in a new browser context (its own HTTP cache: a cold visit). Medians, p90 in brackets; the last column is ours over that client, with its 95% interval.`,
    "",
    table(
      ["client", "runs (failed)", "navigation → first painted frame", "createClient → VIDEO_PLAY_STARTED", "ours / this client"],
      f.clients.map((c) => {
        const s = f.summary?.[c];
        const fails = f.failures?.filter((x) => x.client === c).length ?? 0;
        return [
          label[c] ?? c,
          `${s?.runs ?? 0} (${fails})`,
          `${ms(s?.navToFirstFrame?.median)} (${ms(s?.navToFirstFrame?.p90)})`,
          `${ms(s?.createToPlayStarted?.median)} (${ms(s?.createToPlayStarted?.p90)})`,
          c === "ours" ? "–" : navRatio(ratios[c]),
        ];
      }),
    ),
    "",
  );
  return out.join("\n");
}

function capacitySection(c) {
  const out = ["## Emulator: concurrent sessions at 25 fps", ""];
  if (!c) return "";
  if (failed(c)) return [...out, failed(c)].join("\n");
  out.push(
    `Sessions opened by the raw-JS floor code in one headless page (no video rendering), the session count stepped up until one session's frame rate, as the emulator counts frames sent over a ${num(c.windowMs / 1000, 1)} s window, fell below ${c.heldFps} fps. The browser runs on the same cores as the emulator.`,
    "",
    `**Largest count held at ≥ ${c.heldFps} fps: ${c.maxSessionsHeld} sessions.**`,
    "",
    table(["sessions", "min fps", "median fps"], c.steps.map((s) => [s.sessions, s.error ? `failed: ${s.error.slice(0, 120)}` : num(s.minFps, 1), s.error ? "" : num(s.medianFps, 1)])),
    "",
  );
  return out.join("\n");
}

/** A navigation → first frame ratio with its interval. */
const navRatio = (r) => {
  const [x, iv] = [r?.navToFirstFrame, r?.navToFirstFrameInterval];
  return isNum(x) && iv ? `${times(x)} (${iv[0].toFixed(2)}–${iv[1].toFixed(2)})` : times(x);
};
/** "met" when the interval's upper end is within `target`, "not met" when its lower end is over. */
function judge(r, target) {
  const iv = r?.navToFirstFrameInterval;
  if (!iv) return "not measured";
  if (iv[1] <= target) return "met";
  if (iv[0] > target) return "**not met**";
  return "not decided (interval straddles the target)";
}

/**
 * A verdict on "≤ target× official", with what the inline floor (the fastest page that speaks
 * the protocol) says about reaching it: when even its interval lies above the target, no client
 * can meet it under that profile.
 */
function withBound(verdict, bound, target) {
  if (verdict === "met" || !bound?.navToFirstFrameInterval) return verdict;
  const reach = bound.navToFirstFrameInterval[0] > target ? "out of any client's reach" : "within reach";
  return `${verdict}; ${reach}: inline floor / official ${navRatio(bound)}`;
}

/** The targets, each judged from the measured numbers only. */
function targetsSection(r) {
  const rows = [];
  const verdict = (ok) => (ok === null ? "not measured" : ok ? "met" : "**not met**");
  const sizeRatio = r.size?.ratios?.gzip ?? null;
  rows.push(["gzip size ≤ official (ratio ≤ 1.0)", times(sizeRatio), verdict(sizeRatio === null ? null : sizeRatio <= 1.0)]);
  for (const profile of r.ttff?.profiles ?? []) {
    for (const visit of r.ttff.visits) {
      const ratios = r.ttff.byProfile[profile]?.visits?.[visit]?.ratios;
      if (!ratios) continue;
      const where = `${PROFILES[profile].label}, ${VISIT_LABEL[visit]}`;
      rows.push([`${where}: ours ≤ 0.9× official, navigation → first frame`, navRatio(ratios.oursVsOfficial), withBound(judge(ratios.oursVsOfficial, 0.9), ratios.inlineFloorVsOfficial, 0.9)]);
      rows.push([`${where}: ours ≤ 1.15× the raw-JS floor + microphone, navigation → first frame`, navRatio(ratios.oursVsFloorMic), judge(ratios.oursVsFloorMic, 1.15)]);
    }
  }
  const m = r.memory?.ours;
  if (m && !m.error) {
    // "Flat": over the second half of the cycles (after one-time caches have filled) the fitted
    // growth, extrapolated over that half, stays under 1% of the heap and of the wasm memory.
    const half = Math.ceil(m.cycles / 2);
    const jsGrowth = (m.jsHeapSlopeSecondHalf ?? 0) * half;
    const wasmGrowth = (m.wasmMemorySlopeSecondHalf ?? 0) * half;
    const flat = jsGrowth <= 0.01 * m.jsHeapAfterLast && wasmGrowth <= 0.01 * (m.wasmMemoryAfterLast ?? Infinity) && !m.failures?.length;
    rows.push([
      "memory flat across cycles (growth over the last half of the cycles < 1% of heap)",
      `JS ${signedKib(m.jsHeapSlopeSecondHalf)}/cycle in the last half (${signedKib(m.jsHeapSlopePerCycle)}/cycle over all), wasm ${signedKib(m.wasmMemorySlopePerCycle)}/cycle`,
      verdict(flat),
    ]);
  } else rows.push(["memory flat across cycles", "–", verdict(null)]);
  return [
    "## Targets",
    "",
    "First-frame targets are judged on navigation → first painted frame, the one span every page has from the same start (on the README page the token request comes after `createClient`, on the others before), as a ratio of medians with its 95% bootstrap interval: \"met\" when the whole interval is at or under the target, \"not decided\" when it straddles it.",
    "",
    table(["target", "measured", "status"], rows),
    "",
  ].join("\n");
}

/** What a profile imposes, in words, from the run's own record of it. */
function profileLine(name, p) {
  const c = PROFILES[name];
  if (c.downKbps === null) return "no throttling: every byte at loopback speed.";
  const tbf = p.shaping?.applied ? `\`${p.shaping.qdisc}\`` : `not shaped (${p.shaping?.reason ?? "unknown"})`;
  return `${c.downKbps / 1000} Mbit/s down, ${c.upKbps / 1000} Mbit/s up, ${c.rttMs} ms round trip. HTTP, the WebSocket handshake and (in Chromium, more heavily) WebRTC: DevTools emulation; WebSocket frames: ${c.rttMs / 2} ms each way through the bench's relay; all loopback traffic, WebRTC included: ${tbf} on \`lo\`.`;
}

/** The headline tables: every client under every profile, cold and repeat visits. */
function profilesSection(t) {
  const out = ["## First frame by network profile", ""];
  if (!t) return "";
  if (failed(t)) return [...out, failed(t)].join("\n");
  out.push(
    "Medians over the measured rounds (p90 in brackets). *Received* is what the page received before its first frame over HTTP and the signalling WebSocket (response bodies and headers as transferred, WebSocket payloads; not the WebRTC media, the same for every client); *round trips* is the longest chain of request/response exchanges on the page's timeline that ran one after another before the first frame (see \"How each number is taken\").",
    "",
  );
  for (const profile of t.profiles) {
    const p = t.byProfile[profile];
    if (!p) continue;
    out.push(`### ${PROFILES[profile].label}`, "", profileLine(profile, p), "");
    const rows = [];
    for (const c of p.clients) {
      for (const v of t.visits) {
        const s = p.visits[v]?.summary?.[c];
        if (!s) continue;
        const cached = s.wasmCodeCached === null || v === "cold" ? "" : ` (wasm code cached in ${s.wasmCodeCached} of ${s.runs})`;
        rows.push([
          LABEL[c] ?? c,
          `${VISIT_LABEL[v]}${cached}`,
          `${s.runs} (${s.failures ?? 0})`,
          `${ms(s.navToFirstFrame.median)} (${ms(s.navToFirstFrame.p90)})`,
          `${ms(s.createToPlayStarted.median)} (${ms(s.createToPlayStarted.p90)})`,
          kib(s.bytesReceived.median),
          num(s.roundTrips.median, 1),
        ]);
      }
    }
    out.push(
      table(["client", "visit", "runs (failed)", "navigation → first painted frame", "createClient → VIDEO_PLAY_STARTED", "received", "round trips"], rows),
      "",
    );
    const ratioRows = [
      ["ours / official", "oursVsOfficial"],
      ["ours / raw-JS floor + microphone", "oursVsFloorMic"],
      ["official / raw-JS floor + microphone", "officialVsFloorMic"],
      ["ours compiled eagerly / official", "eagerVsOfficial"],
      ["ours compiled eagerly / raw-JS floor + microphone", "eagerVsFloorMic"],
      ["ours / ours compiled eagerly", "oursVsEager"],
      ["ours / ours without the preload hints", "oursVsNoHints"],
      ["ours / raw-JS floor", "oursVsFloor"],
      ["ours / raw-JS floor, SDK order", "oursVsFloorSdkOrder"],
      ["inline floor / official (the bound on any client)", "inlineFloorVsOfficial"],
      ["ours / inline floor", "oursVsInlineFloor"],
    ];
    const head = ["ratio of medians (95% interval)", ...t.visits.flatMap((v) => [`${VISIT_LABEL[v]}: navigation → first frame`, `${VISIT_LABEL[v]}: createClient → play`])];
    const body = ratioRows
      .filter(([, k]) => t.visits.some((v) => isNum(p.visits[v]?.ratios?.[k]?.navToFirstFrame)))
      .map(([label, k]) => [label, ...t.visits.flatMap((v) => [navRatio(p.visits[v]?.ratios?.[k]), playRatio(p.visits[v]?.ratios?.[k])])]);
    out.push(table(head, body), "");
    const chains = ["ours", "official", "floor-mic", "floor-inline"]
      .map((c) => [c, p.visits.cold?.summary?.[c]])
      .filter(([, s]) => s?.roundTripChain?.length)
      .map(([c, s]) => `- ${LABEL[c]}: ${s.roundTripChain.map((x) => `\`${x}\``).join(" → ")}`);
    if (chains.length) out.push("Sequential exchanges before the first frame, cold visit (the run with the median count):", "", ...chains, "");
    if (p.failures?.length) out.push(`Failed runs: ${p.failures.map((f) => `${f.client} (round ${f.round + 1}): ${f.error.slice(0, 160)}`).join("; ")}`, "");
  }
  return out.join("\n");
}

/**
 * The sections of `previous` (a docs/BENCHMARKS.md) that this renderer does not write, by their
 * "## " heading: other work appends notes there, and a bench run must not erase them. `retired`
 * names headings older versions of the renderer wrote, which are dropped.
 */
export function keptSections(previous, generated, retired = []) {
  const headings = (md) => [...md.matchAll(/^## (.+)$/gm)].map((m) => m[1].trim());
  const ours = new Set([...headings(generated), ...retired]);
  const parts = previous.split(/^(?=## )/m).slice(1);
  return parts.filter((part) => !ours.has(part.split("\n")[0].slice(3).trim())).map((x) => x.trimEnd());
}

/** Headings earlier versions of this report wrote. */
export const RETIRED_HEADINGS = ["Time to first frame", "Targets (issue 7)"];

export function renderReport(results, { previous = "" } = {}) {
  const header = readFileSync(path.join(HERE, "..", "HEADER.md"), "utf8").trim();
  const [title, ...intro] = header.split("\n");
  const t = results.ttff;
  const picture = t && !t.error && results.plotFile
    ? [`![Navigation → first painted frame of every run, per client, cold and repeat visits, one panel per network profile](${results.plotFile})\n`]
    : [];
  const loopbackCold = t?.byProfile?.loopback?.visits?.cold;
  const body = [
    `${title}\n`,
    ...picture,
    profilesSection(t),
    `${intro.join("\n").trim()}\n`,
    "<!-- Everything below is generated by bench/run.mjs from target/bench/results.json. -->",
    "",
    runSection(results),
    targetsSection(results),
    sizeSection(results.size ?? { error: "not run" }),
    loopbackCold
      ? ttffSection({ ...loopbackCold, clients: t.byProfile.loopback.clients, rounds: t.byProfile.loopback.rounds, warmup: t.warmup, failures: t.byProfile.loopback.failures, machine: results.machine })
      : "",
    firefoxSection(results.firefox),
    memorySection(results.memory),
    talkSection(results.talk),
    loadSection(results.load, results.loadRedis),
    capacitySection(results.capacity),
  ]
    .filter(Boolean)
    .join("\n");
  const kept = keptSections(previous, body, RETIRED_HEADINGS);
  return [body, ...kept, ""].join("\n").replace(/\n{3,}/g, "\n\n");
}
