// The demo page: one persona conversation through the anam-wasm client. Everything here uses
// the client's public API only, the way an app would: the browser gets session tokens from this
// server's /api/session-token (the API key stays on the server) and never sees anything else.
import * as anam from "/pkg/anam_wasm.js";

const init = anam.default;
const { createClient, fetchSessionToken } = anam;
// The enums are strings equal to their names, so a build without them still works by name.
const AnamEvent = anam.AnamEvent ?? new Proxy({}, { get: (_, name) => name });
const NORMAL_CLOSE = anam.ConnectionClosedCode?.NORMAL ?? "CONNECTION_CLOSED_CODE_NORMAL";

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status-text"),
  banner: $("banner"),
  bannerTitle: $("banner-title"),
  bannerMessage: $("banner-message"),
  bannerSolution: $("banner-solution"),
  bannerSolutionRow: $("banner-solution-row"),
  bannerCode: $("banner-code"),
  bannerClose: $("banner-close"),
  video: $("persona-video"),
  placeholder: $("stage-placeholder"),
  placeholderText: $("stage-placeholder-text"),
  unmute: $("unmute"),
  persona: $("persona"),
  personaNote: $("persona-note"),
  connect: $("connect"),
  disconnect: $("disconnect"),
  mic: $("mic"),
  mute: $("mute"),
  micState: $("mic-state"),
  talkForm: $("talk-form"),
  talkText: $("talk-text"),
  talk: $("talk"),
  talkStream: $("talk-stream"),
  sendUser: $("send-user"),
  interrupt: $("interrupt"),
  transcript: $("transcript"),
  transcriptEmpty: $("transcript-empty"),
  transcriptClear: $("transcript-clear"),
  timeline: $("timeline"),
  timelineTotal: $("timeline-total"),
  version: $("version"),
  apiBase: $("api-base"),
};

// ---------------------------------------------------------------------------------------------
// State

/** @type {{apiBaseUrl?: string, personas: {id: string, name: string}[]}} */
let config = { personas: [] };
let client = null;
/** "idle" | "connecting" | "connected" | "error" */
let state = "idle";
let wantMuted = false;
/** Time origin of the current connection attempt (performance.now()). */
let connectStartedAt = 0;
/** Bumped on every Connect/Disconnect so that late callbacks of an old client are ignored. */
let attempt = 0;

function setState(next, text) {
  state = next;
  document.body.dataset.state = next;
  if (text) ui.status.textContent = text;
  const live = next === "connected";
  const busy = next === "connecting";
  ui.connect.disabled = busy || live || !createClient;
  ui.disconnect.disabled = !(busy || live);
  ui.persona.disabled = busy || live || config.personas.length < 2;
  for (const b of [ui.talk, ui.talkStream, ui.sendUser, ui.interrupt]) b.disabled = !live;
  ui.mic.disabled = !live || ui.mic.options.length < 2;
}

function personaName(id) {
  return config.personas.find((p) => p.id === id)?.name ?? "the persona";
}

// ---------------------------------------------------------------------------------------------
// Error banner

// Used when an error carries no solution of its own (e.g. from the Core API rather than from
// this server's token endpoint).
const FALLBACK = {
  400: ["The request was rejected", "Check the persona configuration and the options passed to createClient."],
  401: ["Not authorised", "The server's ANAM_API_KEY is missing, wrong or revoked: set a valid key from Anam Lab and restart the server."],
  402: ["No plan found", "The account behind the API key needs an active plan."],
  403: ["Access denied", "Open the demo from the server's own address, or add this page's origin to ALLOWED_ORIGINS; the key may also lack access to this persona."],
  404: ["Not found", "Check ANAM_PERSONA_ID (or the persona config) and ANAM_API_BASE_URL: the persona or the endpoint does not exist."],
  429: ["Too many requests", "Wait a little and try again; concurrent-session and usage limits reset over time."],
  503: ["Service busy", "Try again in a moment."],
};

function describeError(err) {
  const details = err && typeof err === "object" && err.details && typeof err.details === "object" ? err.details : {};
  const status = Number(err?.statusCode) || 0;
  const [fallbackTitle, fallbackSolution] = FALLBACK[status] ?? [];
  const message = String(details.message || err?.message || err || "Unknown error");
  const computed = fallbackTitle
    ? `${fallbackTitle} (HTTP ${status})`
    : status >= 500 ? `Server error (HTTP ${status})` : "Something went wrong";
  return {
    title: typeof err?.title === "string" ? err.title : computed,
    message,
    solution: details.solution || fallbackSolution || "",
    code: [err?.code, details.error].filter(Boolean).join(" · "),
  };
}

function showError(err, context) {
  const d = describeError(err);
  ui.bannerTitle.textContent = context ? `${context}: ${d.title}` : d.title;
  ui.bannerMessage.textContent = d.message;
  ui.bannerSolution.textContent = d.solution;
  ui.bannerSolutionRow.hidden = !d.solution;
  ui.bannerCode.textContent = d.code;
  ui.bannerCode.hidden = !d.code;
  ui.banner.hidden = false;
  console.warn(context ?? "error", err);
}

function hideError() {
  ui.banner.hidden = true;
}
ui.bannerClose.addEventListener("click", hideError);

const CLOSE_REASONS = {
  CONNECTION_CLOSED_CODE_MICROPHONE_PERMISSION_DENIED: [
    "Microphone permission was denied",
    "Allow the microphone for this page in the browser's site settings, then connect again.",
  ],
  CONNECTION_CLOSED_CODE_SIGNALLING_CLIENT_CONNECTION_FAILURE: [
    "The signalling connection was lost and could not be re-established",
    "Check the network connection and connect again.",
  ],
  CONNECTION_CLOSED_CODE_WEBRTC_FAILURE: [
    "The media connection failed",
    "A firewall or VPN may block WebRTC; check the network and connect again.",
  ],
  CONNECTION_CLOSED_CODE_SERVER_CLOSED_CONNECTION: [
    "The server ended the session",
    "Sessions have a maximum length; connect again to start a new one.",
  ],
};

// ---------------------------------------------------------------------------------------------
// Connection timeline

const MILESTONES = [
  ["token", "Session token"],
  ["session", "Start session"],
  ["answer", "Signalling answer"],
  ["ice", "ICE connected"],
  ["channel", "Data channel open"],
  ["ready", "Session ready"],
  ["frame", "First frame"],
];
const reached = new Map();

function resetTimeline() {
  reached.clear();
  ui.timeline.replaceChildren(
    ...MILESTONES.map(([key, label]) => {
      const li = document.createElement("li");
      li.className = "tl";
      li.dataset.milestone = key;
      li.dataset.done = "false";
      const name = document.createElement("span");
      name.className = "tl-name";
      name.textContent = label;
      const track = document.createElement("span");
      track.className = "tl-track";
      track.setAttribute("aria-hidden", "true");
      const bar = document.createElement("span");
      bar.className = "tl-bar";
      track.append(bar);
      const ms = document.createElement("span");
      ms.className = "tl-ms";
      ms.textContent = "—";
      li.append(name, track, ms);
      return li;
    }),
  );
  ui.timelineTotal.textContent = "";
}

/** Records the first time `key` is reached in this attempt and redraws the bars. */
function mark(key, forAttempt) {
  if (forAttempt !== attempt || reached.has(key)) return;
  reached.set(key, Math.round(performance.now() - connectStartedAt));
  const longest = Math.max(1, ...reached.values());
  for (const li of ui.timeline.children) {
    const ms = reached.get(li.dataset.milestone);
    if (ms === undefined) continue;
    li.dataset.done = "true";
    li.dataset.ms = String(ms);
    li.querySelector(".tl-ms").textContent = `${ms} ms`;
    li.querySelector(".tl-bar").style.width = `${Math.max(2, (ms / longest) * 100)}%`;
  }
  if (reached.size === MILESTONES.length) {
    ui.timelineTotal.textContent = `all steps in ${longest} ms`;
  }
}

// ---------------------------------------------------------------------------------------------
// Transcript

/** Transcript entries by message id (persona messages grow as chunks arrive). */
const entries = new Map();
let userSeq = 0;
/** Typed messages (sendUserMessage) not yet echoed back by the server as user transcripts. */
const typedAwaitingEcho = [];

function addEntry({ key, role, label, text, interrupted = false, live = false }) {
  const li = document.createElement("li");
  li.className = "msg";
  li.dataset.role = role;
  li.dataset.interrupted = String(interrupted);
  const who = document.createElement("span");
  who.className = "msg-who";
  who.textContent = label;
  const tag = document.createElement("span");
  tag.className = "msg-tag";
  who.append(tag);
  const body = document.createElement("p");
  body.className = "msg-text";
  body.textContent = text;
  li.append(who, body);
  ui.transcript.append(li);
  ui.transcriptEmpty.hidden = true;
  const entry = { li, body, tag, role };
  if (key) entries.set(key, entry);
  setEntryTag(entry, { interrupted, live });
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
  return entry;
}

function setEntryTag(entry, { interrupted, live }) {
  entry.li.dataset.interrupted = String(interrupted);
  entry.li.dataset.live = String(live);
  entry.tag.hidden = !(interrupted || live);
  entry.tag.className = `msg-tag ${interrupted ? "interrupted" : "live"}`;
  entry.tag.textContent = interrupted ? "interrupted" : "speaking";
}

function onMessageChunk(e, forAttempt) {
  if (forAttempt !== attempt || !e || typeof e !== "object") return;
  const role = e.role === "user" ? "user" : "persona";
  const content = typeof e.content === "string" ? e.content : "";
  let entry = entries.get(e.id);
  if (!entry && role === "user") {
    // The server may echo a typed message back as a user transcript: adopt the typed entry
    // instead of showing the same words twice.
    const i = typedAwaitingEcho.findIndex((t) => t.text === content.trim());
    if (i >= 0) {
      entry = typedAwaitingEcho.splice(i, 1)[0].entry;
      entries.set(e.id, entry);
      entry.body.textContent = "";
    }
  }
  if (!entry) {
    entry = addEntry({
      key: e.id,
      role,
      label: role === "user" ? "You" : personaName(currentPersonaId),
      text: "",
    });
    entry.interrupted = false;
  }
  entry.body.textContent += content;
  entry.interrupted = entry.interrupted || Boolean(e.interrupted);
  setEntryTag(entry, { interrupted: entry.interrupted, live: !e.endOfSpeech && !entry.interrupted });
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
}

ui.transcriptClear.addEventListener("click", () => {
  entries.clear();
  ui.transcript.replaceChildren();
  ui.transcriptEmpty.hidden = false;
});

// ---------------------------------------------------------------------------------------------
// Video: the client plays it, muted when the browser refuses sound (AUTOPLAY_BLOCKED); the
// unmute button then calls client.unlock() from the click.

function syncUnmute() {
  const v = ui.video;
  ui.unmute.hidden = !(v.srcObject && (v.muted || v.paused));
}

ui.unmute.addEventListener("click", async () => {
  try {
    await client?.unlock();
  } catch (err) {
    showError(err, "Playback");
  }
  syncUnmute();
});
ui.video.addEventListener("volumechange", syncUnmute);
ui.video.addEventListener("pause", syncUnmute);
ui.video.addEventListener("playing", () => {
  ui.placeholder.hidden = true;
  syncUnmute();
});

// ---------------------------------------------------------------------------------------------
// Microphone

function renderMuted(muted) {
  wantMuted = muted;
  ui.mute.setAttribute("aria-pressed", String(muted));
  ui.mute.textContent = muted ? "Unmute microphone" : "Mute microphone";
  document.body.dataset.muted = String(muted);
}

ui.mute.addEventListener("click", () => {
  const next = !wantMuted;
  if (client) {
    const s = next ? client.muteInputAudio() : client.unmuteInputAudio();
    renderMuted(typeof s?.isMuted === "boolean" ? s.isMuted : next);
  } else {
    renderMuted(next);
  }
});

function describeMic(permission) {
  return {
    pending: "Microphone: waiting for permission…",
    granted: "Microphone: on. Speak, or type below.",
    denied: "Microphone: permission denied. You can still type.",
    not_requested: "Microphone: not requested yet.",
  }[permission] ?? `Microphone: ${permission}`;
}

/** Lists the audio inputs; labels are only readable after permission was granted. */
async function refreshMics(activeTrack) {
  if (!navigator.mediaDevices?.enumerateDevices) return;
  let devices = [];
  try {
    devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "audioinput");
  } catch {
    return;
  }
  const current = activeTrack?.getSettings?.().deviceId || ui.mic.value;
  ui.mic.replaceChildren(
    ...devices.map((d, i) => {
      const o = document.createElement("option");
      o.value = d.deviceId;
      o.textContent = d.label || `Microphone ${i + 1}`;
      return o;
    }),
  );
  if (devices.length === 0) {
    const o = document.createElement("option");
    o.value = "";
    o.textContent = "No microphone found";
    ui.mic.append(o);
  }
  if (current && devices.some((d) => d.deviceId === current)) ui.mic.value = current;
  ui.mic.disabled = state !== "connected" || devices.length < 2;
}
navigator.mediaDevices?.addEventListener?.("devicechange", () => refreshMics());

ui.mic.addEventListener("change", async () => {
  if (!client || !ui.mic.value) return;
  ui.mic.disabled = true;
  try {
    await client.changeAudioInputDevice(ui.mic.value);
  } catch (err) {
    showError(err, "Could not switch the microphone");
  } finally {
    ui.mic.disabled = state !== "connected" || ui.mic.options.length < 2;
  }
});

// ---------------------------------------------------------------------------------------------
// Connect / disconnect

let currentPersonaId = "";

function listen(c, forAttempt) {
  const on = (event, fn) => c.addListener(event, (...args) => {
    if (forAttempt === attempt) fn(...args);
  });
  on(AnamEvent.MIC_PERMISSION_PENDING, () => {
    if (c.getActiveSessionId()) mark("session", forAttempt);
    ui.micState.textContent = describeMic("pending");
  });
  on(AnamEvent.MIC_PERMISSION_GRANTED, () => {
    ui.micState.textContent = describeMic("granted");
  });
  on(AnamEvent.MIC_PERMISSION_DENIED, (why) => {
    ui.micState.textContent = `${describeMic("denied")}${why ? ` (${why})` : ""}`;
  });
  on(AnamEvent.INPUT_AUDIO_STREAM_STARTED, (mic) => {
    refreshMics(mic?.getAudioTracks?.()[0]);
  });
  on(AnamEvent.INPUT_AUDIO_DEVICE_CHANGED, (deviceId) => {
    const label = [...ui.mic.options].find((o) => o.value === deviceId)?.textContent;
    ui.micState.textContent = `Microphone: switched to ${label || "the selected device"}.`;
    refreshMics();
  });
  on(AnamEvent.VIDEO_STREAM_STARTED, () => {
    mark("session", forAttempt);
    mark("answer", forAttempt);
  });
  on(AnamEvent.AUTOPLAY_BLOCKED, syncUnmute);
  on(AnamEvent.CONNECTION_ESTABLISHED, () => mark("ice", forAttempt));
  on(AnamEvent.DATA_CHANNEL_OPEN, () => {
    mark("channel", forAttempt);
    setState("connected", `Connected to ${personaName(currentPersonaId)}`);
  });
  on(AnamEvent.SESSION_READY, () => mark("ready", forAttempt));
  on(AnamEvent.VIDEO_PLAY_STARTED, () => {
    mark("frame", forAttempt);
    ui.placeholder.hidden = true;
    setState("connected", `Connected to ${personaName(currentPersonaId)}`);
    syncUnmute();
  });
  on(AnamEvent.MESSAGE_STREAM_EVENT_RECEIVED, (e) => onMessageChunk(e, forAttempt));
  on(AnamEvent.TALK_STREAM_INTERRUPTED, () => {
    ui.status.textContent = "The talk stream was interrupted";
  });
  on(AnamEvent.SERVER_WARNING, (message) => console.warn("server warning:", message));
  on(AnamEvent.CONNECTION_CLOSED, (code, details) => {
    if (code === NORMAL_CLOSE) return;
    const [title, solution] = CLOSE_REASONS[code] ?? ["The connection closed unexpectedly", "Connect again."];
    const message = typeof details === "string" && details ? `Reason given: ${details}` : "No reason was given.";
    showError({ title, message, code, details: { solution } });
    teardown("error", "Disconnected", "The session ended. Press Connect to start a new one.");
  });
}

async function connect() {
  hideError();
  const forAttempt = ++attempt;
  currentPersonaId = ui.persona.value || config.personas[0]?.id || "";
  const personaId = currentPersonaId;
  connectStartedAt = performance.now();
  resetTimeline();
  setState("connecting", `Connecting to ${personaName(personaId)}…`);
  ui.placeholderText.textContent = "Connecting…";
  ui.micState.textContent = describeMic("not_requested");

  // The provider runs for every new session (and again when a token expired): a fresh token
  // each time, for the persona picked when Connect was pressed.
  const tokenProvider = async () => {
    const token = await fetchSessionToken("/api/session-token", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify(personaId ? { personaId } : {}),
    });
    mark("token", forAttempt);
    return token;
  };

  try {
    const options = config.apiBaseUrl ? { api: { baseUrl: config.apiBaseUrl } } : {};
    client = createClient(tokenProvider, options);
    if (wantMuted) client.muteInputAudio();
    listen(client, forAttempt);
    await client.streamToVideoElement("persona-video");
    if (forAttempt !== attempt) return;
    mark("session", forAttempt);
  } catch (err) {
    if (forAttempt !== attempt) return;
    showError(err, "Could not connect");
    await teardown("error", "Not connected", "Could not connect: see the message above.");
  }
}

/** Stops the current client (if any) and returns the page to the idle layout. */
async function teardown(nextState, text, stageText = "Disconnected. Press Connect to talk again.") {
  attempt += 1;
  const old = client;
  client = null;
  if (old) {
    try {
      await old.stopStreaming();
    } catch (err) {
      console.warn("stopStreaming failed", err);
    }
    try {
      old.free?.();
    } catch {
      // Already freed; nothing to release.
    }
  }
  ui.video.srcObject = null;
  ui.video.muted = false;
  ui.placeholder.hidden = false;
  ui.placeholderText.textContent = stageText;
  ui.unmute.hidden = true;
  ui.mic.replaceChildren(new Option("Available once connected", ""));
  ui.micState.textContent = describeMic("not_requested");
  for (const entry of entries.values()) {
    if (entry.li.dataset.live === "true") setEntryTag(entry, { interrupted: entry.interrupted, live: false });
  }
  entries.clear();
  setState(nextState, text);
}

ui.connect.addEventListener("click", connect);
ui.disconnect.addEventListener("click", () => teardown("idle", "Disconnected"));

// ---------------------------------------------------------------------------------------------
// Talking

function text() {
  return ui.talkText.value.trim();
}

ui.talkForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const t = text();
  if (!client || !t) return;
  try {
    await client.talk(t);
  } catch (err) {
    showError(err, "talk() failed");
  }
});

ui.talkText.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    if (!ui.talk.disabled) ui.talkForm.requestSubmit();
  }
});

/** Splits text into about three chunks at word boundaries, as an LLM would stream it. */
export function splitIntoChunks(t, parts = 3) {
  const words = t.split(/(\s+)/);
  const size = Math.ceil(t.length / parts);
  const chunks = [];
  let current = "";
  for (const w of words) {
    current += w;
    if (current.length >= size && chunks.length < parts - 1) {
      chunks.push(current);
      current = "";
    }
  }
  if (current) chunks.push(current);
  return chunks;
}

ui.talkStream.addEventListener("click", async () => {
  const t = text();
  if (!client || !t) return;
  try {
    const stream = client.createTalkMessageStream();
    const chunks = splitIntoChunks(t);
    for (let i = 0; i < chunks.length; i++) {
      if (!stream.isActive()) break;
      stream.streamMessageChunk(chunks[i], i === chunks.length - 1);
      // A short gap makes the chunking visible; a real app sends as tokens arrive.
      if (i < chunks.length - 1) await new Promise((r) => setTimeout(r, 250));
    }
  } catch (err) {
    showError(err, "Talk stream failed");
  }
});

ui.sendUser.addEventListener("click", () => {
  const t = text();
  if (!client || !t) return;
  try {
    client.sendUserMessage(t);
    const entry = addEntry({ key: `typed::${++userSeq}`, role: "user", label: "You (typed)", text: t });
    entry.interrupted = false;
    typedAwaitingEcho.push({ text: t, entry });
    if (typedAwaitingEcho.length > 20) typedAwaitingEcho.shift();
  } catch (err) {
    showError(err, "sendUserMessage failed");
  }
});

ui.interrupt.addEventListener("click", () => {
  if (!client) return;
  try {
    client.interruptPersona();
  } catch (err) {
    showError(err, "interruptPersona failed");
  }
});

// ---------------------------------------------------------------------------------------------
// Start-up: the wasm, then the server's public config (API base URL and personas).

async function loadConfig() {
  const res = await fetch("/api/config", { headers: { accept: "application/json" } });
  const body = await res.json().catch(() => null);
  if (!res.ok || !body || typeof body !== "object") {
    const err = new Error(body?.message || `GET /api/config failed with HTTP ${res.status}`);
    err.statusCode = res.status;
    err.details = body && typeof body === "object" ? body : {};
    throw err;
  }
  return {
    apiBaseUrl: typeof body.apiBaseUrl === "string" ? body.apiBaseUrl : undefined,
    personas: Array.isArray(body.personas)
      ? body.personas.filter((p) => p && typeof p.id === "string").map((p) => ({ id: p.id, name: String(p.name || p.id) }))
      : [],
  };
}

function renderPersonas() {
  const list = config.personas;
  ui.persona.replaceChildren(...list.map((p) => new Option(p.name, p.id)));
  if (list.length > 1) {
    ui.personaNote.hidden = true;
  } else {
    ui.personaNote.hidden = false;
    ui.personaNote.textContent = list.length === 1
      ? `This server offers one persona, ${list[0].name}. List more ids in ANAM_PERSONA_ID to choose here.`
      : "This server did not list its persona; it will use its default.";
    if (list.length === 0) ui.persona.append(new Option("Server default", ""));
  }
}

async function start() {
  resetTimeline();
  renderMuted(false);
  try {
    await init();
    ui.version.textContent = typeof anam.version === "function" ? anam.version() : "unknown";
  } catch (err) {
    setState("error", "The client failed to load");
    showError(err, "Loading the WebAssembly client failed");
    return;
  }
  try {
    config = await loadConfig();
  } catch (err) {
    showError(err, "Could not read /api/config");
    config = { personas: [] };
  }
  ui.apiBase.textContent = config.apiBaseUrl ?? "default";
  renderPersonas();
  setState("idle", "Ready to connect");

  // Shareable links: ?persona=<id> preselects a persona, ?autoconnect=1 connects on load (then
  // the browser may refuse sound until the first click: see the unmute button).
  const params = new URLSearchParams(location.search);
  const wanted = params.get("persona");
  if (wanted && config.personas.some((p) => p.id === wanted)) ui.persona.value = wanted;
  if (params.get("autoconnect") === "1") connect();
}

start();
