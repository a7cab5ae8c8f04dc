// Uses the package exactly as an app would after `npm install anam-wasm`: a bare import that
// Vite resolves through the package's "exports", with the .wasm emitted as a hashed asset.
import init, { createClient, fetchSessionToken, AnamEvent } from "anam-wasm";

const e2e = (window.__e2e = { events: [], messages: {}, errors: [] });

e2e.ready = (async () => {
  await init();
  const config = await (await fetch("/api/config")).json();
  e2e.start = async () => {
    const client = createClient(() => fetchSessionToken("/api/session-token"), {
      api: { baseUrl: config.apiBaseUrl },
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
    e2e.client = client;
    await client.streamToVideoElement("persona-video");
  };
  return true;
})().catch((err) => {
  e2e.errors.push(String(err?.stack || err));
  return false;
});
