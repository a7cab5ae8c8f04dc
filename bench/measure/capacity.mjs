// How many concurrent sessions the emulator keeps at 25 fps on this machine. Sessions are
// opened by the raw-JS floor code (no SDK, no rendering) in one page of one browser; the frame
// rate is the emulator's own count of video frames sent per session, over a fixed window.
import { median } from "../lib/stats.mjs";
import { openClientPage, waitForMarks, closePage } from "./pages.mjs";
import { waitFor } from "../../tests/e2e/harness.mjs";

/** A session "holds" 25 fps when it sent at least this many frames per second. */
export const HELD_FPS = 24;

async function snapshot(env) {
  const body = await env.emulator.sessions();
  return new Map((body?.sessions ?? []).map((s) => [s.id, s]));
}

/** Opens `n` sessions, waits until all send video, and measures each one's fps over `windowMs`. */
async function measureStep(env, n, windowMs) {
  const tokens = [];
  for (let i = 0; i < n; i++) tokens.push(await env.emulator.mintToken());
  const page = await openClientPage(env, "floor", { mode: "manual" });
  try {
    await waitForMarks(page, []);
    const ids = await page.evaluate((ts) => window.__bench.openMany(ts), tokens);
    // Every session must be sending before the window starts.
    await waitFor(
      async () => {
        const snap = await snapshot(env);
        return ids.every((id) => (snap.get(id)?.framesSent ?? 0) > 0);
      },
      { timeoutMs: 30_000 + n * 500, intervalMs: 200, what: `${n} sessions sending video` },
    );
    const t0 = performance.now();
    const before = await snapshot(env);
    await new Promise((r) => setTimeout(r, windowMs));
    const after = await snapshot(env);
    const seconds = (performance.now() - t0) / 1000;
    const fps = ids.map((id) => ((after.get(id)?.framesSent ?? 0) - (before.get(id)?.framesSent ?? 0)) / seconds);
    return { sessions: n, minFps: Math.min(...fps), medianFps: median(fps), windowSeconds: seconds };
  } finally {
    await closePage(page, env);
  }
}

/** Waits (bounded) until the emulator has ended every session of earlier steps. */
async function drained(env) {
  await waitFor(
    async () => [...(await snapshot(env)).values()].every((s) => s.state === "ended"),
    { timeoutMs: 15_000, intervalMs: 200, what: "earlier sessions to end" },
  ).catch(() => {});
}

/** Steps the session count up until a session falls below HELD_FPS; reports the largest held. */
export async function measureCapacity(env, { steps, windowMs, drainFirst = true, log = () => {} }) {
  const results = [];
  let maxHeld = 0;
  for (const [i, n] of steps.entries()) {
    let r;
    try {
      // Sessions of earlier measurements (or steps) still count against the machine until the
      // emulator ends them; the smoke run skips the wait before its only step.
      if (i > 0 || drainFirst) await drained(env);
      r = await measureStep(env, n, windowMs);
    } catch (e) {
      results.push({ sessions: n, error: String(e.message ?? e).slice(0, 300) });
      log(`capacity ${n} sessions failed: ${e.message}`);
      break;
    }
    results.push(r);
    log(`capacity ${n} sessions: min ${r.minFps.toFixed(1)} fps, median ${r.medianFps.toFixed(1)} fps`);
    if (r.minFps < HELD_FPS) break;
    maxHeld = n;
  }
  return { heldFps: HELD_FPS, windowMs, maxSessionsHeld: maxHeld, steps: results };
}
