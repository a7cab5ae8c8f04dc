// Conformance: the official client, @anam-ai/js-sdk 4.27.0 from npm (its UMD bundle), works
// against the emulator unchanged. The test's server side mints every token with the API key;
// the page only ever receives the token (checked on the recorded traffic). Everything runs for a
// stateful and an ephemeral token, with token reuse allowed (the default) and with
// --single-use-tokens; then each start-session fault status must surface as the client's
// documented error code.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startEmulator, launchBrowser, newPage, serveStatic, waitFor, assertSecretAbsent,
} from "./harness.mjs";

const PAGE = "/tests/e2e/pages/official-client.html";
const EPHEMERAL = { name: "Cara", avatarId: "avatar-milo", voiceId: "voice-milo", llmId: "emulator-toy", systemPrompt: "Be brief." };
const KINDS = [
  ["stateful", { personaId: "persona-aria" }],
  ["ephemeral", EPHEMERAL],
];
// Speech is paced in real time; a few seconds per sentence plus a loaded 2-core machine.
const SPEECH_TIMEOUT_MS = 30_000;

const names = (page) => page.evaluate(() => window.events.map((e) => e.name));
const eventsNamed = (page, name) =>
  page.evaluate((n) => window.events.filter((e) => e.name === n).map((e) => e.args), name);

async function waitEvent(page, name, timeoutMs = 20_000) {
  return waitFor(async () => (await names(page)).includes(name), { timeoutMs, what: name });
}

/** The last MESSAGE_HISTORY_UPDATED list that satisfies `pred` on some message. */
async function waitHistory(page, pred, what) {
  return waitFor(
    async () => {
      const updates = await eventsNamed(page, "MESSAGE_HISTORY_UPDATED");
      for (const [messages] of updates.reverse()) {
        const hit = messages.find(pred);
        if (hit) return { hit, messages };
      }
      return null;
    },
    { timeoutMs: SPEECH_TIMEOUT_MS, what },
  );
}

const squash = (s) => s.replace(/\s+/g, " ").trim();

async function openClient(browser, web, emu, personaConfig, options) {
  const page = await newPage(browser);
  await page.goto(web.url + PAGE);
  const token = await emu.mintToken(personaConfig);
  const result = await page.evaluate(([t, u, o]) => window.conformance.start(t, u, o), [token, emu.url, options ?? {}]);
  return { page, token, result };
}

async function sessionInfo(emu, id) {
  const { sessions } = await emu.sessions();
  return sessions.find((s) => s.id === id);
}

for (const mode of [[], ["--single-use-tokens"]]) {
  const label = mode.length ? "single-use tokens" : "reusable tokens";
  describe(`official client, ${label}`, () => {
    let emu, web, browser;
    before(async () => {
      [emu, web, browser] = await Promise.all([startEmulator(mode), serveStatic(), launchBrowser()]);
    });
    after(async () => {
      await browser?.close();
      await web?.stop();
      await emu?.stop();
    });

    for (const [kind, personaConfig] of KINDS) {
      test(`${kind} token: media, talk, talk stream, interrupt, user message, stop`, async () => {
        const { page, result } = await openClient(browser, web, emu, personaConfig);
        try {
          assert.equal(result.ok, true, JSON.stringify(result));
          const sessionId = result.sessionId;
          assert.ok(sessionId);

          // Ready and playing (order between the two is not guaranteed, §10.6).
          await waitEvent(page, "SESSION_READY");
          await waitEvent(page, "VIDEO_PLAY_STARTED");
          const [readyArgs] = await eventsNamed(page, "SESSION_READY");
          assert.equal(readyArgs[0], sessionId);

          // A real picture, and the persona's audio in the video element's own stream.
          const video = await page.evaluate(() => window.conformance.video());
          assert.ok(video.width > 0 && video.height > 0, JSON.stringify(video));
          assert.deepEqual(video.kinds, ["audio", "video"]);
          assert.equal(video.liveAudio, 1);
          const frame = await waitFor(
            async () => {
              const s = await page.evaluate(() => window.conformance.frameStats());
              return s && s.max - s.min > 40 && s.mean > 8 ? s : null;
            },
            { what: "a non-blank frame" },
          );
          assert.ok(frame.max - frame.min > 40, JSON.stringify(frame));

          // talk(): a persona message holding the text.
          const said = "Hello from the conformance suite";
          assert.deepEqual(await page.evaluate((t) => window.conformance.talk(t), said), { ok: true });
          const talked = await waitHistory(page, (m) => m.role === "persona" && squash(m.content) === said, "talk transcript");
          assert.equal(talked.hit.interrupted, false);

          // A three-chunk talk stream becomes one persona message.
          const chunks = ["First part, ", "second part, ", "third part."];
          await page.evaluate((c) => window.conformance.streamTalk(c), chunks);
          await waitHistory(page, (m) => m.role === "persona" && squash(m.content) === squash(chunks.join("")), "talk-stream transcript");

          // interruptPersona() while speaking: the message ends interrupted.
          const long = "This is a long sentence that keeps going for a good while so that there is plenty of time to interrupt it before the end.";
          await page.evaluate((t) => window.conformance.talk(t), long);
          const speakingId = await waitFor(
            async () => {
              const evs = await eventsNamed(page, "MESSAGE_STREAM_EVENT_RECEIVED");
              const e = evs.map(([x]) => x).find((x) => x.role === "persona" && long.startsWith(squash(x.content)) && x.contentIndex === 0 && !x.endOfSpeech);
              return e?.id;
            },
            { timeoutMs: SPEECH_TIMEOUT_MS, what: "the long sentence to start" },
          );
          await page.evaluate(() => window.conformance.interrupt());
          const cut = await waitHistory(page, (m) => m.id === speakingId && m.interrupted === true, "an interrupted message");
          assert.ok(squash(cut.hit.content).length < long.length, "the whole sentence was spoken despite the interrupt");

          // sendUserMessage(): the user's words in the history, and a reply that quotes them.
          const question = "what colour is the sky today";
          await page.evaluate((q) => window.conformance.sendUserMessage(q), question);
          const reply = await waitHistory(page, (m) => m.role === "persona" && m.content.includes(question), "a persona reply");
          assert.ok(reply.messages.some((m) => m.role === "user" && m.content === question));

          // The emulator saw it all.
          const info = await sessionInfo(emu, sessionId);
          assert.equal(info.personaId, kind === "stateful" ? "persona-aria" : "ephemeral");
          assert.ok(info.framesSent > 0);
          assert.ok(info.talkTexts.includes(said));
          assert.equal(info.userMessagesReceived, 1);
          assert.equal(info.interruptsReceived, 1);
          assert.equal(info.iceState === "connected" || info.iceState === "completed", true, info.iceState);

          // stopStreaming() ends cleanly: NORMAL close, not streaming, and the session ends.
          const stopped = await page.evaluate(() => window.conformance.stop());
          assert.equal(stopped.streaming, false);
          const closes = await eventsNamed(page, "CONNECTION_CLOSED");
          assert.deepEqual(closes.map((a) => a[0]), ["CONNECTION_CLOSED_CODE_NORMAL"]);
          await waitFor(async () => (await sessionInfo(emu, sessionId))?.state === "ended", {
            timeoutMs: 20_000,
            what: "the emulator to end the stopped session",
          });
          assert.ok(!page.consoleLines.some((l) => l.startsWith("pageerror")), page.consoleLines.join("\n"));
          assertSecretAbsent(page, emu.apiKey);
        } finally {
          await page.context().close();
        }
      });
    }

    test("a dropped signalling socket is reconnected and the session carries on", async () => {
      const { page, result } = await openClient(browser, web, emu, { personaId: "persona-milo" });
      try {
        assert.equal(result.ok, true, JSON.stringify(result));
        await waitEvent(page, "SESSION_READY");
        const res = await emu.dropSignalling(result.sessionId);
        assert.equal(res.status, 200);
        await waitFor(async () => (await sessionInfo(emu, result.sessionId))?.wsConnectionsTotal >= 2, {
          what: "the client to reconnect its WebSocket",
        });
        assert.equal((await page.evaluate(() => window.conformance.talk("Still here"))).ok, true);
        await waitHistory(page, (m) => m.role === "persona" && squash(m.content) === "Still here", "talk after reconnect");
        assert.equal((await eventsNamed(page, "CONNECTION_CLOSED")).length, 0);
      } finally {
        await page.context().close();
      }
    });

    test("an interrupted talk stream is reported to the client", async () => {
      const { page, result } = await openClient(browser, web, emu, { personaId: "persona-aria" });
      try {
        assert.equal(result.ok, true, JSON.stringify(result));
        await waitEvent(page, "SESSION_READY");
        const correlationId = await page.evaluate(() => window.conformance.openTalkStream("Streaming words that will be cut off before they are finished, "));
        await waitFor(async () => (await eventsNamed(page, "MESSAGE_STREAM_EVENT_RECEIVED")).length > 0, {
          timeoutMs: SPEECH_TIMEOUT_MS,
          what: "the stream to start speaking",
        });
        await page.evaluate(() => window.conformance.interrupt());
        await waitEvent(page, "TALK_STREAM_INTERRUPTED");
        const [[id]] = await eventsNamed(page, "TALK_STREAM_INTERRUPTED");
        assert.equal(id, correlationId);
        assert.equal(await page.evaluate(() => window.conformance.talkStreamState()), 2 /* INTERRUPTED */);
      } finally {
        await page.context().close();
      }
    });

    test("the server ends sessions: on request and at maxSessionLengthSeconds", async () => {
      const { page, result } = await openClient(browser, web, emu, { personaId: "persona-aria" });
      try {
        assert.equal(result.ok, true, JSON.stringify(result));
        await waitEvent(page, "SESSION_READY");
        assert.equal((await emu.endSession(result.sessionId)).status, 200);
        await waitEvent(page, "CONNECTION_CLOSED");
        const [[code]] = await eventsNamed(page, "CONNECTION_CLOSED");
        assert.equal(code, "CONNECTION_CLOSED_CODE_SERVER_CLOSED_CONNECTION");
      } finally {
        await page.context().close();
      }
      const short = await openClient(browser, web, emu, { ...EPHEMERAL, maxSessionLengthSeconds: 3 });
      try {
        assert.equal(short.result.ok, true, JSON.stringify(short.result));
        await waitEvent(short.page, "SESSION_READY");
        await waitEvent(short.page, "CONNECTION_CLOSED", 15_000);
        const [[code, details]] = await eventsNamed(short.page, "CONNECTION_CLOSED");
        assert.equal(code, "CONNECTION_CLOSED_CODE_SERVER_CLOSED_CONNECTION");
        assert.match(details, /length/i);
      } finally {
        await short.page.context().close();
      }
    });
  });
}

describe("official client, injected faults", () => {
  let emu, web, browser, page;
  before(async () => {
    [emu, web, browser] = await Promise.all([startEmulator(), serveStatic(), launchBrowser()]);
    page = await newPage(browser);
    await page.goto(web.url + PAGE);
  });
  after(async () => {
    await browser?.close();
    await web?.stop();
    await emu?.stop();
  });

  // Start-session status → the documented ErrorCode (§3.3). 5xx are retried three times by the
  // client, so those faults are armed for three calls.
  const CASES = [
    [400, undefined, "CLIENT_ERROR_CODE_VALIDATION_ERROR"],
    [401, undefined, "CLIENT_ERROR_CODE_AUTHENTICATION_ERROR"],
    [402, undefined, "CLIENT_ERROR_CODE_NO_PLAN_FOUND"],
    [403, undefined, "CLIENT_ERROR_CODE_AUTHENTICATION_ERROR"],
    [404, undefined, "CLIENT_ERROR_CODE_SERVER_ERROR"],
    [429, "Concurrent session limit reached", "CLIENT_ERROR_CODE_MAX_CONCURRENT_SESSIONS_REACHED"],
    [429, "Spend cap reached", "CLIENT_ERROR_CODE_SPEND_CAP_REACHED"],
    [429, "Too Many Requests", "CLIENT_ERROR_CODE_USAGE_LIMIT_REACHED"],
    [500, undefined, "CLIENT_ERROR_CODE_SERVER_ERROR"],
    [503, undefined, "CLIENT_ERROR_CODE_SERVICE_BUSY"],
  ];
  for (const [status, error, code] of CASES) {
    test(`engine-session ${status}${error ? ` (${error})` : ""} → ${code}`, async () => {
      const token = await emu.mintToken();
      const count = status >= 500 ? 3 : 1;
      await emu.fault({ endpoint: "engine-session", status, error, message: `injected ${status}`, count });
      const result = await page.evaluate(([t, u]) => window.conformance.start(t, u, { api: { baseUrl: u, retry: { initialBackoffMs: 10, maxBackoffMs: 20 } } }), [token, emu.url]);
      assert.equal(result.ok, false, JSON.stringify(result));
      assert.equal(result.error.name, "ClientError");
      assert.equal(result.error.code, code);
      assert.equal(result.error.statusCode, status);
      assert.equal(result.error.details?.cause, `injected ${status}`);
      // No attempt got through: every one the client made hit the fault.
      const { sessions } = await emu.sessions();
      assert.equal(sessions.filter((s) => s.state !== "ended").length, 0);
    });
  }

  test("session-token faults answer the app backend with the chosen status and JSON", async () => {
    await emu.fault({ endpoint: "session-token", status: 429, error: "Too Many Requests", message: "slow down" });
    const res = await fetch(`${emu.url}/v1/auth/session-token`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${emu.apiKey}` },
      body: JSON.stringify({ personaConfig: { personaId: "persona-aria" } }),
    });
    assert.equal(res.status, 429);
    assert.ok(res.headers.get("retry-after"));
    assert.deepEqual(await res.json(), { error: "Too Many Requests", message: "slow down" });
  });

  test("a talk fault makes talk() throw, and the next talk works", async () => {
    const token = await emu.mintToken();
    const result = await page.evaluate(([t, u]) => window.conformance.start(t, u), [token, emu.url]);
    assert.equal(result.ok, true, JSON.stringify(result));
    await waitEvent(page, "SESSION_READY");
    await emu.fault({ endpoint: "talk", status: 500, message: "talk broke" });
    const failed = await page.evaluate(() => window.conformance.talk("this fails"));
    assert.equal(failed.ok, false);
    assert.equal((await page.evaluate(() => window.conformance.talk("this works"))).ok, true);
    await page.evaluate(() => window.conformance.stop());
    assertSecretAbsent(page, emu.apiKey);
  });
});
