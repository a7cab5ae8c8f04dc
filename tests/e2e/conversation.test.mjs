// End-to-end tests of the conversation features beyond speech (issue 10) with our wasm client
// against anam-emulator --control: tool calls (client and server tools), reasoning, context, raw
// data messages, director-note cues, persona-config updates, user speech detection, agent audio
// and peer-connection stats. The emulator's toy model and its trigger phrases are documented in
// crates/emulator/README.md ("Toy model and triggers").
import { test } from "node:test";
import assert from "node:assert/strict";
import { onlyChromium, waitFor } from "./harness.mjs";
import { backend, countEvents, emulator, openPage, startStreaming, useClientPageSuite, waitEvents } from "./client-page.mjs";

useClientPageSuite();

async function readyPage(options = {}) {
  const page = await openPage();
  const sessionId = await startStreaming(page, options);
  await waitEvents(page, "SESSION_READY");
  await waitEvents(page, "DATA_CHANNEL_OPEN");
  return { page, sessionId };
}

/** The emulator's snapshot of one session. */
async function snapshot(sessionId) {
  const { sessions } = await emulator.sessions();
  return sessions.find((s) => s.id === sessionId) ?? null;
}

/** Waits until the emulator's snapshot of `sessionId` satisfies `pred`; returns it. */
function waitSnapshot(sessionId, pred, what, timeoutMs = 20_000) {
  return waitFor(async () => {
    const s = await snapshot(sessionId);
    return s && pred(s) ? s : null;
  }, { timeoutMs, what });
}

/** Waits until the persona has answered once more (a history update with a persona message). */
function waitPersonaReply(page, after) {
  return waitFor(async () => {
    const list = await page.evaluate(() => window.events("MESSAGE_HISTORY_UPDATED"));
    const replies = list.filter((e) => e.args[0].at(-1)?.role === "persona");
    return replies.length > after ? replies.at(-1).args[0] : null;
  }, { timeoutMs: 30_000, what: "the persona's reply" });
}

test("a client tool runs its handler once, sends the result and completes once", async () => {
  const { page, sessionId } = await readyPage();
  await page.evaluate(() => {
    window.toolCalls = [];
    window.client.registerToolCallHandler("open_page", {
      onStart: async (p) => {
        window.toolCalls.push(["start", p.arguments.url, p.toolType]);
        return `opened ${p.arguments.url}`;
      },
      onComplete: (p) => window.toolCalls.push(["complete", p.result, p.executionTime]),
      onFail: (p) => window.toolCalls.push(["fail", p.errorMessage]),
    });
    window.client.sendUserMessage("Please open the pricing page");
  });
  const [started] = await waitEvents(page, "TOOL_CALL_STARTED");
  assert.equal(started.args[0].toolName, "open_page");
  assert.equal(started.args[0].toolType, "client");
  assert.deepEqual(started.args[0].arguments, { url: "/pricing" });
  const [completed] = await waitEvents(page, "TOOL_CALL_COMPLETED");
  assert.equal(completed.args[0].toolCallId, started.args[0].toolCallId);
  assert.equal(completed.args[0].result, "opened /pricing");
  assert.ok(completed.args[0].executionTime >= 0);
  const info = await waitSnapshot(sessionId, (s) => s.toolResults?.length > 0, "the tool result");
  assert.deepEqual(info.toolResults, [{ toolCallId: started.args[0].toolCallId, result: "opened /pricing" }]);
  const [legacy] = await waitEvents(page, "CLIENT_TOOL_EVENT_RECEIVED");
  assert.equal(legacy.args[0].eventName, "open_page");
  // The persona reports the result; by then the server's own completion has arrived too, and
  // still only one completion was reported.
  const history = await waitPersonaReply(page, 0);
  assert.match(history.at(-1).content.toLowerCase(), /pricing/);
  assert.equal(await countEvents(page, "TOOL_CALL_COMPLETED"), 1);
  assert.equal(await countEvents(page, "TOOL_CALL_FAILED"), 0);
  const calls = await page.evaluate(() => window.toolCalls);
  assert.deepEqual(calls.map((c) => c[0]), ["start", "complete"]);
  assert.deepEqual(calls[0], ["start", "/pricing", "client"]);
  assert.equal(calls[1][1], "opened /pricing");
});

test("a throwing client tool handler sends the error and fails once", async () => {
  const { page, sessionId } = await readyPage();
  await page.evaluate(() => {
    const unregister = window.client.registerToolCallHandler("open_page", { onStart: () => 1 });
    unregister();
    window.client.registerToolCallHandler("open_page", {
      onStart: () => {
        throw new Error("popups are blocked");
      },
    });
    window.client.sendUserMessage("open the pricing page, please");
  });
  const [failed] = await waitEvents(page, "TOOL_CALL_FAILED");
  assert.equal(failed.args[0].errorMessage, "Error in onStart handler: popups are blocked");
  const info = await waitSnapshot(sessionId, (s) => s.toolResults?.length > 0, "the tool error");
  assert.equal(info.toolResults[0].error, "Error in handler: popups are blocked");
  await waitPersonaReply(page, 0);
  assert.equal(await countEvents(page, "TOOL_CALL_FAILED"), 1);
  assert.equal(await countEvents(page, "TOOL_CALL_COMPLETED"), 0);
});

test("server tools complete or fail from the server, with their duration", async () => {
  const { page } = await readyPage();
  await page.evaluate(() => window.client.sendUserMessage("What's the weather in Paris?"));
  const [done] = await waitEvents(page, "TOOL_CALL_COMPLETED");
  assert.equal(done.args[0].toolName, "get_weather");
  assert.equal(done.args[0].toolType, "server");
  assert.deepEqual(done.args[0].result, { city: "Paris", forecast: "sunny", temperatureC: 21 });
  assert.ok(done.args[0].executionTime >= 200, `executionTime ${done.args[0].executionTime}`);
  await waitPersonaReply(page, 0);

  await page.evaluate(() => window.client.sendUserMessage("And the weather in Atlantis?"));
  const [failed] = await waitEvents(page, "TOOL_CALL_FAILED");
  assert.equal(failed.args[0].errorMessage, "Unknown city: Atlantis");
  assert.equal(await countEvents(page, "TOOL_CALL_STARTED"), 2);
});

test("reasoning arrives as stream events and a reasoning history", async () => {
  const { page } = await readyPage();
  await page.evaluate(() => window.client.sendUserMessage("Think about what to cook tonight"));
  const [history] = await waitEvents(page, "REASONING_HISTORY_UPDATED");
  const chunks = await page.evaluate(() => window.events("REASONING_STREAM_EVENT_RECEIVED"));
  assert.ok(chunks.length >= 2, `${chunks.length} reasoning chunks`);
  assert.equal(chunks.at(-1).args[0].endOfThought, true);
  const [thought] = history.args[0];
  assert.equal(thought.role, "persona");
  assert.equal(thought.content, chunks.map((c) => c.args[0].content).join(""));
  await waitPersonaReply(page, 0);
});

test("context, raw data messages, cues and config updates reach their destination", async () => {
  const { page, sessionId } = await readyPage();
  const thrown = await page.evaluate(() => {
    const c = window.client;
    c.addContext("The user is on the pricing page");
    c.sendDataMessage(JSON.stringify({ message_type: "app_event", step: 3 }));
    c.sendDirectorNoteCue("happy");
    c.sendDirectorNoteCue("warm", { inSeconds: 0.5 });
    const errors = [];
    for (const args of [["ecstatic"], ["happy", { inSeconds: 1, atSeconds: 2 }], ["happy", { atSeconds: -1 }]]) {
      try {
        c.sendDirectorNoteCue(...args);
      } catch (e) {
        errors.push(e.message);
      }
    }
    return errors;
  });
  assert.equal(thrown.length, 3, thrown.join(" | "));
  const cues = await waitEvents(page, "DIRECTOR_NOTE_CUE_APPLIED", 2);
  assert.deepEqual(cues.map((e) => e.args[0].cueTag), ["happy", "warm"]);
  const info = await waitSnapshot(
    sessionId,
    (s) => s.contexts?.length && s.rawDataMessages?.length && s.directorCues?.length === 2,
    "context, raw message and cues at the emulator",
  );
  assert.deepEqual(info.contexts, ["The user is on the pricing page"]);
  assert.ok(info.rawDataMessages.some((m) => m.includes('"app_event"')), JSON.stringify(info.rawDataMessages));
  assert.deepEqual(info.directorCues, ["happy", "warm"]);

  const res = await fetch(`${emulator.url}/_emulator/sessions/${encodeURIComponent(sessionId)}/persona-config-update`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ changedFields: { voiceId: { before: "a", after: "b" } } }),
  });
  assert.ok(res.ok, `persona-config-update: ${res.status}`);
  const [update] = await waitEvents(page, "PERSONA_CONFIG_UPDATE_APPLIED");
  assert.deepEqual(update.args[0], { changedFields: { voiceId: { before: "a", after: "b" } } });
});

test("the fake microphone's beeps are detected as user speech (Chromium only: Chromium's fake microphone beeps; Firefox's plays a steady tone, so no utterance ends)", onlyChromium("Chromium's fake microphone beeps; Firefox's plays a steady tone, so no utterance ends"), async () => {
  const { page } = await readyPage();
  const [started] = await waitEvents(page, "USER_SPEECH_STARTED", 1, 30_000);
  const [ended] = await waitEvents(page, "USER_SPEECH_ENDED", 1, 30_000);
  assert.match(started.args[0], /\S/);
  assert.equal(ended.args[0], started.args[0], "one correlation id per utterance");
});

test("agent audio chunks are numbered, sent over signalling and played by the persona", async () => {
  const { page, sessionId } = await readyPage();
  const sent = await page.evaluate(() => {
    const stream = window.client.createAgentAudioInputStream({ encoding: "pcm_s16le", sampleRate: 24000, channels: 1 });
    // One second of a 440 Hz tone in ten 100 ms chunks, mixing the accepted chunk types.
    for (let i = 0; i < 10; i++) {
      const pcm = new Int16Array(2400);
      for (let n = 0; n < pcm.length; n++) pcm[n] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * (i * 2400 + n)) / 24000));
      stream.sendAudioChunk(i % 2 ? pcm.buffer : pcm);
    }
    const before = stream.getSequenceNumber();
    stream.endSequence();
    return { before, after: stream.getSequenceNumber(), config: stream.getConfig() };
  });
  assert.deepEqual(sent, { before: 10, after: 0, config: { encoding: "pcm_s16le", sampleRate: 24000, channels: 1 } });
  await waitSnapshot(sessionId, (s) => s.agentAudioChunks === 10, "10 agent audio chunks at the emulator");
  const wsFrames = page.traffic.filter((t) => t.kind === "ws-sent" && t.body.includes('"agentaudioinput'));
  const seqs = wsFrames.map((t) => JSON.parse(t.body)).filter((m) => m.actionType === "agentaudioinput").map((m) => m.payload.sequenceNumber);
  assert.deepEqual(seqs, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(wsFrames.filter((t) => t.body.includes('"agentaudioinputend"')).length, 1);
});

test("inbound RTP stats are reported every 5 s and a stats report prints at the end", async () => {
  const { page, sessionId } = await readyPage({
    metrics: { showPeerConnectionStatsReport: true, peerConnectionStatsReportOutputFormat: "console" },
  });
  // Audio and video each produce one report per 5 s period.
  await waitSnapshot(sessionId, (s) => s.rtpStatsReceived >= 2, "two remote_rtp_stats messages", 20_000);
  const sent = page.traffic.filter((t) => t.kind === "ws-sent" && t.body.includes("remote_rtp_stats"));
  assert.equal(sent.length, 0, "stats go over the data channel, not signalling");
  await page.evaluate(() => window.client.stopStreaming());
  const report = await waitFor(
    async () => page.consoleLines.find((l) => l.includes("Anam peer connection stats report")) ?? null,
    { timeoutMs: 10_000, what: "the stats report on the console" },
  );
  assert.match(report, /inbound video: \{.*"codec":"video\/VP8"/);
  assert.match(report, /inbound audio: \{.*"codec":"audio\/opus"/);
});

test("setPersonaConfig is checked and sent with the next start-session", async () => {
  const page = await openPage();
  const result = await page.evaluate(
    async ([b, e]) => {
      const client = window.makeClient(b, { api: { baseUrl: e } });
      let error = null;
      try {
        client.setPersonaConfig({ personaId: "persona-aria", directorNotes: { expressivity: 3 } });
      } catch (err) {
        error = window.errorInfo(err);
      }
      client.setPersonaConfig({ personaId: "persona-milo" });
      const config = client.getPersonaConfig();
      await client.streamToVideoElement("v");
      return { error, config };
    },
    [backend.url, emulator.url],
  );
  assert.equal(result.error?.code, "CLIENT_ERROR_CODE_CONFIGURATION_ERROR");
  assert.deepEqual(result.config, { personaId: "persona-milo" });
  const start = page.traffic.find((t) => t.kind === "request" && t.url.endsWith("/v1/engine/session"));
  assert.deepEqual(JSON.parse(start.body).personaConfig, { personaId: "persona-milo" });
});

/** Sends `message` verbatim to the page over the session's data channel (emulator control API). */
async function sendData(sessionId, message) {
  const res = await fetch(`${emulator.url}/_emulator/sessions/${encodeURIComponent(sessionId)}/data-message`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(message),
  });
  assert.equal(res.status, 200, `data-message answered ${res.status}: ${await res.text()}`);
}

/** A tool-call data message as the engine sends it (§9.2). */
function toolMessage(messageType, { id, session, toolType = "client", extra = {} }) {
  return {
    messageType,
    data: {
      event_uid: `e-${id}`,
      session_id: session,
      tool_call_id: id,
      tool_name: "open_page",
      tool_type: toolType,
      arguments: { url: "/pricing" },
      timestamp: new Date().toISOString(),
      timestamp_user_action: new Date().toISOString(),
      user_action_correlation_id: `c-${id}`,
      used_outside_engine: true,
      ...extra,
    },
  };
}

test("tool-call handlers run only for the live session's calls", async () => {
  const { page, sessionId } = await readyPage();
  await page.evaluate(() => {
    window.toolCalls = [];
    window.client.registerToolCallHandler("open_page", {
      onStart: (p) => {
        window.toolCalls.push(["start", p.toolCallId]);
        return "opened";
      },
      onComplete: (p) => window.toolCalls.push(["complete", p.toolCallId]),
      onFail: (p) => window.toolCalls.push(["fail", p.toolCallId]),
    });
  });
  // A call of another session (a stale or misrouted message): reported, but no handler runs
  // and nothing is answered. Then a call of the live session, on the same ordered channel:
  // once its handler has run, the other call was surely handled already.
  await sendData(sessionId, toolMessage("toolCallStarted", { id: "other-1", session: "another-session" }));
  await sendData(sessionId, toolMessage("toolCallFailed", { id: "other-1", session: "another-session", extra: { error_message: "nope" } }));
  await sendData(sessionId, toolMessage("toolCallStarted", { id: "live-1", session: sessionId }));
  await waitFor(() => page.evaluate(() => window.toolCalls.length >= 1 && window.toolCalls), {
    what: "the live session's handler",
  });
  const started = (await page.evaluate(() => window.events("TOOL_CALL_STARTED"))).map((e) => e.args[0].toolCallId);
  assert.deepEqual(started, ["other-1", "live-1"], "both calls are reported");
  const failed = (await page.evaluate(() => window.events("TOOL_CALL_FAILED"))).map((e) => [e.args[0].toolCallId, e.args[0].errorMessage]);
  assert.deepEqual(failed, [["other-1", "nope"]]);
  // The live call's result reaches the emulator; the other call got no answer.
  const info = await waitSnapshot(sessionId, (s) => s.toolResults?.length > 0, "the live call's tool result");
  assert.deepEqual(info.toolResults, [{ toolCallId: "live-1", result: "opened" }]);
  const [completed] = await waitEvents(page, "TOOL_CALL_COMPLETED");
  assert.equal(completed.args[0].toolCallId, "live-1");
  assert.deepEqual(await page.evaluate(() => window.toolCalls), [["start", "live-1"], ["complete", "live-1"]]);
});

test("a server tool's documentsAccessed reaches TOOL_CALL_COMPLETED", async () => {
  const { page, sessionId } = await readyPage();
  await sendData(sessionId, toolMessage("toolCallStarted", { id: "kb-1", session: sessionId, toolType: "server" }));
  await sendData(
    sessionId,
    toolMessage("toolCallCompleted", {
      id: "kb-1",
      session: sessionId,
      toolType: "server",
      extra: { result: { answer: 42 }, documents_accessed: ["handbook.pdf", "faq.md"] },
    }),
  );
  const [done] = await waitEvents(page, "TOOL_CALL_COMPLETED");
  assert.equal(done.args[0].toolCallId, "kb-1");
  assert.deepEqual(done.args[0].result, { answer: 42 });
  assert.deepEqual(done.args[0].documentsAccessed, ["handbook.pdf", "faq.md"]);
  // Without the field the payload has none (not an empty list the server never sent).
  await sendData(sessionId, toolMessage("toolCallStarted", { id: "kb-2", session: sessionId, toolType: "server" }));
  await sendData(sessionId, toolMessage("toolCallCompleted", { id: "kb-2", session: sessionId, toolType: "server", extra: { result: "ok" } }));
  const [, second] = await waitEvents(page, "TOOL_CALL_COMPLETED", 2);
  assert.equal(second.args[0].toolCallId, "kb-2");
  assert.equal("documentsAccessed" in second.args[0], false);
});
