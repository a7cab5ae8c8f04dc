// Way in #2: a plain page with <script type="module"> importing pkg/anam_wasm.js (no bundler).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import {
  ROOT, startEmulator, startBackend, launchBrowser, newPage, assertSecretAbsent,
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
