// The fixture shared by the suites that drive tests/e2e/pages/client.html (client.test.mjs and
// faults.test.mjs): an emulator with its control API, a backend holding its key, a static server
// for the page and one browser, started once per file; after each test every page's recorded
// traffic is checked for the API key, every page is checked for errors it did not handle
// (uncaught exceptions, wasm traps, unhandled rejections; a test allows the ones it provokes
// with allowPageErrors), pages are closed, and armed faults are cleared.
//
// The page loads /pkg/anam_wasm.js; E2E_PKG_DIR lets a run use a pkg build of its own, served by
// a second static server whose URL the page gets as ?pkg=.
import { after, afterEach, before } from "node:test";
import path from "node:path";
import {
  EMULATOR_API_KEY,
  ROOT,
  assertSecretAbsent,
  launchBrowser,
  newPage,
  serveStatic,
  startBackend,
  startEmulator,
  waitFor,
} from "./harness.mjs";

const PKG_DIR = process.env.E2E_PKG_DIR ? path.resolve(process.env.E2E_PKG_DIR) : path.join(ROOT, "pkg");

// Live bindings: importers read them once the suite's `before` hook has run.
export let emulator;
export let backend;
export let statics;
export let browser;
let pkgStatics;
const pages = [];
const cleanups = [];

/** Registers the suite's hooks; call once, at the top level of a test file. */
export function useClientPageSuite() {
  before(async () => {
    emulator = await startEmulator();
    statics = await serveStatic();
    if (PKG_DIR !== path.join(ROOT, "pkg")) pkgStatics = await serveStatic(path.dirname(PKG_DIR));
    backend = await startBackend({ apiBaseUrl: emulator.url, env: { ALLOWED_ORIGINS: statics.url } });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await backend?.stop();
    await emulator?.stop();
    await statics?.stop();
    await pkgStatics?.stop();
  });

  afterEach(async () => {
    // Every page is closed and every cleanup runs even when a check fails; the first failure
    // is thrown at the end.
    const failures = [];
    for (const page of pages.splice(0)) {
      await page.evaluate(() => window.client?.stopStreaming()).catch(() => {});
      try {
        assertSecretAbsent(page, EMULATOR_API_KEY);
        await assertNoPageErrors(page);
      } catch (err) {
        failures.push(err);
      }
      await page.context().close();
    }
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (err) {
        failures.push(err);
      }
    }
    allowedPageErrors.length = 0;
    // A test that failed half-way must not leave armed faults behind for the next one.
    await fetch(`${emulator.url}/_emulator/faults`, { method: "DELETE" });
    if (failures.length > 0) throw failures[0];
  });
}

const allowedPageErrors = [];

/**
 * Lets the current test's pages report errors matching one of `patterns` (RegExps): only for
 * errors the test provokes on purpose. Reset after each test.
 */
export function allowPageErrors(...patterns) {
  allowedPageErrors.push(...patterns);
}

/**
 * What `page` failed to handle and no test allowed: uncaught exceptions and wasm traps (the
 * browser's `pageerror` reports, recorded by harness.mjs in page.consoleLines) and uncaught
 * errors and unhandled rejections recorded in the page by tests/e2e/pages/page-errors.js
 * (gone if the page navigated away; the browser's reports stay). Firefox's reports over BiDi
 * also carry blocked-request notices, so there only the in-page recorder counts
 * (tests/e2e/firefox-driver.mjs).
 */
export async function pageErrors(page) {
  const reported = page.consoleLines.filter((l) => l.startsWith("pageerror:"));
  const recorded = await page.evaluate(() => window.pageErrors ?? []).catch(() => []);
  return [...reported, ...recorded].filter((e) => !allowedPageErrors.some((p) => p.test(e)));
}

/** Throws if `page` had an error no test allowed (see pageErrors). */
export async function assertNoPageErrors(page) {
  const errors = await pageErrors(page);
  if (errors.length > 0) {
    throw new Error(`the page had ${errors.length} unhandled error(s):\n  ${errors.join("\n  ")}`);
  }
}

/** Runs `fn` after the current test (servers or browsers a test started for itself). */
export function onCleanup(fn) {
  cleanups.push(fn);
}

/** URL of client.html, importing the client from $E2E_PKG_DIR when set. */
export function clientPageUrl() {
  const base = `${statics.url}/tests/e2e/pages/client.html`;
  if (!pkgStatics) return base;
  return `${base}?pkg=${encodeURIComponent(`${pkgStatics.url}/${path.basename(PKG_DIR)}/anam_wasm.js`)}`;
}

/** Opens client.html in `onBrowser` and waits until the wasm is loaded. */
export async function openPage(onBrowser = browser, { initScript } = {}) {
  const page = await newPage(onBrowser);
  pages.push(page);
  if (initScript) await page.addInitScript(initScript);
  await page.goto(clientPageUrl());
  await page.waitForFunction(() => window.ready === true, null, { timeout: 30_000 });
  return page;
}

/** Creates a client on the page and streams into <video id="v">; returns the session id. */
export async function startStreaming(page, options = {}, { backendUrl = backend.url, emulatorUrl = emulator.url } = {}) {
  return page.evaluate(
    async ([b, e, options]) => {
      const client = window.makeClient(b, { api: { baseUrl: e }, ...options });
      await client.streamToVideoElement("v");
      return client.getActiveSessionId();
    },
    [backendUrl, emulatorUrl, options],
  );
}

/** Like startStreaming, but returns the rejection as plain data (or null if it streamed). */
export async function streamError(page, options = {}, tokenInit = undefined) {
  return page.evaluate(
    async ([b, e, options, tokenInit]) => {
      const client = window.makeClient(b, { api: { baseUrl: e }, ...options }, tokenInit);
      try {
        await client.streamToVideoElement("v");
        return null;
      } catch (err) {
        return { ...window.errorInfo(err), streaming: client.isStreaming() };
      }
    },
    [backend.url, emulator.url, options, tokenInit],
  );
}

/** Waits until `count` events named `name` were recorded; returns them. */
export async function waitEvents(page, name, count = 1, timeoutMs = 20_000) {
  return waitFor(
    async () => {
      const list = await page.evaluate((n) => window.events(n), name);
      return list.length >= count ? list : null;
    },
    { timeoutMs, what: `${count} x ${name}` },
  );
}

/** How many events named `name` the page recorded so far. */
export async function countEvents(page, name) {
  return page.evaluate((n) => window.events(n).length, name);
}

/**
 * Waits until the page holds no open socket or peer connection and no live capture: the
 * concrete later event after a session closed, since nothing is left that could send an offer
 * or deliver an event.
 */
export async function tornDown(page) {
  await waitFor(
    async () => {
      const r = await page.evaluate(() => window.openResources());
      return r.liveTracks + r.openPeers + r.openSockets === 0;
    },
    { timeoutMs: 5_000, what: "every socket, peer connection and capture of the page closed" },
  );
}
