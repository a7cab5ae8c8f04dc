// Time to first frame: each client loads in a fresh context against the same emulator and
// backend, in alternating order, and the probe's marks give the totals and the breakdown.
import { summarize, ratio, ratioInterval } from "../lib/stats.mjs";
import { CLIENTS, openClientPage, waitForMarks, closePage } from "./pages.mjs";

/** Milestones of the breakdown, in protocol order (ms since createClient). */
export const MILESTONES = [
  "token",
  "client loaded",
  "start-session sent",
  "start-session",
  "socket created",
  "peer connection created",
  "offer being set",
  "first local candidate",
  "offer set",
  "socket open",
  "offer sent",
  "answer received",
  "answer being set",
  "answer applied",
  "first remote candidate added",
  "ICE connected",
  "DTLS connected",
  "video track",
  "first frame",
  "VIDEO_PLAY_STARTED",
  "microphone requested",
  "microphone granted",
  "SESSION_READY",
];

/** Turns one page's marks and resource timings into the numbers of one run. */
export function runFromMarks(client, { marks, resources, firstFrameRtp = null }) {
  const created = marks.createClient;
  const rel = (t) => (typeof t === "number" && typeof created === "number" ? t - created : null);
  const startSession = resources.find((r) => r.name.includes("/engine/session"));
  const tokenRequest = resources.find((r) => r.name.includes("/api/session-token"));
  const clientBytes = resources
    .filter((r) => /\/pkg\/|\/sdk\//.test(r.name))
    .reduce((s, r) => s + (r.transfer || r.encoded || 0), 0);
  const at = { ...marks };
  // The request's own end, from Resource Timing, is more exact than a mark after `await`.
  if (startSession) {
    at["start-session sent"] = startSession.start;
    at["start-session"] = startSession.end;
  }
  if (tokenRequest) at.token = tokenRequest.end;
  const breakdown = {};
  for (const m of MILESTONES) {
    // token and client load happen before createClient: keep them on the navigation clock.
    breakdown[m] = m === "token" || m === "client loaded" ? (at[m] ?? null) : rel(at[m]);
  }
  const playStarted = CLIENTS[client].sdk ? at.VIDEO_PLAY_STARTED : at["first frame"];
  return {
    client,
    navToFirstFrame: at["first frame"] ?? null,
    createToPlayStarted: rel(playStarted),
    createToFirstFrame: rel(at["first frame"]),
    startSessionMs: startSession ? startSession.end - startSession.start : null,
    clientBytesTransferred: clientBytes || null,
    firstFrameRtp,
    breakdown,
  };
}

/**
 * The floor order with the lower createClient → play median in `summary`, or null. Neither
 * order is the faster in every run on this machine, so the target is judged against the one
 * that was in this run: the nearer of the two to the physical limit.
 */
export function fastestFloor(summary) {
  const median = (c) => summary[c]?.createToPlayStarted?.median ?? null;
  const measured = ["floor", "floor-sdk-order"].filter((c) => median(c) !== null);
  return measured.sort((a, b) => median(a) - median(b))[0] ?? null;
}

/** One page load of `client` up to its first frame (and VIDEO_PLAY_STARTED for an SDK). */
export async function measureOnce(env, client) {
  const page = await openClientPage(env, client);
  try {
    const need = CLIENTS[client].sdk ? ["first frame", "VIDEO_PLAY_STARTED"] : ["first frame"];
    const state = await waitForMarks(page, need);
    return runFromMarks(client, state);
  } finally {
    await closePage(page, env);
  }
}

/**
 * `rounds` rounds; in each, every client runs once, the order rotating by one per round so no
 * client always goes first. `warmup` extra rounds run first and are discarded.
 */
export async function measureTtff(env, { clients, rounds, warmup = 1, log = () => {} }) {
  const runs = [];
  const failures = [];
  for (let round = -warmup; round < rounds; round++) {
    const k = ((round % clients.length) + clients.length) % clients.length;
    const order = clients.slice(k).concat(clients.slice(0, k));
    for (const client of order) {
      try {
        const run = await measureOnce(env, client);
        if (round >= 0) runs.push({ round, ...run });
        log(`ttff ${round < 0 ? "warm-up" : `round ${round + 1}/${rounds}`} ${client}: first frame ${run.navToFirstFrame?.toFixed(1)} ms after navigation, ${run.createToPlayStarted?.toFixed(1)} ms after createClient`);
      } catch (e) {
        failures.push({ round, client, error: String(e.message ?? e).slice(0, 500) });
        log(`ttff ${client} failed: ${e.message}`);
      }
    }
  }
  const summary = {};
  for (const client of clients) {
    const mine = runs.filter((r) => r.client === client);
    const breakdown = {};
    for (const m of MILESTONES) {
      const s = summarize(mine.map((r) => r.breakdown[m]));
      if (s.n) breakdown[m] = s;
    }
    summary[client] = {
      runs: mine.length,
      failures: failures.filter((f) => f.client === client).length,
      createToPlayStarted: summarize(mine.map((r) => r.createToPlayStarted)),
      navToFirstFrame: summarize(mine.map((r) => r.navToFirstFrame)),
      startSessionMs: summarize(mine.map((r) => r.startSessionMs)),
      clientBytesTransferred: summarize(mine.map((r) => r.clientBytesTransferred)),
      // Runs whose first painted frame was the first frame the emulator sent.
      firstSentPainted: mine.filter((r) => r.firstFrameRtp === 0).length,
      breakdown,
    };
  }
  const med = (c, k) => summary[c]?.[k]?.median ?? null;
  const samples = (c, k) => runs.filter((r) => r.client === c).map((r) => r[k]);
  // Both metrics' ratio of medians, client a over client b, with how sure the first one is.
  const versus = (a, b) => ({
    createToPlayStarted: ratio(med(a, "createToPlayStarted"), med(b, "createToPlayStarted")),
    createToPlayStartedInterval: ratioInterval(samples(a, "createToPlayStarted"), samples(b, "createToPlayStarted")),
    navToFirstFrame: ratio(med(a, "navToFirstFrame"), med(b, "navToFirstFrame")),
  });
  const ratios = {
    oursVsOfficial: versus("ours", "official"),
    oursVsFloor: versus("ours", "floor"),
    oursNoMicVsFloor: versus("ours-nomic", "floor"),
    oursVsPool2: versus("ours", "ours-pool2"),
    oursVsEager: versus("ours", "ours-eager"),
    oursVsFloorMic: versus("ours", "floor-mic"),
    oursVsFloorSdkOrder: versus("ours", "floor-sdk-order"),
    officialVsFloor: versus("official", "floor"),
  };
  const floor = fastestFloor(summary);
  if (floor) {
    ratios.oursVsFastestFloor = { floor, ...versus("ours", floor) };
    ratios.eagerVsFastestFloor = { floor, ...versus("ours-eager", floor) };
  }
  return { rounds, warmup, clients, summary, ratios, runs, failures };
}
