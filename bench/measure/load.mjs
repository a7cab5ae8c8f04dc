// Backend throughput with wrk on loopback: POST /api/session-token (each request mints a token
// at the emulator upstream) and GET /healthz. wrk, the backend and the emulator share the same
// cores, so the numbers are for the whole loop on this machine.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { OUT_DIR } from "../lib/setup.mjs";

const TOKEN_SCRIPT = `-- Written by bench/measure/load.mjs: POST a persona id as the demo page does.
wrk.method = "POST"
wrk.body = '{"personaId":"persona-aria"}'
wrk.headers["Content-Type"] = "application/json"
`;

/** Milliseconds from a wrk duration such as "812.00us", "1.20ms", "2.01s". */
export function parseDuration(text) {
  const m = String(text).trim().match(/^([\d.]+)(us|ms|s|m)$/);
  if (!m) return null;
  const scale = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2]];
  // Rounded to whole nanoseconds: wrk prints at most two decimals.
  return Math.round(Number(m[1]) * scale * 1e6) / 1e6;
}

/** The numbers of a `wrk --latency` report. */
export function parseWrk(out) {
  const num = (re) => {
    const m = out.match(re);
    return m ? Number(m[1]) : null;
  };
  const latency = {};
  for (const m of out.matchAll(/^\s*(50|75|90|99)%\s+(\S+)/gm)) latency[`p${m[1]}`] = parseDuration(m[2]);
  const errors = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  return {
    requestsPerSec: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    latencyMs: latency,
    non2xx: num(/Non-2xx or 3xx responses:\s+(\d+)/) ?? 0,
    socketErrors: errors ? errors.slice(1).reduce((s, x) => s + Number(x), 0) : 0,
  };
}

function runWrk(args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`wrk exited with ${code}: ${out.slice(-500)}`));
    });
  });
}

/**
 * Runs wrk against `routes` of `backendUrl` for `seconds` each: `healthz` and `sessionToken`
 * (default both).
 */
export async function measureLoad(backendUrl, { seconds, threads = 2, connections = 32, routes = ["healthz", "sessionToken"], log = () => {} }) {
  mkdirSync(OUT_DIR, { recursive: true });
  const script = path.join(OUT_DIR, "session-token.lua");
  writeFileSync(script, TOKEN_SCRIPT);
  const common = ["-t", String(threads), "-c", String(connections), "-d", `${seconds}s`, "--latency", "--timeout", "5s"];
  const results = {};
  for (const [name, args] of [
    ["healthz", [...common, `${backendUrl}/healthz`]],
    ["sessionToken", [...common, "-s", script, `${backendUrl}/api/session-token`]],
  ].filter(([name]) => routes.includes(name))) {
    const out = await runWrk(args, (seconds + 30) * 1000);
    results[name] = { ...parseWrk(out), raw: out.trim() };
    log(`wrk ${name}: ${results[name].requestsPerSec} req/s, p50 ${results[name].latencyMs.p50} ms, p99 ${results[name].latencyMs.p99} ms, non-2xx ${results[name].non2xx}`);
  }
  return { seconds, threads, connections, ...results };
}
