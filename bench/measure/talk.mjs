// talk() latency, two ways, both upper bounds on "the emulator received it":
//  - the talk() promise: the client resolves it when the emulator has answered POST /talk, and
//    the emulator answers only after it accepted the text, so call → resolve bounds the receipt;
//  - the session's own count: GET /_emulator/sessions polled back-to-back from Node until
//    `talkTextsReceived` rises (the emulator keeps no receipt timestamp). Each sample is
//    bracketed between the last poll that did not see it and the first that did; the upper end
//    is reported, the bracket width is the polling resolution.
import { summarize } from "../lib/stats.mjs";
import { openClientPage, waitForMarks, closePage } from "./pages.mjs";

const epochNow = () => performance.timeOrigin + performance.now();

/**
 * How far the page's `timeOrigin + now()` is ahead of ours. Both advance with the monotonic
 * clock, but each origin is the wall clock read when its process (or page) started, and on this
 * VM the wall clock can drift from the monotonic one (0.5% after a snapshot resume, measured:
 * 15 ms in 3 s), so two origins taken seconds apart disagree by more than a talk takes. The
 * offset is constant for a page; the round trip with the shortest span estimates it to within
 * half that span.
 */
async function pageClockOffset(page, tries = 5) {
  let best = null;
  for (let i = 0; i < tries; i++) {
    const before = epochNow();
    const theirs = await page.evaluate(() => performance.timeOrigin + performance.now());
    const after = epochNow();
    if (!best || after - before < best.span) best = { span: after - before, offset: theirs - (before + after) / 2 };
  }
  return best.offset;
}

async function talkCount(env, sessionId) {
  const res = await fetch(`${env.emulatorUrl}/_emulator/sessions`);
  const body = await res.json();
  const s = (body.sessions ?? []).find((x) => x.id === sessionId);
  return s ? s.talkTextsReceived : null;
}

/** Polls until the session's talk count reaches `target`; returns the bracket (epoch ms). */
async function waitForCount(env, sessionId, target, deadlineMs) {
  let lastMissStart = epochNow();
  while (epochNow() < deadlineMs) {
    const start = epochNow();
    const count = await talkCount(env, sessionId);
    const end = epochNow();
    if (count !== null && count >= target) return { after: lastMissStart, before: end };
    lastMissStart = start;
  }
  throw new Error(`the emulator did not receive talk #${target} in time`);
}

export async function measureTalk(env, client, { count, log = () => {} }) {
  const page = await openClientPage(env, client, { mode: "manual" });
  try {
    await waitForMarks(page, ["manual ready"]);
    await page.evaluate(() => window.__bench.begin());
    const sessionId = await page.evaluate(() => window.__bench.client.getActiveSessionId());
    const offset = await pageClockOffset(page);
    const samples = [];
    let received = (await talkCount(env, sessionId)) ?? 0;
    for (let i = 0; i < count; i++) {
      const target = received + 1;
      const polled = waitForCount(env, sessionId, target, epochNow() + 10_000);
      const call = await page.evaluate((text) => window.__bench.talk(text), `Benchmark sentence number ${i + 1}.`);
      const { after, before } = await polled;
      received = target;
      const calledAt = call.startEpoch - offset; // on our clock
      samples.push({
        upperMs: before - calledAt,
        lowerMs: Math.max(0, after - calledAt),
        promiseMs: call.ms,
      });
      // A gap between talks, so each is received on its own and not batched with the next.
      await new Promise((r) => setTimeout(r, 50));
    }
    log(`talk ${client}: ${samples.length} talks`);
    return {
      client,
      count: samples.length,
      receipt: summarize(samples.map((s) => s.upperMs)),
      resolution: summarize(samples.map((s) => s.upperMs - s.lowerMs)),
      promise: summarize(samples.map((s) => s.promiseMs)),
      samples,
    };
  } finally {
    await closePage(page, env);
  }
}
