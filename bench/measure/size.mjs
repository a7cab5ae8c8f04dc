// Size: what a page downloads of our package against the official UMD bundle, and where our
// wasm bytes go. The attribution needs function names, which the shipped -Oz build strips, so
// a second copy is built the same way but with names kept (wasm-opt -g); its code section is
// what the table splits by crate. twiggy is used instead when it is installed.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { pageLoadedFiles, compressedSizes } from "../lib/pkg-files.mjs";
import { anatomy, bytesByCrate, crateOf, gzipOfBodies } from "../lib/wasm-anatomy.mjs";
import { ratio } from "../lib/stats.mjs";
import { OFFICIAL_BUNDLE, OUT_DIR, officialVersion } from "../lib/setup.mjs";
import { ROOT } from "../../tests/e2e/harness.mjs";

/** The crates whose code is this project's own (the rest is std, wasm-bindgen, the allocator). */
const OWN_CRATES = ["anam_core", "anam_wasm"];

// The same size settings as the Makefile's WASM_RELEASE (kept in step by hand; the report says
// which build was analysed).
const WASM_RELEASE = [
  "--config", 'profile.release.opt-level="z"',
  "--config", "profile.release.lto=true",
  "--config", "profile.release.codegen-units=1",
  "--config", 'profile.release.panic="abort"',
];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd: ROOT, maxBuffer: 64 << 20, ...opts });
  if (r.error || r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${r.error?.message ?? (r.stderr || r.stdout).slice(-800)}`);
  }
  return r.stdout;
}

/** The wasm-opt arguments wasm-pack uses for `make pkg`, read from Cargo.toml's metadata. */
export function releaseWasmOptArgs(cargoToml = readFileSync(path.join(ROOT, "Cargo.toml"), "utf8")) {
  const section = cargoToml.split("[package.metadata.wasm-pack.profile.release]")[1] ?? "";
  const list = section.match(/^wasm-opt\s*=\s*\[([^\]]*)\]/m);
  if (!list) throw new Error("Cargo.toml: no wasm-opt list under [package.metadata.wasm-pack.profile.release]");
  return [...list[1].matchAll(/"([^"]*)"/g)].map((m) => m[1]);
}

/**
 * Builds the client wasm with names kept: cargo (size profile) → wasm-bindgen --keep-debug →
 * wasm-opt with the release arguments plus -g. Returns the path, or throws with the failing step.
 */
export function buildNamedWasm({ log = () => {}, optArgs = releaseWasmOptArgs() } = {}) {
  const targetDir = process.env.CARGO_TARGET_DIR || path.join(ROOT, "target");
  const out = path.join(OUT_DIR, "named");
  mkdirSync(out, { recursive: true });
  log(`size: building a names-kept copy of the wasm (cargo, wasm-bindgen, wasm-opt ${optArgs.join(" ")} -g)`);
  run("cargo", ["build", "--lib", "--release", "--target", "wasm32-unknown-unknown", "-p", "anam-wasm", ...WASM_RELEASE]);
  const raw = path.join(targetDir, "wasm32-unknown-unknown", "release", "anam_wasm.wasm");
  run("wasm-bindgen", ["--target", "web", "--keep-debug", "--out-dir", out, raw]);
  const named = path.join(out, "anam_wasm_bg.wasm");
  run("wasm-opt", [...optArgs, "-g", named, "-o", named]);
  return named;
}

/** `twiggy top -n N` output when twiggy exists, else null. */
function twiggyTop(wasm, n = 25) {
  const r = spawnSync("twiggy", ["top", "-n", String(n), wasm], { encoding: "utf8" });
  return r.status === 0 ? r.stdout : null;
}

export function measureSize({ pkgDir = path.join(ROOT, "pkg"), attribution = true, log = () => {} } = {}) {
  const ours = pageLoadedFiles(pkgDir);
  const officialBuf = readFileSync(OFFICIAL_BUNDLE);
  const official = { file: "dist/umd/anam.js", version: officialVersion(), ...compressedSizes(officialBuf) };
  const shipped = ours.files.find((f) => f.kind === "wasm");
  const result = {
    ours,
    official,
    ratios: {
      gzip: ratio(ours.total.gzip, official.gzip),
      brotli: ratio(ours.total.brotli, official.brotli),
      raw: ratio(ours.total.raw, official.raw),
    },
    shippedWasmSections: shipped ? anatomy(readFileSync(path.join(pkgDir, shipped.file))).sections : null,
  };
  // A name section in the shipped file means it is not the -Oz release build (wasm-opt strips it).
  result.shippedHasNameSection = !!result.shippedWasmSections?.some((s) => s.name === "custom:name");
  if (!attribution) return result;
  try {
    let wasm = shipped ? path.join(pkgDir, shipped.file) : null;
    let buf = wasm ? readFileSync(wasm) : null;
    let a = buf ? anatomy(buf) : null;
    let source = "pkg/ (shipped build, names kept)";
    if (!a?.hasNames) {
      const optArgs = releaseWasmOptArgs();
      wasm = buildNamedWasm({ log, optArgs });
      buf = readFileSync(wasm);
      a = anatomy(buf);
      source = `names-kept rebuild (cargo size profile → wasm-bindgen --keep-debug → wasm-opt ${optArgs.join(" ")} -g)`;
    }
    const code = a.sections.find((s) => s.name === "code")?.bytes ?? 0;
    // What our own code adds to the compressed code (all bodies with it, less all without it),
    // against the official bundle: how much of the gap the libraries under it could explain.
    const isOwn = (f) => OWN_CRATES.includes(crateOf(f.name));
    const own = a.functions.filter(isOwn);
    const ownGzip = gzipOfBodies(buf, a.functions) - gzipOfBodies(buf, a.functions.filter((f) => !isOwn(f)));
    result.attribution = {
      source,
      tool: "bench/lib/wasm-anatomy.mjs (own wasm parser: sections, function bodies, name section)",
      totalBytes: a.total,
      codeSectionBytes: code,
      sections: a.sections,
      byCrate: bytesByCrate(a.functions, buf).slice(0, 20),
      ownCode: {
        crates: OWN_CRATES,
        bytes: own.reduce((n, f) => n + f.bytes, 0),
        gzip: ownGzip,
        gzipRatioToOfficial: ratio(ownGzip, official.gzip),
      },
      topFunctions: [...a.functions].sort((x, y) => y.bytes - x.bytes).slice(0, 20),
      twiggy: twiggyTop(wasm),
    };
  } catch (e) {
    result.attribution = { error: String(e.message ?? e).slice(0, 800) };
    log(`size: attribution failed: ${e.message}`);
  }
  return result;
}

