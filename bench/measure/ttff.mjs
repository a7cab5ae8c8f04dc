// Time to first frame under network profiles: each client loads in a browser profile of its own
// against the same emulator and backend, in alternating order, cold and then as a repeat visit;
// the probe's marks give the totals and the breakdown, CDP the bytes, the marks and Resource
// Timing the round trips.
import { summarize, ratio, ratioInterval } from "../lib/stats.mjs";
import { cdpConditions, sequentialRoundTrips, shapeLoopback } from "../lib/profiles.mjs";
import { CLIENTS, endSessions, visit, visitBrowser } from "./pages.mjs";

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

/**
 * Requests nothing on the way to the first frame waits for: the browser's own favicon request
 * and the official client's telemetry POSTs (sent without awaiting the answer).
 */
const NOT_WAITED_FOR = /\/favicon\.ico$|\/v1\/metrics\//;

/**
 * The request/response exchanges of a page, as intervals on its clock (ms since navigation):
 * its HTML, every resource fetched over the network (not those served from the HTTP cache),
 * the signalling socket's handshake and the offer → answer exchange on it.
 */
export function exchanges({ marks, resources, navigation = null }) {
  const out = [];
  if (navigation) out.push({ name: "document", start: navigation.start, end: navigation.end });
  for (const r of resources) {
    if (r.cached || NOT_WAITED_FOR.test(r.name)) continue;
    out.push({ name: new URL(r.name).pathname, start: r.start, end: r.end });
  }
  if ("socket created" in marks && "socket open" in marks) out.push({ name: "socket handshake", start: marks["socket created"], end: marks["socket open"] });
  if ("offer sent" in marks && "answer received" in marks) out.push({ name: "offer → answer", start: marks["offer sent"], end: marks["answer received"] });
  return out;
}

/** Turns one page's marks, resource timings and traffic into the numbers of one run. */
export function runFromMarks(client, { marks, resources, navigation = null, firstFrameRtp = null, traffic = null }) {
  const created = marks.createClient;
  const rel = (t) => (typeof t === "number" && typeof created === "number" ? t - created : null);
  const startSession = resources.find((r) => r.name.includes("/engine/session"));
  const tokenRequest = resources.find((r) => r.name.includes("/api/session-token"));
  const clientBytes = resources
    .filter((r) => /\/pkg\/|\/sdk\//.test(r.name))
    .reduce((s, r) => s + (r.transfer || 0), 0);
  const at = { ...marks };
  // The request's own end, from Resource Timing, is more exact than a mark after `await`.
  if (startSession) {
    at["start-session sent"] = startSession.start;
    at["start-session"] = startSession.end;
  }
  if (tokenRequest) at.token = tokenRequest.end;
  const breakdown = {};
  for (const m of MILESTONES) {
    // token and client load happen before createClient on some pages: keep them on the
    // navigation clock.
    breakdown[m] = m === "token" || m === "client loaded" ? (at[m] ?? null) : rel(at[m]);
  }
  const playStarted = CLIENTS[client].sdk ? at.VIDEO_PLAY_STARTED : at["first frame"];
  const trips = sequentialRoundTrips(exchanges({ marks, resources, navigation }), at["first frame"] ?? -Infinity);
  return {
    client,
    navToFirstFrame: at["first frame"] ?? null,
    createToPlayStarted: rel(playStarted),
    createToFirstFrame: rel(at["first frame"]),
    startSessionMs: startSession ? startSession.end - startSession.start : null,
    clientBytesTransferred: clientBytes,
    bytesReceived: traffic?.received ?? null,
    bytesSent: traffic?.sent ?? null,
    roundTrips: trips.count,
    roundTripChain: trips.chain,
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

/** The marks a client's page must reach. */
const needed = (client) => (CLIENTS[client].sdk ? ["first frame", "VIDEO_PLAY_STARTED"] : ["first frame"]);

/**
 * One user of `client` under `profile`: a new browser profile, a cold first visit, then (after
 * the first page is gone and its session ended) a repeat visit in a new tab, with the HTTP cache
 * and V8's code cache that the first visit left.
 */
export async function measureUser(env, client, profile, { visits = ["cold", "warm"] } = {}) {
  const conditions = cdpConditions(profile);
  const hash = env.relays?.[profile] ? { wsRelay: `127.0.0.1:${env.relays[profile].port}` } : {};
  const b = await visitBrowser(client);
  const out = {};
  try {
    const first = b.context.pages()[0] ?? (await b.context.newPage());
    out.cold = runFromMarks(client, await visit(env, first, client, conditions, { need: needed(client), hash }));
    if (visits.includes("warm")) {
      // Whether V8 left compiled wasm in the profile's code cache for the repeat visit.
      const wasmCodeCached = CLIENTS[client].wasm ? b.wasmCodeCached() : null;
      const second = await b.context.newPage();
      await first.close();
      await endSessions(env);
      out.warm = { ...runFromMarks(client, await visit(env, second, client, conditions, { need: needed(client), hash })), wasmCodeCached };
    }
  } finally {
    await b.close();
    await endSessions(env);
  }
  return out;
}

/** Per-client summaries and the ratios between clients, over the runs of one visit kind. */
export function summarizeRuns(runs, clients) {
  const summary = {};
  for (const client of clients) {
    const mine = runs.filter((r) => r.client === client);
    if (!mine.length) continue;
    const breakdown = {};
    for (const m of MILESTONES) {
      const s = summarize(mine.map((r) => r.breakdown[m]));
      if (s.n) breakdown[m] = s;
    }
    summary[client] = {
      runs: mine.length,
      createToPlayStarted: summarize(mine.map((r) => r.createToPlayStarted)),
      navToFirstFrame: summarize(mine.map((r) => r.navToFirstFrame)),
      startSessionMs: summarize(mine.map((r) => r.startSessionMs)),
      clientBytesTransferred: summarize(mine.map((r) => r.clientBytesTransferred)),
      bytesReceived: summarize(mine.map((r) => r.bytesReceived)),
      bytesSent: summarize(mine.map((r) => r.bytesSent)),
      roundTrips: summarize(mine.map((r) => r.roundTrips)),
      // The chain of the run with the median count, to show which exchanges they are.
      roundTripChain: mine.slice().sort((a, b) => a.roundTrips - b.roundTrips)[mine.length >> 1].roundTripChain,
      // Runs whose first painted frame was the first frame the emulator sent.
      firstSentPainted: mine.filter((r) => r.firstFrameRtp === 0).length,
      wasmCodeCached: mine.some((r) => r.wasmCodeCached !== undefined && r.wasmCodeCached !== null)
        ? mine.filter((r) => r.wasmCodeCached).length
        : null,
      breakdown,
    };
  }
  const med = (c, k) => summary[c]?.[k]?.median ?? null;
  const samples = (c, k) => runs.filter((r) => r.client === c).map((r) => r[k]);
  // Both metrics' ratio of medians, client a over client b, each with its 95% interval.
  const versus = (a, b) => ({
    createToPlayStarted: ratio(med(a, "createToPlayStarted"), med(b, "createToPlayStarted")),
    createToPlayStartedInterval: ratioInterval(samples(a, "createToPlayStarted"), samples(b, "createToPlayStarted")),
    navToFirstFrame: ratio(med(a, "navToFirstFrame"), med(b, "navToFirstFrame")),
    navToFirstFrameInterval: ratioInterval(samples(a, "navToFirstFrame"), samples(b, "navToFirstFrame")),
  });
  const ratios = {
    oursVsOfficial: versus("ours", "official"),
    oursVsFloor: versus("ours", "floor"),
    oursNoMicVsFloor: versus("ours-nomic", "floor"),
    oursVsPool2: versus("ours", "ours-pool2"),
    oursVsEager: versus("ours", "ours-eager"),
    oursVsNoHints: versus("ours", "ours-nohints"),
    eagerVsOfficial: versus("ours-eager", "official"),
    oursVsFloorMic: versus("ours", "floor-mic"),
    eagerVsFloorMic: versus("ours-eager", "floor-mic"),
    officialVsFloorMic: versus("official", "floor-mic"),
    oursVsFloorSdkOrder: versus("ours", "floor-sdk-order"),
    officialVsFloor: versus("official", "floor"),
    inlineFloorVsOfficial: versus("floor-inline", "official"),
    oursVsInlineFloor: versus("ours", "floor-inline"),
  };
  const floor = fastestFloor(summary);
  if (floor) {
    ratios.oursVsFastestFloor = { floor, ...versus("ours", floor) };
    ratios.eagerVsFastestFloor = { floor, ...versus("ours-eager", floor) };
  }
  return { summary, ratios };
}

/**
 * For each profile in turn: shape the network, then `rounds[profile]` rounds in which every
 * client runs once (one user: cold visit, repeat visit), the order rotating by one per round so
 * no client always goes first. `warmup` extra rounds run first and are discarded. The shaping
 * is removed at the end.
 */
export async function measureTtff(env, { profiles, clientsFor, rounds, warmup = 1, visits = ["cold", "warm"], log = () => {} }) {
  const out = { profiles, visits, warmup, byProfile: {} };
  try {
    for (const profile of profiles) {
      const clients = clientsFor(profile);
      const shaping = shapeLoopback(profile);
      log(`ttff profile ${profile}: lo ${shaping.applied ? `shaped (${shaping.qdisc})` : `not shaped${shaping.reason ? ` (${shaping.reason})` : ""}`}`);
      const runs = { cold: [], warm: [] };
      const failures = [];
      const n = rounds[profile];
      // Warm-up rounds only before the first profile: they absorb the first-time costs (the
      // emulator's first sessions, the browser binary's first launches), which do not come back.
      const w = profile === profiles[0] ? warmup : 0;
      for (let round = -w; round < n; round++) {
        const k = ((round % clients.length) + clients.length) % clients.length;
        const order = clients.slice(k).concat(clients.slice(0, k));
        for (const client of order) {
          try {
            const user = await measureUser(env, client, profile, { visits });
            if (round >= 0) for (const v of visits) runs[v].push({ round, ...user[v] });
            const fmt = (r) => `${r?.navToFirstFrame?.toFixed(0)} ms (${r?.roundTrips} round trips, ${((r?.bytesReceived ?? 0) / 1024).toFixed(0)} KiB)`;
            log(`ttff ${profile} ${round < 0 ? "warm-up" : `round ${round + 1}/${n}`} ${client}: first frame cold ${fmt(user.cold)}${user.warm ? `, repeat ${fmt(user.warm)}` : ""}`);
          } catch (e) {
            failures.push({ round, client, error: String(e.message ?? e).slice(0, 500) });
            log(`ttff ${profile} ${client} failed: ${e.message}`);
          }
        }
      }
      const byVisit = {};
      for (const v of visits) byVisit[v] = summarizeRuns(runs[v], clients);
      for (const v of visits) {
        for (const c of Object.keys(byVisit[v].summary)) byVisit[v].summary[c].failures = failures.filter((f) => f.client === c).length;
      }
      out.byProfile[profile] = { clients, rounds: n, shaping, conditions: cdpConditions(profile), visits: byVisit, runs, failures };
    }
  } finally {
    const restored = shapeLoopback("loopback");
    log(`ttff: lo back to ${restored.qdisc ?? "unshaped"}`);
  }
  return out;
}
