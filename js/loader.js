// The package's loader, appended to pkg/anam_wasm.js by scripts/finish-pkg.mjs after
// wasm-bindgen's glue (whose exports it turns module-private as wasm_<name>). It makes the
// WebAssembly module an implementation detail:
// - a page starts loading the .wasm as soon as it imports the package; `init()` stays
//   available (the same single load) for apps that pass their own URL or want to await it;
// - `createClient()` works as the first call: the client answers what it can at once and
//   hands every other call to the real client, in order, once the module is there;
// - the token request goes out at once (it needs no wasm), so it travels while the .wasm
//   downloads and compiles; so does the first start-session request, once the token is in
//   (`prefetch`): the client's core uses it if it is exactly the request it would send, and
//   otherwise ends the session it created;
// - a failure to load, or a connection the page's Content Security Policy blocks, becomes a
//   typed `ClientError` (CLIENT_ERROR_CODE_CONFIGURATION_ERROR) that names what to change.

const inPage = typeof document == "object";
const CLOSED = AnamEvent.CONNECTION_CLOSED;
let loading = null;

// Recent `securitypolicyviolation`s: a blocked fetch or socket fails with a bare "Failed to
// fetch" or a close code, so the event is the only place that says why. The event is queued
// as a task, so a failure looks for it one task later (`explained`). `clients`: those with a
// session under way, to which a refused signalling socket belongs.
const violations = [];
const clients = new Set();
if (inPage) {
  document.addEventListener("securitypolicyviolation", (e) => {
    const v = { at: performance.now(), uri: e.blockedURI, directive: e.effectiveDirective || e.violatedDirective, policy: e.originalPolicy };
    violations.push(v);
    if (violations.length > 16) violations.shift();
    for (const c of clients) c.v(v);
  });
}

function clientError(message, details) {
  const e = new Error(message);
  e.name = "ClientError";
  e.code = ErrorCode.CLIENT_ERROR_CODE_CONFIGURATION_ERROR;
  e.statusCode = 400;
  e.details = details;
  return e;
}

function blocked(v, cause) {
  const what = v.directive == "script-src" ? "WebAssembly (add 'wasm-unsafe-eval' to script-src)" : `${v.uri} (add its origin to ${v.directive})`;
  return clientError(`The page's Content Security Policy blocked ${what}`, {
    cause: cause || `Refused to connect to '${v.uri}': it violates the Content Security Policy directive "${v.directive}"`,
    directive: v.directive,
    blockedURI: v.uri,
    policy: v.policy,
  });
}

const nextTask = () => new Promise((r) => setTimeout(r));
const messageOf = (e) => String((e && e.message) || e);

// A failure of something the client did since `since`: the typed CSP error when the page's
// policy blocked a connection (or the wasm) meanwhile, else the failure as it was.
async function explained(e, since, directives) {
  if (!inPage) throw e;
  await nextTask();
  const v = violations.find((v) => v.at >= since && directives.includes(v.directive));
  throw v ? blocked(v, messageOf(e)) : e;
}

const watched = (promise, since = performance.now()) => promise.catch((e) => explained(e, since, ["connect-src"]));

function load(input) {
  if (!loading) {
    const since = performance.now();
    loading = __wbg_init(input).then(
      () => {},
      (e) => {
        loading = null; // a later init() may try again (e.g. with the right URL)
        return explained(e, since, ["script-src", "connect-src"]).catch((err) => {
          if (err !== e) throw err;
          const csp = e instanceof WebAssembly.CompileError && /Content.Security.Policy|CSP|unsafe-eval/i.test(e.message);
          throw csp
            ? blocked({ directive: "script-src", uri: "wasm-eval" }, messageOf(e))
            : clientError(`The client's WebAssembly module could not be loaded: ${messageOf(e)}`, { cause: messageOf(e) });
        });
      },
    );
    loading.catch(() => {}); // every caller still sees the rejection
  }
  return loading;
}

const ready = () => (wasm !== undefined ? Promise.resolve() : load());

// The start-session body the client's first attempt sends with the default options
// (docs/PROTOCOL.md §3.1), written here by scripts/finish-pkg.mjs from the Rust constants.
const FIRST_BODY = "__ANAM_FIRST_START_SESSION_BODY__";

// fetchSessionToken's promise -> the token, read by this JS from the same answer (null when
// there is none): the wasm reads the answer too, with its typed errors, once it has loaded.
const earlyTokens = new WeakMap();

const trimmed = (text, fallback) => (text === undefined ? fallback : String(text).replace(/\/+$/, ""));

// Sends the first start-session request while the module loads, unless the options make the
// body or the URL something only the module computes (a persona config, voice detection, the
// gateway, an unusual URL). The module's client decides whether to use it.
function prefetch(client, given, options) {
  const api = (options && options.api) || {};
  const base = trimmed(api.baseUrl, "https://api.anam.ai");
  const version = trimmed(api.apiVersion, "/v1");
  if (client.g !== undefined || (options && options.voiceDetection !== undefined) || (api.apiGateway && api.apiGateway.enabled)) return;
  if (!/^https?:\/\/[^/?#]+$/i.test(base) || !/^(\/[\w.-]+)*$/.test(version)) return;
  const token = earlyTokens.get(given) || (typeof given == "string" ? Promise.resolve(given) : Promise.resolve(given).catch(() => null));
  token.then((t) => {
    if (typeof t != "string" || client.c || !client.u) return; // the client sends its own
    const abort = new AbortController();
    const url = `${base}${version}/engine/session`;
    const headers = { "Content-Type": "application/json", Authorization: `Bearer ${t}` };
    const response = fetch(url, { method: "POST", headers, body: FIRST_BODY, signal: abort.signal });
    response.catch(() => {}); // read by the module
    client.f = [url, t, FIRST_BODY, response, abort];
  });
}

/** Loads the WebAssembly module (once); optional, every call waits for it anyway. */
export default function init(input) {
  return (wasm !== undefined ? Promise.resolve() : load(input)).then(() => wasm);
}

// The page's own code runs before this microtask, so an `init(url)` it calls at once still
// picks the URL.
if (inPage) queueMicrotask(() => ready().catch(() => {}));

export { initSync };

/** POSTs (unless `init.method` says otherwise) now; the wasm reads the answer. */
export function fetchSessionToken(url, init) {
  const request = Object.assign({}, init);
  if (request.method === undefined) request.method = "POST";
  const since = performance.now();
  const sent = fetch(url, request);
  sent.catch(() => {}); // read below, once the module is there
  const token = watched(ready().then(() => wasm_sessionTokenOf(sent)), since);
  if (wasm === undefined) {
    const json = sent.then((r) => (r.ok ? r.clone().json() : null));
    earlyTokens.set(token, json.then((j) => (j && typeof j.sessionToken == "string" ? j.sessionToken : null), () => null));
  }
  return token;
}

export function preflight() {
  return ready().then(() => wasm_preflight());
}

export function version() {
  if (wasm === undefined) throw new Error("version() reads the WebAssembly module: await init() first");
  return wasm_version();
}

const notLive = (starting) => new Error(starting ? "Session is not started yet" : "Not streaming: start a session first");

class Client {
  constructor(source, options) {
    this.l = new Map(); // app listener -> the one given to the real client
    this.u = false; // a start was asked for before the module loaded
    this.m = false; // muted, before the module loaded
    this.s = new Set(); // subscribers before the module loaded
    this.x = null; // the CSP violation that broke the current session
    this.o = options;
    this.f = null; // the prefetched start-session request, for the client the module makes
    const make = (t) => {
      const f = this.f;
      this.f = null;
      let c;
      try {
        c = wasm_createClient(t, options);
      } catch (e) {
        if (f) f[4].abort(); // options the module refuses: no client will start a session
        throw e;
      }
      if (f) c.prefetched(...f);
      return (this.c = c);
    };
    if (typeof source == "function") {
      // The first token is asked for as soon as a session is (`p`), possibly before the module
      // loaded; the real client gets it from its first call of the provider.
      this.p = null;
      this.t = source;
      source = () => {
        const p = this.p;
        this.p = null;
        return p || this.t();
      };
    } else if (typeof source != "string") {
      throw clientError("createClient needs a session token or a function that returns one");
    }
    this.w = wasm !== undefined ? Promise.resolve(make(source)) : ready().then(() => make(source));
    this.w.catch(() => {});
    this.idle();
    this.getState = () => (this.c ? this.c.getState() : this.i);
    this.subscribe = (f) => {
      if (this.c) return this.c.subscribe(f);
      this.s.add(f);
      let off = () => this.s.delete(f);
      this.later((c) => {
        if (this.s.delete(f)) {
          off = c.subscribe(f);
          f(); // the state object changed from the placeholder to the client's
        }
      });
      return () => off();
    };
  }

  idle() {
    this.i = Object.freeze({ phase: "idle", sessionId: null, muted: this.m, permissionState: AudioPermissionState.NOT_REQUESTED, lastError: null });
  }

  // Runs `f(realClient)` now when the client exists, else once it does (in call order).
  run(f) {
    return this.c ? f(this.c) : this.w.then(f);
  }

  // The same for calls that return nothing: when the module cannot load, the calls that
  // return a promise report it, these have no one to tell.
  later(f) {
    this.c ? f(this.c) : this.w.then(f, () => {});
  }

  start(method, args) {
    const last = args[args.length - 1];
    const signal = last && last.signal;
    this.u = true;
    if (!this.c && this.t && !this.p && !(signal && signal.aborted)) {
      let given;
      this.p = new Promise((r) => r((given = this.t())));
      this.p.catch(() => {});
      if (given !== undefined) prefetch(this, given, this.o);
    }
    clients.add(this);
    this.x = null;
    return watched(
      this.run((c) => c[method](...args)).catch((e) => {
        if (!this.c) this.u = false; // no client, so no session either
        throw e;
      }),
    );
  }

  // The policy refused the signalling socket of this client's session: every retry would be
  // refused too, and the client would only give up at its connection deadline, so the session
  // ends now, as a signalling failure whose CONNECTION_CLOSED carries the typed error (a
  // pending stream() rejects with it). Other refused requests fail their own call.
  v(v) {
    if (!this.isStreaming()) return clients.delete(this);
    if (v.directive != "connect-src" || !/^wss?:/i.test(v.uri) || this.x) return;
    const x = (this.x = blocked(v));
    this.later((c) => c.stopStreaming());
    for (const f of this.l.keys()) f(ConnectionClosedCode.SIGNALLING_CLIENT_CONNECTION_FAILURE, x.message, x);
  }

  stream(...a) {
    return this.start("stream", a);
  }
  streamToVideoElement(...a) {
    return this.start("streamToVideoElement", a);
  }
  talk(content) {
    return watched(this.run((c) => c.talk(content)));
  }
  stopStreaming() {
    this.u = false;
    this.p = null;
    clients.delete(this);
    return this.c ? this.c.stopStreaming() : this.w.then((c) => c.stopStreaming(), () => {});
  }
  unlock() {
    return this.run((c) => c.unlock());
  }
  changeAudioInputDevice(id) {
    return this.run((c) => c.changeAudioInputDevice(id));
  }
  addListener(event, f) {
    let g = f;
    if (event == CLOSED) {
      g = (code, details) => this.x || f(code, details); // after v(), the stop it caused is not news
      this.l.set(f, g);
    }
    this.later((c) => c.addListener(event, g));
  }
  removeListener(event, f) {
    const g = (event == CLOSED && this.l.get(f)) || f;
    if (event == CLOSED) this.l.delete(f);
    this.later((c) => c.removeListener(event, g));
  }
  setPersonaConfig(config) {
    this.g = config;
    this.later((c) => c.setPersonaConfig(config));
  }
  getPersonaConfig() {
    return this.c ? this.c.getPersonaConfig() : this.g;
  }
  muteInputAudio() {
    return this.mute(true);
  }
  unmuteInputAudio() {
    return this.mute(false);
  }
  mute(on) {
    if (this.c) return on ? this.c.muteInputAudio() : this.c.unmuteInputAudio();
    this.m = on;
    this.idle();
    this.s.forEach((f) => f());
    this.later((c) => (on ? c.muteInputAudio() : c.unmuteInputAudio()));
    return this.getInputAudioState();
  }
  getInputAudioState() {
    return this.c ? this.c.getInputAudioState() : { isMuted: this.m, permissionState: AudioPermissionState.NOT_REQUESTED };
  }
  registerToolCallHandler(name, handler) {
    if (this.c) return this.c.registerToolCallHandler(name, handler);
    let off = null;
    let gone = false;
    this.later((c) => gone || (off = c.registerToolCallHandler(name, handler)));
    return () => (off ? off() : (gone = true));
  }
  isStreaming() {
    return this.c ? this.c.isStreaming() : this.u;
  }
  getActiveSessionId() {
    return this.c ? this.c.getActiveSessionId() : null;
  }
  getActiveSessionRegion() {
    return this.c ? this.c.getActiveSessionRegion() : null;
  }
  free() {
    clients.delete(this);
    this.later((c) => c.free());
  }
}

// Calls that need a live session: before the module loaded there can be none, so they fail
// the way the client fails them while idle or starting.
for (const name of ["sendUserMessage", "interruptPersona", "addContext", "sendDataMessage", "sendDirectorNoteCue", "createTalkMessageStream", "createAgentAudioInputStream"]) {
  Client.prototype[name] = function (...a) {
    if (this.c) return this.c[name](...a);
    throw notLive(this.u);
  };
}

/**
 * Creates a client from a session token or a token provider. Works before the module has
 * loaded: its calls wait for it. A malformed token or options then reject the first call that
 * needs the client instead of throwing here.
 */
export function createClient(source, options) {
  return new Client(source, options);
}
