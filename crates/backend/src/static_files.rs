//! The demo's static files: `WWW_DIR` at `/` and `PKG_DIR` (wasm-pack's output) at `/pkg/`.
//! Types come from the file extension, so `.wasm` is served as `application/wasm`, which
//! `WebAssembly.instantiateStreaming` requires. Both are compressed (brotli, else gzip) for a
//! browser that accepts it, as a CDN serves them: the module and the `.wasm` are most of what a
//! page loads before its first frame, and on a phone network their bytes are its time.
//! `make pkg` writes each package file's `.br` (quality 11) and `.gz` (level 9) beside it, and
//! those are served as they are: the best compression at no cost per request. Files without
//! them are compressed per request.

use std::path::Path;

use axum::Router;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::services::ServeDir;

/// Adds the two directories to `router`: `/pkg/...` from `pkg_dir`, every other path that no
/// route matched from `www_dir` (`index.html` for directories).
pub fn mount<S>(router: Router<S>, www_dir: &Path, pkg_dir: &Path) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let statics = Router::new()
        .nest_service(
            "/pkg",
            ServeDir::new(pkg_dir)
                .precompressed_br()
                .precompressed_gzip(),
        )
        .fallback_service(ServeDir::new(www_dir))
        // Quality 5 for what is compressed per request: tens of milliseconds for a `.wasm`,
        // where the best setting takes over a second for 10% fewer bytes (docs/BENCHMARKS.md,
        // "Compression of the served files"). A precompressed answer passes through untouched.
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(5)));
    router.merge(statics)
}
