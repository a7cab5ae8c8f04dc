// Shared by the suites that build an app against the published shape of the package
// (pkg-vite.test.mjs, react-example.test.mjs): `npm pack` pkg/, install the tarball into the app
// without touching its package.json or lock file, then `vite build` it.
import { execFile } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { ROOT } from "./harness.mjs";

const run = promisify(execFile);
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
export const PKG_DIR = process.env.E2E_PKG_DIR || path.join(ROOT, "pkg");

/** Runs a command; a failure carries the command, its directory and its output. */
async function sh(cmd, args, cwd) {
  try {
    // No update check: the suite may run where nothing but loopback is reachable.
    const env = { ...process.env, npm_config_update_notifier: "false", npm_config_fund: "false" };
    return await run(cmd, args, { cwd, env, timeout: 180_000, maxBuffer: 16 << 20 });
  } catch (err) {
    throw new Error(`${cmd} ${args.join(" ")} failed in ${cwd}:\n${err.stdout ?? ""}\n${err.stderr ?? err.message}`);
  }
}

/**
 * Packs pkg/ into `packDir` (emptied first) and installs the tarball into `appDir` like a user
 * would, offline and without saving. Returns npm's pack record (`filename`, `files`) and the
 * tarball's path.
 */
export async function installPackedPkg(appDir, packDir) {
  rmSync(packDir, { recursive: true, force: true });
  mkdirSync(packDir, { recursive: true });
  const { stdout } = await sh(NPM, ["pack", PKG_DIR, "--pack-destination", packDir, "--json", "--loglevel=error"], ROOT);
  const [packed] = JSON.parse(stdout);
  const tarball = path.join(packDir, packed.filename);
  await sh(NPM, ["install", "--no-save", "--offline", "--no-audit", "--no-fund", "--loglevel=error", tarball], appDir);
  return { packed, tarball };
}

/** `vite build` with the app's own Vite, into `outDir` when given (else the app's dist/). */
export async function viteBuild(appDir, outDir) {
  const args = [path.join(appDir, "node_modules/vite/bin/vite.js"), "build"];
  if (outDir) args.push("--outDir", outDir);
  await sh(process.execPath, args, appDir);
}
