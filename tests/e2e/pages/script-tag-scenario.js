// The scenario shared by script-tag.html and script-tag-cdn.html: the classic-script build must
// define globalThis.anam at once (enums, a ready promise) and work once anam.ready resolves.
var e2e = (window.__e2e = { events: [], messages: {}, errors: [] });
// The enum objects must exist as soon as the script tag ran, before the wasm is loaded.
e2e.syncEnum = anam.AnamEvent && anam.AnamEvent.SESSION_READY;
e2e.syncReadyIsPromise = typeof anam.ready.then === "function";
try {
  anam.createClient("x");
  e2e.earlyCall = "did not throw";
} catch (err) {
  e2e.earlyCall = String(err && err.message);
}
e2e.ready = anam.ready
  .then(function (loaded) {
    e2e.readyResolvedWithAnam = loaded === anam;
    return fetch("/api/config").then(function (r) { return r.json(); });
  })
  .then(function (config) {
    e2e.start = function () {
      var client = anam.createClient(
        function () { return anam.fetchSessionToken("/api/session-token"); },
        { api: { baseUrl: config.apiBaseUrl } }
      );
      Object.keys(anam.AnamEvent).forEach(function (key) {
        var name = anam.AnamEvent[key];
        client.addListener(name, function () { e2e.events.push({ name: name, at: performance.now() }); });
      });
      client.addListener(anam.AnamEvent.MESSAGE_STREAM_EVENT_RECEIVED, function (e) {
        var m = e2e.messages[e.id] || (e2e.messages[e.id] = { role: e.role, content: "", end: false, interrupted: false });
        m.content += e.content;
        m.end = m.end || e.endOfSpeech;
        m.interrupted = m.interrupted || e.interrupted;
      });
      e2e.client = client;
      return client.streamToVideoElement("persona-video");
    };
    return true;
  })
  .catch(function (err) {
    e2e.errors.push(String((err && err.stack) || err));
    return false;
  });
