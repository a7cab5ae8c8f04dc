// End-to-end tests of the extensions beyond the official API: preflight(), AUTOPLAY_BLOCKED and
// unlock(), and the state store (getState/subscribe), against anam-backend + anam-emulator.
//
// Autoplay: Chromium runs with --autoplay-policy=document-user-activation-required, so media
// with sound needs a user gesture as on desktop browsers. page.evaluate() counts as one, so the
// autoplay pages start on their own (tests/e2e/pages/extensions.html) and report through the
// console until the test clicks.
//
// Secure vs non-secure origin: http://127.0.0.1 is a secure context; a non-secure one is made on
// loopback by mapping a made-up host name to 127.0.0.1 (--host-resolver-rules), no DNS needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ENGINE, EMULATOR_API_KEY, assertSecretAbsent, launchBrowser, newPage, onlyChromium, waitFor } from "./harness.mjs";
import {
  assertNoPageErrors,
  backend,
  browser,
  emulator,
  onCleanup,
  openPage,
  statics,
  useClientPageSuite,
} from "./client-page.mjs";

useClientPageSuite();

const INSECURE_HOST = "anam-insecure.test";

/** Counts getUserMedia calls, so a test can prove preflight() captures nothing. */
const COUNT_CAPTURES = () => {
  window.captures = 0;
  const devices = navigator.mediaDevices;
  if (devices?.getUserMedia) {
    const original = devices.getUserMedia.bind(devices);
    devices.getUserMedia = (...args) => {
      window.captures += 1;
      return original(...args);
    };
  }
};

/**
 * A browser whose fake microphone is not granted by itself (the suite's browser auto-accepts
 * capture, which Chromium then reports as permission "granted").
 */
async function browserThatAsks() {
  const b = await launchBrowser({ microphone: "ask" });
  onCleanup(() => b.close());
  return b;
}

/** Opens extensions.html (with `query`) in a fresh context of `onBrowser`. */
async function openExtensionsPage(onBrowser, query, { origin = statics.url, contextOptions } = {}) {
  const page = await newPage(onBrowser, { contextOptions });
  onCleanup(async () => {
    await page.evaluate(() => window.client?.stopStreaming()).catch(() => {});
    try {
      assertSecretAbsent(page, EMULATOR_API_KEY);
      await assertNoPageErrors(page);
    } finally {
      await page.context().close();
    }
  });
  await page.addInitScript(COUNT_CAPTURES);
  await page.goto(`${origin}/tests/e2e/pages/extensions.html?${new URLSearchParams(query)}`);
  return page;
}

/** Waits for the page's console report `e2e:<what> <json>` and returns the parsed data. */
async function report(page, what, timeoutMs = 20_000) {
  const prefix = `log: e2e:${what} `;
  const line = await waitFor(() => page.consoleLines.find((l) => l.startsWith(prefix)), {
    timeoutMs,
    what: `console report e2e:${what} (console: ${page.consoleLines.slice(-5).join(" | ")})`,
  });
  return JSON.parse(line.slice(prefix.length));
}

/** What the page can see for itself, without the client: permission state and audio inputs. */
async function independentView(page) {
  return page.evaluate(async () => {
    let permission = "unknown";
    try {
      permission = (await navigator.permissions.query({ name: "microphone" })).state;
    } catch {
      // stays unknown, as preflight() says then
    }
    const all = navigator.mediaDevices ? await navigator.mediaDevices.enumerateDevices() : [];
    return {
      secureContext: window.isSecureContext,
      permission,
      devices: all.filter((d) => d.kind === "audioinput").map((d) => ({ deviceId: d.deviceId, label: d.label })),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// preflight()

test("preflight() before any permission: prompt, placeholder device, no capture, no request", async () => {
  const page = await newPage(await browserThatAsks());
  onCleanup(() => assertNoPageErrors(page));
  await page.addInitScript(COUNT_CAPTURES);
  await page.goto(`${statics.url}/tests/e2e/pages/extensions.html`);
  await report(page, "ready");
  const result = await page.evaluate(() => window.anam.preflight());
  const view = await independentView(page);
  assert.equal(result.secureContext, true, "http://127.0.0.1 is a secure context");
  assert.equal(result.webrtc, true);
  assert.equal(result.microphone.supported, true);
  assert.equal(view.permission, "prompt");
  assert.equal(result.microphone.permission, "prompt");
  assert.deepEqual(result.microphone.devices, view.devices);
  assert.ok(result.microphone.devices.length >= 1, "the fake microphone shows as a placeholder");
  assert.ok(result.microphone.devices.every((d) => d.deviceId === "" && d.label === ""), "no ids before permission");
  // This browser runs with --autoplay-policy=no-user-gesture-required.
  assert.equal(result.autoplayWithSound, true);
  assert.equal(await page.evaluate(() => window.captures), 0, "preflight() never calls getUserMedia");
  assert.equal(await independentView(page).then((v) => v.permission), "prompt", "and nothing was granted");
  const calls = page.traffic.filter((t) => t.kind === "request" && /\/api\/|\/v1\//.test(new URL(t.url).pathname));
  assert.deepEqual(calls.map((t) => t.url), [], "preflight() talks to no server");
});

test("preflight() with the microphone granted lists the labelled devices", async () => {
  const page = await openExtensionsPage(browser, { auto: "preflight" });
  const result = await report(page, "preflight");
  const view = await independentView(page);
  assert.equal(view.permission, "granted", "the suite's browser grants the fake microphone");
  assert.equal(result.microphone.permission, "granted");
  assert.deepEqual(result.microphone.devices, view.devices);
  assert.ok(result.microphone.devices.length >= 1);
  if (ENGINE === "chromium") {
    assert.ok(
      result.microphone.devices.every((d) => d.deviceId !== "" && d.label !== ""),
      `ids and labels once granted: ${JSON.stringify(result.microphone.devices)}`,
    );
  } else {
    // Firefox shows ids and labels only to a page that has captured, not for a stored grant.
    assert.ok(
      result.microphone.devices.every((d) => d.deviceId === "" && d.label === ""),
      `placeholders until a capture: ${JSON.stringify(result.microphone.devices)}`,
    );
  }
  assert.equal(await page.evaluate(() => window.captures), 0, "still no capture");
});

test("preflight() with the microphone denied says denied (Chromium only: denied through the DevTools protocol)", onlyChromium("denied through the DevTools protocol"), async () => {
  const asking = await browserThatAsks();
  const page = await newPage(asking);
  onCleanup(() => assertNoPageErrors(page));
  await page.goto(`${statics.url}/tests/e2e/pages/extensions.html`);
  await report(page, "ready");
  // Playwright has no "deny"; Chromium's DevTools protocol does, per browser context.
  const { targetInfo } = await (await page.context().newCDPSession(page)).send("Target.getTargetInfo");
  await (await asking.newBrowserCDPSession()).send("Browser.setPermission", {
    permission: { name: "microphone" },
    setting: "denied",
    origin: statics.url,
    browserContextId: targetInfo.browserContextId,
  });
  const result = await page.evaluate(() => window.anam.preflight());
  const view = await independentView(page);
  assert.equal(view.permission, "denied", "the browser itself reports the denial");
  assert.equal(result.microphone.permission, "denied");
});

test("preflight() on a non-secure origin: no secure context, no microphone API (Chromium only: --host-resolver-rules)", onlyChromium("--host-resolver-rules"), async () => {
  const [, port] = statics.url.match(/:(\d+)$/);
  const insecure = await launchBrowser({ args: [`--host-resolver-rules=MAP ${INSECURE_HOST} 127.0.0.1`] });
  onCleanup(() => insecure.close());
  const page = await openExtensionsPage(insecure, { auto: "preflight" }, { origin: `http://${INSECURE_HOST}:${port}` });
  const result = await report(page, "preflight");
  const view = await independentView(page);
  assert.equal(view.secureContext, false, "the test really runs on a non-secure origin");
  assert.equal(result.secureContext, false);
  assert.equal(result.webrtc, true, "RTCPeerConnection exists on any origin");
  assert.equal(result.microphone.supported, false, "mediaDevices is hidden outside secure contexts");
  assert.deepEqual(result.microphone.devices, []);
  assert.equal(result.microphone.permission, view.permission);
});

// ---------------------------------------------------------------------------------------------
// Autoplay

test("blocked autoplay: AUTOPLAY_BLOCKED, muted playback, then unlock() from a click plays with sound (Chromium only: Firefox lets an origin with a microphone grant, which its loopback ICE needs, autoplay with sound)", onlyChromium("Firefox lets an origin with a microphone grant, which its loopback ICE needs, autoplay with sound"), async () => {
  const strict = await launchBrowser({ autoplayPolicy: "document-user-activation-required" });
  onCleanup(() => strict.close());
  const page = await openExtensionsPage(strict, { auto: "stream", backend: backend.url, emulator: emulator.url });

  const preflight = await report(page, "preflight");
  assert.equal(preflight.autoplayWithSound, false, "preflight() foresaw the refusal");
  const [info] = await report(page, "event:AUTOPLAY_BLOCKED", 30_000);
  assert.deepEqual(info, { playingMuted: true });
  await report(page, "started");

  // Muted, but the persona shows: frames keep being presented.
  const muted = await page.evaluate(() => {
    const v = document.getElementById("loud");
    return { muted: v.muted, paused: v.paused, frames: window.framesShown() };
  });
  assert.equal(muted.muted, true);
  assert.equal(muted.paused, false);
  await waitFor(async () => (await page.evaluate(() => window.framesShown())) > muted.frames + 5, {
    what: "muted video frames advancing",
  });

  // The user gesture: a real click on the page's button, whose handler calls unlock().
  await page.click("#unlock");
  const results = await waitFor(async () => {
    const r = await page.evaluate(() => window.unlockResults);
    return r.length ? r : null;
  }, { what: "unlock() to settle" });
  assert.deepEqual(results, ["resolved"]);
  const playing = await page.evaluate(() => {
    const v = document.getElementById("loud");
    return {
      muted: v.muted,
      paused: v.paused,
      frames: window.framesShown(),
      audio: v.srcObject.getAudioTracks().map((t) => t.readyState),
    };
  });
  assert.equal(playing.muted, false, "unmuted");
  assert.equal(playing.paused, false, "still playing");
  assert.deepEqual(playing.audio, ["live"], "with the persona's audio track");
  await waitFor(async () => (await page.evaluate(() => window.framesShown())) > playing.frames + 5, {
    what: "unmuted video frames advancing",
  });
  assert.ok(
    !page.consoleLines.some((l) => l.startsWith("log: e2e:event:CONNECTION_CLOSED")),
    "the session stayed up",
  );
});

test("no AUTOPLAY_BLOCKED where sound may autoplay; unlock() without a video resolves", async () => {
  const page = await openExtensionsPage(browser, { auto: "stream", backend: backend.url, emulator: emulator.url });
  await report(page, "event:VIDEO_PLAY_STARTED", 30_000);
  const state = await page.evaluate(() => {
    const v = document.getElementById("loud");
    return { muted: v.muted, paused: v.paused };
  });
  assert.deepEqual(state, { muted: false, paused: false });
  assert.ok(!page.consoleLines.some((l) => l.includes("e2e:event:AUTOPLAY_BLOCKED")));
  const idle = await page.evaluate(async () => {
    const c = window.anam.createClient(() => Promise.resolve("unused"));
    return c.unlock().then(() => "resolved");
  });
  assert.equal(idle, "resolved");
});

// ---------------------------------------------------------------------------------------------
// State store

/** Starts recording every snapshot the store hands out, through unbound getState/subscribe. */
function recordStates(page, options = {}) {
  return page.evaluate(
    ([b, e, options]) => {
      const client = window.makeClient(b, { api: { baseUrl: e }, ...options });
      // Passed around unbound, as useSyncExternalStore(client.subscribe, client.getState) does.
      const { getState, subscribe } = client;
      window.snaps = [getState()];
      window.notifications = 0;
      window.unsubscribe = subscribe(() => {
        window.notifications += 1;
        window.snaps.push(getState());
      });
      return window.snaps[0];
    },
    [backend.url, emulator.url, options],
  );
}

/** Consecutive distinct phases seen so far. */
async function phases(page) {
  return page.evaluate(() => window.snaps.map((s) => s.phase).filter((p, i, all) => i === 0 || all[i - 1] !== p));
}

async function waitPhase(page, phase, timeoutMs = 20_000) {
  return waitFor(
    async () => {
      const s = await page.evaluate(() => window.client.getState());
      return s.phase === phase ? s : null;
    },
    { timeoutMs, what: `phase ${phase}` },
  );
}

test("getState/subscribe: idle, starting, connecting, connected, closed; one frozen object per change", async () => {
  const page = await openPage();
  const initial = await recordStates(page);
  assert.deepEqual(initial, {
    phase: "idle",
    sessionId: null,
    muted: false,
    permissionState: "not_requested",
    lastError: null,
  });
  const stable = await page.evaluate(() => {
    const c = window.client;
    return {
      same: c.getState() === c.getState() && c.getState() === window.snaps[0],
      frozen: Object.isFrozen(c.getState()),
      sameFunctions: c.getState === c.getState && c.subscribe === c.subscribe,
    };
  });
  assert.deepEqual(stable, { same: true, frozen: true, sameFunctions: true });

  await page.evaluate(() => window.client.streamToVideoElement("v"));
  const connected = await waitPhase(page, "connected");
  assert.deepEqual(await phases(page), ["idle", "starting", "connecting", "connected"]);
  assert.equal(connected.sessionId, await page.evaluate(() => window.client.getActiveSessionId()));
  assert.match(connected.sessionId, /\S+/);
  await waitFor(async () => (await page.evaluate(() => window.client.getState().permissionState)) === "granted", {
    what: "permissionState granted",
  });

  const checks = await page.evaluate(() => {
    const s = window.snaps;
    return {
      // Every notification brought a different snapshot, and each one is frozen.
      allDistinct: s.every((x, i) => i === 0 || JSON.stringify(x) !== JSON.stringify(s[i - 1])),
      allFrozen: s.every((x) => Object.isFrozen(x)),
      notifications: window.notifications,
      snaps: s.length,
      latestIsCurrent: s.at(-1) === window.client.getState(),
    };
  });
  assert.deepEqual(checks, {
    allDistinct: true,
    allFrozen: true,
    notifications: checks.snaps - 1,
    snaps: checks.snaps,
    latestIsCurrent: true,
  });

  // Muting is a change: a new object, the old one untouched.
  const mute = await page.evaluate(() => {
    const before = window.client.getState();
    window.client.muteInputAudio();
    const after = window.client.getState();
    return { changed: before !== after, before: before.muted, after: after.muted, notified: window.snaps.at(-1) === after };
  });
  assert.deepEqual(mute, { changed: true, before: false, after: true, notified: true });

  await page.evaluate(() => window.client.stopStreaming());
  const closed = await waitPhase(page, "closed");
  assert.equal(closed.sessionId, null);
  assert.equal(closed.lastError, null, "a stop by the app is no error");
  assert.deepEqual(await phases(page), ["idle", "starting", "connecting", "connected", "closed"]);

  // Unsubscribed: no more calls, but getState() still follows.
  const after = await page.evaluate(() => {
    const count = window.notifications;
    window.unsubscribe();
    window.client.unmuteInputAudio();
    return { calls: window.notifications - count, muted: window.client.getState().muted };
  });
  assert.deepEqual(after, { calls: 0, muted: false });
});

test("getState: a session the server ends is closed with its close code; a new start clears it", async () => {
  const page = await openPage();
  await recordStates(page, { disableInputAudio: true });
  await page.evaluate(() => window.client.streamToVideoElement("v"));
  const { sessionId } = await waitPhase(page, "connected");
  assert.ok((await emulator.endSession(sessionId)).ok);
  const closed = await waitPhase(page, "closed");
  assert.equal(closed.lastError?.code, "CONNECTION_CLOSED_CODE_SERVER_CLOSED_CONNECTION");
  assert.equal(typeof closed.lastError.message, "string");
  assert.equal(await page.evaluate(() => Object.isFrozen(window.client.getState().lastError)), true);
  await page.evaluate(() => window.client.streamToVideoElement("v"));
  const again = await waitPhase(page, "connected");
  assert.equal(again.lastError, null);
  assert.notEqual(again.sessionId, sessionId);
});

test("getState: a refused start is closed with the ClientError code", async () => {
  const page = await openPage();
  await recordStates(page, { disableInputAudio: true });
  await emulator.fault({
    endpoint: "engine-session",
    status: 429,
    error: "Concurrent session limit reached",
    message: "limit",
    count: 1,
  });
  const rejected = await page.evaluate(() => window.client.streamToVideoElement("v").then(() => null, (e) => e.code));
  assert.equal(rejected, "CLIENT_ERROR_CODE_MAX_CONCURRENT_SESSIONS_REACHED");
  const state = await page.evaluate(() => window.client.getState());
  assert.equal(state.phase, "closed");
  assert.equal(state.lastError?.code, "CLIENT_ERROR_CODE_MAX_CONCURRENT_SESSIONS_REACHED");
  assert.deepEqual(await phases(page), ["idle", "starting", "closed"]);
});

test("getState inside event listeners already shows what the event means", async () => {
  const page = await openPage();
  await recordStates(page);
  await page.evaluate(async () => {
    const c = window.client;
    window.seen = {};
    for (const name of ["CONNECTION_ESTABLISHED", "CONNECTION_CLOSED"]) {
      c.addListener(name, () => (window.seen[name] = c.getState().phase));
    }
    for (const name of ["MIC_PERMISSION_PENDING", "MIC_PERMISSION_GRANTED"]) {
      c.addListener(name, () => (window.seen[name] = c.getState().permissionState));
    }
    await c.streamToVideoElement("v");
  });
  await waitPhase(page, "connected");
  // The microphone is asked for once the first frame shows, after "connected".
  await page.waitForFunction(() => "MIC_PERMISSION_GRANTED" in window.seen);
  await page.evaluate(() => window.client.stopStreaming());
  await waitPhase(page, "closed");
  assert.deepEqual(await page.evaluate(() => window.seen), {
    MIC_PERMISSION_PENDING: "pending",
    MIC_PERMISSION_GRANTED: "granted",
    CONNECTION_ESTABLISHED: "connected",
    CONNECTION_CLOSED: "closed",
  });
});
