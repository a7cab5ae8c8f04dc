// Network profiles for the first-frame measurement, and how each one is imposed.
//
// Three mechanisms, because none covers everything on its own:
//  - the DevTools protocol's Network.emulateNetworkConditions, per page: every HTTP request gets
//    the profile's round trip added and its down/up rates, a WebSocket its handshake's round
//    trip. Chromium 156 applies it to WebRTC's UDP as well, more heavily: STUN checks during the
//    connection's set-up took 310-330 ms under the 150 ms profile (and 2-90 ms on loopback).
//  - a relay (bench/lib/relay.mjs) for the WebSocket frames, which the emulation does not delay.
//  - a `tbf` qdisc on `lo`, only inside the bench's own network namespace: it caps the rate of
//    every packet on loopback, WebRTC included. On `lo` both directions leave through the same
//    device, so one bucket holds the sum of both directions, at the profile's down rate. tbf adds
//    no delay of its own (`netem`, which would, is not available on these machines).
import { readlinkSync } from "node:fs";
import { spawnSync } from "node:child_process";

/** The profiles, in the order the report shows them. Rates in kbit/s, round trip in ms. */
export const PROFILES = {
  loopback: { label: "loopback", downKbps: null, upKbps: null, rttMs: 0 },
  "4g": { label: "4G", downKbps: 9000, upKbps: 1500, rttMs: 60 },
  // The mobile lab profile ("slow 4G" in Lighthouse and PageSpeed).
  "slow-4g": { label: "slow 4G", downKbps: 1600, upKbps: 750, rttMs: 150 },
};

export const throttled = (name) => PROFILES[name].downKbps !== null;

/**
 * The arguments of Network.emulateNetworkConditions for `name`, or null for none. `latency`
 * is added once per request (request sent → response headers), which is the round trip.
 */
export function cdpConditions(name) {
  const p = PROFILES[name];
  if (!throttled(name)) return null;
  return {
    offline: false,
    latency: p.rttMs,
    downloadThroughput: (p.downKbps * 1000) / 8,
    uploadThroughput: (p.upKbps * 1000) / 8,
  };
}

/**
 * The tbf parameters for `name`. The bucket (burst) holds ten 1,500-byte packets: large enough
 * for any single packet once `lo` has a 1,500-byte MTU, small enough that no more than 15 KB
 * passes at more than the rate. Packets wait at most 500 ms in the queue before tbf drops them,
 * a mobile network's deep buffer rather than a loss profile.
 */
export function tbfArgs(name) {
  const p = PROFILES[name];
  if (!throttled(name)) return null;
  return ["rate", `${p.downKbps}kbit`, "burst", "15000", "latency", "500ms"];
}

/**
 * True when this process runs in a network namespace of its own (not the machine's): its
 * namespace differs from PID 1's, or, where PID 1's cannot be read (a container), `lo` is its
 * only network device, as in the fresh namespace `unshare -n` makes.
 */
export function privateNetns() {
  try {
    return readlinkSync("/proc/self/ns/net") !== readlinkSync("/proc/1/ns/net");
  } catch {
    const r = spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8", timeout: 10_000 });
    if (r.error || r.status !== 0) return false;
    const devices = r.stdout.split("\n").filter(Boolean).map((l) => l.split(":")[1]?.trim());
    return devices.length === 1 && devices[0] === "lo";
  }
}

const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 10_000 });
  return { ok: !r.error && r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim(), error: r.error };
};

/**
 * Shapes `lo` for `name` (tbf, and a 1,500-byte MTU so that no packet exceeds the bucket), or
 * removes the shaping for loopback. Never touches a `lo` shared with the machine: outside a
 * private namespace it only reports why it did nothing. Returns {applied, qdisc, reason?}.
 */
export function shapeLoopback(name) {
  if (!privateNetns()) return { applied: false, qdisc: null, reason: "not in a private network namespace (run through `make bench`)" };
  if (run("tc", ["-V"]).error) return { applied: false, qdisc: null, reason: "`tc` (iproute2) is not installed" };
  const args = tbfArgs(name);
  if (args) {
    const mtu = run("ip", ["link", "set", "lo", "mtu", "1500"]);
    if (!mtu.ok) return { applied: false, qdisc: null, reason: `ip link set lo mtu 1500: ${mtu.out}` };
    const tc = run("tc", ["qdisc", "replace", "dev", "lo", "root", "tbf", ...args]);
    if (!tc.ok) return { applied: false, qdisc: null, reason: `tc qdisc replace dev lo root tbf: ${tc.out}` };
  } else {
    // Deleting a qdisc that is not there fails harmlessly; the MTU goes back to lo's default.
    run("tc", ["qdisc", "del", "dev", "lo", "root"]);
    run("ip", ["link", "set", "lo", "mtu", "65536"]);
  }
  const shown = run("tc", ["qdisc", "show", "dev", "lo"]).out.split("\n")[0] || null;
  return { applied: Boolean(args), qdisc: shown };
}

/**
 * The largest number of exchanges in `intervals` ({name, start, end}) that happened one after
 * another, each starting at or after the end of the one before, all ending by `until`: the
 * sequential round trips on the recorded timeline. Greedy by earliest end, which finds the
 * longest such chain. Returns {count, chain: [names]}.
 */
export function sequentialRoundTrips(intervals, until = Infinity) {
  const xs = intervals
    .filter((i) => Number.isFinite(i.start) && Number.isFinite(i.end) && i.end >= i.start && i.end <= until)
    .sort((a, b) => a.end - b.end || a.start - b.start);
  const chain = [];
  let last = -Infinity;
  for (const i of xs) {
    if (i.start >= last) {
      chain.push(i.name);
      last = i.end;
    }
  }
  return { count: chain.length, chain };
}
