// What `node bench/run.mjs --smoke` must have produced for the harness to count as working:
// every requested measurement present, no section failed, and every number positive and finite.

import { PROFILES, privateNetns } from "./profiles.mjs";

const positive = (x) => typeof x === "number" && Number.isFinite(x) && x > 0;

/** Returns a list of problems (empty when the smoke results are sane). */
export function checkSmoke(results, only) {
  const problems = [];
  const need = (cond, what) => {
    if (!cond) problems.push(what);
  };
  for (const key of only) {
    const r = results[key];
    need(r && !r.error, `${key}: ${r?.error ?? "missing"}`);
  }
  if (only.includes("size") && results.size && !results.size.error) {
    const { ours, official, ratios } = results.size;
    need(positive(ours.total.gzip) && positive(ours.total.brotli), "size: our gzip/brotli totals are not positive");
    need(ours.files.some((f) => f.kind === "wasm"), "size: no wasm among the files a page loads");
    need(positive(official.gzip), "size: official bundle size is not positive");
    need(positive(ratios.gzip), "size: gzip ratio is not positive");
  }
  if (only.includes("ttff") && results.ttff && !results.ttff.error) {
    for (const [profile, p] of Object.entries(results.ttff.byProfile)) {
      const rtt = PROFILES[profile].rttMs;
      for (const [visit, { summary }] of Object.entries(p.visits)) {
        const where = `ttff ${profile} ${visit}`;
        need(Object.keys(summary).length === p.clients.length, `${where}: ${p.clients.filter((c) => !summary[c]).join(", ")} never reached a first frame`);
        for (const [client, s] of Object.entries(summary)) {
          need(s.runs >= 1, `${where} ${client}: no successful run`);
          need(positive(s.navToFirstFrame.median), `${where} ${client}: navigation → first frame is not positive`);
          need(positive(s.createToPlayStarted.median), `${where} ${client}: createClient → first frame is not positive`);
          need(
            !positive(s.navToFirstFrame.median) || !positive(s.createToPlayStarted.median) || s.navToFirstFrame.median >= s.createToPlayStarted.median,
            `${where} ${client}: navigation → first frame is shorter than createClient → first frame`,
          );
          if (visit === "cold") {
            need(positive(s.bytesReceived.median), `${where} ${client}: no bytes received before the first frame`);
            need(s.roundTrips.median >= 3, `${where} ${client}: ${s.roundTrips.median} sequential round trips (a page, its token and start-session are 3 at least)`);
            // The throttling took effect: at least three of the profile's round trips passed.
            if (rtt > 0) need(s.navToFirstFrame.median >= 3 * rtt, `${where} ${client}: first frame after ${s.navToFirstFrame.median} ms, under 3 round trips of ${rtt} ms: the profile was not applied`);
          }
        }
      }
      if (rtt > 0 && privateNetns()) need(p.shaping?.applied, `ttff ${profile}: lo was not shaped (${p.shaping?.reason})`);
    }
  }
  if (only.includes("memory") && results.memory) {
    for (const client of ["ours", "official"]) {
      const m = results.memory[client];
      if (!m || m.error) {
        problems.push(`memory ${client}: ${m?.error ?? "missing"}`);
        continue;
      }
      need(!m.failures?.length, `memory ${client}: failed cycles ${JSON.stringify(m.failures)}`);
      need(m.samples.length === m.cycles + 1, `memory ${client}: ${m.samples.length} samples for ${m.cycles} cycles`);
      need(m.samples.every((s) => positive(s.jsHeapUsed)), `memory ${client}: a JS heap sample is not positive`);
      if (client === "ours") need(m.samples.every((s) => positive(s.wasmMemory)), "memory ours: wasm memory not readable");
    }
  }
  if (only.includes("talk") && results.talk) {
    for (const client of ["ours", "official"]) {
      const t = results.talk[client];
      if (!t || t.error) {
        problems.push(`talk ${client}: ${t?.error ?? "missing"}`);
        continue;
      }
      need(t.count >= 1 && positive(t.receipt.median), `talk ${client}: no positive receipt latency`);
    }
  }
  if (only.includes("load") && results.load && !results.load.error) {
    for (const route of ["healthz", "sessionToken"]) {
      const l = results.load[route];
      need(positive(l?.requestsPerSec), `load ${route}: requests/s is not positive`);
      need(positive(l?.latencyMs?.p50) && positive(l?.latencyMs?.p99), `load ${route}: latency percentiles missing`);
    }
    const r = results.loadRedis;
    need(r && !r.error, `load with limits in Redis: ${r?.error ?? "missing"}`);
    need(positive(r?.sessionToken?.requestsPerSec) && r?.sessionToken?.non2xx === 0, "load with limits in Redis: no successful session-token requests");
  }
  if (only.includes("firefox")) {
    const f = results.firefox;
    need(f && !f.error, `firefox: ${f?.error ?? "missing"}`);
    for (const client of f?.clients ?? []) {
      need(positive(f.summary?.[client]?.navToFirstFrame?.median), `firefox ${client}: no first frame`);
    }
  }
  if (only.includes("capacity") && results.capacity && !results.capacity.error) {
    const first = results.capacity.steps[0];
    need(first && !first.error && positive(first.medianFps), "capacity: the first step measured no frame rate");
  }
  return problems;
}
