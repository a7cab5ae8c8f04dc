// What a server-side-rendering framework does with the package: import it on the server, where
// there is no window, document or navigator. Nothing may throw, and nothing may start.
import * as anam from "anam-wasm";
import "anam-wasm/global";

export const moduleExports = Object.keys(anam).sort();
export const hasDefaultInit = typeof anam.default === "function";
export const globalAnam = globalThis.anam;
