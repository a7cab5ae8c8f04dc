// Firefox for the end-to-end suites: Debian's firefox-esr driven by puppeteer-core over WebDriver
// BiDi, behind the subset of Playwright's browser/context/page API that the suites use, so that a
// test is written once for both engines (tests/e2e/README.md says why this split).
//
// Firefox's ICE address policy decides most of this file's shape: a page gathers host candidates
// on loopback only with `media.peerconnection.ice.loopback` and only if its origin holds a saved
// camera or microphone permission. A permission can only be granted before Firefox starts (in the
// profile's permissions.sqlite), and every test server listens on a port picked at start, so a
// browser here is a pool of Firefox processes: a new context runs in one whose profile grants
// every origin the harness has started so far, and a new process is launched when none does.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import puppeteer from "puppeteer-core";

const PREFS = {
  // Loopback candidates (both ends of every test are on 127.0.0.1 or ::1).
  "media.peerconnection.ice.loopback": true,
  // A fake microphone and camera, granted without a prompt.
  "media.navigator.streams.fake": true,
  "media.navigator.permission.disabled": true,
  // Permissions are stored without a container (user context) key, and BiDi's browser contexts
  // are containers: without this a context does not see the granted origins.
  "permissions.isolateBy.userContext": false,
  // Nothing may leave the namespace, and the first run of a profile must not wait on a network.
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
  "browser.safebrowsing.update.enabled": false,
};

/** Firefox's media.autoplay.default for Chromium's --autoplay-policy values. */
const AUTOPLAY = {
  "no-user-gesture-required": 0, // allow
  "document-user-activation-required": 1, // block audible playback until a user gesture
};

/** Origins of the servers the harness runs now (the pages' possible origins), with a count each. */
const origins = new Map();

/**
 * Records that pages may be loaded from `url`'s origin (called for every server started);
 * returns the function to call when that server stops.
 */
export function allowOrigin(url) {
  const origin = new URL(url).origin;
  origins.set(origin, (origins.get(origin) ?? 0) + 1);
  return () => {
    const n = origins.get(origin) - 1;
    if (n > 0) origins.set(origin, n);
    else origins.delete(origin);
  };
}

/**
 * A fresh profile whose permissions.sqlite grants the camera to `grant` and sets the microphone
 * as `microphone` says ("granted", "ask": no entry, "denied"). Either grant lifts the ICE rule.
 */
function makeProfile(grant, microphone) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "e2e-firefox-"));
  const now = Date.now();
  const types = { camera: 1 };
  if (microphone !== "ask") types.microphone = microphone === "granted" ? 1 : 2;
  const rows = [...grant].flatMap((origin) =>
    Object.entries(types).map(([type, allow]) => `('${origin.replaceAll("'", "''")}','${type}',${allow},0,0,${now})`),
  );
  const sql = [
    "PRAGMA user_version=12;",
    "CREATE TABLE moz_perms (id INTEGER PRIMARY KEY, origin TEXT, type TEXT, permission INTEGER,",
    " expireType INTEGER, expireTime INTEGER, modificationTime INTEGER);",
    rows.length ? `INSERT INTO moz_perms (origin,type,permission,expireType,expireTime,modificationTime) VALUES ${rows.join(",")};` : "",
  ].join("");
  execFileSync("sqlite3", [path.join(dir, "permissions.sqlite"), sql]);
  return dir;
}

/** Launches a Firefox pool; see the top of this file. Options as the harness's launchBrowser. */
export async function launchFirefox({ autoplayPolicy = "no-user-gesture-required", microphone = "granted", prefs = {} } = {}) {
  if (!(autoplayPolicy in AUTOPLAY)) throw new Error(`no Firefox equivalent for autoplay policy ${autoplayPolicy}`);
  const allPrefs = { ...PREFS, "media.autoplay.default": AUTOPLAY[autoplayPolicy], ...prefs };
  // Prompts are answered by the stored permission, not skipped.
  if (microphone !== "granted") allPrefs["media.navigator.permission.disabled"] = false;
  const instances = [];
  let version = "";

  async function instanceFor(origin) {
    const wanted = new Set(origins.keys());
    if (origin) wanted.add(origin);
    const fits = instances.findLast((i) => [...wanted].every((o) => i.granted.has(o)));
    if (fits) return fits;
    // An older process no page uses any more will not be chosen again: free its memory.
    for (const idle of instances.filter((i) => i.contexts === 0)) {
      instances.splice(instances.indexOf(idle), 1);
      await idle.browser.close().catch(() => {});
      rmSync(idle.dir, { recursive: true, force: true });
    }
    const dir = makeProfile(wanted, microphone);
    const browser = await puppeteer.launch({
      browser: "firefox",
      executablePath: process.env.FIREFOX_PATH || "/usr/bin/firefox-esr",
      headless: true,
      userDataDir: dir,
      extraPrefsFirefox: allPrefs,
    });
    version ||= await browser.version();
    const instance = { browser, dir, granted: wanted, contexts: 0 };
    instances.push(instance);
    return instance;
  }

  return {
    engine: "firefox",
    version: () => version,
    async newContext(options = {}) {
      const instance = await instanceFor(options.origin);
      return newContext(instance, options);
    },
    async newPage(options) {
      return (await this.newContext(options)).newPage();
    },
    async close() {
      for (const { browser, dir } of instances.splice(0)) {
        await browser.close().catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

async function newContext(instance, { viewport = { width: 1280, height: 720 } } = {}) {
  const bidiContext = await instance.browser.createBrowserContext();
  instance.contexts++;
  let open = true;
  const context = {
    async newPage() {
      const page = await bidiContext.newPage();
      await page.setViewport(viewport);
      return wrapPage(page, context, instance);
    },
    async close() {
      if (open) instance.contexts--;
      open = false;
      await bidiContext.close();
    },
  };
  return context;
}

/** Playwright's glob for URLs: `**` any characters, `*` any but `/`. */
function globRegExp(glob) {
  const re = glob.replace(/[.+^${}()|[\]\\?]/g, "\\$&").replace(/\*\*|\*/g, (m) => (m === "**" ? ".*" : "[^/]*"));
  return new RegExp(`^${re}$`);
}

function urlMatcher(pattern) {
  if (typeof pattern === "function") return (u) => pattern(new URL(u));
  if (pattern instanceof RegExp) return (u) => pattern.test(u);
  const re = globRegExp(pattern);
  return (u) => re.test(u);
}

/** The prefix of the console messages that carry the WebSocket recorder's reports. */
const WS_REPORT = "__e2e-ws ";

/**
 * Installed in every document before its own scripts: wraps WebSocket so that the harness sees
 * each socket and frame (WebDriver BiDi reports no WebSocket frames) and so that routeWebSocket
 * can hold or rewrite the frames of sockets whose URL matches a route. Reports travel as console
 * messages, through the console function as it was before any page script: one-way and in order.
 * (Puppeteer's exposeFunction was tried first; with a session running, its calls from the page
 * stopped reaching Node after the first few seconds.)
 */
function webSocketRecorder(prefix) {
  const Native = window.WebSocket;
  const debug = console.debug.bind(console);
  const report = (...args) => debug(prefix + JSON.stringify(args));
  const routed = new Map();
  let next = 0;
  const nativeSend = Native.prototype.send;
  class WebSocket extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      const id = ++next;
      const href = this.url;
      const routes = window.__e2eWsRoutes || [];
      const isRouted = routes.some((r) => new RegExp(r.source, r.flags).test(href));
      report("open", id, href, "", isRouted);
      if (isRouted) routed.set(id, this);
      Object.defineProperty(this, "__e2eId", { value: id });
      // Registered before any listener of the page's, so it runs first and can stop the others.
      this.addEventListener("message", (event) => {
        if (event.__e2eDelivered) return;
        const body = typeof event.data === "string" ? event.data : "[binary]";
        report("received", id, href, body, isRouted);
        if (isRouted) event.stopImmediatePropagation();
      });
    }
    send(data) {
      const id = this.__e2eId;
      report("sent", id, this.url, typeof data === "string" ? data : "[binary]", routed.has(id));
      if (!routed.has(id)) return nativeSend.call(this, data);
    }
  }
  window.WebSocket = WebSocket;
  // For routeWebSocket: what the route lets through, in each direction.
  window.__e2eWsToPage = (id, data) => {
    const ws = routed.get(id);
    if (!ws) return;
    const event = new MessageEvent("message", { data });
    event.__e2eDelivered = true;
    ws.dispatchEvent(event);
  };
  window.__e2eWsToServer = (id, data) => {
    const ws = routed.get(id);
    if (ws && ws.readyState === Native.OPEN) nativeSend.call(ws, data);
  };
}

async function wrapPage(page, context, instance) {
  const listeners = { console: [], pageerror: [] };
  const traffic = [];
  const wsRoutes = [];
  const sockets = new Map();
  const httpRoutes = [];

  const emit = (name, value) => listeners[name].forEach((fn) => fn(value));
  page.on("console", (msg) => {
    const text = msg.text();
    if (text.startsWith(WS_REPORT)) return onWebSocketReport(...JSON.parse(text.slice(WS_REPORT.length)));
    const type = msg.type() === "warn" ? "warning" : msg.type();
    emit("console", { type: () => type, text: () => text });
  });
  // Over BiDi, Firefox's "javascript" log entries include the console reports of blocked
  // requests (CORS, CSP), which are not exceptions of the page: they go to the console lines.
  // Uncaught exceptions and unhandled rejections are caught in the page itself
  // (tests/e2e/pages/page-errors.js), in both engines.
  page.on("pageerror", (err) => emit("console", { type: () => "error", text: () => err.message }));

  // The network as WebDriver BiDi reports it: every request of the page, documents included.
  // A request's or response's body comes in a second BiDi round trip; page.evaluate and
  // waitForFunction wait for the bodies asked for so far, so a test that awaited the page sees
  // them filled in.
  const pendingBodies = new Set();
  // Bodies of redirects and aborted requests are not available; the headers were recorded.
  const awaitBody = (read) => {
    const body = read.catch(() => {}).finally(() => pendingBodies.delete(body));
    pendingBodies.add(body);
  };
  page.on("request", (req) => {
    const headers = req.headers();
    // WebDriver BiDi reports CORS preflights, which Chromium's DevTools protocol (and so the
    // Chromium run) does not: recorded under their own kind, still covered by the leak check.
    const kind = req.method() === "OPTIONS" && headers["access-control-request-method"] ? "preflight" : "request";
    const entry = { kind, url: req.url(), method: req.method(), headers, body: "" };
    traffic.push(entry);
    if (req.hasPostData()) awaitBody(req.fetchPostData().then((b) => (entry.body = b ?? "")));
  });
  // Bounded: the body of a request a route holds may only come once the route lets it go.
  const bodiesIn = () => Promise.race([Promise.all(pendingBodies), new Promise((r) => setTimeout(r, 2000))]);
  page.on("response", (res) => {
    const headers = res.headers();
    const entry = { kind: "response", url: res.url(), status: res.status(), headers, body: "" };
    traffic.push(entry);
    if (!(headers["content-type"] || "").includes("wasm")) awaitBody(res.buffer().then((b) => (entry.body = b.toString("utf8"))));
  });

  function onWebSocketReport(event, id, url, body, isRouted) {
    if (event === "open") {
      traffic.push({ kind: "websocket", url });
      if (isRouted) openRoutedSocket(id, url);
      return;
    }
    traffic.push({ kind: event === "sent" ? "ws-sent" : "ws-received", url, body });
    const socket = sockets.get(id);
    if (!socket) return;
    const handlers = event === "sent" ? socket.fromPage : socket.fromServer;
    if (handlers.length) handlers.forEach((fn) => fn(body));
    else if (event === "sent") socket.toServer(body);
    else socket.toPage(body);
  }
  await page.evaluateOnNewDocument(webSocketRecorder, WS_REPORT);

  // Playwright's routeWebSocket, for sockets the handler connects to the server (the only use).
  function openRoutedSocket(id, url) {
    const route = wsRoutes.find((r) => r.matches(url));
    const socket = {
      fromPage: [],
      fromServer: [],
      toPage: (m) => page.evaluate((i, d) => window.__e2eWsToPage(i, d), id, String(m)).catch(() => {}),
      toServer: (m) => page.evaluate((i, d) => window.__e2eWsToServer(i, d), id, String(m)).catch(() => {}),
    };
    sockets.set(id, socket);
    route?.handler({
      url: () => url,
      connectToServer: () => ({ onMessage: (fn) => socket.fromServer.push(fn), send: socket.toServer }),
      onMessage: (fn) => socket.fromPage.push(fn),
      send: socket.toPage,
    });
  }

  const element = async (selector) => {
    const handle = await page.waitForSelector(selector, { timeout: 30_000 });
    if (!handle) throw new Error(`no element matches ${selector}`);
    return handle;
  };
  const onElement = async (selector, fn, ...args) => {
    const handle = await element(selector);
    try {
      return await handle.evaluate(fn, ...args);
    } finally {
      await handle.dispose();
    }
  };

  return {
    engine: "firefox",
    traffic,
    puppeteer: page,
    context: () => context,
    on(name, fn) {
      if (!listeners[name]) throw new Error(`the Firefox page adapter has no "${name}" event`);
      listeners[name].push(fn);
    },
    async evaluate(fn, arg) {
      const result = await page.evaluate(fn, arg);
      if (pendingBodies.size) await bodiesIn();
      return result;
    },
    $eval: (sel, fn, arg) => page.$eval(sel, fn, arg),
    $$eval: (sel, fn, arg) => page.$$eval(sel, fn, arg),
    async goto(url) {
      const origin = new URL(url).origin;
      if (!instance.granted.has(origin) && /^https?:/.test(url)) {
        throw new Error(`${origin} is not granted in this Firefox profile: start its server through the harness (or allowOrigin it) before opening the page`);
      }
      return page.goto(url);
    },
    async addInitScript(script, arg) {
      if (typeof script === "function") return page.evaluateOnNewDocument(script, arg);
      if (typeof script === "string") return page.evaluateOnNewDocument(script);
      if (script.path) return page.evaluateOnNewDocument(await readFile(script.path, "utf8"));
      return page.evaluateOnNewDocument(script.content);
    },
    async waitForFunction(fn, arg, { timeout = 30_000 } = {}) {
      const handle = await page.waitForFunction(fn, { timeout, polling: 50 }, arg);
      if (pendingBodies.size) await bodiesIn();
      return handle;
    },
    waitForTimeout: (ms) => new Promise((r) => setTimeout(r, ms)),
    textContent: (sel) => onElement(sel, (e) => e.textContent),
    getAttribute: (sel, name) => onElement(sel, (e, n) => e.getAttribute(n), name),
    inputValue: (sel) => onElement(sel, (e) => e.value),
    isDisabled: (sel) => onElement(sel, (e) => e.matches(":disabled") || e.getAttribute("aria-disabled") === "true"),
    // Like Playwright: no waiting, visible means a non-empty box and not visibility:hidden.
    isVisible: (sel) =>
      page.evaluate((s) => {
        const e = document.querySelector(s);
        if (!e) return false;
        const box = e.getBoundingClientRect();
        return box.width > 0 && box.height > 0 && getComputedStyle(e).visibility !== "hidden";
      }, sel),
    click: (sel) => page.locator(sel).click(),
    fill: (sel, value) => page.locator(sel).fill(value),
    async focus(sel) {
      await element(sel);
      return page.focus(sel);
    },
    async selectOption(sel, value) {
      await element(sel);
      return page.select(sel, ...(Array.isArray(value) ? value : [value]));
    },
    keyboard: { press: (key) => page.keyboard.press(key) },
    locator: (sel) => ({ boundingBox: async () => (await element(sel)).boundingBox() }),
    setViewportSize: (size) => page.setViewport(size),
    screenshot: (options) => page.screenshot(options),
    async route(pattern, handler) {
      if (!httpRoutes.length) {
        await page.setRequestInterception(true);
        page.on("request", (req) => {
          const route = httpRoutes.find((r) => r.matches(req.url()));
          if (!route) return req.continue();
          route.handler({
            request: () => ({ url: () => req.url(), method: () => req.method(), headers: () => req.headers() }),
            continue: (overrides) => req.continue(overrides),
            abort: () => req.abort(),
            fulfill: ({ status = 200, headers, contentType, body }) => req.respond({ status, headers, contentType, body }),
          });
        });
      }
      httpRoutes.push({ matches: urlMatcher(pattern), handler });
    },
    async routeWebSocket(pattern, handler) {
      const matches = urlMatcher(pattern);
      wsRoutes.push({ matches, handler });
      if (!(pattern instanceof RegExp)) throw new Error("the Firefox adapter routes WebSockets by RegExp only");
      const route = { source: pattern.source, flags: pattern.flags };
      await page.evaluateOnNewDocument((r) => (window.__e2eWsRoutes ||= []).push(r), route);
      await page.evaluate((r) => (window.__e2eWsRoutes ||= []).push(r), route);
    },
  };
}
