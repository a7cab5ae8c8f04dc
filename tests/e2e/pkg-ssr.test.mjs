// The package imports in Node without a DOM (server-side rendering), both as the file and as
// the installed package through its "exports" map; browser APIs are touched only by a session.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "./harness.mjs";

const PKG_DIR = process.env.E2E_PKG_DIR || path.join(ROOT, "pkg");

test("Node has no DOM here (the check below is meaningful)", () => {
  assert.equal(typeof globalThis.window, "undefined");
  assert.equal(typeof globalThis.document, "undefined");
});

test("importing pkg/anam_wasm.js in Node does not throw", async () => {
  const mod = await import(pathToFileURL(path.join(PKG_DIR, "anam_wasm.js")).href);
  for (const name of ["default", "createClient", "fetchSessionToken", "AnamEvent", "ErrorCode", "ConnectionClosedCode"]) {
    assert.ok(name in mod, `anam_wasm.js does not export ${name}`);
  }
  assert.equal(mod.AnamEvent.SESSION_READY, "SESSION_READY");
});

test("the installed package and its ./global entry import in Node without throwing", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "anam-wasm-ssr-"));
  try {
    mkdirSync(path.join(dir, "node_modules"));
    symlinkSync(PKG_DIR, path.join(dir, "node_modules", "anam-wasm"), "dir");
    copyFileSync(path.join(ROOT, "tests/ssr/entry.mjs"), path.join(dir, "entry.mjs"));
    const unhandled = [];
    const onUnhandled = (reason) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const entry = await import(pathToFileURL(path.join(dir, "entry.mjs")).href);
      assert.ok(entry.moduleExports.includes("createClient"));
      assert.equal(entry.hasDefaultInit, true);
      // The global build defines anam on any global object; without a script tag its ready
      // promise rejects, but quietly: an unhandled rejection would crash a Node server.
      assert.equal(entry.globalAnam?.AnamEvent?.SESSION_READY, "SESSION_READY");
      await assert.rejects(entry.globalAnam.ready, /script src/);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("package.json: exports, types, files and sideEffects point at files that exist", () => {
  const manifest = JSON.parse(readFileSync(path.join(PKG_DIR, "package.json"), "utf8"));
  assert.equal(manifest.name, "anam-wasm");
  const cargo = readFileSync(path.join(ROOT, "Cargo.toml"), "utf8");
  assert.equal(manifest.version, cargo.match(/\[workspace\.package\][^[]*?\nversion = "([^"]+)"/)[1]);
  assert.equal(manifest.license, "MIT");
  assert.equal(manifest.type, "module");
  assert.ok(manifest.description && manifest.repository?.url);
  const targets = [
    manifest.types,
    manifest.exports["."].types,
    manifest.exports["."].import,
    manifest.exports["./global"].default,
    manifest.exports["./global"].types,
    manifest.exports["./anam_wasm_bg.wasm"],
  ];
  for (const t of targets) {
    assert.ok(t, "a target is missing");
    readFileSync(path.join(PKG_DIR, t)); // throws when the file does not exist
  }
  for (const f of manifest.files) readFileSync(path.join(PKG_DIR, f));
  assert.deepEqual(manifest.sideEffects, ["./anam_wasm.global.js"]);
  const readme = readFileSync(path.join(PKG_DIR, "README.md"), "utf8");
  assert.match(readme, /fetchSessionToken\("\/api\/session-token"\)/);
  assert.match(readme, /streamToVideoElement/);
});
