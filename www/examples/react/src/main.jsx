// Entry point: load the WebAssembly module, read the backend's public config, create ONE client
// for the page's lifetime (outside React, so StrictMode's double renders never make a second
// one), and render.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import init, { createClient, fetchSessionToken } from "anam-wasm";
import { App } from "./App.jsx";

await init();
const config = await (await fetch("/api/config")).json();

// A token provider: the backend (anam-backend, or your own) holds the API key and mints a
// short-lived session token for each session.
const client = createClient(() => fetchSessionToken("/api/session-token"), {
  api: { baseUrl: config.apiBaseUrl },
});

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <App client={client} />
  </StrictMode>,
);
