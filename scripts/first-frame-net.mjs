// Navigation -> first painted frame for pages written the way a user writes them, our client
// against the official one, from a cold cache (a fresh browser context per run), alternating
// the order, on loopback and under a throttled network (Chromium's DevTools network emulation:
// it delays and rate-limits HTTP and WebSocket traffic, not WebRTC media).
//   ours         the README's first example: createClient first, no init()
//   ours+hints   the same with <link rel=modulepreload> and <link rel=preload> for the .wasm
//   ours+init    the former README example: `await init()` before createClient
//   official     @anam-ai/js-sdk's UMD bundle, token fetched by the page, then the stream
// Usage: node scripts/first-frame-net.mjs [runs=4] [profiles=loopback,slow4g] [encoding=br]
// encoding: how the pages, bundles and the .wasm are served: "br" (brotli, quality 11, as a
// CDN serves static files), "gzip", or "identity" (as anam-backend serves the demo).
// Needs `make pkg` and the servers (E2E_BIN_DIR=target/release after cargo build --release,
// else target/debug). Prints one line per page and profile: median and all runs in ms.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { ROOT, startBackend, startEmulator, launchBrowser } from "../tests/e2e/harness.mjs";

const runs = Number(process.argv[2] ?? 4);
const encoding = process.argv[4] ?? "br";
const PROFILES = {
  loopback: null,
  "4g": { latency: 60, downloadThroughput: (9e6 / 8) | 0, uploadThroughput: (1.5e6 / 8) | 0 },
  slow4g: { latency: 150, downloadThroughput: (1.6e6 / 8) | 0, uploadThroughput: (750e3 / 8) | 0 },
};
const profiles = (process.argv[3] ?? "loopback,slow4g").split(",");

// Every page marks the first frame its <video> presents, on the page's clock (0 = navigation).
const WATCH = `
const video = document.getElementById("v");
const arm = () => video.requestVideoFrameCallback(() => (window.firstFrame ??= performance.now()));
arm();
video.addEventListener("loadedmetadata", arm);
const api = new URLSearchParams(location.search).get("api");`;
const ours = (head, init) => `<!doctype html><html><head><meta charset="utf-8">${head}</head><body>
<video id="v" autoplay muted playsinline width="640" height="360"></video>
<script type="module">
import ${init ? "init, " : ""}{ createClient, fetchSessionToken } from "/pkg/anam_wasm.js";
${WATCH}
${init ? "await init();" : ""}
const client = createClient(() => fetchSessionToken("/api/session-token"), { api: { baseUrl: api } });
client.streamToVideoElement("v").catch((e) => (window.failed = String(e)));
</script></body></html>`;
const PAGES = {
  ours: ours("", false),
  "ours+hints": ours(
    `<link rel="modulepreload" href="/pkg/anam_wasm.js"><link rel="preload" href="/pkg/anam_wasm_bg.wasm" as="fetch" type="application/wasm" crossorigin>`,
    false,
  ),
  "ours+init": ours("", true),
  official: `<!doctype html><html><head><meta charset="utf-8"><script src="anam.js"></script></head><body>
<video id="v" autoplay muted playsinline width="640" height="360"></video>
<script>
${WATCH}
fetch("/api/session-token", { method: "POST" })
  .then((r) => r.json())
  .then(({ sessionToken }) => anam.createClient(sessionToken, { api: { baseUrl: api } }).streamToVideoElement("v"))
  .catch((e) => (window.failed = String(e)));
</script></body></html>`,
};

const www = mkdtempSync(path.join(os.tmpdir(), "anam-ffn-"));
for (const [name, html] of Object.entries(PAGES)) writeFileSync(path.join(www, `${name}.html`), html);
copyFileSync(path.join(ROOT, "node_modules/@anam-ai/js-sdk/dist/umd/anam.js"), path.join(www, "anam.js"));

const emulator = await startEmulator();
const backend = await startBackend({
  apiBaseUrl: emulator.url,
  env: { WWW_DIR: www, PKG_DIR: path.join(ROOT, "pkg"), CONTENT_SECURITY_POLICY: "" },
});

// Pages, bundles and the .wasm from memory, compressed once; the token request goes on to the
// backend (same origin for the page, as in an app).
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
const files = new Map();
function file(urlPath) {
  if (!files.has(urlPath)) {
    const [dir, rel] = urlPath.startsWith("/pkg/") ? [path.join(ROOT, "pkg"), urlPath.slice(5)] : [www, urlPath.slice(1)];
    let body;
    try {
      body = readFileSync(path.join(dir, path.normalize(rel).replace(/^(\.\.[/\\])+/, "")));
    } catch {
      body = null;
    }
    if (body && encoding === "br") body = zlib.brotliCompressSync(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } });
    if (body && encoding === "gzip") body = zlib.gzipSync(body, { level: 9 });
    files.set(urlPath, body);
  }
  return files.get(urlPath);
}
const site = createServer(async (req, res) => {
  const url = new URL(req.url, "http://x");
  if (url.pathname === "/api/session-token") {
    const answer = await fetch(backend.url + url.pathname, { method: "POST" });
    res.writeHead(answer.status, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(await answer.text());
    return;
  }
  const body = file(decodeURIComponent(url.pathname));
  if (!body) return res.writeHead(404).end();
  const headers = { "content-type": TYPES[path.extname(url.pathname)] ?? "application/octet-stream", "cache-control": "no-cache" };
  if (encoding !== "identity") headers["content-encoding"] = encoding;
  res.writeHead(200, headers).end(body);
});
await new Promise((r) => site.listen(0, "127.0.0.1", r));
const siteUrl = `http://127.0.0.1:${site.address().port}`;
const browser = await launchBrowser();

async function once(name, profile) {
  const context = await browser.newContext();
  const page = await context.newPage();
  if (profile) {
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", { offline: false, ...profile });
  }
  try {
    await page.goto(`${siteUrl}/${encodeURIComponent(name)}.html?api=${encodeURIComponent(emulator.url)}`);
    const handle = await page.waitForFunction(() => window.firstFrame ?? (window.failed && -1), null, { timeout: 60_000 });
    const at = await handle.jsonValue();
    if (at < 0) throw new Error(`${name}: ${await page.evaluate(() => window.failed)}`);
    return at;
  } finally {
    await context.close();
  }
}

try {
  // The emulator encodes its persona's frames on its first session; nothing is timed before.
  for (const name of Object.keys(PAGES)) await once(name, null);
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2;
  };
  console.log(`served as ${encoding}; load average ${os.loadavg()[0].toFixed(2)}`);
  for (const profileName of profiles) {
    const times = Object.fromEntries(Object.keys(PAGES).map((n) => [n, []]));
    for (let i = 0; i < runs; i++) {
      const order = Object.keys(PAGES);
      if (i % 2) order.reverse();
      for (const name of order) times[name].push(await once(name, PROFILES[profileName]));
    }
    const base = median(times.official);
    for (const [name, xs] of Object.entries(times)) {
      const m = median(xs);
      console.log(
        `${profileName.padEnd(9)} ${name.padEnd(11)} median ${m.toFixed(0).padStart(5)} ms  ${(m / base).toFixed(2)}x official  runs ${xs.map((x) => x.toFixed(0)).join(" ")}`,
      );
    }
  }
} finally {
  await browser.close();
  site.close();
  await backend.stop();
  await emulator.stop();
  rmSync(www, { recursive: true, force: true });
}
