// The React example (www/examples/react): installs the npm-packed package like the Vite fixture
// does (tests/e2e/pkg-vite.test.mjs), builds the app with `vite build`, serves it from
// anam-backend and drives it by clicking: connect -> "connected" -> mute -> stop -> "closed",
// with the emulator's session list showing the session ended. Its own dependencies (react,
// react-dom, vite) come from its committed lock file: scripts/setup.sh runs `npm ci` there.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { ROOT, assertSecretAbsent, launchBrowser, newPage, startBackend, startEmulator, waitFor } from "./harness.mjs";
import { PKG_DIR, installPackedPkg, viteBuild } from "./npm-app.mjs";

const APP = path.join(ROOT, "www/examples/react");
const PACK_DIR = path.join(ROOT, "target/e2e-pack-react");
// Built outside www/: the demo's backend serves www/ as it is.
const DIST = path.join(ROOT, "target/e2e-react-example");
let emulator, backend, browser;

before(async () => {
  assert.ok(
    existsSync(path.join(APP, "node_modules/react-dom/package.json")),
    "www/examples/react/node_modules is missing: run `npm ci --prefix www/examples/react` (scripts/setup.sh does)",
  );
  // Installed without touching the example's package.json or lock file.
  await installPackedPkg(APP, PACK_DIR);
  await viteBuild(APP, DIST);

  emulator = await startEmulator();
  backend = await startBackend({ apiBaseUrl: emulator.url, env: { WWW_DIR: DIST, PKG_DIR } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await backend?.stop();
  await emulator?.stop();
});

const text = (page, id) => page.textContent(`[data-testid="${id}"]`);

async function waitText(page, id, want, timeoutMs = 20_000) {
  return waitFor(async () => ((await text(page, id)) === want ? want : null), {
    timeoutMs,
    what: `${id} to read "${want}" (reads "${await text(page, id).catch(() => "?")}")`,
  });
}

test("the React example builds into a bundle with the .wasm as an asset", () => {
  const assets = readdirSync(path.join(DIST, "assets"));
  assert.ok(assets.some((f) => /^anam_wasm_bg-.*\.wasm$/.test(f)), `no hashed .wasm: ${assets}`);
  const html = readFileSync(path.join(DIST, "index.html"), "utf8");
  assert.match(html, /<script type="module"[^>]* src="\/assets\/index-[^"]+\.js"/);
});

test("the React example connects, shows the state, mutes, and stops", async () => {
  const page = await newPage(browser);
  await page.goto(`${backend.url}/`);
  await waitText(page, "phase", "idle");
  assert.equal(await text(page, "session"), "none");

  await page.click('[data-testid="connect"]');
  await waitText(page, "phase", "connected", 30_000);
  const sessionId = await text(page, "session");
  assert.match(sessionId, /\S+/);
  assert.notEqual(sessionId, "none");
  assert.equal(await page.isDisabled('[data-testid="connect"]'), true, "no second start while connected");
  const live = (await emulator.sessions()).sessions.find((s) => s.id === sessionId);
  assert.ok(live && live.state !== "ended", `the emulator runs the session: ${JSON.stringify(live)}`);
  // The persona is on screen.
  await waitFor(() => page.evaluate(() => document.getElementById("persona-video").videoWidth > 0), {
    what: "video frames",
  });

  await waitText(page, "mic", "granted");
  await page.click('[data-testid="mute"]');
  await waitText(page, "mic", "granted, muted");
  assert.equal(await page.getAttribute('[data-testid="mute"]', "aria-pressed"), "true");

  await page.click('[data-testid="stop"]');
  await waitText(page, "phase", "closed");
  assert.equal(await text(page, "session"), "none");
  assert.equal(await text(page, "error"), "none", "a stop is no error");
  await waitFor(
    async () => (await emulator.sessions()).sessions.find((s) => s.id === sessionId)?.state === "ended",
    { what: "the emulator to end the session" },
  );
  assert.ok(!page.consoleLines.some((l) => l.startsWith("pageerror")), page.consoleLines.join("\n"));
  assertSecretAbsent(page, emulator.apiKey);
  await page.context().close();
});
