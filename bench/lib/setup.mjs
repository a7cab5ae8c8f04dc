// Everything a bench run needs around the measurements: which server binaries to use, the
// static files the pages are served from, the machine description for the report.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "../../tests/e2e/harness.mjs";

export const OUT_DIR = path.join(ROOT, "target", "bench");
export const OFFICIAL_BUNDLE = path.join(ROOT, "node_modules", "@anam-ai", "js-sdk", "dist", "umd", "anam.js");

/** The official SDK's version, read from its package.json (the bench pins 4.27.0). */
export function officialVersion() {
  const pkg = path.join(ROOT, "node_modules", "@anam-ai", "js-sdk", "package.json");
  return JSON.parse(readFileSync(pkg, "utf8")).version;
}

/**
 * Picks the server binaries: explicit paths win, else the first directory among `dirs` that
 * holds both. Links them into target/bench/bin and points the e2e harness there (it spawns
 * `$E2E_BIN_DIR/<name>`), so the emulator and backend may come from different target dirs.
 */
export function selectBinaries({ emulator, backend, dirs }) {
  const find = (name, explicit) => {
    if (explicit) return path.resolve(explicit);
    for (const d of dirs) if (d && existsSync(path.join(d, name))) return path.join(d, name);
    return null;
  };
  const picked = { emulator: find("anam-emulator", emulator), backend: find("anam-backend", backend) };
  const binDir = path.join(OUT_DIR, "bin");
  mkdirSync(binDir, { recursive: true });
  for (const [key, name] of [["emulator", "anam-emulator"], ["backend", "anam-backend"]]) {
    const link = path.join(binDir, name);
    rmSync(link, { force: true });
    if (picked[key]) symlinkSync(picked[key], link);
  }
  process.env.E2E_BIN_DIR = binDir;
  return picked;
}

const PROBE_TAG = '<script src="probe.js"></script>';

/**
 * Stages the pages: target/bench/www holds bench/pages as /bench/, the official UMD bundle as
 * /sdk/anam.js, and a link to pkg/ as /pkg/ (the backend serves its own PKG_DIR there; the link
 * is for the plain static server used when no backend binary exists).
 */
export function stageWww(pkgDir = path.join(ROOT, "pkg")) {
  const www = path.join(OUT_DIR, "www");
  rmSync(www, { recursive: true, force: true });
  mkdirSync(path.join(www, "sdk"), { recursive: true });
  cpSync(path.join(ROOT, "bench", "pages"), path.join(www, "bench"), { recursive: true });
  // The probe goes inline into every page: as a file of its own it would be one more blocking
  // request, and one more round trip on a throttled profile, that no user's page makes.
  const probe = readFileSync(path.join(ROOT, "bench", "pages", "probe.js"), "utf8");
  for (const f of readdirSync(path.join(www, "bench")).filter((f) => f.endsWith(".html"))) {
    const file = path.join(www, "bench", f);
    const html = readFileSync(file, "utf8");
    if (!html.includes(PROBE_TAG)) throw new Error(`bench/pages/${f} does not load the probe with ${PROBE_TAG}`);
    writeFileSync(file, html.replace(PROBE_TAG, () => `<script>\n${probe}</script>`));
  }
  // The README page without its preload hints (the `ours-nohints` client).
  const readme = readFileSync(path.join(www, "bench", "readme.html"), "utf8");
  const bare = readme.replace(/^<link rel="(module)?preload"[^\n]*\n/gm, "");
  if (bare.split("\n").length !== readme.split("\n").length - 2) throw new Error("bench/pages/readme.html: expected two preload hints");
  writeFileSync(path.join(www, "bench", "readme-nohints.html"), bare);
  // The floor with its code inline (the `floor-inline` client): no module to fetch before the
  // token request, so nothing but the protocol's own exchanges on its chain.
  const floor = (f) => readFileSync(path.join(www, "bench", f), "utf8");
  writeFileSync(path.join(www, "bench", "floor-inline.html"), inlineFloorPage(floor("floor.html"), floor("floor.js")));
  cpSync(OFFICIAL_BUNDLE, path.join(www, "sdk", "anam.js"));
  symlinkSync(path.resolve(pkgDir), path.join(www, "pkg"));
  return www;
}

/** bench/pages/floor.html with the code of floor.js in place of its preload hint and import. */
export function inlineFloorPage(html, code) {
  const hint = /^<!-- The page's own code is a module[\s\S]*?-->\n<link rel="modulepreload" href="floor.js">\n/m;
  const imports = /^import \{ runFloor, openMany \} from "\.\/floor\.js";\n/m;
  if (!hint.test(html) || !imports.test(html)) throw new Error("bench/pages/floor.html: expected one modulepreload hint and one import of floor.js");
  return html.replace(hint, "").replace(imports, () => code.replace(/^export /gm, ""));
}

/** The first output line of a command (wrk prints its version and exits non-zero). */
function firstLine(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 10_000 });
  if (r.error) return null;
  const line = `${r.stdout ?? ""}${r.stderr ?? ""}`.split("\n")[0].trim();
  return line || null;
}

/** The 1, 5 and 15 minute load averages, to two decimals. */
export function loadAverage() {
  return os.loadavg().map((x) => Math.round(x * 100) / 100);
}

/** nproc, CPU model, RAM, OS, Node, Chromium, date: the facts every number depends on. */
export function machine(browserVersion) {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    nproc: cpus.length,
    cpuModel: cpus[0]?.model?.trim() ?? "unknown",
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    distro: (() => {
      try {
        const m = readFileSync("/etc/os-release", "utf8").match(/^PRETTY_NAME="?([^"\n]+)"?/m);
        return m ? m[1] : null;
      } catch {
        return null;
      }
    })(),
    // Other work on the machine skews every number: record how busy it was.
    loadAverage: loadAverage(),
    node: process.version,
    chromium: browserVersion,
    wrk: firstLine("wrk", ["--version"])?.replace(/\s*Copyright.*$/, "") ?? null,
    gitCommit: firstLine("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]),
    // The report this run rewrites does not count as a change to what is measured.
    gitDirty: (spawnSync("git", ["-C", ROOT, "status", "--porcelain", "--", ".", ":!docs/BENCHMARKS.md"], { encoding: "utf8" }).stdout ?? "").trim() !== "",
  };
}
