// Way in #3: a classic <script src=".../pkg/anam_wasm.global.js"> that defines globalThis.anam
// and anam.ready, like the official UMD build; also loaded from another origin (a CDN).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import {
  ROOT, startEmulator, startBackend, launchBrowser, newPage, assertSecretAbsent, serveStatic,
} from "./harness.mjs";
import { streamAndTalk } from "./pkg-scenario.mjs";

const PKG_DIR = process.env.E2E_PKG_DIR || path.join(ROOT, "pkg");
let emulator, backend, browser, cdn;

before(async () => {
  emulator = await startEmulator();
  backend = await startBackend({
    apiBaseUrl: emulator.url,
    env: { WWW_DIR: path.join(ROOT, "tests/e2e/pages"), PKG_DIR },
  });
  cdn = await serveStatic(PKG_DIR);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await cdn?.stop();
  await backend?.stop();
  await emulator?.stop();
});

test("classic <script src> defines anam synchronously and anam.ready loads the wasm", async () => {
  const page = await newPage(browser);
  await page.goto(`${backend.url}/script-tag.html`);
  const early = await page.evaluate(() => ({
    syncEnum: window.__e2e.syncEnum,
    syncReadyIsPromise: window.__e2e.syncReadyIsPromise,
    earlyCall: window.__e2e.earlyCall,
  }));
  assert.equal(early.syncEnum, "SESSION_READY", "enums are defined before the wasm loads");
  assert.equal(early.syncReadyIsPromise, true);
  assert.match(early.earlyCall, /not ready yet: await anam\.ready/);

  await streamAndTalk(page);
  const exported = await page.evaluate(() => ({
    resolvedWithAnam: window.__e2e.readyResolvedWithAnam,
    names: Object.keys(window.anam).sort(),
  }));
  assert.equal(exported.resolvedWithAnam, true, "anam.ready resolves with globalThis.anam");
  for (const name of ["createClient", "fetchSessionToken", "preflight", "AnamEvent", "ErrorCode", "ConnectionClosedCode"]) {
    assert.ok(exported.names.includes(name), `anam.${name} is missing (has ${exported.names.join(", ")})`);
  }
  // The extension works from the global too (its answers are checked in extensions.test.mjs).
  const preflight = await page.evaluate(() => window.anam.preflight());
  assert.equal(preflight.secureContext, true);
  assert.equal(preflight.webrtc, true);
  assert.deepEqual(exported.names.filter((n) => n.startsWith("__") || n === "default"), [], "no internals on the global");
  assertSecretAbsent(page, emulator.apiKey);
  await page.context().close();
});

test("the global build finds its module and .wasm next to itself on another origin", async () => {
  const page = await newPage(browser);
  await page.goto(`${backend.url}/script-tag-cdn.html?cdn=${encodeURIComponent(cdn.url)}`);
  await streamAndTalk(page);
  const wasm = page.traffic.find((t) => t.kind === "request" && t.url.endsWith("anam_wasm_bg.wasm"));
  assert.ok(wasm, "the .wasm was requested");
  assert.ok(wasm.url.startsWith(cdn.url), `the .wasm came from ${wasm.url}, not from the script's origin`);
  assertSecretAbsent(page, emulator.apiKey);
  await page.context().close();
});
