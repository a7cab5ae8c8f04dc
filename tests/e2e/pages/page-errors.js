// Records what the page itself failed to handle (uncaught exceptions, wasm traps, unhandled
// promise rejections) in window.pageErrors, for the suites' after-each check
// (tests/e2e/client-page.mjs). Loaded first, as a classic script, so that it also sees the
// errors of the module that loads the client.
(() => {
  window.pageErrors = [];
  const describe = (e) => {
    if (e instanceof Error) return `${e.name}: ${e.message}${e.code ? ` (${e.code})` : ""}`;
    try {
      return JSON.stringify(e);
    } catch {
      return String(e);
    }
  };
  window.addEventListener("error", (event) => {
    window.pageErrors.push(`error: ${event.error ? describe(event.error) : event.message}`);
  });
  window.addEventListener("unhandledrejection", (event) => {
    window.pageErrors.push(`unhandledrejection: ${describe(event.reason)}`);
  });
})();
