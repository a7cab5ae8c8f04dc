// The classic-script build under the page's policy: how anam.ready settles.
window.__e2e = {
  ready: anam.ready.then(
    () => ({ ok: true }),
    (e) => ({ ok: false, error: { name: e.name, code: e.code, message: e.message, details: e.details } }),
  ),
};
