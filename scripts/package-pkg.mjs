// Turns a finished wasm-pack build (after scripts/finish-pkg.mjs) into the publishable npm
// package: our own package.json (wasm-pack's lacks exports, sideEffects and the global build),
// a package README, the LICENSE, and anam_wasm.global.js, the classic-script build that defines
// `globalThis.anam` like the official UMD bundle.
// Usage: node scripts/package-pkg.mjs [pkg-dir]      (no dependencies beyond Node itself)
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { brotliCompressSync, constants as zlibConstants, gzipSync } from "node:zlib";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pkg = path.resolve(process.argv[2] ?? path.join(root, "pkg"));

function fail(message) {
  console.error(`package-pkg: ${message}`);
  process.exit(1);
}

for (const f of ["anam_wasm.js", "anam_wasm.d.ts", "anam_wasm_bg.wasm"]) {
  if (!existsSync(path.join(pkg, f))) fail(`${f} is missing in ${pkg}: run wasm-pack build first`);
}

// ---------------------------------------------------------------------------------------------
// Facts from Cargo.toml: the root [package], falling back to [workspace.package] for the keys
// it inherits (`version.workspace = true`).

function tomlSections(text) {
  const sections = {};
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    const header = line.match(/^\[([^\]]+)\]$/);
    if (header) {
      current = header[1].trim();
      sections[current] ??= {};
      continue;
    }
    const kv = line.match(/^([A-Za-z0-9_.-]+)\s*=\s*(.+)$/);
    if (kv) (sections[current] ??= {})[kv[1]] = kv[2].trim();
  }
  return sections;
}

function tomlString(value) {
  const m = value?.match(/^"((?:[^"\\]|\\.)*)"$/);
  return m ? m[1].replace(/\\(.)/g, "$1") : undefined;
}

const cargo = tomlSections(readFileSync(path.join(root, "Cargo.toml"), "utf8"));
function cargoField(key) {
  const own = cargo.package ?? {};
  if (own[key] !== undefined) return tomlString(own[key]);
  if (own[`${key}.workspace`] === "true") return tomlString(cargo["workspace.package"]?.[key]);
  return undefined;
}
const version = cargoField("version") ?? fail("no version in Cargo.toml");
const description = cargoField("description") ?? "Rust/WebAssembly browser client for Anam streaming AI personas";
const license = cargoField("license") ?? "MIT";
const repository = cargoField("repository");

// ---------------------------------------------------------------------------------------------
// The module's exports, read by importing it in Node: it must import without a DOM anyway
// (server-side rendering), and this keeps the global build in step with the module.

let mod;
try {
  mod = await import(pathToFileURL(path.join(pkg, "anam_wasm.js")).href);
} catch (err) {
  fail(`importing anam_wasm.js in Node failed (it must not touch browser APIs at import): ${err}`);
}
// Not part of the global: the loader (`default`, `initSync`: anam.ready does that) and
// wasm-bindgen's internals (`__wasm`, ...).
const internal = (n) => n === "default" || n === "initSync" || n.startsWith("__");
const names = Object.keys(mod).filter((n) => !internal(n)).sort();
for (const n of ["createClient", "fetchSessionToken", "AnamEvent", "ErrorCode"]) {
  if (!names.includes(n)) fail(`anam_wasm.js does not export ${n}: run scripts/finish-pkg.mjs first`);
}

// Plain data (enum objects, frozen string arrays) can be defined before the wasm loads, so
// `anam.AnamEvent.SESSION_READY` works as soon as the script tag ran.
function isPlainData(v) {
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return true;
  if (Array.isArray(v)) return v.every((x) => typeof x === "string" || typeof x === "number");
  if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.values(v).every((x) => typeof x === "string" || typeof x === "number");
  }
  return false;
}
const data = {};
const later = [];
for (const n of names) {
  if (isPlainData(mod[n])) data[n] = mod[n];
  else later.push(n);
}

// ---------------------------------------------------------------------------------------------
// anam_wasm.global.js

const globalJs = `/*! anam-wasm ${version} | ${license} | classic-script build: defines globalThis.anam */
// Load with <script src=".../anam_wasm.global.js"></script>, then \`await anam.ready\`.
// The enum objects exist at once; the functions and classes are attached when the WebAssembly
// module has loaded (anam.ready resolves with the same object). Until then they throw a clear
// error instead of "is not a function". The module and the .wasm are loaded from next to this
// file, wherever it is served from.
(function () {
  "use strict";
  var g = typeof globalThis !== "undefined" ? globalThis : self;
  if (g.anam && g.anam.ready) return; // loaded twice: keep the first

  var data = ${JSON.stringify(data, null, 2).replace(/\n/g, "\n  ")};
  var later = ${JSON.stringify(later)};
  var anam = {};

  function freeze(v) {
    return v && typeof v === "object" ? Object.freeze(v) : v;
  }
  Object.keys(data).forEach(function (name) {
    anam[name] = freeze(data[name]);
  });
  later.forEach(function (name) {
    anam[name] = function () {
      throw new Error("anam." + name + " is not ready yet: await anam.ready before calling it");
    };
  });

  // Where this file was loaded from: currentScript while it runs, else the last script tag
  // that names it (e.g. when evaluated by a loader that does not set currentScript).
  function scriptUrl() {
    if (typeof document === "undefined") return null;
    var s = document.currentScript;
    if (s && s.src) return s.src;
    var tags = document.getElementsByTagName("script");
    for (var i = tags.length - 1; i >= 0; i--) {
      if (/anam_wasm\\.global(\\.min)?\\.js(\\?|#|$)/.test(tags[i].src)) return tags[i].src;
    }
    return null;
  }

  var base = scriptUrl();
  anam.ready = base
    ? import(new URL("./anam_wasm.js", base).href).then(function (m) {
        return m.default().then(function () {
          later.forEach(function (name) {
            anam[name] = m[name];
          });
          return anam;
        });
      })
    : Promise.reject(
        new Error("anam-wasm: load anam_wasm.global.js with a <script src> tag (its URL locates the .wasm)")
      );
  // Marked as handled: where nobody awaits it (a server importing the package for rendering),
  // an unhandled rejection would crash the process. Awaiting anam.ready still rejects.
  anam.ready.catch(function () {});
  g.anam = anam;
})();
`;
writeFileSync(path.join(pkg, "anam_wasm.global.js"), globalJs);

writeFileSync(
  path.join(pkg, "anam_wasm.global.d.ts"),
  `// Types for the classic-script build: \`globalThis.anam\` has the module's exports plus \`ready\`.
import type * as Anam from "./anam_wasm.js";

export type AnamGlobal = Omit<typeof Anam, "default" | "initSync"> & {
  /** Resolves (with the same object) once the WebAssembly module has loaded. */
  readonly ready: Promise<AnamGlobal>;
};

declare global {
  // eslint-disable-next-line no-var
  var anam: AnamGlobal;
}
`,
);

// ---------------------------------------------------------------------------------------------
// package.json

const files = [
  "anam_wasm.js",
  "anam_wasm.d.ts",
  "anam_wasm_bg.wasm",
  "anam_wasm_bg.wasm.d.ts",
  "anam_wasm.global.js",
  "anam_wasm.global.d.ts",
  "README.md",
  "LICENSE",
].filter((f) => f === "README.md" || f === "LICENSE" || existsSync(path.join(pkg, f)));

const manifest = {
  name: "anam-wasm",
  version,
  description,
  license,
  ...(repository ? { repository: { type: "git", url: `git+${repository}.git` } } : {}),
  ...(repository ? { homepage: `${repository}#readme`, bugs: { url: `${repository}/issues` } } : {}),
  type: "module",
  main: "./anam_wasm.js",
  module: "./anam_wasm.js",
  types: "./anam_wasm.d.ts",
  exports: {
    ".": {
      types: "./anam_wasm.d.ts",
      import: "./anam_wasm.js",
      default: "./anam_wasm.js",
    },
    "./global": {
      types: "./anam_wasm.global.d.ts",
      default: "./anam_wasm.global.js",
    },
    "./anam_wasm_bg.wasm": "./anam_wasm_bg.wasm",
    "./package.json": "./package.json",
  },
  unpkg: "./anam_wasm.global.js",
  jsdelivr: "./anam_wasm.global.js",
  files,
  // Only the classic-script build does something on load (it defines globalThis.anam).
  sideEffects: ["./anam_wasm.global.js"],
  keywords: ["anam", "avatar", "persona", "webrtc", "wasm", "webassembly", "rust", "streaming", "ai"],
};
writeFileSync(path.join(pkg, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);

// ---------------------------------------------------------------------------------------------
// README.md and LICENSE

if (existsSync(path.join(root, "LICENSE"))) copyFileSync(path.join(root, "LICENSE"), path.join(pkg, "LICENSE"));

const readme = `# anam-wasm

${description}. A drop-in counterpart of \`@anam-ai/js-sdk\`'s public API (\`createClient\`,
\`streamToVideoElement\`, \`talk\`, \`AnamEvent\`, …), compiled from Rust to WebAssembly.

## Quick start

**1. A token endpoint on your server.** Your Anam API key must never reach the browser: the
server exchanges it for a short-lived session token. For example, with Node:

\`\`\`js
// POST /api/session-token  ->  {"sessionToken": "..."}
app.post("/api/session-token", async (req, res) => {
  const r = await fetch("https://api.anam.ai/v1/auth/session-token", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: \`Bearer \${process.env.ANAM_API_KEY}\`,
    },
    body: JSON.stringify({ personaConfig: { personaId: process.env.ANAM_PERSONA_ID } }),
  });
  res.status(r.status).json(await r.json());
});
\`\`\`

(The repository ships a ready-made one, \`anam-backend\`, with origin checks and rate limits.)

**2. The page.**

\`\`\`html
<video id="persona-video" autoplay playsinline></video>
\`\`\`

\`\`\`js
import { createClient, fetchSessionToken, AnamEvent } from "anam-wasm";

// No init step: importing the package starts loading its .wasm (bundlers resolve its URL for
// you), the client's calls wait for it, and the token request goes out meanwhile.
// A token provider: called for each new session, so tokens are always fresh.
const client = createClient(() => fetchSessionToken("/api/session-token"));

client.addListener(AnamEvent.MESSAGE_STREAM_EVENT_RECEIVED, (e) => {
  console.log(\`\${e.role}: \${e.content}\`);
});
client.addListener(AnamEvent.VIDEO_PLAY_STARTED, () => console.log("streaming"));

await client.streamToVideoElement("persona-video");
await client.talk("Hello! Nice to meet you.");
\`\`\`

\`fetchSessionToken(url, init?)\` POSTs to your endpoint and returns \`sessionToken\`; when
the endpoint answers with an error body \`{error, message, solution}\`, it throws a
\`ClientError\` whose \`statusCode\`, \`code\` and \`details\` (\`message\`, \`solution\`) you
can show to the user.

## Without a bundler

As an ES module:

\`\`\`html
<script type="module">
  import { createClient, fetchSessionToken } from "/node_modules/anam-wasm/anam_wasm.js";
  // ...
</script>
\`\`\`

As a classic script, which defines \`globalThis.anam\` (like the official UMD build):

\`\`\`html
<script src="/node_modules/anam-wasm/anam_wasm.global.js"></script>
<script>
  anam.ready.then(async () => {
    const client = anam.createClient(() => anam.fetchSessionToken("/api/session-token"));
    await client.streamToVideoElement("persona-video");
  });
</script>
\`\`\`

The \`.wasm\` file is loaded from next to the script, so serve the package's files together.

## Content Security Policy

Compiling WebAssembly needs \`'wasm-unsafe-eval'\` in \`script-src\` (it allows no JavaScript
eval); \`connect-src\` must allow your token endpoint, the Anam API and the engine's
\`wss:\`/\`https:\` host. Without \`'wasm-unsafe-eval'\` every call rejects with a \`ClientError\`
(\`CLIENT_ERROR_CODE_CONFIGURATION_ERROR\`) that names it.

## Server-side rendering

Importing the package on a server (no DOM) does nothing and throws nothing; browser APIs are
used only once a session starts. Create the client in browser-only code.

## API

The methods, events (\`AnamEvent\`), error codes (\`ErrorCode\`, \`ClientError\`) and options
follow \`@anam-ai/js-sdk\`; \`anam_wasm.d.ts\` has the full types, including a typed event map
for \`addListener\`.

## License

${license}
`;
writeFileSync(path.join(pkg, "README.md"), readme);

console.log(
  `package-pkg: ${pkg}: anam-wasm@${version}, ${names.length} exports (${Object.keys(data).length} available before load)`,
);

// Each file a page loads, precompressed beside it as a CDN would serve it (brotli quality 11,
// gzip level 9): the demo's server sends these as they are instead of compressing per request
// (crates/backend/src/static_files.rs). They are not in the npm package's "files".
for (const f of ["anam_wasm.js", "anam_wasm_bg.wasm", "anam_wasm.global.js"]) {
  const bytes = readFileSync(path.join(pkg, f));
  writeFileSync(
    path.join(pkg, `${f}.br`),
    brotliCompressSync(bytes, {
      params: {
        [zlibConstants.BROTLI_PARAM_QUALITY]: 11,
        [zlibConstants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    }),
  );
  writeFileSync(path.join(pkg, `${f}.gz`), gzipSync(bytes, { level: 9 }));
}
