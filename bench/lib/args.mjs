// Command-line options of bench/run.mjs and their defaults (full run vs --smoke).

export const ALL = ["size", "ttff", "firefox", "memory", "talk", "load", "capacity"];
// Kept in step with bench/lib/profiles.mjs PROFILES (this module stays free of imports).
export const PROFILE_NAMES = ["loopback", "4g", "slow-4g"];

export function parseArgs(argv) {
  const opts = { smoke: false, only: ALL, attribution: true };
  const num = (v, name) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case "--smoke": opts.smoke = true; break;
      case "--rounds": opts.rounds = num(value(), flag); break;
      case "--cycles": opts.cycles = num(value(), flag); break;
      case "--talks": opts.talks = num(value(), flag); break;
      case "--wrk-seconds": opts.wrkSeconds = num(value(), flag); break;
      case "--capacity-window-ms": opts.capacityWindowMs = num(value(), flag); break;
      case "--only": {
        opts.only = value().split(",").map((s) => s.trim()).filter(Boolean);
        const bad = opts.only.filter((s) => !ALL.includes(s));
        if (bad.length) throw new Error(`--only: unknown ${bad.join(", ")} (use ${ALL.join(",")})`);
        break;
      }
      case "--throttled-rounds": opts.throttledRounds = num(value(), flag); break;
      case "--profiles": {
        opts.profiles = value().split(",").map((s) => s.trim()).filter(Boolean);
        const bad = opts.profiles.filter((s) => !PROFILE_NAMES.includes(s));
        if (bad.length || !opts.profiles.length) throw new Error(`--profiles: unknown ${bad.join(", ")} (use ${PROFILE_NAMES.join(",")})`);
        break;
      }
      case "--visits": {
        opts.visits = value().split(",").map((s) => s.trim()).filter(Boolean);
        if (!opts.visits.includes("cold") || opts.visits.some((v) => v !== "cold" && v !== "warm")) throw new Error("--visits: cold or cold,warm");
        break;
      }
      case "--clients": opts.clients = value().split(",").map((s) => s.trim()).filter(Boolean); break;
      case "--emulator": opts.emulator = value(); break;
      case "--backend": opts.backend = value(); break;
      case "--no-attribution": opts.attribution = false; break;
      case "--pkg": opts.pkg = value(); break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  const d = opts.smoke
    ? // One throttled profile, so that the profile code runs in every `make test`.
      { rounds: 1, throttledRounds: 1, firefoxRounds: 1, profiles: ["loopback", "4g"], visits: ["cold", "warm"], cycles: 2, talks: 2, wrkSeconds: 1, capacityWindowMs: 1500, warmup: 0, capacitySteps: [1] }
    : // First-frame rounds: 16 on loopback, 10 under each throttled profile, where a run takes
      // seconds and the spread is wider in ms but narrower relative to the total.
      { rounds: 16, throttledRounds: 10, firefoxRounds: 10, profiles: PROFILE_NAMES, visits: ["cold", "warm"], cycles: 20, talks: 30, wrkSeconds: 10, capacityWindowMs: 5000, warmup: 1,
        capacitySteps: [1, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 32, 40, 48, 64] };
  if (opts.smoke) opts.attribution = false;
  return { ...d, ...opts };
}

