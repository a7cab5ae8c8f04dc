// Way in #2: a plain page with <script type="module"> importing pkg/anam_wasm.js (no bundler).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import {
  ROOT, startEmulator, startBackend, launchBrowser, newPage, assertSecretAbsent, waitFor,
} from "./harness.mjs";
import { streamAndTalk } from "./pkg-scenario.mjs";

const PKG_DIR = process.env.E2E_PKG_DIR || path.join(ROOT, "pkg");
let emulator, backend, browser;

before(async () => {
  emulator = await startEmulator();
  backend = await startBackend({
    apiBaseUrl: emulator.url,
    env: { WWW_DIR: path.join(ROOT, "tests/e2e/pages"), PKG_DIR },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await backend?.stop();
  await emulator?.stop();
});

test("<script type=module> importing pkg/anam_wasm.js streams a persona and talks", async () => {
  const page = await newPage(browser);
  await page.goto(`${backend.url}/module.html`);
  await streamAndTalk(page);
  assert.ok(page.traffic.some((t) => t.kind === "request" && t.url.endsWith("/pkg/anam_wasm_bg.wasm")));
  assertSecretAbsent(page, emulator.apiKey);
  await page.context().close();
});

// A start made before the package's WebAssembly module has loaded: the package's JS sends the
// first start-session request as soon as the token is in, and the client uses it once loaded
// (one session, no second request), or ends the session it created when the app stopped
// meanwhile. tests/e2e/pages/prefetch.html holds the .wasm until the test releases it.

const ids = async () => new Set((await emulator.sessions()).sessions.map((s) => s.id));

/** Opens the page, starts streaming, and returns the session the module-less start created. */
async function startBeforeTheModule() {
  const page = await newPage(browser);
  await page.goto(`${backend.url}/prefetch.html`);
  await waitFor(() => page.evaluate(() => typeof window.__e2e?.start === "function"), { what: "the page" });
  const before = await ids();
  await page.evaluate(() => window.__e2e.start());
  const created = await waitFor(
    async () => (await emulator.sessions()).sessions.find((s) => !before.has(s.id)) ?? null,
    { what: "a session started before the module loaded" },
  );
  assert.equal(await page.evaluate(() => window.__e2e.loaded), false, "the module is still held");
  return { page, before, created };
}

test("a start before the module has loaded sends its start-session at once and uses it", async () => {
  const { page, before, created } = await startBeforeTheModule();
  await page.evaluate(() => window.__e2e.releaseModule());
  assert.equal(await page.evaluate(() => window.__e2e.started), "started");
  await waitFor(() => page.evaluate(() => window.__e2e.events.includes("VIDEO_PLAY_STARTED")), {
    timeoutMs: 60_000,
    what: "the first frame",
  });
  assert.equal(await page.evaluate(() => window.__e2e.client.getActiveSessionId()), created.id);
  const after = [...(await ids())].filter((id) => !before.has(id));
  assert.deepEqual(after, [created.id], "one session: the client sent no second start-session");
  assert.deepEqual(await page.evaluate(() => window.__e2e.errors), []);
  await page.evaluate(() => window.__e2e.client.stopStreaming());
  await page.context().close();
});

test("a session started before the module loaded is ended when the app stopped meanwhile", async () => {
  const { page, before, created } = await startBeforeTheModule();
  // Its promise waits for the module: not awaited here.
  await page.evaluate(() => void window.__e2e.client.stopStreaming());
  await page.evaluate(() => window.__e2e.releaseModule());
  assert.match(await page.evaluate(() => window.__e2e.started), /^AbortError/);
  const ended = await waitFor(
    async () => (await emulator.sessions()).sessions.find((s) => s.id === created.id && s.state === "ended") ?? null,
    { what: "the unwanted session ended" },
  );
  assert.equal(ended.wsConnectionsTotal, 1, "ended through its one signalling socket");
  assert.deepEqual([...(await ids())].filter((id) => !before.has(id)), [created.id]);
  assert.ok(!(await page.evaluate(() => window.__e2e.events.includes("CONNECTION_CLOSED"))), "the app saw no session");
  await page.context().close();
});
