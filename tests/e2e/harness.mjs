// Shared plumbing for the end-to-end suites: real server processes on free loopback ports, a real
// browser (Chromium driven by playwright-core, or Firefox driven by puppeteer-core over WebDriver
// BiDi, chosen by $E2E_ENGINE), and a recorder of every byte the page sends or receives so that
// each suite can prove the API key never reaches the browser. tests/e2e/README.md has the why.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { allowOrigin, launchFirefox } from "./firefox-driver.mjs";

/** The browser engine of this run: "chromium" (the default) or "firefox". */
export const ENGINE = process.env.E2E_ENGINE || "chromium";
if (!["chromium", "firefox"].includes(ENGINE)) throw new Error(`E2E_ENGINE=${ENGINE}: use chromium or firefox`);

/**
 * Options for a test that runs in Chromium only (`test(name, onlyChromium("why"), fn)`): skipped
 * in Firefox with the reason, which the test's name also states.
 */
export function onlyChromium(reason, options = {}) {
  return { ...options, skip: ENGINE === "chromium" ? false : `Chromium only: ${reason}` };
}

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const EMULATOR_API_KEY = "e2e-emulator-key-7f3a9c1d5b";

/** Where the debug binaries live: $E2E_BIN_DIR, else $CARGO_TARGET_DIR/debug, else target/debug. */
export function binPath(name) {
  const dir =
    process.env.E2E_BIN_DIR ||
    (process.env.CARGO_TARGET_DIR ? path.join(process.env.CARGO_TARGET_DIR, "debug") : null) ||
    path.join(ROOT, "target", "debug");
  const bin = path.join(dir, name);
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build it with cargo build -p ${name}`);
  return bin;
}

const children = new Set();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/**
 * Spawns a server that prints `<name> listening on http://HOST:PORT` once ready; resolves with
 * its URL, the captured output lines and a stop() that waits for the process to exit.
 */
async function startServer(name, args, env, { readyTimeoutMs = 60_000 } = {}) {
  const child = spawn(binPath(name), args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  const lines = [];
  let forgetOrigin = () => {};
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} not ready after ${readyTimeoutMs} ms:\n${lines.join("\n")}`)),
      readyTimeoutMs,
    );
    const onLine = (stream) => {
      let buffered = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk) => {
        buffered += chunk;
        let nl;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          lines.push(line);
          if (process.env.E2E_VERBOSE) console.error(`[${name}] ${line}`);
          const m = line.match(new RegExp(`^${name} listening on (http://\\S+)`));
          if (m) {
            clearTimeout(timer);
            forgetOrigin = allowOrigin(m[1]);
            resolve(m[1]);
          }
        }
      });
    };
    onLine(child.stdout);
    onLine(child.stderr);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${lines.join("\n")}`));
    });
  });
  return {
    url,
    lines,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(killer);
      children.delete(child);
      forgetOrigin();
    },
  };
}

async function json(res) {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

/** Starts anam-emulator on a free port with the control API on. */
export async function startEmulator(extraArgs = [], { apiKey = EMULATOR_API_KEY } = {}) {
  const server = await startServer(
    "anam-emulator",
    ["--listen", "127.0.0.1:0", "--api-key", apiKey, "--control", ...extraArgs],
    {},
  );
  const post = (p, body) =>
    fetch(server.url + p, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return {
    ...server,
    apiKey,
    /** Mints a session token the way an app backend does (the page never sees the key). */
    async mintToken(personaConfig = { personaId: "persona-aria" }) {
      const res = await fetch(`${server.url}/v1/auth/session-token`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
        body: JSON.stringify({ personaConfig }),
      });
      const body = await json(res);
      if (!res.ok) throw new Error(`token mint failed: ${res.status} ${JSON.stringify(body)}`);
      return body.sessionToken;
    },
    async fault(fault) {
      const res = await post("/_emulator/faults", fault);
      if (!res.ok) throw new Error(`fault rejected: ${res.status}`);
    },
    async sessions() {
      return json(await fetch(`${server.url}/_emulator/sessions`));
    },
    dropSignalling: (id) => post(`/_emulator/sessions/${encodeURIComponent(id)}/drop-signalling`),
    endSession: (id) => post(`/_emulator/sessions/${encodeURIComponent(id)}/end`),
  };
}

/** Starts anam-backend against `apiBaseUrl` (usually the emulator); `env` adds/overrides vars. */
export async function startBackend({ apiBaseUrl, apiKey = EMULATOR_API_KEY, env = {} } = {}) {
  const base = {
    ANAM_API_KEY: apiKey,
    ANAM_API_BASE_URL: apiBaseUrl,
    LISTEN: "127.0.0.1:0",
    WWW_DIR: path.join(ROOT, "www"),
    PKG_DIR: path.join(ROOT, "pkg"),
    RATE_LIMIT_PER_MINUTE: "1000",
  };
  if (!env.ANAM_PERSONA_CONFIG) base.ANAM_PERSONA_ID = "persona-aria,persona-milo";
  // A test's own pages (their own WWW_DIR) have inline scripts, which the backend's default
  // Content Security Policy forbids; the demo (www/) is served under it.
  if (env.WWW_DIR && !("CONTENT_SECURITY_POLICY" in env)) base.CONTENT_SECURITY_POLICY = "";
  return { ...(await startServer("anam-backend", [], { ...base, ...env })), apiKey };
}

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".map": "application/json",
  ".ts": "text/plain; charset=utf-8",
};

/**
 * Serves files under `root` (default: the repository) on a free port, with CORS so that pages
 * from another origin may load them. Paths outside `root` are refused.
 */
export async function serveStatic(root = ROOT) {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    const file = path.join(root, decodeURIComponent(url.pathname));
    res.setHeader("access-control-allow-origin", "*");
    res.setHeader("cache-control", "no-store");
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const target = (await stat(file)).isDirectory() ? path.join(file, "index.html") : file;
      const body = await readFile(target);
      res.writeHead(200, { "content-type": MIME[path.extname(target)] || "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  const forgetOrigin = allowOrigin(`http://127.0.0.1:${port}`);
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => server.close(resolve)).finally(forgetOrigin),
  };
}

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // Both ends of every WebRTC test run on 127.0.0.1; without this Chromium gathers no candidate.
  "--allow-loopback-in-peer-connection",
  // A fake microphone (a beeping tone) that is granted without a prompt.
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
  "--autoplay-policy=no-user-gesture-required",
];

/**
 * Launches the engine's browser: Debian's Chromium or Firefox ESR (never a downloaded one).
 * `autoplayPolicy` replaces the default `no-user-gesture-required`;
 * `document-user-activation-required` makes the browser refuse playback with sound until the page
 * got a user gesture, as desktop browsers do. Note that page.evaluate() counts as a user gesture
 * in both drivers. `microphone`: "granted" (default, no prompt), "ask" (the permission is
 * "prompt") or "denied" (a capture is refused); headless Chromium denies every prompt, so there
 * "ask" and "denied" differ only until the first getUserMedia. WebRTC keeps working on loopback
 * without the microphone. `args` are Chromium flags: a test that needs them is Chromium-only.
 */
export function launchBrowser({ args = [], autoplayPolicy = "no-user-gesture-required", microphone = "granted" } = {}) {
  if (!["granted", "ask", "denied"].includes(microphone)) throw new Error(`microphone: ${microphone}?`);
  if (ENGINE === "firefox") {
    if (args.length) throw new Error(`Chromium flags in a Firefox run (${args.join(" ")}): mark the test onlyChromium`);
    return launchFirefox({ autoplayPolicy, microphone });
  }
  let base = CHROMIUM_ARGS.map((a) => (a.startsWith("--autoplay-policy=") ? `--autoplay-policy=${autoplayPolicy}` : a));
  if (microphone !== "granted") {
    // Without a media permission Chromium hides its host candidates behind mDNS names, which
    // nothing resolves inside the tests' private network namespace.
    base = [...base.filter((a) => a !== "--use-fake-ui-for-media-stream"), "--disable-features=WebRtcHideLocalIpsWithMdns"];
  }
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: [...base, ...args],
  });
}

/**
 * Opens a page that records all network traffic it causes (URLs, request headers and bodies,
 * response headers and bodies, WebSocket frames) and every console message, for leak checks
 * and debugging. `page.traffic` is the list; `page.consoleLines` the console.
 */
export async function newPage(browser, { contextOptions = {} } = {}) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  if (browser.engine === "firefox") return recordConsole(page);
  const traffic = [];
  page.traffic = traffic;
  recordConsole(page);
  page.on("request", (req) => {
    traffic.push({ kind: "request", url: req.url(), headers: req.headers(), body: req.postData() ?? "" });
  });
  page.on("response", async (res) => {
    const entry = { kind: "response", url: res.url(), status: res.status(), headers: res.headers(), body: "" };
    traffic.push(entry);
    try {
      const type = res.headers()["content-type"] || "";
      if (!type.includes("wasm")) entry.body = (await res.body()).toString("utf8");
    } catch {
      // Bodies of redirects and aborted requests are not available; the headers were recorded.
    }
  });
  page.on("websocket", (ws) => {
    traffic.push({ kind: "websocket", url: ws.url() });
    ws.on("framesent", (f) => traffic.push({ kind: "ws-sent", url: ws.url(), body: String(f.payload) }));
    ws.on("framereceived", (f) => traffic.push({ kind: "ws-received", url: ws.url(), body: String(f.payload) }));
  });
  return page;
}

/** Fills `page.consoleLines` with "type: text" per console message and "pageerror: message". */
function recordConsole(page) {
  const consoleLines = [];
  page.consoleLines = consoleLines;
  page.on("console", (msg) => {
    consoleLines.push(`${msg.type()}: ${msg.text()}`);
    if (process.env.E2E_VERBOSE) console.error(`[page ${msg.type()}] ${msg.text()}`);
  });
  page.on("pageerror", (err) => consoleLines.push(`pageerror: ${err.message}`));
  return page;
}

/** Throws if `secret` occurs anywhere in the recorded traffic of `page`. */
export function assertSecretAbsent(page, secret) {
  for (const entry of page.traffic) {
    const haystack = JSON.stringify(entry);
    if (haystack.includes(secret)) {
      throw new Error(`secret leaked to the browser in ${entry.kind} ${entry.url}`);
    }
  }
}

/**
 * Polls `fn` until it returns a truthy value or `timeoutMs` passes; returns that value. The
 * deadline is on the monotonic clock: when the VM is paused for a snapshot, the wall clock
 * steps forward on resume (seen in a `make test` run: a 20 s wait "timed out" 2.4 s into its
 * test) while the browser's and the servers' timers, like this one, do not.
 */
export async function waitFor(fn, { timeoutMs = 15_000, intervalMs = 50, what = "condition" } = {}) {
  const deadline = performance.now() + timeoutMs;
  let last;
  while (performance.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
}
