// The README's first example: createClient is the first call (no init()), listeners are added
// at once, and the page streams when asked (window.__e2e.start) or at load (?autostart=1).
// ?api= is the Anam API the client talks to (the emulator). What the page saw is recorded in
// window.__e2e for csp.test.mjs and pkg-scenario.mjs.
import { createClient, fetchSessionToken, AnamEvent } from "/pkg/anam_wasm.js";

const params = new URLSearchParams(location.search);
const e2e = (window.__e2e = { events: [], messages: {}, errors: [], closed: [], violations: [] });
document.addEventListener("securitypolicyviolation", (e) =>
  e2e.violations.push({ directive: e.effectiveDirective, uri: e.blockedURI }),
);
const plain = (e) => ({ name: e?.name, code: e?.code, message: e?.message, details: e?.details });

const client = createClient(() => fetchSessionToken("/api/session-token"), {
  api: { baseUrl: params.get("api") },
});
for (const name of Object.values(AnamEvent)) {
  client.addListener(name, () => e2e.events.push({ name, at: performance.now() }));
}
client.addListener(AnamEvent.MESSAGE_STREAM_EVENT_RECEIVED, (e) => {
  const m = (e2e.messages[e.id] ??= { role: e.role, content: "", end: false, interrupted: false });
  m.content += e.content;
  m.end ||= e.endOfSpeech;
  m.interrupted ||= e.interrupted;
});
client.addListener(AnamEvent.CONNECTION_CLOSED, (code, details, error) =>
  e2e.closed.push({ code, details, error: error && plain(error), at: performance.now() }),
);
e2e.client = client;
e2e.ready = Promise.resolve(true);
e2e.start = () => client.streamToVideoElement("persona-video");
e2e.outcome = (promise) =>
  promise.then(() => ({ ok: true, at: performance.now() }), (e) => ({ ok: false, error: plain(e), at: performance.now() }));
if (params.get("autostart")) e2e.started = e2e.outcome(e2e.start());
