//! The demo's static files: `WWW_DIR` at `/` and `PKG_DIR` (wasm-pack's output) at `/pkg/`.
//! Types come from the file extension, so `.wasm` is served as `application/wasm`, which
//! `WebAssembly.instantiateStreaming` requires.

use std::path::Path;

use axum::Router;
use tower_http::services::ServeDir;

/// Adds the two directories to `router`: `/pkg/...` from `pkg_dir`, every other path that no
/// route matched from `www_dir` (`index.html` for directories).
pub fn mount<S>(router: Router<S>, www_dir: &Path, pkg_dir: &Path) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router
        .nest_service("/pkg", ServeDir::new(pkg_dir))
        .fallback_service(ServeDir::new(www_dir))
}
