#!/usr/bin/env node
// The benchmark: our client against @anam-ai/js-sdk 4.27.0 and a raw-JS floor, on one machine,
// one emulator, one Chromium. A complete run writes target/bench/results.json and
// docs/BENCHMARKS.md; an --only run writes target/bench/partial.{json,md} instead.
//   node bench/run.mjs                 full run (release servers: cargo build --release -p anam-emulator -p anam-backend)
//   node bench/run.mjs --smoke         one quick pass of every measurement (debug servers are fine),
//                                      writes target/bench/smoke.json, checks the numbers are sane,
//                                      never touches docs/BENCHMARKS.md
// Options: --rounds N (time to first frame on loopback, default 16), --cycles N (memory, 20), --talks N (30),
//   --wrk-seconds S (10), --capacity-window-ms MS (5000), --only size,ttff,memory,talk,load,capacity,
//   --clients ours,official,... (time to first frame: a subset of bench/measure/pages.mjs CLIENTS),
//   --profiles loopback,4g,slow-4g (bench/lib/profiles.mjs), --throttled-rounds N (rounds under
//   a throttled profile, default 10), --visits cold,warm,
//   --emulator PATH, --backend PATH, --pkg DIR (default pkg/), --no-attribution (skip the
//   names-kept wasm build).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, launchBrowser, serveStatic, startBackend, startEmulator, waitFor } from "../tests/e2e/harness.mjs";
import { OUT_DIR, loadAverage, machine, officialVersion, selectBinaries, stageWww } from "./lib/setup.mjs";
import { renderReport } from "./lib/report.mjs";
import { checkSmoke } from "./lib/smoke.mjs";
import { measureSize } from "./measure/size.mjs";
import { measureTtff } from "./measure/ttff.mjs";
import { measureFirefox } from "./measure/firefox.mjs";
import { measureMemory } from "./measure/memory.mjs";
import { measureTalk } from "./measure/talk.mjs";
import { measureLoad } from "./measure/load.mjs";
import { startRedis } from "./lib/redis.mjs";
import { measureCapacity } from "./measure/capacity.mjs";
import { CLIENTS, openClientPage, waitForMarks, closePage } from "./measure/pages.mjs";
import { PROFILES, throttled } from "./lib/profiles.mjs";
import { startWsRelay } from "./lib/relay.mjs";
import { writeStripPlot } from "./lib/plot.mjs";
import { ALL, parseArgs } from "./lib/args.mjs";

const log = (msg) => console.error(`[bench] ${msg}`);

/** Runs `fn`, storing its result or its error under `key` of `results`. */
async function section(results, key, fn) {
  const t = performance.now();
  try {
    results[key] = await fn();
  } catch (e) {
    results[key] = { error: String(e.message ?? e).slice(0, 1000) };
    log(`${key} failed: ${e.message}`);
  }
  const seconds = (performance.now() - t) / 1000;
  if (results[key] && !results[key].error && typeof results[key] === "object") results[key].durationSeconds ??= seconds;
  log(`${key} took ${seconds.toFixed(1)} s`);
}

/**
 * A fresh emulator encodes every persona's frames in the background (it logs "frame bank ready"
 * per persona); sessions started before that wait for it. Wait for the log lines (bounded), then
 * run one untimed session so that nothing measured pays a first-time cost.
 */
async function warmEmulator(env) {
  const t0 = performance.now();
  await waitFor(() => env.emulator.lines.filter((l) => l.includes("frame bank ready")).length >= 2, {
    timeoutMs: 180_000,
    intervalMs: 100,
    what: "the emulator's frame banks",
  }).catch(() => log("no 'frame bank ready' lines from the emulator: going on with a warm-up session"));
  const banksMs = performance.now() - t0;
  const page = await openClientPage(env, "floor");
  try {
    await waitForMarks(page, ["first frame"], { timeoutMs: 90_000 });
  } finally {
    await closePage(page, env);
  }
  return { frameBanksMs: banksMs, totalMs: performance.now() - t0 };
}

/**
 * Waits, at most 60 s, until the 1-minute load average is down to half the CPUs: the builds and
 * the emulator's frame-bank encoding just before leave the machine busy, and timing on a busy
 * machine widens every spread.
 */
async function settle() {
  const idle = os.cpus().length / 2;
  const t0 = performance.now();
  while (os.loadavg()[0] > idle && performance.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 1000));
  const waitedMs = Math.round(performance.now() - t0);
  log(`settle: waited ${(waitedMs / 1000).toFixed(0)} s for the load average (now ${loadAverage()[0]})`);
  return { waitedMs };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const unknown = (opts.clients ?? []).filter((c) => !CLIENTS[c]);
  if (unknown.length) throw new Error(`--clients: unknown ${unknown.join(", ")} (use ${Object.keys(CLIENTS).join(",")})`);
  const target = process.env.CARGO_TARGET_DIR || path.join(ROOT, "target");
  const profileDirs = opts.smoke ? ["debug", "release"] : ["release"];
  const dirs = [process.env.E2E_BIN_DIR, ...profileDirs.flatMap((p) => [path.join(target, p), path.join(ROOT, "target", p)])];
  const binaries = selectBinaries({ emulator: opts.emulator, backend: opts.backend, dirs });
  if (!binaries.emulator) throw new Error(`no anam-emulator binary in ${dirs.filter(Boolean).join(", ")}: build it first`);
  log(`emulator ${binaries.emulator}; backend ${binaries.backend ?? "(none: pages get tokens minted by the bench)"}`);

  const pkgDir = path.resolve(opts.pkg ?? path.join(ROOT, "pkg"));
  const started = performance.now();
  const results = {
    command: `node bench/run.mjs ${process.argv.slice(2).join(" ")}`.trim(),
    smoke: opts.smoke,
    settings: { rounds: opts.rounds, throttledRounds: opts.throttledRounds, firefoxRounds: opts.firefoxRounds, profiles: opts.profiles, visits: opts.visits, warmupRounds: opts.warmup, cycles: opts.cycles, talks: opts.talks, wrkSeconds: opts.wrkSeconds, capacityWindowMs: opts.capacityWindowMs },
    binaries,
    pkgDir: path.relative(ROOT, pkgDir) || ".",
    officialVersion: officialVersion(),
  };

  if (opts.only.includes("size")) await section(results, "size", () => measureSize({ pkgDir, attribution: opts.attribution, log }));

  const www = stageWww(pkgDir);
  const emulator = await startEmulator(["--rate-limit", "1000000000"]);
  let backend = null;
  let stat = null;
  let browser = null;
  const relays = {};
  // Every profile compares our client (the README's page, and the same page compiled eagerly),
  // the official one and the floors; the two variants of our driver page only on loopback, where
  // they answer questions about the connection itself.
  // The smoke run keeps every client on loopback and two under its throttled profile.
  const main = ["ours", "ours-eager", "ours-nohints", "official", "floor", "floor-mic", "floor-sdk-order", "floor-inline"];
  const clientsFor = (p) => opts.clients ?? (!throttled(p) ? [...main, "ours-nomic", "ours-pool2"] : opts.smoke ? ["ours", "official"] : main);
  try {
    if (binaries.backend) {
      backend = await startBackend({
        apiBaseUrl: emulator.url,
        env: { WWW_DIR: www, PKG_DIR: pkgDir, RATE_LIMIT_PER_MINUTE: "1000000" },
      });
    } else {
      stat = await serveStatic(www);
    }
    const origin = backend ? backend.url : stat.url;
    browser = await launchBrowser();
    if (opts.only.includes("ttff")) {
      const target = new URL(emulator.url);
      for (const p of opts.profiles.filter(throttled)) {
        relays[p] = await startWsRelay({ host: target.hostname, port: Number(target.port) }, PROFILES[p].rttMs / 2);
      }
    }
    results.machine = machine(browser.version());
    const env = {
      browser,
      relays,
      emulator,
      origin,
      emulatorUrl: emulator.url,
      tokenUrl: backend ? `${origin}/api/session-token` : null,
    };
    results.tokenSource = backend ? "the page POSTs /api/session-token to anam-backend (same origin)" : "minted by the bench, given to the page";
    const browserPhases = ["ttff", "firefox", "memory", "talk", "capacity"].filter((k) => opts.only.includes(k));
    if (browserPhases.length) await section(results, "emulatorWarmup", () => warmEmulator(env));
    if (browserPhases.length && !opts.smoke) {
      results.settle = await settle();
      // The report's load average is the one the timed parts started with.
      results.machine.loadAverage = loadAverage();
    }

    if (opts.only.includes("ttff")) {
      const rounds = Object.fromEntries(opts.profiles.map((p) => [p, throttled(p) ? opts.throttledRounds : opts.rounds]));
      await section(results, "ttff", () =>
        measureTtff(env, { profiles: opts.profiles, clientsFor, rounds, warmup: opts.warmup, visits: opts.visits, log }));
    }
    if (opts.only.includes("firefox")) {
      await section(results, "firefox", () =>
        measureFirefox(env, { clients: opts.smoke ? ["ours", "official"] : undefined, rounds: opts.firefoxRounds, log }));
    }
    if (opts.only.includes("memory")) {
      results.memory = {};
      for (const c of ["ours", "official"]) await section(results.memory, c, () => measureMemory(env, c, { cycles: opts.cycles, log }));
    }
    if (opts.only.includes("talk")) {
      results.talk = {};
      for (const c of ["ours", "official"]) await section(results.talk, c, () => measureTalk(env, c, { count: opts.talks, log }));
    }
    if (opts.only.includes("capacity")) {
      await section(results, "capacity", () =>
        measureCapacity(env, { steps: opts.capacitySteps, windowMs: opts.capacityWindowMs, drainFirst: !opts.smoke, log }));
    }
    if (opts.only.includes("load")) {
      if (backend) {
        await section(results, "load", () => measureLoad(backend.url, { seconds: opts.wrkSeconds, log }));
        // The same route with the limits in Redis (what every replica of a deployment shares).
        await section(results, "loadRedis", async () => {
          const redis = await startRedis();
          let shared = null;
          try {
            shared = await startBackend({
              apiBaseUrl: emulator.url,
              env: { WWW_DIR: www, PKG_DIR: pkgDir, RATE_LIMIT_PER_MINUTE: "1000000", REDIS_URL: redis.url },
            });
            return await measureLoad(shared.url, { seconds: opts.wrkSeconds, routes: ["sessionToken"], log });
          } finally {
            await shared?.stop();
            await redis.stop();
          }
        });
      } else results.load = { error: "no anam-backend binary" };
    }
  } finally {
    await browser?.close();
    for (const r of Object.values(relays)) await r.stop();
    await backend?.stop();
    await stat?.stop();
    await emulator.stop();
  }
  results.durationSeconds = (performance.now() - started) / 1000;
  results.loadAverageAtEnd = loadAverage();
  results.machine ??= machine(null);

  mkdirSync(OUT_DIR, { recursive: true });
  // Only a complete run may replace the committed report; smoke and --only runs stay in target/.
  const complete = !opts.smoke && ALL.every((k) => opts.only.includes(k));
  const base = opts.smoke ? "smoke" : complete ? "results" : "partial";
  const json = path.join(OUT_DIR, `${base}.json`);
  writeFileSync(json, JSON.stringify(results, null, 2) + "\n");
  log(`wrote ${path.relative(ROOT, json)}`);
  if (opts.smoke) {
    const problems = checkSmoke(results, opts.only);
    if (problems.length) {
      console.error(`bench smoke: FAIL\n  ${problems.join("\n  ")}`);
      process.exitCode = 1;
    } else {
      console.log(`bench smoke: ok (${opts.only.join(", ")} measured in ${results.durationSeconds.toFixed(1)} s)`);
    }
    return;
  }
  const md = complete ? path.join(ROOT, "docs", "BENCHMARKS.md") : path.join(OUT_DIR, "partial.md");
  mkdirSync(path.dirname(md), { recursive: true });
  // The picture the report opens with sits next to it: docs/bench-first-frame.svg.
  const svg = path.join(path.dirname(md), complete ? "bench-first-frame.svg" : "partial-first-frame.svg");
  results.plotFile = path.basename(svg);
  if (results.ttff && !results.ttff.error) writeStripPlot(results.ttff, svg);
  const previous = existsSync(md) ? readFileSync(md, "utf8") : "";
  writeFileSync(md, renderReport(results, { previous }));
  log(`wrote ${path.relative(ROOT, md)}`);
}

main().catch((e) => {
  console.error(`bench: ${e.stack ?? e}`);
  process.exit(1);
});
