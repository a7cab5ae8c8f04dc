// End-to-end tests of the wasm client: a page from its own origin loads pkg/, gets tokens from
// anam-backend (which holds the emulator's API key) and streams from anam-emulator --control.
// Every test checks behaviour through the public API and events, and every page's recorded
// traffic is checked for the API key.
//
// Needs: pkg/ built (`wasm-pack build --target web --dev` + `node scripts/finish-pkg.mjs pkg`)
// and the debug binaries of anam-emulator and anam-backend (see harness.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { ENGINE, waitFor } from "./harness.mjs";
import {
  backend,
  countEvents as count,
  emulator,
  onCleanup,
  openPage,
  startStreaming,
  streamError,
  tornDown,
  useClientPageSuite,
  waitEvents,
} from "./client-page.mjs";

useClientPageSuite();

/** Waits for a MESSAGE_HISTORY_UPDATED whose messages satisfy `pred`; returns the messages. */
async function waitHistory(page, pred, what, timeoutMs = 30_000) {
  return waitFor(
    async () => {
      const list = await page.evaluate(() => window.events("MESSAGE_HISTORY_UPDATED"));
      const hit = list.map((e) => e.args[0]).find(pred);
      return hit ?? null;
    },
    { timeoutMs, what },
  );
}

const norm = (s) => s.toLowerCase().replace(/[^a-z0-9 ]/g, "").replace(/\s+/g, " ").trim();

/**
 * Runs in the page before its scripts: when the first answer reaches a signalling socket (before
 * the client sees it), records what the <video> plays then, and whether those are the peer
 * connection's receiver tracks.
 */
function recordVideoAtAnswer() {
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        if (window.videoAtAnswer || !String(e.data).includes('"answer"')) return;
        const tracks = document.getElementById("v")?.srcObject?.getTracks() ?? [];
        const receiverTracks = (window.peers ?? []).flatMap((p) => p.getReceivers().map((r) => r.track));
        window.videoAtAnswer = {
          kinds: tracks.map((t) => t.kind).sort(),
          receivers: tracks.length > 0 && tracks.every((t) => receiverTracks.includes(t)),
        };
      });
    }
  };
}

/**
 * The concrete later event behind every "nothing fired twice" check on a live session: a
 * talk() round trip through the emulator (HTTP to it, its transcript back on the data channel)
 * has been seen by the page, so whatever the server sent before it, and whatever the client
 * had queued, has been handled.
 */
async function talkRoundTrip(page) {
  const before = await count(page, "MESSAGE_STREAM_EVENT_RECEIVED");
  await page.evaluate(() => window.client.talk("One more round trip"));
  await waitFor(async () => (await count(page, "MESSAGE_STREAM_EVENT_RECEIVED")) > before, {
    timeoutMs: 20_000,
    what: "the transcript of a talk() round trip",
  });
}

async function readyPage() {
  const page = await openPage();
  const sessionId = await startStreaming(page);
  await waitEvents(page, "SESSION_READY");
  await waitEvents(page, "DATA_CHANNEL_OPEN");
  return { page, sessionId };
}

test("the <video> plays the receivers' tracks before the answer arrives, ready for the first frame", async () => {
  // Given the stream only at the track event (when the answer is applied), Chromium drops the
  // first frame while it sets the element up (README, docs/BENCHMARKS.md).
  const page = await openPage(undefined, { initScript: recordVideoAtAnswer });
  await startStreaming(page);
  await waitEvents(page, "VIDEO_PLAY_STARTED");
  assert.deepEqual(await page.evaluate(() => window.videoAtAnswer), { kinds: ["audio", "video"], receivers: true });
  const [videoEvent] = await waitEvents(page, "VIDEO_STREAM_STARTED");
  assert.deepEqual(videoEvent.args[0].tracks.sort(), ["audio", "video"], "the event still carries the remote stream");
});

test("streams a persona: ready, tracks, first frame, mic events, each once", async () => {
  const page = await openPage();
  const sessionId = await startStreaming(page);
  assert.match(sessionId, /\S+/);
  const [ready] = await waitEvents(page, "SESSION_READY");
  assert.equal(ready.args[0], sessionId);
  for (const name of [
    "VIDEO_STREAM_STARTED",
    "AUDIO_STREAM_STARTED",
    "CONNECTION_ESTABLISHED",
    "DATA_CHANNEL_OPEN",
    "VIDEO_PLAY_STARTED",
    "MIC_PERMISSION_PENDING",
    "MIC_PERMISSION_GRANTED",
    "INPUT_AUDIO_STREAM_STARTED",
  ]) {
    await waitEvents(page, name);
  }
  const video = await page.evaluate(() => {
    const v = document.getElementById("v");
    return { w: v.videoWidth, h: v.videoHeight, kinds: v.srcObject.getTracks().map((t) => t.kind).sort() };
  });
  assert.ok(video.w > 0 && video.h > 0, `video has a size: ${JSON.stringify(video)}`);
  assert.deepEqual(video.kinds, ["audio", "video"], "the persona's audio plays with the video");
  const [videoEvent] = await waitEvents(page, "VIDEO_STREAM_STARTED");
  assert.deepEqual(videoEvent.args[0].tracks.sort(), ["audio", "video"]);
  // Late duplicates would have shown up by the end of a round trip through the session.
  await talkRoundTrip(page);
  for (const name of ["SESSION_READY", "CONNECTION_ESTABLISHED", "DATA_CHANNEL_OPEN", "VIDEO_PLAY_STARTED", "MIC_PERMISSION_GRANTED"]) {
    assert.equal(await count(page, name), 1, `${name} once`);
  }
  assert.deepEqual(await page.evaluate(() => window.client.getInputAudioState()), {
    isMuted: false,
    permissionState: "granted",
  });
  assert.equal(await page.evaluate(() => window.client.isStreaming()), true);
  // The microphone is announced at the start but opened once the first frame shows, so that
  // its start-up does not slow the connection down.
  const order = await page.evaluate(() => window.log.map((e) => e.name));
  const at = (name) => order.indexOf(name);
  assert.ok(at("MIC_PERMISSION_PENDING") < at("SESSION_READY"), order.join(" "));
  assert.ok(at("VIDEO_PLAY_STARTED") < at("MIC_PERMISSION_GRANTED"), order.join(" "));
});

test("stream() resolves with the remote streams", async () => {
  const page = await openPage();
  const kinds = await page.evaluate(
    async ([b, e]) => {
      const client = window.makeClient(b, { api: { baseUrl: e }, disableInputAudio: true });
      const streams = await client.stream();
      return streams.map((s) => s.getTracks().map((t) => t.kind).sort().join("+"));
    },
    [backend.url, emulator.url],
  );
  assert.equal(kinds.length, 2);
  assert.ok(kinds.every((k) => k.includes("video") && k.includes("audio")), JSON.stringify(kinds));
  assert.equal(await count(page, "MIC_PERMISSION_PENDING"), 0, "no mic with disableInputAudio");
});

test("talk() right after streamToVideoElement resolves, and yields a transcript", async () => {
  const page = await openPage();
  const text = "The quick brown fox jumps over the lazy dog";
  await page.evaluate(
    async ([b, e, text]) => {
      const client = window.makeClient(b, { api: { baseUrl: e } });
      await client.streamToVideoElement("v");
      await client.talk(text);
    },
    [backend.url, emulator.url, text],
  );
  const messages = await waitHistory(
    page,
    (m) => m.some((x) => x.role === "persona" && norm(x.content).includes(norm(text))),
    "persona transcript of the talk text",
  );
  assert.ok(messages.length >= 1);
  const chunks = await page.evaluate(() => window.events("MESSAGE_STREAM_EVENT_RECEIVED").map((e) => e.args[0]));
  assert.ok(chunks.length >= 2, "the transcript arrives in chunks");
  assert.ok(chunks.every((c) => c.id.startsWith("persona::") || c.id.startsWith("user::")));
  assert.equal(chunks.at(-1).endOfSpeech, true);
});

test("a talk stream is spoken and ends", async () => {
  const { page } = await readyPage();
  const result = await page.evaluate(() => {
    const s = window.client.createTalkMessageStream("corr-e2e-1");
    const states = [s.getState()];
    s.streamMessageChunk("Chunks of words ", false);
    states.push(s.getState());
    s.streamMessageChunk("spoken as they ", false);
    s.streamMessageChunk("arrive here.", true);
    states.push(s.getState());
    let threw = false;
    try {
      s.streamMessageChunk("more", false);
    } catch (e) {
      threw = e instanceof Error;
    }
    return { states, active: s.isActive(), id: s.getCorrelationId(), threw };
  });
  assert.deepEqual(result.states, [0, 1, 3]);
  assert.equal(result.active, false);
  assert.equal(result.id, "corr-e2e-1");
  assert.equal(result.threw, true, "a chunk after the end throws");
  await waitHistory(
    page,
    (m) => m.some((x) => x.role === "persona" && norm(x.content).includes("spoken as they arrive here")),
    "talk stream transcript",
  );
});

test("interruptPersona() cuts the persona off", async () => {
  const { page, sessionId } = await readyPage();
  const long =
    "This is a deliberately long sentence that keeps the persona talking for a good while, " +
    "so that the test has plenty of time to interrupt it before it reaches the very end of it all.";
  await page.evaluate((t) => window.client.talk(t), long);
  await waitEvents(page, "MESSAGE_STREAM_EVENT_RECEIVED");
  await page.evaluate(() => window.client.interruptPersona());
  const messages = await waitHistory(
    page,
    (m) => m.some((x) => x.role === "persona" && x.interrupted === true),
    "an interrupted persona message",
  );
  const cut = messages.find((x) => x.interrupted);
  assert.ok(norm(cut.content).length < norm(long).length, "the message stopped early");
  const mine = (await emulator.sessions()).sessions.find((s) => s.id === sessionId);
  assert.ok(mine?.interruptsReceived >= 1, `the emulator got the interrupt: ${JSON.stringify(mine)}`);
});

test("mute and unmute toggle the microphone track", async () => {
  const { page } = await readyPage();
  await waitEvents(page, "INPUT_AUDIO_STREAM_STARTED");
  const states = await page.evaluate(() => {
    const c = window.client;
    const track = () => window.inputStream.getAudioTracks()[0];
    const muted = c.muteInputAudio();
    const afterMute = { state: c.getInputAudioState(), enabled: track().enabled };
    const unmuted = c.unmuteInputAudio();
    return { muted, afterMute, unmuted, enabledAgain: track().enabled, live: track().readyState };
  });
  assert.deepEqual(states.muted, { isMuted: true, permissionState: "granted" });
  assert.deepEqual(states.afterMute, { state: { isMuted: true, permissionState: "granted" }, enabled: false });
  assert.deepEqual(states.unmuted, { isMuted: false, permissionState: "granted" });
  assert.equal(states.enabledAgain, true);
  assert.equal(states.live, "live");
});

test("sendUserMessage() gets a persona reply", async () => {
  const { page } = await readyPage();
  await page.evaluate(() => window.client.sendUserMessage("tell me about pineapples"));
  const messages = await waitHistory(
    page,
    (m) => m.some((x) => x.role === "user" && norm(x.content).includes("pineapples")) &&
      m.some((x) => x.role === "persona" && norm(x.content).includes("pineapples")),
    "user message and persona reply quoting it",
  );
  const userIdx = messages.findIndex((x) => x.role === "user");
  const replyIdx = messages.findLastIndex((x) => x.role === "persona");
  assert.ok(replyIdx > userIdx, "the reply comes after the user message");
});

test("stopStreaming() closes once with NORMAL, and a second session starts clean", async () => {
  const { page } = await readyPage();
  const after = await page.evaluate(async () => {
    await window.client.stopStreaming();
    await window.client.stopStreaming();
    return {
      streaming: window.client.isStreaming(),
      id: window.client.getActiveSessionId(),
      closed: window.events("CONNECTION_CLOSED").map((e) => e.args),
      src: document.getElementById("v").srcObject,
    };
  });
  assert.equal(after.streaming, false);
  assert.equal(after.id, null);
  assert.deepEqual(after.closed, [["CONNECTION_CLOSED_CODE_NORMAL", null]]);
  assert.equal(after.src, null, "the video element is released");
  // Second session on the same client object.
  await page.evaluate(() => {
    window.log.length = 0;
    return window.client.streamToVideoElement("v");
  });
  await waitEvents(page, "SESSION_READY");
  await waitEvents(page, "VIDEO_PLAY_STARTED");
  await talkRoundTrip(page);
  assert.equal(await count(page, "SESSION_READY"), 1);
  assert.equal(await count(page, "MIC_PERMISSION_PENDING"), 1, "no zombie capture from session one");
  assert.equal(await count(page, "CONNECTION_CLOSED"), 0);
});

test("a signalling drop reconnects; talk still works and nothing fires twice", async () => {
  const { page, sessionId } = await readyPage();
  const res = await emulator.dropSignalling(sessionId);
  assert.ok(res.ok, `drop-signalling answered ${res.status}`);
  await waitFor(
    async () => {
      const s = (await emulator.sessions()).sessions.find((x) => x.id === sessionId);
      return s?.wsConnectionsTotal >= 2 && s?.wsConnections === 1;
    },
    { timeoutMs: 10_000, what: "a second WebSocket for the session" },
  );
  await page.evaluate(() => window.client.talk("Still here after the reconnect"));
  await waitHistory(
    page,
    (m) => m.some((x) => x.role === "persona" && norm(x.content).includes("still here after the reconnect")),
    "transcript after reconnect",
  );
  const ts = await page.evaluate(() => {
    const s = window.client.createTalkMessageStream();
    s.streamMessageChunk("And a stream after the reconnect.", true);
    return s.getState();
  });
  assert.equal(ts, 3);
  await waitHistory(
    page,
    (m) => m.some((x) => norm(x.content).includes("and a stream after the reconnect")),
    "talk stream after reconnect",
  );
  assert.equal(await count(page, "CONNECTION_CLOSED"), 0);
  assert.equal(await count(page, "SESSION_READY"), 1);
  assert.equal(await count(page, "CONNECTION_ESTABLISHED"), 1);
  assert.equal(await page.evaluate(() => window.client.isStreaming()), true);
});

test("a server-side end fires CONNECTION_CLOSED once and stops streaming", async () => {
  const { page, sessionId } = await readyPage();
  const res = await emulator.endSession(sessionId);
  assert.ok(res.ok);
  const [closed] = await waitEvents(page, "CONNECTION_CLOSED");
  assert.equal(closed.args[0], "CONNECTION_CLOSED_CODE_SERVER_CLOSED_CONNECTION");
  await tornDown(page);
  assert.equal(await count(page, "CONNECTION_CLOSED"), 1);
  assert.equal(await page.evaluate(() => window.client.isStreaming()), false);
  await page.evaluate(() => window.client.stopStreaming());
  assert.equal(await count(page, "CONNECTION_CLOSED"), 1, "stop after a server end adds nothing");
});

const startSessionCases = [
  [400, "bad", "CLIENT_ERROR_CODE_VALIDATION_ERROR"],
  [401, "nope", "CLIENT_ERROR_CODE_AUTHENTICATION_ERROR"],
  [402, "no plan", "CLIENT_ERROR_CODE_NO_PLAN_FOUND"],
  [403, "forbidden", "CLIENT_ERROR_CODE_AUTHENTICATION_ERROR"],
  [429, "Concurrent session limit reached", "CLIENT_ERROR_CODE_MAX_CONCURRENT_SESSIONS_REACHED"],
  [429, "Spend cap reached", "CLIENT_ERROR_CODE_SPEND_CAP_REACHED"],
  [429, "slow down", "CLIENT_ERROR_CODE_USAGE_LIMIT_REACHED"],
  [503, "busy", "CLIENT_ERROR_CODE_SERVICE_BUSY"],
  [500, "oops", "CLIENT_ERROR_CODE_SERVER_ERROR"],
];

for (const [status, error, code] of startSessionCases) {
  test(`start-session ${status} (${error}) rejects with ${code}`, async () => {
    const page = await openPage();
    // 5xx is retried (3 attempts); a 401 refreshes the token once (2 attempts); others fail at once.
    const attempts = status >= 500 ? 3 : status === 401 ? 2 : 1;
    await emulator.fault({ endpoint: "engine-session", status, error, message: `msg ${status}`, count: attempts });
    const err = await streamError(page, { api: { baseUrl: emulator.url, retry: { initialBackoffMs: 10 } } });
    assert.ok(err, "stream rejected");
    assert.equal(err.isError, true);
    assert.equal(err.name, "ClientError");
    assert.equal(err.code, code);
    assert.equal(err.statusCode, status);
    assert.equal(err.details?.cause, `msg ${status}`);
    assert.equal(err.streaming, false);
    // The token provider: once for the session, and once more only after a 401.
    assert.equal(await page.evaluate(() => window.tokensDelivered), status === 401 ? 2 : 1, "token provider calls");
    assert.equal(startSessionStatuses(page).length, attempts, "start-session attempts");
  });
}

/** Start-session answers the page received, as a list of statuses (preflights left out). */
function startSessionStatuses(page) {
  return page.traffic
    .filter((e) => e.kind === "response" && e.url.includes("/v1/engine/session") && e.status !== 204)
    .map((e) => e.status);
}

test("a single 503 is retried and the session starts", async () => {
  const page = await openPage();
  await emulator.fault({ endpoint: "engine-session", status: 503, error: "busy", message: "busy", count: 1 });
  const sessionId = await startStreaming(page, { api: { baseUrl: emulator.url, retry: { initialBackoffMs: 10 } } });
  const [ready] = await waitEvents(page, "SESSION_READY");
  assert.equal(ready.args[0], sessionId);
  assert.deepEqual(startSessionStatuses(page), [503, 200], "two attempts, the first one a 503");
  assert.equal(await page.evaluate(() => window.tokensDelivered), 1, "the retry reuses the token");
});

// upstream status, client code, status the page sees, and the backend's `error` and `solution`
// (crates/backend/src/errors.rs), which the client must hand to the app unchanged.
const backendCases = [
  [401, "CLIENT_ERROR_CODE_AUTHENTICATION_ERROR", 401, "invalid_api_key",
    "The operator must set ANAM_API_KEY to a valid key from Anam Lab and restart the server."],
  [403, "CLIENT_ERROR_CODE_AUTHENTICATION_ERROR", 403, "forbidden",
    "The operator must use a key with access to this persona and feature, or check the account's plan in Anam Lab."],
  [404, "CLIENT_ERROR_CODE_VALIDATION_ERROR", 404, "persona_not_found",
    "The operator must check ANAM_PERSONA_ID (or the persona config) against the personas in Anam Lab."],
  [429, "CLIENT_ERROR_CODE_USAGE_LIMIT_REACHED", 429, "rate_limited",
    "Wait the number of seconds in the Retry-After header (if any), then try again."],
  [500, "CLIENT_ERROR_CODE_SERVER_ERROR", 502, "upstream_error",
    "Try again in a moment; if it persists, check Anam's status page."],
  [400, "CLIENT_ERROR_CODE_SERVER_ERROR", 502, "upstream_rejected",
    "The operator should check the server log and the persona configuration."],
];

for (const [upstream, code, status, error, solution] of backendCases) {
  test(`backend error after upstream ${upstream} rejects with ${code}`, async () => {
    const page = await openPage();
    await emulator.fault({ endpoint: "session-token", status: upstream, error: "e", message: "m", count: 1 });
    const err = await streamError(page);
    assert.ok(err, "stream rejected");
    assert.equal(err.name, "ClientError");
    assert.equal(err.code, code);
    assert.equal(err.statusCode, status);
    assert.equal(err.details?.error, error, "the backend's error code, kept");
    assert.equal(err.details?.solution, solution, "the backend's solution, kept");
    // The message is the backend's, as its answer in the page's traffic says.
    const answer = page.traffic.find((e) => e.kind === "response" && e.url.includes("/api/session-token") && e.status === status);
    const body = await waitFor(() => answer.body, { what: "the recorded body of the backend's answer" });
    assert.equal(err.message, JSON.parse(body).message);
    assert.equal(err.details.message, err.message);
    assert.equal(err.streaming, false);
  });
}

test("an unknown persona is a validation error from the backend", async () => {
  const page = await openPage();
  const err = await streamError(page, {}, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ personaId: "persona-nobody" }),
  });
  assert.equal(err.code, "CLIENT_ERROR_CODE_VALIDATION_ERROR");
  assert.equal(err.statusCode, 400);
  assert.equal(err.details.error, "unknown_persona");
});

test("createClient validates its input synchronously", async () => {
  const page = await openPage();
  const results = await page.evaluate(() => {
    const attempt = (f) => {
      try {
        f();
        return null;
      } catch (e) {
        return window.errorInfo(e);
      }
    };
    const { createClient } = window.anam;
    return {
      malformed: attempt(() => createClient("not-a-jwt")),
      missing: attempt(() => createClient(undefined)),
      legacy: attempt(() => createClient(`x.${btoa(JSON.stringify({ type: "legacy" }))}.y`)),
      sensitivity: attempt(() => createClient(() => Promise.resolve("t"), { voiceDetection: { endOfSpeechSensitivity: 2 } })),
      both: attempt(() => createClient(() => Promise.resolve("t"), { disableInputAudio: true, voiceDetection: {} })),
      badUrl: attempt(() => createClient(() => Promise.resolve("t"), { api: { baseUrl: "ftp://x" } })),
      ok: attempt(() => createClient(() => Promise.resolve("t"), { api: { baseUrl: "http://127.0.0.1:1" } })),
    };
  });
  for (const key of ["malformed", "missing", "legacy", "sensitivity", "both", "badUrl"]) {
    assert.equal(results[key]?.name, "ClientError", key);
    assert.equal(results[key].code, "CLIENT_ERROR_CODE_CONFIGURATION_ERROR", key);
    assert.equal(results[key].statusCode, 400, key);
  }
  assert.equal(results.ok, null);
});

test("a 401 from start-session asks the token provider once more, then streams", async () => {
  const page = await openPage();
  await emulator.fault({ endpoint: "engine-session", status: 401, error: "expired", message: "token expired", count: 1 });
  const calls = await page.evaluate(
    async ([b, e]) => {
      let calls = 0;
      const client = window.anam.createClient(
        () => {
          calls += 1;
          return window.anam.fetchSessionToken(b + "/api/session-token");
        },
        { api: { baseUrl: e }, disableInputAudio: true },
      );
      window.client = client;
      await client.stream();
      return calls;
    },
    [backend.url, emulator.url],
  );
  assert.equal(calls, 2, "one token for the session, one refresh after the 401");
});

test("a <video> that never reports a frame still gets the microphone, from the fallback timer", async () => {
  const page = await openPage();
  // A browser that never reports a presented frame (as for a <video> that is not rendered).
  await page.evaluate(() => (HTMLVideoElement.prototype.requestVideoFrameCallback = () => 1));
  await startStreaming(page);
  await waitEvents(page, "SESSION_READY");
  const [granted] = await waitEvents(page, "MIC_PERMISSION_GRANTED", 1, 10_000);
  assert.ok(granted);
  assert.equal(await count(page, "VIDEO_PLAY_STARTED"), 0, "the fallback opened it, not a frame");
  await waitEvents(page, "INPUT_AUDIO_STREAM_STARTED");
});

test("a microphone that cannot be opened is reported and the session goes on", async () => {
  const page = await openPage();
  await startStreaming(page, { audioDeviceId: "no-such-microphone" });
  const [denied] = await waitEvents(page, "MIC_PERMISSION_DENIED");
  assert.equal(typeof denied.args[0], "string");
  await waitEvents(page, "SESSION_READY");
  assert.equal(await count(page, "INPUT_AUDIO_STREAM_STARTED"), 0);
  assert.deepEqual(await page.evaluate(() => window.client.getInputAudioState()), {
    isMuted: false,
    permissionState: "denied",
  });
});

test("changeAudioInputDevice() swaps the microphone", async () => {
  const { page } = await readyPage();
  await waitEvents(page, "INPUT_AUDIO_STREAM_STARTED");
  const deviceId = await page.evaluate(async () => {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const mic = devices.find((d) => d.kind === "audioinput" && d.deviceId);
    await window.client.changeAudioInputDevice(mic.deviceId);
    return mic.deviceId;
  });
  const [changed] = await waitEvents(page, "INPUT_AUDIO_DEVICE_CHANGED");
  assert.equal(changed.args[0], deviceId);
  assert.equal(await count(page, "INPUT_AUDIO_STREAM_STARTED"), 2);
  const err = await page.evaluate(() => window.client.changeAudioInputDevice("   ").then(() => null, (e) => e.message));
  assert.match(err, /device id/i);
  // The new capture itself is sent, muted and released (a copy of it would stay live).
  const sent = () =>
    page.evaluate(() => {
      const track = window.sentAudioTrack();
      const newest = window.captured.at(-1).getAudioTracks()[0];
      return { isNewest: track === newest, enabled: track?.enabled };
    });
  assert.deepEqual(await sent(), { isNewest: true, enabled: true });
  await page.evaluate(() => window.client.muteInputAudio());
  assert.deepEqual(await sent(), { isNewest: true, enabled: false });
  await page.evaluate(() => window.client.stopStreaming());
  assert.equal(await page.evaluate(() => window.openResources().liveTracks), 0, "every capture is stopped");
});

test("an app's input stream is sent as it is: its own track, not a copy", async () => {
  const page = await openPage();
  const appTrack = await page.evaluate(async ([b, e]) => {
    const appStream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const client = window.makeClient(b, { api: { baseUrl: e } });
    await client.streamToVideoElement("v", appStream);
    return appStream.getAudioTracks()[0].id;
  }, [backend.url, emulator.url]);
  await waitEvents(page, "INPUT_AUDIO_STREAM_STARTED");
  const sentTrack = await waitFor(() => page.evaluate(() => window.sentAudioTrack()?.id ?? null), {
    what: "the audio sender's track",
  });
  assert.equal(sentTrack, appTrack);
  await page.evaluate(() => window.client.stopStreaming());
  // The app's stream is the app's to stop; nothing else was captured or copied.
  const live = await page.evaluate(() => window.captured.flatMap((s) => s.getTracks()).filter((t) => t.readyState === "live").map((t) => t.id));
  assert.deepEqual(live, [appTrack]);
});

test("interrupting an open talk stream fires TALK_STREAM_INTERRUPTED and closes the stream", async () => {
  const { page } = await readyPage();
  await page.evaluate(() => {
    window.ts = window.client.createTalkMessageStream("corr-int-1");
    window.ts.streamMessageChunk(
      "This talk stream keeps going for quite a while so that it can be interrupted midway ",
      false,
    );
  });
  await waitEvents(page, "MESSAGE_STREAM_EVENT_RECEIVED");
  await page.evaluate(() => window.client.interruptPersona());
  const [interrupted] = await waitEvents(page, "TALK_STREAM_INTERRUPTED");
  assert.equal(interrupted.args[0], "corr-int-1");
  const after = await page.evaluate(() => {
    let threw = false;
    try {
      window.ts.streamMessageChunk("more", true);
    } catch {
      threw = true;
    }
    return { state: window.ts.getState(), active: window.ts.isActive(), threw };
  });
  assert.deepEqual(after, { state: 2, active: false, threw: true });
});

// ---------------------------------------------------------------------------------------------
// Public surface otherwise untested end to end.

test("getActiveSessionRegion() is the region start-session returned while live, null otherwise", async () => {
  const page = await openPage();
  const before = await page.evaluate(
    ([b, e]) => window.makeClient(b, { api: { baseUrl: e } }).getActiveSessionRegion(),
    [backend.url, emulator.url],
  );
  assert.equal(before, null, "no region before a session");
  await page.evaluate(() => window.client.streamToVideoElement("v"));
  await waitEvents(page, "SESSION_READY");
  const answer = page.traffic.find((e) => e.kind === "response" && e.url.includes("/v1/engine/session") && e.status === 200);
  const region = JSON.parse(answer.body).region;
  assert.equal(region, "local-emulator", "the emulator names its region");
  assert.equal(await page.evaluate(() => window.client.getActiveSessionRegion()), region);
  await page.evaluate(() => window.client.stopStreaming());
  assert.equal(await page.evaluate(() => window.client.getActiveSessionRegion()), null, "none after the stop");
});

for (const [how, call] of [
  ["stream(userAudio)", "stream"],
  ["streamToVideoElement(id, {userAudio})", "element-options"],
  ["stream({userAudio})", "stream-options"],
]) {
  test(`${how} sends the app's own track and never captures`, async () => {
    const page = await openPage();
    const appTrack = await page.evaluate(
      async ([b, e, call]) => {
        const appStream = await navigator.mediaDevices.getUserMedia({ audio: true });
        const client = window.makeClient(b, { api: { baseUrl: e } });
        if (call === "stream") await client.stream(appStream);
        else if (call === "stream-options") await client.stream({ userAudio: appStream });
        else await client.streamToVideoElement("v", { userAudio: appStream });
        return appStream.getAudioTracks()[0].id;
      },
      [backend.url, emulator.url, call],
    );
    const [started] = await waitEvents(page, "INPUT_AUDIO_STREAM_STARTED");
    assert.deepEqual(started.args[0].tracks, ["audio"]);
    const sentTrack = await waitFor(() => page.evaluate(() => window.sentAudioTrack()?.id ?? null), {
      what: "the audio sender's track",
    });
    assert.equal(sentTrack, appTrack);
    assert.equal(await page.evaluate(() => window.captured.length), 1, "only the app's own capture");
    assert.equal(await count(page, "MIC_PERMISSION_PENDING"), 0, "the client asks for no microphone");
    await page.evaluate(() => window.client.stopStreaming());
    const live = await page.evaluate(() => window.captured.flatMap((s) => s.getTracks()).filter((t) => t.readyState === "live").map((t) => t.id));
    assert.deepEqual(live, [appTrack], "the app's track is the app's to stop");
  });
}

test("a userAudio that is not a MediaStream is refused before anything starts", async () => {
  const page = await openPage();
  const err = await page.evaluate(async ([b, e]) => {
    const client = window.makeClient(b, { api: { baseUrl: e } });
    try {
      await client.stream({ userAudio: "microphone" });
      return null;
    } catch (x) {
      return { ...window.errorInfo(x), streaming: client.isStreaming() };
    }
  }, [backend.url, emulator.url]);
  assert.equal(err?.isError, true);
  assert.match(err.message, /userAudio must be a MediaStream/);
  assert.equal(err.streaming, false);
  const calls = await page.evaluate(() => window.fetches.filter((f) => /\/api\/|\/v1\//.test(f.url)).length);
  assert.equal(calls, 0, "no token or start-session request");
});

test("rtcConfiguration reaches the peer connection, and the session connects with it", async () => {
  const page = await openPage();
  const rtcConfiguration = {
    bundlePolicy: "max-bundle",
    // Nothing answers there; a port browsers allow for STUN (Firefox refuses some, below).
    iceServers: [{ urls: "stun:127.0.0.1:3478" }],
  };
  await startStreaming(page, { rtcConfiguration, disableInputAudio: true });
  await waitEvents(page, "SESSION_READY");
  await waitEvents(page, "VIDEO_PLAY_STARTED");
  const config = await page.evaluate(() => {
    const c = window.peers[0].getConfiguration();
    return { bundlePolicy: c.bundlePolicy, urls: c.iceServers.flatMap((s) => [].concat(s.urls)), peers: window.peers.length };
  });
  assert.deepEqual(config, { bundlePolicy: "max-bundle", urls: ["stun:127.0.0.1:3478"], peers: 1 });
  // The iceServers option wins over rtcConfiguration's.
  await page.evaluate(() => window.client.stopStreaming());
  await startStreaming(page, { rtcConfiguration, iceServers: [{ urls: "stun:127.0.0.1:3479" }], disableInputAudio: true });
  await waitEvents(page, "SESSION_READY", 2);
  const second = await page.evaluate(() => {
    const c = window.peers[1].getConfiguration();
    return { bundlePolicy: c.bundlePolicy, urls: c.iceServers.flatMap((s) => [].concat(s.urls)) };
  });
  assert.deepEqual(second, { bundlePolicy: "max-bundle", urls: ["stun:127.0.0.1:3479"] });
});

test("a STUN server on a port the browser blocks: Firefox refuses the configuration, the session closes once with WEBRTC_FAILURE and its reason", async () => {
  // Firefox refuses ICE servers on the ports it blocks for every protocol (9, "discard", among
  // them) where Chromium takes them; the client reports the refusal rather than hanging.
  const page = await openPage();
  await startStreaming(page, { rtcConfiguration: { iceServers: [{ urls: "stun:127.0.0.1:9" }] }, disableInputAudio: true });
  if (ENGINE === "firefox") {
    const [closed] = await waitEvents(page, "CONNECTION_CLOSED");
    assert.equal(closed.args[0], "CONNECTION_CLOSED_CODE_WEBRTC_FAILURE");
    assert.match(closed.args[1], /port that is blocked/);
    await tornDown(page);
    assert.equal(await count(page, "CONNECTION_CLOSED"), 1);
    assert.equal(await page.evaluate(() => window.client.isStreaming()), false);
  } else {
    await waitEvents(page, "SESSION_READY");
    assert.equal(await count(page, "CONNECTION_CLOSED"), 0);
  }
});

test("free() releases a stopped client; later calls throw instead of reaching freed memory", async () => {
  const page = await openPage();
  await startStreaming(page, { disableInputAudio: true });
  await waitEvents(page, "SESSION_READY");
  const result = await page.evaluate(async () => {
    const client = window.client;
    await client.stopStreaming();
    const freed = client.free();
    window.client = null;
    let after;
    try {
      client.isStreaming();
      after = "returned";
    } catch (e) {
      after = e instanceof Error ? "threw an Error" : "threw a non-Error";
    }
    return { freed: freed ?? null, after };
  });
  assert.deepEqual(result, { freed: null, after: "threw an Error" });
});

test("api.requestTimeoutMs abandons a start-session that never answers, per attempt", async () => {
  // A server that takes the request and never answers (CORS preflights are answered).
  const held = [];
  const server = createServer((req, res) => {
    res.setHeader("access-control-allow-origin", "*");
    res.setHeader("access-control-allow-headers", req.headers["access-control-request-headers"] ?? "*");
    res.setHeader("access-control-allow-methods", "POST, OPTIONS");
    if (req.method === "OPTIONS") return res.writeHead(204).end();
    const entry = { url: req.url, aborted: false };
    held.push(entry);
    // The connection closing before any answer: the browser cancelled the request.
    res.on("close", () => (entry.aborted = !res.writableEnded));
    req.resume();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  onCleanup(() => new Promise((r) => server.close(r)));
  onCleanup(() => server.closeAllConnections());
  const silent = `http://127.0.0.1:${server.address().port}`;
  const page = await openPage();
  const t0 = performance.now();
  const err = await streamError(page, {
    api: { baseUrl: silent, requestTimeoutMs: 400, retry: { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 10 } },
    disableInputAudio: true,
  });
  const tookMs = performance.now() - t0;
  assert.equal(err?.name, "ClientError");
  assert.equal(err.code, "CLIENT_ERROR_CODE_SERVER_ERROR");
  assert.equal(err.statusCode, 500);
  assert.match(err.details?.cause ?? "", /timed out/);
  assert.equal(err.streaming, false);
  assert.equal(held.filter((h) => h.url.startsWith("/v1/engine/session")).length, 2, "one request per attempt");
  assert.ok(tookMs >= 2 * 400, `not before two timeouts: ${tookMs} ms`);
  assert.ok(tookMs < 10_000, `bounded: ${tookMs} ms`);
  // Each timed-out request was cancelled by the browser, not left open.
  await waitFor(() => held.every((h) => h.aborted), { what: "both held requests cancelled" });
});

test("a server warning fires SERVER_WARNING with its text and the session goes on", async () => {
  const { page, sessionId } = await readyPage();
  // Frames the emulator cannot use, sent on the client's own socket: it answers each with a
  // `warning` (crates/emulator/src/session.rs).
  await page.evaluate((id) => {
    const socket = window.sockets.at(-1);
    socket.send(JSON.stringify({ actionType: "nonsense", sessionId: id, payload: {} }));
    socket.send("not json at all");
  }, sessionId);
  const warnings = await waitEvents(page, "SERVER_WARNING", 2);
  assert.deepEqual(warnings[0].args, ["unexpected signalling action `nonsense`"]);
  assert.match(warnings[1].args[0], /^could not read signalling message: /);
  await page.evaluate(() => window.client.talk("Warnings are only warnings"));
  await waitHistory(
    page,
    (m) => m.some((x) => x.role === "persona" && norm(x.content).includes("warnings are only warnings")),
    "a reply after the warnings",
  );
  assert.equal(await count(page, "CONNECTION_CLOSED"), 0);
  assert.equal(await count(page, "SERVER_WARNING"), 2);
});

test("codes the client never produces are exported with their official values", async () => {
  // MICROPHONE_PERMISSION_DENIED and UNKNOWN_ERROR are part of the public enums (apps switch on
  // them) but, as in the official client, nothing produces them: a denied microphone keeps the
  // session going (faults.test.mjs) and every failure has a specific code.
  const page = await openPage();
  const values = await page.evaluate(() => ({
    mic: window.anam.ConnectionClosedCode.MICROPHONE_PERMISSION_DENIED,
    unknown: window.anam.ErrorCode.CLIENT_ERROR_CODE_UNKNOWN_ERROR,
  }));
  assert.deepEqual(values, {
    mic: "CONNECTION_CLOSED_CODE_MICROPHONE_PERMISSION_DENIED",
    unknown: "CLIENT_ERROR_CODE_UNKNOWN_ERROR",
  });
});
