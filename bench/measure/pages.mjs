// Opening a bench page against the running servers and reading what its probe recorded.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, newPage, waitFor } from "../../tests/e2e/harness.mjs";

/**
 * The clients compared, by page (their report labels are in bench/lib/report.mjs). `page` is the
 * first-frame page; `manualPage` the one the memory and talk measurements drive (`#mode=manual`);
 * `args` extra browser flags; `wasm` marks a page whose client is a wasm module.
 */
export const CLIENTS = {
  // bench/pages/readme.html: the README's first example, as a user copies it.
  ours: { page: "readme", manualPage: "ours", sdk: true, wasm: true },
  // The same page in a browser whose V8 compiles a wasm module whole before it runs: what lazy
  // compilation costs ours, a setting no page can choose.
  "ours-eager": { page: "readme", sdk: true, wasm: true, args: ["--js-flags=--no-wasm-lazy-compilation"] },
  // The README page without the two preload hints the README recommends: what the hints buy.
  "ours-nohints": { page: "readme-nohints", sdk: true, wasm: true },
  // The bench's own driver page (init() and the token request together), with disableInputAudio:
  // no microphone, like the raw-JS floor.
  "ours-nomic": { page: "ours", sdk: true, wasm: true, hash: { mic: "0" } },
  // The driver page with the official client's iceCandidatePoolSize of 2 (ours sets none).
  "ours-pool2": { page: "ours", sdk: true, wasm: true, hash: { pool: "2" } },
  official: { page: "official", sdk: true },
  floor: { page: "floor", sdk: false },
  "floor-mic": { page: "floor", sdk: false, hash: { mic: "1" } },
  "floor-sdk-order": { page: "floor", sdk: false, hash: { order: "sdk" } },
  // floor-mic with its code inline in the page (bench/lib/setup.mjs writes it): the fastest a
  // page that speaks the protocol can be, so the bound on every client's ratio.
  "floor-inline": { page: "floor-inline", sdk: false, hash: { mic: "1" } },
};

/**
 * URL of a bench page. `env`: {origin, emulatorUrl, tokenUrl?}; the token comes from the app
 * backend (`tokenUrl`, same origin as the page) or, without a backend, is minted here.
 */
export async function pageUrl(env, page, hash = {}) {
  const h = new URLSearchParams({ api: env.emulatorUrl, ...hash });
  if (env.tokenUrl) h.set("tokenUrl", env.tokenUrl);
  else h.set("token", await env.emulator.mintToken());
  return `${env.origin}/bench/${page}.html#${h}`;
}

/**
 * Opens `client`'s page in a fresh context of `env.browser` (cold HTTP cache, own cookies);
 * `#mode=manual` opens its manual page. Used by the memory, talk and capacity measurements.
 */
export async function openClientPage(env, client, hash = {}) {
  const spec = CLIENTS[client];
  if (spec.args) throw new Error(`${client} needs its own browser flags: measure it with visitBrowser()`);
  const page = await newPage(env.browser);
  const file = hash.mode === "manual" ? (spec.manualPage ?? spec.page) : spec.page;
  const url = await pageUrl(env, file, { ...(spec.hash ?? {}), ...hash });
  await page.goto(url, { waitUntil: "load" });
  return page;
}

/**
 * A browser of its own for one client's visits, on a new profile directory: a cold first
 * visit, then repeat visits that find what the first left behind in the HTTP cache and in V8's
 * code cache. (A non-persistent context, like openClientPage's, keeps no code cache at all.)
 */
export async function visitBrowser(client) {
  const dir = mkdtempSync(path.join(tmpdir(), "anam-bench-profile-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: [...CHROMIUM_ARGS, ...(CLIENTS[client].args ?? [])],
  });
  return {
    context,
    /** Whether V8 has written compiled wasm code into this profile's cache. */
    wasmCodeCached() {
      try {
        return readdirSync(path.join(dir, "Default", "Code Cache", "wasm")).some((f) => f !== "index" && f !== "index-dir");
      } catch {
        return false;
      }
    },
    async close() {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Size in bytes of a WebSocket frame as CDP reports it (text as UTF-8, binary as base64). */
function frameBytes(frame) {
  const data = frame?.payloadData ?? "";
  return frame?.opcode === 2 ? Math.floor((data.length * 3) / 4) : Buffer.byteLength(data, "utf8");
}

/**
 * Loads `client`'s first-frame page in `page` under the network conditions `conditions` (the
 * arguments of Network.emulateNetworkConditions, or null), recording through CDP every response
 * body and WebSocket frame with its time. Returns the probe's state after `need` marks and the
 * bytes received/sent up to the first painted frame.
 */
export async function visit(env, page, client, conditions, { need, hash = {}, timeoutMs = 30_000 } = {}) {
  const spec = CLIENTS[client];
  const cdp = await page.context().newCDPSession(page);
  const requests = new Map();
  const events = [];
  let offsetMs = null; // CDP's monotonic clock → wall clock, from the first request's pair
  cdp.on("Network.requestWillBeSent", (e) => {
    offsetMs ??= e.wallTime * 1000 - e.timestamp * 1000;
    requests.set(e.requestId, e.request.url);
    const body = e.request.postData;
    if (body) events.push({ dir: "up", at: e.timestamp * 1000, bytes: Buffer.byteLength(body, "utf8") });
  });
  cdp.on("Network.loadingFinished", (e) =>
    events.push({ dir: "down", at: e.timestamp * 1000, bytes: e.encodedDataLength, url: requests.get(e.requestId) }));
  cdp.on("Network.webSocketFrameReceived", (e) => events.push({ dir: "down", at: e.timestamp * 1000, bytes: frameBytes(e.response), ws: true }));
  cdp.on("Network.webSocketFrameSent", (e) => events.push({ dir: "up", at: e.timestamp * 1000, bytes: frameBytes(e.response), ws: true }));
  await cdp.send("Network.enable");
  if (conditions) await cdp.send("Network.emulateNetworkConditions", conditions);
  const url = await pageUrl(env, spec.page, { ...(spec.hash ?? {}), ...hash });
  await page.goto(url, { waitUntil: "commit", timeout: timeoutMs });
  const state = await waitForMarks(page, need, { timeoutMs });
  const firstFrameWall = state.timeOrigin + state.marks["first frame"];
  const before = events.filter((e) => offsetMs !== null && e.at + offsetMs <= firstFrameWall);
  const sum = (dir, pred = () => true) => before.filter((e) => e.dir === dir && pred(e)).reduce((s, e) => s + e.bytes, 0);
  await cdp.detach().catch(() => {});
  return {
    ...state,
    traffic: {
      received: sum("down"),
      sent: sum("up"),
      receivedWebSocket: sum("down", (e) => e.ws),
      responses: before.filter((e) => e.dir === "down" && e.url).map((e) => ({ url: e.url, bytes: e.bytes })),
    },
  };
}

/** Ends on the emulator every session still running and waits until none is. */
export async function endSessions(env) {
  const running = async () => (await env.emulator.sessions()).sessions.filter((s) => s.state !== "ended");
  for (const s of await running()) await env.emulator.endSession(s.id);
  await waitFor(async () => (await running()).length === 0, {
    timeoutMs: 10_000,
    intervalMs: 20,
    what: "the emulator's sessions to end",
  });
}

/** Waits until every mark in `names` is recorded (or the page records an error); returns state. */
export async function waitForMarks(page, names, { timeoutMs = 20_000 } = {}) {
  const read = () =>
    page.evaluate(() => ({
      marks: { ...window.__bench.marks },
      errors: [...window.__bench.errors],
      resources: window.__bench.resources(),
      firstFrameRtp: window.__bench.firstFrameRtp ?? null,
      timeOrigin: performance.timeOrigin,
      navigation: window.__bench.navigation?.() ?? null,
    }));
  try {
    await waitFor(
      () =>
        page.evaluate((ns) => {
          const B = window.__bench;
          return B && (B.errors.length > 0 || ns.every((n) => n in B.marks));
        }, names),
      { timeoutMs, intervalMs: 25, what: `marks ${names.join(", ")}` },
    );
  } catch (e) {
    // Say how far the page got: that is the useful part of a timeout.
    const state = await read().catch(() => null);
    const got = state ? Object.keys(state.marks).join(", ") : "unknown";
    const video = await page
      .evaluate(async () => {
        const v = document.getElementById("persona");
        return { readyState: v?.readyState, paused: v?.paused, time: v?.currentTime, stats: await window.__bench.videoStats() };
      })
      .catch(() => null);
    throw new Error(
      `${e.message}; marks so far: ${got}; video: ${JSON.stringify(video)}; console: ${page.consoleLines.slice(-5).join(" | ")}`,
    );
  }
  const state = await read();
  if (state.errors.length) throw new Error(`page error: ${state.errors.join("; ")}`);
  return state;
}

/**
 * Closes the page's whole context (its sockets and peer connections go with it), then ends on
 * the emulator whatever session the page left running. Our client ends its session on
 * `pagehide`; the official client and the floor do not, and the emulator keeps such a session
 * streaming until its 10 s no-socket timeout. Left alone, those sessions ran under the next
 * runs, sharing the cores with the browser, so each run starts against an idle emulator.
 */
export async function closePage(page, env) {
  await page.context().close();
  await endSessions(env);
}
