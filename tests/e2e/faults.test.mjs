// Fault matrix, end to end (issue 8, item 1): the wasm client in a real Chromium against
// anam-backend and anam-emulator --control, one injected fault per test, each with its expected
// outcome asserted. Cases already proven by client.test.mjs are not repeated here (see
// docs/RELIABILITY.md for the full table); this file adds what that suite does not check:
// attempt counts (bounded retries, no retry of 429), expired tokens, the signalling budget,
// a dead media path (ICE restarts, then WEBRTC_FAILURE), the microphone after a server end, a
// real permission denial, and token-endpoint failures.
//
// Attempts are counted on both sides: in the browser's recorded traffic and on the emulator,
// by arming more fault shots than the client may use and then probing how many are left.
//
// Needs pkg/ (or $E2E_PKG_DIR) and the debug binaries (see harness.mjs). Every page's traffic is
// checked for the API key after each test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, startBackend, waitFor } from "./harness.mjs";
import {
  backend,
  browser,
  countEvents as count,
  emulator,
  onCleanup,
  openPage,
  startStreaming,
  statics,
  streamError,
  tornDown,
  useClientPageSuite,
  waitEvents,
} from "./client-page.mjs";

useClientPageSuite();

/** Start-session requests the page sent (the POST carries a JSON body; preflights do not). */
function startSessionRequests(page) {
  return page.traffic.filter((e) => e.kind === "request" && e.url.includes("/v1/engine/session") && e.body);
}

/** Start-session answers the page received, as a list of statuses. */
function startSessionStatuses(page) {
  return page.traffic
    .filter((e) => e.kind === "response" && e.url.includes("/v1/engine/session") && e.status !== 204)
    .map((e) => e.status);
}

/**
 * How many shots of the `status` fault armed on engine-session the emulator still holds: calls
 * start-session with fresh tokens until an answer is not the fault. At most `armed` + 1 calls.
 */
async function remainingShots(emu, status, armed) {
  for (let used = 0; used <= armed; used++) {
    const token = await emu.mintToken();
    const res = await fetch(`${emu.url}/v1/engine/session`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: "{}",
    });
    await res.arrayBuffer();
    if (res.status !== status) return used;
  }
  throw new Error(`more than ${armed} shots of the ${status} fault are armed`);
}

const fast = { retry: { initialBackoffMs: 10, maxBackoffMs: 20 } };

/**
 * Resolves when a timer the page sets now, `ms` long, fires. Timers fire in the order of their
 * deadlines, so every timer the client had set before with a shorter delay (a retry backoff, a
 * reconnect, an ICE-restart watchdog) has fired by then: the quiet period really happened in
 * the page, whatever the machine's load.
 */
function pageTimer(page, ms) {
  return page.evaluate((ms) => new Promise((r) => setTimeout(r, ms)), ms);
}

/** The client's longest own delays (crates/core/src/session: retry, signalling, negotiation). */
const LONGEST_RETRY_BACKOFF_MS = fast.retry.maxBackoffMs;
const ICE_RESTART_WATCHDOG_MS = 3_000;

test("start-session 500 once is retried and the session starts", async () => {
  const page = await openPage();
  await emulator.fault({ endpoint: "engine-session", status: 500, error: "oops", message: "once", count: 1 });
  const sessionId = await startStreaming(page, { api: { baseUrl: emulator.url, ...fast } });
  const [ready] = await waitEvents(page, "SESSION_READY");
  assert.equal(ready.args[0], sessionId);
  assert.deepEqual(startSessionStatuses(page), [500, 200], "one failed attempt, then one that worked");
  assert.equal(startSessionRequests(page).length, 2);
  assert.equal(await remainingShots(emulator, 500, 1), 0, "the emulator served its one 500");
  assert.equal(await count(page, "CONNECTION_CLOSED"), 0);
});

for (const maxAttempts of [undefined, 5]) {
  const budget = maxAttempts ?? 3;
  test(`start-session 503 beyond the retry budget (${budget} attempts) rejects with SERVICE_BUSY`, async () => {
    const page = await openPage();
    const armed = budget + 4;
    await emulator.fault({ endpoint: "engine-session", status: 503, error: "busy", message: "full", count: armed });
    const retry = { ...fast.retry, ...(maxAttempts ? { maxAttempts } : {}) };
    const err = await streamError(page, { api: { baseUrl: emulator.url, retry } });
    assert.ok(err, "stream rejected");
    assert.equal(err.name, "ClientError");
    assert.equal(err.code, "CLIENT_ERROR_CODE_SERVICE_BUSY");
    assert.equal(err.statusCode, 503);
    assert.equal(err.details?.cause, "full");
    assert.equal(err.streaming, false);
    // No endless retry: nothing more is sent once a page timer ten times the longest backoff,
    // set after the rejection, has fired.
    await pageTimer(page, 10 * LONGEST_RETRY_BACKOFF_MS);
    assert.equal(startSessionRequests(page).length, budget, "the browser sent exactly the budget");
    assert.deepEqual(startSessionStatuses(page), Array(budget).fill(503));
    assert.equal(armed - (await remainingShots(emulator, 503, armed)), budget, "the emulator saw the budget");
    assert.equal(await count(page, "SESSION_READY"), 0);
  });
}

const limits = [
  ["Concurrent session limit reached", "CLIENT_ERROR_CODE_MAX_CONCURRENT_SESSIONS_REACHED"],
  ["Spend cap reached", "CLIENT_ERROR_CODE_SPEND_CAP_REACHED"],
  ["Too many requests", "CLIENT_ERROR_CODE_USAGE_LIMIT_REACHED"],
];

for (const [error, code] of limits) {
  test(`start-session 429 "${error}" is not retried and rejects with ${code}`, async () => {
    const page = await openPage();
    await emulator.fault({ endpoint: "engine-session", status: 429, error, message: "limit", count: 3 });
    const err = await streamError(page, { api: { baseUrl: emulator.url, ...fast } });
    assert.equal(err?.code, code);
    assert.equal(err.statusCode, 429);
    assert.equal(err.streaming, false);
    await pageTimer(page, 10 * LONGEST_RETRY_BACKOFF_MS);
    assert.equal(startSessionRequests(page).length, 1, "one attempt only");
    assert.equal(3 - (await remainingShots(emulator, 429, 3)), 1, "the emulator saw one attempt");
  });
}

test("an expired token from the provider is refreshed before start-session", async () => {
  // The first token is a real one whose `exp` is set an hour in the past (its signature no
  // longer matches, which does not matter: it must never be sent). No clock race: it is
  // expired by any clock, and the fresh one has the emulator's full lifetime.
  const page = await openPage();
  const result = await page.evaluate(
    async ([b, e]) => {
      const { anam } = window;
      const url = b + "/api/session-token";
      const fromB64 = (s) => JSON.parse(atob(s.replace(/-/g, "+").replace(/_/g, "/")));
      const toB64 = (o) => btoa(JSON.stringify(o)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      const real = await anam.fetchSessionToken(url);
      const [header, payload, signature] = real.split(".");
      const claims = { ...fromB64(payload), exp: Math.floor(Date.now() / 1000) - 3600 };
      const stale = [header, toB64(claims), signature].join(".");
      const tokens = [];
      const client = anam.createClient(
        async () => {
          const token = tokens.length === 0 ? stale : await anam.fetchSessionToken(url);
          tokens.push(token);
          return token;
        },
        { api: { baseUrl: e }, disableInputAudio: true },
      );
      window.client = client;
      let error = null;
      try {
        await client.stream();
      } catch (err) {
        error = window.errorInfo(err);
      }
      return { calls: tokens.length, stale, fresh: tokens[1] ?? null, error, id: client.getActiveSessionId() };
    },
    [backend.url, emulator.url],
  );
  assert.equal(result.error, null, `the session started: ${JSON.stringify(result.error)}`);
  assert.equal(result.calls, 2, "the provider was asked once more");
  assert.notEqual(result.fresh, result.stale);
  const sent = startSessionRequests(page);
  assert.equal(sent.length, 1, "the expired token was never sent");
  assert.equal(sent[0].headers.authorization, `Bearer ${result.fresh}`);
  assert.deepEqual(startSessionStatuses(page), [200], "no 401 on the way");
  const live = (await emulator.sessions()).sessions.find((s) => s.id === result.id);
  assert.ok(live, "the emulator knows the session");
  assert.notEqual(live.state, "ended", "and runs it");
});

test("signalling dropped more often than the budget closes with SIGNALLING_CLIENT_CONNECTION_FAILURE once", async () => {
  const page = await openPage();
  const sessionId = await startStreaming(page);
  await waitEvents(page, "SESSION_READY");
  await waitEvents(page, "INPUT_AUDIO_STREAM_STARTED");
  const session = async () => (await emulator.sessions()).sessions.find((s) => s.id === sessionId);
  // The budget is what start-session's clientConfig said (the emulator sends 5).
  const answer = page.traffic.find((e) => e.kind === "response" && e.url.includes("/v1/engine/session") && e.status === 200);
  const budget = JSON.parse(answer.body).clientConfig.maxWsReconnectionAttempts;
  assert.ok(Number.isInteger(budget) && budget > 0 && budget < 10, `budget ${budget}`);
  let drops = 0;
  // Each drop happens as soon as the previous reconnect is up, so no socket lives the 5 s that
  // would reset the client's counter.
  for (let i = 0; i < budget + 5 && (await count(page, "CONNECTION_CLOSED")) === 0; i++) {
    const up = await waitFor(
      async () => {
        if ((await count(page, "CONNECTION_CLOSED")) > 0) return "closed";
        const s = await session();
        return s?.wsConnections === 1 && s.wsConnectionsTotal === drops + 1 ? "open" : null;
      },
      { timeoutMs: 10_000, what: `WebSocket #${drops + 1} of the session` },
    );
    if (up === "closed") break;
    const res = await emulator.dropSignalling(sessionId);
    assert.ok(res.ok, `drop-signalling answered ${res.status}`);
    drops += 1;
    // Wait for the client to notice (a reconnect or the final close) before the next round.
    await waitFor(
      async () =>
        (await count(page, "CONNECTION_CLOSED")) > 0 || ((await session())?.wsConnectionsTotal ?? 0) > drops,
      { timeoutMs: 10_000, what: `reaction to drop #${drops}` },
    );
  }
  const [closed] = await waitEvents(page, "CONNECTION_CLOSED");
  assert.equal(closed.args[0], "CONNECTION_CLOSED_CODE_SIGNALLING_CLIENT_CONNECTION_FAILURE");
  assert.equal(drops, budget + 1, `${budget} reconnects are allowed, drop ${budget + 1} is one too many`);
  // Quiet: nothing open, and a page timer longer than the longest reconnect backoff
  // (100 ms x attempt) has fired since.
  await tornDown(page);
  await pageTimer(page, 100 * (budget + 2));
  assert.equal(await count(page, "CONNECTION_CLOSED"), 1, "closed exactly once");
  const after = await page.evaluate(() => ({
    streaming: window.client.isStreaming(),
    mic: window.inputStream?.getAudioTracks().map((t) => t.readyState),
  }));
  assert.equal(after.streaming, false);
  assert.deepEqual(after.mic, ["ended"], "the microphone is released");
  assert.equal((await session())?.wsConnectionsTotal, budget + 1, "no reconnect after giving up");
});

/**
 * Runs in the page before its scripts: every RTCPeerConnection the client creates records its
 * `iceConnectionState` changes in window.iceStates, so a test can see what the browser saw.
 */
function recordIceStates() {
  window.iceStates = [];
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("iceconnectionstatechange", () =>
        window.iceStates.push({ state: this.iceConnectionState, at: Date.now() }),
      );
    }
  };
}

/** Offers the page sent on its signalling sockets, in order (the first one and ICE restarts). */
function sentOffers(page) {
  return page.traffic.filter((e) => {
    if (e.kind !== "ws-sent") return false;
    try {
      return JSON.parse(e.body).actionType === "offer";
    } catch {
      return false;
    }
  });
}

test("a dead media path is restarted 3 times, then closes once with WEBRTC_FAILURE", async () => {
  const page = await openPage(browser, { initScript: recordIceStates });
  const sessionId = await startStreaming(page, { disableInputAudio: true });
  await waitEvents(page, "SESSION_READY");
  await waitEvents(page, "VIDEO_PLAY_STARTED");
  const iceStates = () => page.evaluate(() => window.iceStates.map((e) => e.state));
  assert.ok((await iceStates()).includes("connected"), `ICE connected first: ${await iceStates()}`);
  assert.equal(sentOffers(page).length, 1, "one offer before the fault");
  const socketsBefore = page.traffic.filter((e) => e.kind === "websocket").length;

  const res = await fetch(`${emulator.url}/_emulator/sessions/${encodeURIComponent(sessionId)}/stop-media`, {
    method: "POST",
  });
  assert.equal(res.status, 200, `stop-media answered ${res.status}`);
  const stoppedAt = performance.now();

  // Bounded by the client's constants (2 s grace after `disconnected`, 3 restarts with a 3 s
  // watchdog each, which may be extended once while no answer has arrived) plus Chromium's own
  // few seconds to notice the silence: 45 s is a generous upper bound, polled, not slept.
  const [closed] = await waitEvents(page, "CONNECTION_CLOSED", 1, 45_000);
  const tookMs = performance.now() - stoppedAt;
  assert.equal(closed.args[0], "CONNECTION_CLOSED_CODE_WEBRTC_FAILURE");

  const states = await iceStates();
  assert.ok(
    states.some((s) => s === "disconnected" || s === "failed"),
    `the browser saw the media path die: ${states}`,
  );
  // Exactly three ICE-restart offers after the first one, each on a live signalling socket
  // (the first restart on a fresh socket), and each answered by the emulator.
  const offers = sentOffers(page);
  assert.equal(offers.length, 1 + 3, `offers sent: ${offers.length}`);
  assert.ok(
    page.traffic.filter((e) => e.kind === "websocket").length > socketsBefore,
    "the first restart opened a fresh signalling socket",
  );
  const answers = page.traffic.filter((e) => e.kind === "ws-received" && e.body.includes('"actionType":"answer"'));
  assert.equal(answers.length, 4, "signalling stayed up: every offer was answered");
  // Nothing came back to life and nothing fires twice: nothing is open, and a page timer
  // longer than the restart watchdog has fired since.
  await tornDown(page);
  await pageTimer(page, ICE_RESTART_WATCHDOG_MS + 500);
  assert.equal(await count(page, "CONNECTION_CLOSED"), 1, "closed exactly once");
  assert.equal(sentOffers(page).length, 4, "no restart after giving up");
  assert.equal(await count(page, "CONNECTION_ESTABLISHED"), 1);
  assert.equal(await page.evaluate(() => window.client.isStreaming()), false);
  const session = (await emulator.sessions()).sessions.find((s) => s.id === sessionId);
  assert.ok(session, "the emulator still knows the session");
  console.log(`# stop-media -> WEBRTC_FAILURE in ${tookMs} ms; ICE states: ${states.join(" > ")}`);
});

test("a first connection that never gets an answer is restarted 3 times, then closes once with WEBRTC_FAILURE", async () => {
  // The server's answers never reach the client (tests/e2e/pages/client.html withholds them),
  // so ICE stays `new`: Chromium itself never reports `failed`, and only the client's
  // first-connection deadline (10 s) can end the wait.
  const page = await openPage();
  await page.evaluate(() => (window.withholdAnswers = true));
  await startStreaming(page, { disableInputAudio: true });
  const [closed] = await waitEvents(page, "CONNECTION_CLOSED", 1, 60_000);
  assert.equal(closed.args[0], "CONNECTION_CLOSED_CODE_WEBRTC_FAILURE");
  const { offers, sockets } = await page.evaluate(() => ({ offers: window.offersSent, sockets: window.sockets.length }));
  const tookMs = closed.at - offers[0];
  assert.ok(tookMs >= 10_000, `not before the 10 s deadline: ${tookMs} ms`);
  assert.equal(offers.length, 1 + 3, "the first offer and three restart offers");
  assert.ok(sockets >= 2, "the first restart opened a fresh signalling socket");
  await tornDown(page);
  await pageTimer(page, ICE_RESTART_WATCHDOG_MS + 500);
  assert.equal(await count(page, "CONNECTION_CLOSED"), 1, "closed exactly once");
  assert.equal(await page.evaluate(() => window.offersSent.length), 4, "no restart after giving up");
  assert.equal(await count(page, "CONNECTION_ESTABLISHED"), 0);
  assert.equal(await page.evaluate(() => window.client.isStreaming()), false);
  console.log(`# first offer -> WEBRTC_FAILURE in ${tookMs} ms without any answer`);
});

test("a server endsession closes once, stops streaming and releases the microphone", async () => {
  const page = await openPage();
  const sessionId = await startStreaming(page);
  await waitEvents(page, "SESSION_READY");
  await waitEvents(page, "INPUT_AUDIO_STREAM_STARTED");
  assert.deepEqual(await page.evaluate(() => window.inputStream.getAudioTracks().map((t) => t.readyState)), ["live"]);
  const res = await emulator.endSession(sessionId);
  assert.ok(res.ok);
  const [closed] = await waitEvents(page, "CONNECTION_CLOSED");
  assert.equal(closed.args[0], "CONNECTION_CLOSED_CODE_SERVER_CLOSED_CONNECTION");
  const mic = await waitFor(
    async () => {
      const states = await page.evaluate(() => window.inputStream.getAudioTracks().map((t) => t.readyState));
      return states.every((s) => s === "ended") ? states : null;
    },
    { timeoutMs: 5000, what: "the microphone track to end" },
  );
  assert.deepEqual(mic, ["ended"]);
  await tornDown(page);
  assert.equal(await count(page, "CONNECTION_CLOSED"), 1, "closed exactly once");
  assert.equal(await page.evaluate(() => window.client.isStreaming()), false);
});

test("a denied microphone permission fires MIC_PERMISSION_DENIED and the session goes on", async () => {
  const strict = await launchBrowser({ microphone: "denied" });
  onCleanup(() => strict.close());
  const page = await openPage(strict);
  const sessionId = await startStreaming(page);
  const [denied] = await waitEvents(page, "MIC_PERMISSION_DENIED");
  // The browser's own message for a refused capture (its wording differs by engine).
  const refused = await page.evaluate(() =>
    navigator.mediaDevices.getUserMedia({ audio: true }).then(() => "granted", (e) => `${e.name}: ${e.message}`),
  );
  assert.match(refused, /^NotAllowedError: /);
  assert.equal(denied.args[0], refused.slice("NotAllowedError: ".length));
  const [ready] = await waitEvents(page, "SESSION_READY");
  assert.equal(ready.args[0], sessionId);
  await waitEvents(page, "VIDEO_PLAY_STARTED");
  assert.equal(await count(page, "INPUT_AUDIO_STREAM_STARTED"), 0);
  assert.equal(await count(page, "MIC_PERMISSION_GRANTED"), 0);
  assert.deepEqual(await page.evaluate(() => window.client.getInputAudioState()), {
    isMuted: false,
    permissionState: "denied",
  });
  // The conversation still works without a microphone.
  await page.evaluate(() => window.client.sendUserMessage("are you there without a microphone"));
  await waitFor(
    async () => {
      const list = await page.evaluate(() => window.events("MESSAGE_HISTORY_UPDATED").map((e) => e.args[0]));
      return list.some((m) => m.some((x) => x.role === "persona" && /without a microphone/i.test(x.content)));
    },
    { timeoutMs: 30_000, what: "a persona reply" },
  );
  assert.equal(await page.evaluate(() => window.client.isStreaming()), true);
  assert.equal(await count(page, "CONNECTION_CLOSED"), 0);
});

/** fetchSessionToken(url) on the page, returning the rejection as plain data. */
async function tokenError(page, url) {
  return page.evaluate(async (u) => {
    try {
      const token = await window.anam.fetchSessionToken(u);
      return { resolved: token };
    } catch (err) {
      return window.errorInfo(err);
    }
  }, url);
}

test("fetchSessionToken against a stopped backend rejects with a typed network error", async () => {
  const gone = await startBackend({ apiBaseUrl: emulator.url, env: { ALLOWED_ORIGINS: statics.url } });
  const url = `${gone.url}/api/session-token`;
  await gone.stop();
  const page = await openPage();
  const err = await tokenError(page, url);
  assert.equal(err.isError, true);
  assert.equal(err.name, "ClientError");
  assert.equal(err.code, "CLIENT_ERROR_CODE_SERVER_ERROR");
  assert.equal(err.statusCode, 500);
  assert.equal(err.message, "Could not reach the session token endpoint");
  assert.equal(typeof err.details?.cause, "string");
  assert.ok(err.details.cause.length > 0);
  // Through a client the same error rejects the stream, and nothing is left running.
  const viaClient = await page.evaluate(async (b) => {
    const client = window.makeClient(b, { disableInputAudio: true });
    try {
      await client.stream();
      return null;
    } catch (e) {
      return { ...window.errorInfo(e), streaming: client.isStreaming(), id: client.getActiveSessionId() };
    }
  }, gone.url);
  assert.equal(viaClient?.code, "CLIENT_ERROR_CODE_SERVER_ERROR");
  assert.equal(viaClient.message, "Could not reach the session token endpoint");
  assert.equal(viaClient.streaming, false);
  assert.equal(viaClient.id, null);
  assert.equal(startSessionRequests(page).length, 0);
});

test("fetchSessionToken against an HTML page answering 200 rejects with a typed server error", async () => {
  const page = await openPage();
  const err = await tokenError(page, `${statics.url}/tests/e2e/pages/client.html`);
  assert.equal(err.name, "ClientError");
  assert.equal(err.code, "CLIENT_ERROR_CODE_SERVER_ERROR");
  assert.equal(err.statusCode, 500);
  assert.equal(err.message, "Failed to get session token");
  assert.equal(err.details?.cause, "the response has no sessionToken");
});

test("fetchSessionToken against a non-JSON 404 rejects with a typed validation error", async () => {
  const page = await openPage();
  const err = await tokenError(page, `${statics.url}/api/session-token`);
  assert.equal(err.name, "ClientError");
  assert.equal(err.code, "CLIENT_ERROR_CODE_VALIDATION_ERROR");
  assert.equal(err.statusCode, 404);
  assert.equal(err.message, "Failed to get a session token (HTTP 404)");
  assert.equal(err.details?.responseBody, "not found");
});

test("a failed POST /talk makes talk() reject with its HTTP status; the next talk() works", async () => {
  const page = await openPage();
  await startStreaming(page);
  await waitEvents(page, "SESSION_READY");
  await emulator.fault({ endpoint: "talk", status: 500, message: "talk broke" });
  const outcome = (text) => page.evaluate((t) => window.client.talk(t).then(() => "resolved", (e) => e.message), text);
  // talk() reads only the status (not the body): the status must still decide the outcome.
  assert.match(await outcome("this fails"), /talk failed with HTTP 500/);
  assert.equal(await outcome("this works"), "resolved");
});
