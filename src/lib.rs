//! anam-wasm: the browser client for Anam streaming personas.
//!
//! A thin shell over `anam-core`'s session machine: [`client`] is the JS API, [`driver`] runs the
//! machine and executes its decisions with the browser adapters in [`io`].

pub mod agent_audio;
pub mod autoplay;
pub mod client;
pub mod driver;
pub mod errors;
pub mod io;
pub mod js;
pub mod options;
pub mod preflight;
pub mod state;
pub mod token;
pub mod tool_handlers;

use wasm_bindgen::prelude::*;

/// The package version, so a page can show which client it loaded.
#[wasm_bindgen]
pub fn version() -> String {
    anam_core::VERSION.to_string()
}

/// The page's allocator: 2.5 KB (gzip) smaller than the default one (see Cargo.toml).
/// The build is single-threaded; a threaded build (atomics) keeps the default.
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
