// Opening a bench page against the running servers and reading what its probe recorded.
import { newPage, waitFor } from "../../tests/e2e/harness.mjs";

/** The clients compared, by page (their report labels are in bench/lib/report.mjs). */
export const CLIENTS = {
  ours: { page: "ours", sdk: true },
  // The same client with disableInputAudio: no microphone, like the raw-JS floor.
  "ours-nomic": { page: "ours", sdk: true, hash: { mic: "0" } },
  // The same client with the official client's iceCandidatePoolSize of 2 (ours sets none).
  "ours-pool2": { page: "ours", sdk: true, hash: { pool: "2" } },
  // The same client in a second browser whose V8 compiles a wasm module whole before it runs
  // (see BROWSER_ARGS): what lazy compilation costs ours, a setting no page can choose.
  "ours-eager": { page: "ours", sdk: true, browser: "eagerWasm" },
  official: { page: "official", sdk: true },
  floor: { page: "floor", sdk: false },
  "floor-mic": { page: "floor", sdk: false, hash: { mic: "1" } },
  "floor-sdk-order": { page: "floor", sdk: false, hash: { order: "sdk" } },
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

/** The extra browsers a client can name (`CLIENTS[c].browser`), by their launch flags. */
export const BROWSER_ARGS = { eagerWasm: ["--js-flags=--no-wasm-lazy-compilation"] };

/**
 * Opens `client`'s page in a fresh browser context (cold HTTP cache, own cookies), in
 * `env.browser` or, for a client that names one, in that one of `env.browsers`.
 */
export async function openClientPage(env, client, hash = {}) {
  const spec = CLIENTS[client];
  const browser = spec.browser ? env.browsers?.[spec.browser] : env.browser;
  if (!browser) throw new Error(`${client} needs the browser "${spec.browser}", which is not running`);
  const page = await newPage(browser);
  const url = await pageUrl(env, spec.page, { ...(spec.hash ?? {}), ...hash });
  await page.goto(url, { waitUntil: "load" });
  return page;
}

/** Waits until every mark in `names` is recorded (or the page records an error); returns state. */
export async function waitForMarks(page, names, { timeoutMs = 20_000 } = {}) {
  const read = () =>
    page.evaluate(() => ({
      marks: { ...window.__bench.marks },
      errors: [...window.__bench.errors],
      resources: window.__bench.resources(),
      firstFrameRtp: window.__bench.firstFrameRtp ?? null,
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
  const running = async () => (await env.emulator.sessions()).sessions.filter((s) => s.state !== "ended");
  for (const s of await running()) await env.emulator.endSession(s.id);
  await waitFor(async () => (await running()).length === 0, {
    timeoutMs: 10_000,
    intervalMs: 20,
    what: "the emulator's sessions to end",
  });
}
