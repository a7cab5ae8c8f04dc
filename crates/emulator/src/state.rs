//! Process-wide state shared by every request and session.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use str0m::config::DtlsCert;
use tokio::sync::OnceCell;

use crate::config::Config;
use crate::faults::Faults;
use crate::media::{FrameBank, PersonaStyle};
use crate::personas::BUILTIN;
use crate::ratelimit::RateLimiter;
use crate::registry::Registry;
use crate::tokens::TokenSigner;

/// Remembered used token ids (single-use mode); expired ones are pruned first.
const MAX_USED_TOKENS: usize = 100_000;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub config: Config,
    pub signer: TokenSigner,
    pub faults: Faults,
    pub rate: RateLimiter,
    pub sessions: Registry,
    /// `host:port` the engine is reachable at (the listener's bound address).
    pub engine_host: String,
    pub media: MediaLibrary,
    cert: OnceLock<Option<DtlsCert>>,
    /// jti → exp of tokens that already started a session (single-use mode).
    used_tokens: Mutex<HashMap<String, u64>>,
}

impl AppState {
    pub fn new(config: Config, engine_host: String) -> Self {
        let rate = RateLimiter::new(config.tokens_per_minute);
        AppState(Arc::new(Shared {
            config,
            signer: TokenSigner::random(),
            faults: Faults::default(),
            rate,
            sessions: Registry::default(),
            engine_host,
            media: MediaLibrary::default(),
            cert: OnceLock::new(),
            used_tokens: Mutex::new(HashMap::new()),
        }))
    }
}

impl Shared {
    /// The process-wide DTLS certificate (generated on first use).
    pub fn dtls_cert(&self) -> Option<&DtlsCert> {
        self.cert
            .get_or_init(crate::rtc::generate_certificate)
            .as_ref()
    }

    pub fn token_used(&self, jti: &str) -> bool {
        self.used_tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(jti)
    }

    /// Marks a token as used; `false` if it already was. Check and mark happen under one lock
    /// so that two concurrent starts with one single-use token cannot both win.
    pub fn consume_token(&self, jti: &str, exp: u64, now: u64) -> bool {
        let mut used = self.used_tokens.lock().unwrap_or_else(|e| e.into_inner());
        if used.len() >= MAX_USED_TOKENS {
            used.retain(|_, e| *e > now);
        }
        used.insert(jti.to_owned(), exp).is_none()
    }
}

/// One frame bank per look, built once on first use and shared by every session showing it:
/// the "encode once per persona, fan out" design.
pub struct MediaLibrary {
    banks: HashMap<&'static str, OnceCell<Option<Arc<FrameBank>>>>,
}

impl Default for MediaLibrary {
    fn default() -> Self {
        MediaLibrary {
            banks: BUILTIN.iter().map(|p| (p.id, OnceCell::new())).collect(),
        }
    }
}

impl MediaLibrary {
    /// The bank for a built-in look; `None` if the look is unknown or the encoder failed.
    pub async fn bank(&self, look: &str) -> Option<Arc<FrameBank>> {
        let cell = self.banks.get(look)?;
        let look = look.to_owned();
        cell.get_or_init(|| async move {
            let started = tokio::time::Instant::now();
            let name = look.clone();
            let built = tokio::task::spawn_blocking(move || {
                FrameBank::build(&PersonaStyle::for_persona(&look))
            })
            .await;
            match built {
                Ok(Ok(bank)) => {
                    tracing::info!(look = %name, "frame bank ready in {:?}", started.elapsed());
                    Some(Arc::new(bank))
                }
                Ok(Err(e)) => {
                    tracing::error!("frame bank: {e}");
                    None
                }
                Err(e) => {
                    tracing::error!("frame bank task: {e}");
                    None
                }
            }
        })
        .await
        .clone()
    }

    /// Builds every bank now, in parallel (at startup, so the first session does not wait).
    pub async fn warm_up(&self) {
        let builds = BUILTIN.iter().map(|p| self.bank(p.id));
        futures_util::future::join_all(builds).await;
    }
}
