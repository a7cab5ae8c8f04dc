// createClient as the first call, in Node where a server imports the package (no DOM, no
// init()): the client answers what it can at once, calls that need a session fail the way
// they fail on an idle client, and what needs the WebAssembly module rejects with a typed
// error instead of a TypeError. (In a page, csp.test.mjs streams with the same first call.)
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "./harness.mjs";

const PKG_DIR = process.env.E2E_PKG_DIR || path.join(ROOT, "pkg");
const mod = await import(pathToFileURL(path.join(PKG_DIR, "anam_wasm.js")).href);
const CONFIGURATION_ERROR = "CLIENT_ERROR_CODE_CONFIGURATION_ERROR";

test("createClient before init(): an idle client whose calls never throw a TypeError", async () => {
  let asked = 0;
  const client = mod.createClient(() => {
    asked += 1;
    return Promise.resolve("token");
  });
  assert.equal(client.isStreaming(), false);
  assert.equal(client.getActiveSessionId(), null);
  const state = client.getState();
  assert.deepEqual(state, { phase: "idle", sessionId: null, muted: false, permissionState: "not_requested", lastError: null });
  assert.equal(client.getState(), state, "the same snapshot until something changes");
  let changes = 0;
  const unsubscribe = client.subscribe(() => (changes += 1));
  assert.deepEqual(client.muteInputAudio(), { isMuted: true, permissionState: "not_requested" });
  assert.equal(changes, 1);
  assert.equal(client.getState().muted, true);
  unsubscribe();
  client.setPersonaConfig({ personaId: "p" });
  assert.deepEqual(client.getPersonaConfig(), { personaId: "p" });
  const off = client.registerToolCallHandler("t", { onStart: () => "ok" });
  assert.equal(typeof off, "function");
  off();
  client.addListener(mod.AnamEvent.CONNECTION_CLOSED, () => {});
  assert.throws(() => client.sendUserMessage("hi"), { message: "Not streaming: start a session first" });
  assert.throws(() => client.createTalkMessageStream(), (e) => e instanceof Error && !(e instanceof TypeError));

  // Node has no page to fetch the .wasm from: the start fails, typed, and the token provider
  // was already asked (the token request does not wait for the module).
  const start = client.streamToVideoElement("persona-video");
  assert.equal(asked, 1);
  assert.equal(client.isStreaming(), true, "a start is under way");
  await assert.rejects(start, (e) => e.name === "ClientError" && e.code === CONFIGURATION_ERROR && /WebAssembly module/.test(e.message));
  assert.equal(client.isStreaming(), false);
  await assert.rejects(client.talk("hi"), (e) => e.code === CONFIGURATION_ERROR);
  await client.stopStreaming(); // works in every state
  await assert.rejects(mod.default(), (e) => e.code === CONFIGURATION_ERROR && typeof e.details.cause === "string");
  assert.throws(() => mod.version(), /await init\(\) first/);
});

test("createClient checks what it can without the module", () => {
  assert.throws(() => mod.createClient(42), (e) => e.name === "ClientError" && e.code === CONFIGURATION_ERROR);
});
