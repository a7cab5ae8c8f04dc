// Way in #1: a fresh Vite 7 app (tests/vite-app) installs the `npm pack`ed tarball of pkg/,
// is built with `vite build`, and its dist/ streams a persona. The fixture's own dependencies
// (vite only) come from its committed lock file: scripts/setup.sh runs `npm ci` there.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import {
  ROOT, startEmulator, startBackend, launchBrowser, newPage, assertSecretAbsent,
} from "./harness.mjs";
import { streamAndTalk } from "./pkg-scenario.mjs";
import { PKG_DIR, installPackedPkg, viteBuild } from "./npm-app.mjs";

const APP = path.join(ROOT, "tests/vite-app");
const PACK_DIR = path.join(ROOT, "target/e2e-pack");
let emulator, backend, browser;

before(async () => {
  assert.ok(
    existsSync(path.join(APP, "node_modules/vite/package.json")),
    "tests/vite-app/node_modules is missing: run `npm ci --prefix tests/vite-app` (scripts/setup.sh does)",
  );
  // The package exactly as npm would publish it, installed like a user would.
  const { packed } = await installPackedPkg(APP, PACK_DIR);
  const names = packed.files.map((f) => f.path).sort();
  for (const f of ["package.json", "README.md", "anam_wasm.js", "anam_wasm.d.ts", "anam_wasm_bg.wasm", "anam_wasm.global.js"]) {
    assert.ok(names.includes(f), `${f} is not in the tarball (has ${names.join(", ")})`);
  }
  const installed = JSON.parse(readFileSync(path.join(APP, "node_modules/anam-wasm/package.json"), "utf8"));
  assert.equal(installed.name, "anam-wasm");

  await viteBuild(APP);

  emulator = await startEmulator();
  backend = await startBackend({
    apiBaseUrl: emulator.url,
    env: { WWW_DIR: path.join(APP, "dist"), PKG_DIR },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await backend?.stop();
  await emulator?.stop();
});

test("vite build bundles the package and emits the .wasm as an asset", () => {
  const assets = readdirSync(path.join(APP, "dist/assets"));
  assert.ok(assets.some((f) => /^anam_wasm_bg-.*\.wasm$/.test(f)), `no hashed .wasm in dist/assets: ${assets}`);
  const html = readFileSync(path.join(APP, "dist/index.html"), "utf8");
  assert.match(html, /<script type="module"[^>]* src="\/assets\/index-[^"]+\.js"/);
});

test("a Vite 7 app using the npm-packed package streams a persona and talks", async () => {
  const page = await newPage(browser);
  await page.goto(`${backend.url}/`);
  await streamAndTalk(page);
  // Everything came from the bundle, nothing from the server's /pkg/ copy.
  const fromPkg = page.traffic.filter((t) => t.kind === "request" && new URL(t.url).pathname.startsWith("/pkg/"));
  assert.deepEqual(fromPkg.map((t) => t.url), []);
  assert.ok(page.traffic.some((t) => t.kind === "request" && /\/assets\/anam_wasm_bg-.*\.wasm$/.test(t.url)));
  assertSecretAbsent(page, emulator.apiKey);
  await page.context().close();
});
