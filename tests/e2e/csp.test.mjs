// Pages served with a strict Content Security Policy (the header anam-backend sends, set per
// test through CONTENT_SECURITY_POLICY): the README's minimal policy lets the README's first
// example stream, talk and stop; without 'wasm-unsafe-eval' the client fails with the typed
// error that names it; a connect-src that leaves out the engine's host is a typed failure,
// not a hang. The page creates its client before the .wasm has loaded (no init()).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import {
  ROOT, startEmulator, startBackend, launchBrowser, newPage, assertSecretAbsent, waitFor,
} from "./harness.mjs";
import { streamAndTalk } from "./pkg-scenario.mjs";

const PKG_DIR = process.env.E2E_PKG_DIR || path.join(ROOT, "pkg");
const CONFIGURATION_ERROR = "CLIENT_ERROR_CODE_CONFIGURATION_ERROR";
let emulator, browser;
const backends = [];

before(async () => {
  emulator = await startEmulator();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  for (const b of backends) await b.stop();
  await emulator?.stop();
});

/** The README's minimal policy for an API (and engine) at `api`. */
function minimalPolicy(api = emulator.url) {
  const origin = new URL(api).origin;
  return [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    `connect-src 'self' ${origin} ${origin.replace(/^http/, "ws")}`,
  ].join("; ");
}

async function backendWith(policy) {
  const b = await startBackend({
    apiBaseUrl: emulator.url,
    env: { WWW_DIR: path.join(ROOT, "tests/e2e/pages"), PKG_DIR, CONTENT_SECURITY_POLICY: policy },
  });
  backends.push(b);
  return b;
}

async function openPage(policy, query = {}) {
  const backend = await backendWith(policy);
  const page = await newPage(browser);
  const q = new URLSearchParams({ api: emulator.url, ...query });
  const res = await page.goto(`${backend.url}/csp.html?${q}`);
  assert.equal(res.headers()["content-security-policy"], policy, "the page is served under the policy");
  return page;
}

const violations = (page) => page.evaluate(() => window.__e2e.violations);

test("anam-backend sends the minimal policy and the careful headers with the demo", async () => {
  const backend = await startBackend({ apiBaseUrl: emulator.url, env: { PKG_DIR } });
  backends.push(backend);
  for (const p of ["/", "/pkg/anam_wasm.js"]) {
    const res = await fetch(backend.url + p);
    assert.equal(res.status, 200, p);
    const csp = res.headers.get("content-security-policy");
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/, p);
    assert.ok(csp.includes(`connect-src 'self' ${emulator.url} ${emulator.url.replace(/^http/, "ws")}`), csp);
    assert.equal(res.headers.get("referrer-policy"), "strict-origin-when-cross-origin");
    assert.match(res.headers.get("permissions-policy"), /^microphone=\(self\), camera=\(\)/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  }
  // An app that sets its own policy (or none) says so.
  const own = await startBackend({ apiBaseUrl: emulator.url, env: { PKG_DIR, CONTENT_SECURITY_POLICY: "" } });
  backends.push(own);
  const res = await fetch(own.url + "/");
  assert.equal(res.headers.get("content-security-policy"), null);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
});

test("the demo, served by anam-backend under its default policy, connects with nothing blocked", async () => {
  const backend = await startBackend({ apiBaseUrl: emulator.url, env: { PKG_DIR } });
  backends.push(backend);
  const page = await newPage(browser);
  const res = await page.goto(backend.url);
  assert.match(res.headers()["content-security-policy"], /'wasm-unsafe-eval'/);
  const state = (s) =>
    waitFor(async () => (await page.evaluate(() => document.body.dataset.state)) === s, { timeoutMs: 30_000, what: s });
  await state("idle");
  await page.click("#connect");
  await state("connected");
  await page.click("#disconnect");
  await state("idle");
  assert.deepEqual(page.consoleLines.filter((l) => /Content Security Policy/i.test(l)), []);
  await page.context().close();
});

test("the minimal policy: the README's first example streams, talks and stops, nothing is blocked", async () => {
  const page = await openPage(minimalPolicy());
  await streamAndTalk(page);
  const report = await page.evaluate(() => import("/pkg/anam_wasm.js").then((m) => m.preflight()));
  assert.equal(report.webrtc, true, "preflight() runs under the policy too");
  assert.deepEqual(await violations(page), []);
  assertSecretAbsent(page, emulator.apiKey);
  await page.context().close();
});

test("the minimal policy with require-trusted-types-for 'script' still streams and talks", async () => {
  const page = await openPage(`${minimalPolicy()}; require-trusted-types-for 'script'`);
  await streamAndTalk(page);
  assert.deepEqual(await violations(page), []);
  await page.context().close();
});

function assertWasmBlocked(error, what) {
  assert.equal(error?.name, "ClientError", `${what}: ${JSON.stringify(error)}`);
  assert.equal(error.code, CONFIGURATION_ERROR, what);
  assert.match(error.message, /'wasm-unsafe-eval'/, what);
  assert.match(error.message, /script-src/, what);
  assert.ok(typeof error.details?.cause === "string" && error.details.cause.length > 0, `${what}: the browser's message`);
}

test("without 'wasm-unsafe-eval': the first call, init() and anam.ready reject with the typed error naming it", async () => {
  const policy = minimalPolicy().replace(" 'wasm-unsafe-eval'", "");
  const page = await openPage(policy, { autostart: "1" });
  const started = await page.evaluate(() => window.__e2e.started);
  assert.equal(started.ok, false);
  assertWasmBlocked(started.error, "streamToVideoElement");
  const viaInit = await page.evaluate(async () => {
    const { default: init } = await import("/pkg/anam_wasm.js");
    return window.__e2e.outcome(init());
  });
  assertWasmBlocked(viaInit.error, "init()");
  assert.equal(await page.evaluate(() => window.__e2e.client.isStreaming()), false);
  await page.context().close();

  // The server first: a Firefox page may only open origins its profile was granted at launch.
  const backend = await backendWith(policy);
  const global = await newPage(browser);
  await global.goto(`${backend.url}/csp-global.html`);
  const ready = await global.evaluate(() => window.__e2e.ready);
  assert.equal(ready.ok, false);
  assertWasmBlocked(ready.error, "anam.ready");
  await global.context().close();
});

test("the classic-script build loads under the minimal policy", async () => {
  const backend = await backendWith(minimalPolicy());
  const page = await newPage(browser);
  await page.goto(`${backend.url}/csp-global.html`);
  assert.deepEqual(await page.evaluate(() => window.__e2e.ready), { ok: true });
  await page.context().close();
});

test("a connect-src without the engine's host: a typed failure naming connect-src, no hang", async () => {
  // The page reaches the API as localhost:PORT; the emulator names 127.0.0.1:PORT as the
  // engine, which the policy leaves out.
  const api = emulator.url.replace("127.0.0.1", "localhost");
  const page = await openPage(minimalPolicy(api), { api });
  const started = await page.evaluate(() => performance.now());
  const streams = await page.evaluate(() => window.__e2e.outcome(window.__e2e.client.stream()));
  assert.equal(streams.ok, false, "stream() rejects");
  assert.equal(streams.error.name, "ClientError", JSON.stringify(streams.error));
  assert.equal(streams.error.code, CONFIGURATION_ERROR);
  assert.match(streams.error.message, /connect-src/);
  assert.equal(streams.error.details.directive, "connect-src");
  assert.ok(streams.error.details.blockedURI.includes("127.0.0.1"), streams.error.details.blockedURI);
  assert.ok(streams.at - started < 5_000, `stream() took ${streams.at - started} ms to fail`);
  assert.equal(await page.evaluate(() => window.__e2e.client.isStreaming()), false);

  // streamToVideoElement resolves before the socket opens: CONNECTION_CLOSED reports it.
  const started2 = await page.evaluate(() => performance.now());
  const element = await page.evaluate(() => window.__e2e.outcome(window.__e2e.start()));
  assert.equal(element.ok, true, JSON.stringify(element));
  const closed = await waitFor(async () => (await page.evaluate(() => window.__e2e.closed)).at(-1), {
    timeoutMs: 5_000,
    what: "CONNECTION_CLOSED",
  });
  assert.equal(closed.code, "CONNECTION_CLOSED_CODE_SIGNALLING_CLIENT_CONNECTION_FAILURE");
  assert.match(closed.details, /connect-src/);
  assert.equal(closed.error?.code, CONFIGURATION_ERROR);
  assert.ok(closed.at - started2 < 5_000, `CONNECTION_CLOSED came ${closed.at - started2} ms after the start`);
  assert.equal((await page.evaluate(() => window.__e2e.closed)).length, 2, "one CONNECTION_CLOSED per session");
  assert.equal(await page.evaluate(() => window.__e2e.client.isStreaming()), false);
  await page.context().close();
});
