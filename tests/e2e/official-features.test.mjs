// Issue 10 with the official client: @anam-ai/js-sdk 4.27.0 (UMD bundle from npm) uses each
// parity feature against `anam-emulator --control`, and both sides are checked: the events the
// SDK fires in the page, and what the emulator recorded (GET /_emulator/sessions). One session
// is shared by the whole suite, to keep it quick; the toy model's triggers are documented in
// crates/emulator/README.md ("Toy model and triggers").
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator, launchBrowser, newPage, onlyChromium, serveStatic, waitFor, assertSecretAbsent } from "./harness.mjs";

const PAGE = "/tests/e2e/pages/official-features.html";
// Persona speech is paced in real time; a few seconds per sentence on a loaded 2-core machine.
const SPEECH_TIMEOUT_MS = 30_000;

const eventsNamed = (page, name) =>
  page.evaluate((n) => window.events.filter((e) => e.name === n).map((e) => e.args), name);

/** Waits for an event `name` whose arguments satisfy `pred`; returns those arguments. */
async function waitEvent(page, name, pred = () => true, timeoutMs = 20_000) {
  return waitFor(async () => (await eventsNamed(page, name)).find((args) => pred(...args)), {
    timeoutMs,
    what: name,
  });
}

/** Waits for a persona message in the history whose content contains `text`. */
async function waitPersonaSays(page, text) {
  return waitEvent(
    page,
    "MESSAGE_HISTORY_UPDATED",
    (messages) => messages.some((m) => m.role === "persona" && m.content.includes(text)),
    SPEECH_TIMEOUT_MS,
  );
}

describe("official client: issue 10 features against the emulator", () => {
  let emu, web, browser, page, sessionId;

  const snapshot = async () => (await emu.sessions()).sessions.find((s) => s.id === sessionId);
  const waitSnapshot = (pred, what) => waitFor(async () => {
    const s = await snapshot();
    return s && pred(s) ? s : null;
  }, { what });

  before(async () => {
    [emu, web, browser] = await Promise.all([startEmulator(), serveStatic(), launchBrowser()]);
    page = await newPage(browser);
    await page.goto(web.url + PAGE);
    const token = await emu.mintToken({ personaId: "persona-aria" });
    const result = await page.evaluate(([t, u]) => window.features.start(t, u), [token, emu.url]);
    assert.equal(result.ok, true, JSON.stringify(result));
    sessionId = result.sessionId;
    await waitEvent(page, "SESSION_READY");
    await waitEvent(page, "DATA_CHANNEL_OPEN");
  });

  after(async () => {
    if (page) {
      assert.ok(!page.consoleLines.some((l) => l.startsWith("pageerror")), page.consoleLines.join("\n"));
      assertSecretAbsent(page, emu.apiKey);
    }
    await browser?.close();
    await web?.stop();
    await emu?.stop();
  });

  test("a client tool: the registered handler's result goes back and completes the call", async () => {
    await page.evaluate(() => window.features.sendUserMessage("Please open the pricing page"));
    const [started] = await waitEvent(page, "TOOL_CALL_STARTED", (p) => p.toolName === "open_page");
    assert.equal(started.toolType, "client");
    assert.deepEqual(started.arguments, { url: "/pricing" });
    assert.equal(started.sessionId, sessionId);
    const [legacy] = await waitEvent(page, "CLIENT_TOOL_EVENT_RECEIVED", (e) => e.eventName === "open_page");
    assert.deepEqual(legacy.eventData, { url: "/pricing" });
    assert.equal(legacy.userActionCorrelationId, started.userActionCorrelationId);

    const [completed] = await waitEvent(page, "TOOL_CALL_COMPLETED", (p) => p.toolCallId === started.toolCallId);
    const expected = await page.evaluate(() => window.features.OPEN_PAGE_RESULT);
    assert.equal(completed.result, expected);
    assert.equal(completed.toolName, "open_page");
    assert.ok(completed.executionTime >= 0);
    assert.equal((await page.evaluate(() => window.toolStarts)).length, 1);

    const s = await waitSnapshot((s) => s.toolResults.length >= 1, "the tool result");
    assert.deepEqual(s.toolResults[0], { toolCallId: started.toolCallId, result: expected });
    // The persona tells the user what the page said.
    await waitPersonaSays(page, expected);
  });

  test("a server tool succeeds and fails on demand", async () => {
    await page.evaluate(() => window.features.sendUserMessage("What's the weather in Paris?"));
    const [started] = await waitEvent(page, "TOOL_CALL_STARTED", (p) => p.toolName === "get_weather" && p.arguments.city === "Paris");
    assert.equal(started.toolType, "server");
    assert.equal(started.toolSubtype, "webhook");
    const [completed] = await waitEvent(page, "TOOL_CALL_COMPLETED", (p) => p.toolCallId === started.toolCallId);
    assert.deepEqual(completed.result, { city: "Paris", forecast: "sunny", temperatureC: 21 });
    // The "webhook" takes ~300 ms; the SDK measures it from the two timestamps.
    assert.ok(completed.executionTime >= 200 && completed.executionTime < 5000, String(completed.executionTime));
    await waitPersonaSays(page, "sunny");

    await page.evaluate(() => window.features.sendUserMessage("And the weather in Atlantis?"));
    const [failed] = await waitEvent(page, "TOOL_CALL_FAILED", (p) => p.toolName === "get_weather");
    assert.equal(failed.errorMessage, "Unknown city: Atlantis");
    assert.equal(failed.toolType, "server");
    await waitPersonaSays(page, "Atlantis");
  });

  test("reasoning: a thought streams and lands in the reasoning history", async () => {
    await page.evaluate(() => window.features.sendUserMessage("Think before you answer, please"));
    const [history] = await waitEvent(page, "REASONING_HISTORY_UPDATED");
    const stream = (await eventsNamed(page, "REASONING_STREAM_EVENT_RECEIVED")).map(([e]) => e);
    assert.ok(stream.length >= 2 && stream.length <= 3, JSON.stringify(stream));
    assert.ok(stream.every((e) => e.id === stream[0].id && e.role === "persona"));
    assert.deepEqual(stream.map((e) => e.endOfThought), stream.map((_, i) => i === stream.length - 1));
    const thought = history.find((m) => m.id === stream[0].id);
    assert.equal(thought.content, stream.map((e) => e.content).join(""));
    assert.match(thought.content, /Think before you answer/);
  });

  test("addContext reaches the emulator and the persona can quote it", async () => {
    const context = "The user is called Ada and likes trains.";
    await page.evaluate((c) => window.features.addContext(c), context);
    await waitSnapshot((s) => s.contexts.includes(context), "the context in the snapshot");
    await page.evaluate(() => window.features.sendUserMessage("What context do you have?"));
    await waitPersonaSays(page, context);
  });

  test("sendDataMessage: a raw message arrives verbatim", async () => {
    const raw = JSON.stringify({ message_type: "app_custom", note: "from the official client" });
    await page.evaluate((r) => window.features.sendDataMessage(r), raw);
    await waitSnapshot((s) => s.rawDataMessages.includes(raw), "the raw data message");
  });

  test("sendDirectorNoteCue is applied and recorded", async () => {
    await page.evaluate(() => window.features.sendDirectorNoteCue("happy"));
    const [applied] = await waitEvent(page, "DIRECTOR_NOTE_CUE_APPLIED");
    assert.equal(applied.cueTag, "happy");
    assert.ok(applied.correlationId && applied.correlationId !== "unknown");
    await waitSnapshot((s) => s.directorCues.includes("happy"), "the cue in the snapshot");
  });

  test("a persona config update reported by the emulator reaches the app", async () => {
    const changedFields = { "llm.temperature": { before: 0.2, after: 0.7 }, voiceId: { before: "voice-aria", after: "voice-milo" } };
    const res = await fetch(`${emu.url}/_emulator/sessions/${sessionId}/persona-config-update`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ changedFields }),
    });
    assert.equal(res.status, 200);
    const [applied] = await waitEvent(page, "PERSONA_CONFIG_UPDATE_APPLIED");
    assert.deepEqual(applied.changedFields, changedFields);
  });

  test("user speech: the fake microphone's beeps start and end utterances; muted, nothing starts (Chromium only: Chromium's fake microphone beeps; Firefox's plays a steady tone, so no utterance ends)", onlyChromium("Chromium's fake microphone beeps; Firefox's plays a steady tone, so no utterance ends"), async () => {
    const [startedId] = await waitEvent(page, "USER_SPEECH_STARTED");
    assert.ok(startedId && startedId !== "unknown");
    const [endedId] = await waitEvent(page, "USER_SPEECH_ENDED", (id) => id === startedId);
    assert.equal(endedId, startedId);
    const at = await page.evaluate(() => window.events.filter((e) => e.name.startsWith("USER_SPEECH_")).map((e) => [e.name, e.args[0]]));
    const i = at.findIndex(([n, id]) => n === "USER_SPEECH_STARTED" && id === startedId);
    const j = at.findIndex(([n, id]) => n === "USER_SPEECH_ENDED" && id === startedId);
    assert.ok(i >= 0 && j > i, "STARTED then ENDED");

    // Muted: the track sends silence. Audio sent just before the mute is still on its way, so
    // wait until the events have been quiet, and the last one was an end, for longer than one
    // beep period (500 ms) plus the detector's hangover (300 ms); then count.
    const muted = await page.evaluate(() => window.features.mute());
    assert.equal(muted.isMuted, true);
    const count = async () => (await eventsNamed(page, "USER_SPEECH_STARTED")).length;
    const speechEvents = () =>
      page.evaluate(() => window.events.filter((e) => e.name.startsWith("USER_SPEECH_")).map((e) => e.name));
    let seen = -1;
    let quietSince = performance.now();
    await waitFor(async () => {
      const evs = await speechEvents();
      if (evs.length !== seen) [seen, quietSince] = [evs.length, performance.now()];
      return evs.at(-1) === "USER_SPEECH_ENDED" && performance.now() - quietSince >= 900;
    }, { timeoutMs: 15_000, what: "the utterances in flight to end" });
    const before = await count();
    await new Promise((r) => setTimeout(r, 2_000)); // four beep periods of the fake microphone
    assert.equal(await count(), before, "no new utterance while muted");

    await page.evaluate(() => window.features.unmute());
    await waitFor(async () => (await count()) > before, { what: "speech again after unmuting" });
    const s = await snapshot();
    assert.ok(s.userSpeechStarted >= 2 && s.userSpeechEnded >= 1, JSON.stringify(s));
  });

  test("agent audio input: chunks are counted and the persona plays them", async () => {
    const energy = () => page.evaluate(() => window.features.audioEnergy());
    // Let earlier replies finish: the received audio's energy stops growing.
    let last = await energy();
    const idle = await waitFor(async () => {
      await new Promise((r) => setTimeout(r, 400));
      const now = await energy();
      const still = now - last < 0.002;
      last = now;
      return still ? now : null;
    }, { what: "the persona to fall silent", timeoutMs: SPEECH_TIMEOUT_MS });

    const sent = await page.evaluate(() => window.features.sendAgentAudio(5, 200));
    assert.equal(sent, 0, "endSequence resets the sequence number");
    await waitSnapshot((s) => s.agentAudioChunks === 5 && s.agentAudioSequencesEnded === 1, "the agent audio chunks");
    // A second of loud tone (RMS ~0.26 of full scale, energy ~0.07 per second) is played to the
    // browser: far above the silent persona's energy.
    await waitFor(async () => (await energy()) - idle > 0.03, { what: "the agent audio to play", timeoutMs: 10_000 });
  });

  test("the client's periodic stats reports reach the emulator", async () => {
    await waitSnapshot((s) => s.rtpStatsReceived >= 1, "a remote_rtp_stats message");
  });
});
