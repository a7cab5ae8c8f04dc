// Way in #1: a fresh Vite 7 app (tests/vite-app) installs the `npm pack`ed tarball of pkg/,
// is built with `vite build`, and its dist/ streams a persona. The fixture's own dependencies
// (vite only) come from its committed lock file: scripts/setup.sh runs `npm ci` there.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import {
  ROOT, startEmulator, startBackend, launchBrowser, newPage, assertSecretAbsent,
} from "./harness.mjs";
import { streamAndTalk } from "./pkg-scenario.mjs";

const run = promisify(execFile);
const PKG_DIR = process.env.E2E_PKG_DIR || path.join(ROOT, "pkg");
const APP = path.join(ROOT, "tests/vite-app");
const PACK_DIR = path.join(ROOT, "target/e2e-pack");
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
let emulator, backend, browser, tarball;

async function sh(cmd, args, cwd) {
  try {
    // No update check: the suite may run where nothing but loopback is reachable.
    const env = { ...process.env, npm_config_update_notifier: "false", npm_config_fund: "false" };
    return await run(cmd, args, { cwd, env, timeout: 180_000, maxBuffer: 16 << 20 });
  } catch (err) {
    throw new Error(`${cmd} ${args.join(" ")} failed in ${cwd}:\n${err.stdout ?? ""}\n${err.stderr ?? err.message}`);
  }
}

before(async () => {
  assert.ok(
    existsSync(path.join(APP, "node_modules/vite/package.json")),
    "tests/vite-app/node_modules is missing: run `npm ci --prefix tests/vite-app` (scripts/setup.sh does)",
  );
  // The package exactly as npm would publish it.
  rmSync(PACK_DIR, { recursive: true, force: true });
  mkdirSync(PACK_DIR, { recursive: true });
  const { stdout } = await sh(NPM, ["pack", PKG_DIR, "--pack-destination", PACK_DIR, "--json", "--loglevel=error"], ROOT);
  const [packed] = JSON.parse(stdout);
  tarball = path.join(PACK_DIR, packed.filename);
  const names = packed.files.map((f) => f.path).sort();
  for (const f of ["package.json", "README.md", "anam_wasm.js", "anam_wasm.d.ts", "anam_wasm_bg.wasm", "anam_wasm.global.js"]) {
    assert.ok(names.includes(f), `${f} is not in the tarball (has ${names.join(", ")})`);
  }

  // Installed like a user would, without touching the fixture's package.json or lock file.
  await sh(NPM, ["install", "--no-save", "--offline", "--no-audit", "--no-fund", "--loglevel=error", tarball], APP);
  const installed = JSON.parse(readFileSync(path.join(APP, "node_modules/anam-wasm/package.json"), "utf8"));
  assert.equal(installed.name, "anam-wasm");

  await sh(process.execPath, [path.join(APP, "node_modules/vite/bin/vite.js"), "build"], APP);

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
