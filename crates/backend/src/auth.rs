//! Who is asking for a token: the app's user, proven by a JWT from the app's identity provider
//! (`AUTH_JWKS_URL`) or signed by the app itself (`AUTH_JWT_SECRET`). Signature and claim checks
//! are `jsonwebtoken`'s; this module only picks the key and the accepted algorithms.
//!
//! Without an [`AuthConfig`] every caller is anonymous and minting is open, which is what the
//! local demo wants.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::{header, HeaderMap};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::time::Instant;

use crate::config::{AuthConfig, AuthKeys};
use crate::errors::ApiError;

/// A JWKS document is a few kilobytes; more than this is not one.
const MAX_JWKS_BYTES: usize = 512 * 1024;
const JWKS_TIMEOUT: Duration = Duration::from_secs(5);
/// Known keys are re-read this often, so a key the provider revoked stops working.
const JWKS_MAX_AGE: Duration = Duration::from_secs(600);
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;

/// The signed-in user a token was minted for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The JWT `sub` claim: the limits' key and the log's user.
    pub sub: String,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

/// The verifier built from the configuration.
pub struct Authenticator {
    keys: Keys,
    validation: Validation,
    cookie: Option<String>,
}

enum Keys {
    Secret(DecodingKey),
    Jwks(Arc<JwksCache>),
}

impl Authenticator {
    pub fn new(config: &AuthConfig) -> Result<Self, String> {
        // The algorithm list is set per key at verification time; this is the claim policy.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        if let Some(iss) = &config.issuer {
            validation.set_issuer(&[iss]);
            validation.required_spec_claims.insert("iss".to_owned());
        }
        if let Some(aud) = &config.audience {
            validation.set_audience(&[aud]);
            validation.required_spec_claims.insert("aud".to_owned());
        } else {
            validation.validate_aud = false;
        }
        let keys = match &config.keys {
            AuthKeys::Secret(secret) => {
                Keys::Secret(DecodingKey::from_secret(secret.expose().as_bytes()))
            }
            AuthKeys::Jwks { url } => {
                Keys::Jwks(Arc::new(JwksCache::new(url, config.jwks_min_refetch)?))
            }
        };
        Ok(Self {
            keys,
            validation,
            cookie: config.cookie.clone(),
        })
    }

    /// The JWKS cache, for tests and metrics (how many times it fetched).
    pub fn jwks(&self) -> Option<&Arc<JwksCache>> {
        match &self.keys {
            Keys::Jwks(cache) => Some(cache),
            Keys::Secret(_) => None,
        }
    }

    /// The user behind the request's token, or the 401 to answer. The error's detail (for the
    /// log) says why; the token itself is never put in it.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Identity, ApiError> {
        let token = self
            .token_from(headers)
            .ok_or_else(|| ApiError::unauthenticated("no bearer token or auth cookie"))?;
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| ApiError::unauthenticated(format!("unreadable token header: {e}")))?;
        let (key, algorithms) = match &self.keys {
            // HS256 only: a token claiming RS256 or `none` never reaches a key.
            Keys::Secret(key) => (key.clone(), vec![Algorithm::HS256]),
            Keys::Jwks(cache) => {
                let kid = header
                    .kid
                    .as_deref()
                    .ok_or_else(|| ApiError::unauthenticated("token has no kid"))?;
                let key = cache.key(kid).await.ok_or_else(|| {
                    ApiError::unauthenticated(format!(
                        "unknown kid {:?}",
                        crate::errors::truncate(kid, 64)
                    ))
                })?;
                (key.decoding.clone(), key.algorithms.clone())
            }
        };
        // The key decides the algorithm family: an HS256 token "signed" with an RSA public key
        // (the classic confusion attack) is refused because HS256 is not in an RSA key's list.
        if !algorithms.contains(&header.alg) {
            return Err(ApiError::unauthenticated(format!(
                "algorithm {:?} not accepted for this key",
                header.alg
            )));
        }
        let mut validation = self.validation.clone();
        validation.algorithms = vec![header.alg];
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| ApiError::unauthenticated(format!("token refused: {e}")))?;
        let sub = data.claims.sub;
        if sub.is_empty() || sub.len() > 256 || sub.chars().any(char::is_control) {
            return Err(ApiError::unauthenticated(
                "sub is empty, too long or not printable",
            ));
        }
        Ok(Identity { sub })
    }

    fn token_from<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty());
        if bearer.is_some() {
            return bearer;
        }
        let name = self.cookie.as_deref()?;
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim().trim_matches('"'))
            .filter(|t| !t.is_empty())
    }
}

/// One verification key from the JWKS and the algorithms it may verify.
#[derive(Clone)]
pub struct JwksKey {
    decoding: DecodingKey,
    algorithms: Vec<Algorithm>,
}

/// The provider's keys by `kid`, fetched when a `kid` is unknown or the set is old, and never
/// more than once per `min_refetch`.
pub struct JwksCache {
    url: String,
    client: reqwest::Client,
    keys: RwLock<Arc<HashMap<String, JwksKey>>>,
    /// When the last download was attempted.
    last_fetch: std::sync::Mutex<Option<Instant>>,
    /// Held during a download, so concurrent misses share one.
    downloading: tokio::sync::Mutex<()>,
    min_refetch: Duration,
    fetches: std::sync::atomic::AtomicU64,
}

impl JwksCache {
    fn new(url: &str, min_refetch: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(JWKS_TIMEOUT)
            .connect_timeout(JWKS_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("anam-backend/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the JWKS client: {e}"))?;
        Ok(Self {
            url: url.to_owned(),
            client,
            keys: RwLock::new(Arc::new(HashMap::new())),
            last_fetch: std::sync::Mutex::new(None),
            downloading: tokio::sync::Mutex::new(()),
            min_refetch,
            fetches: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// How many downloads were attempted since startup.
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn cached(&self, kid: &str) -> Option<JwksKey> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(kid)
            .cloned()
    }

    fn since_last_fetch(&self, now: Instant) -> Option<Duration> {
        self.last_fetch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|t| now.saturating_duration_since(t))
    }

    async fn key(&self, kid: &str) -> Option<JwksKey> {
        let known = self.cached(kid);
        let fresh = self
            .since_last_fetch(Instant::now())
            .is_some_and(|a| a < JWKS_MAX_AGE);
        if known.is_some() && fresh {
            return known;
        }
        // One download at a time. A known key is never held up by one: while another request
        // refreshes the set, it is used as it is.
        let _single_flight = match (&known, self.downloading.try_lock()) {
            (_, Ok(guard)) => guard,
            (Some(_), Err(_)) => return known,
            (None, Err(_)) => self.downloading.lock().await,
        };
        // Another request may have downloaded the set while this one waited.
        if known.is_none() {
            if let Some(key) = self.cached(kid) {
                return Some(key);
            }
        }
        let now = Instant::now();
        if self
            .since_last_fetch(now)
            .is_some_and(|a| a < self.min_refetch)
        {
            return known;
        }
        *self.last_fetch.lock().unwrap_or_else(|e| e.into_inner()) = Some(now);
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.download().await {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "JWKS loaded");
                *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
            }
            // Keep the keys we have: a provider hiccup must not log everyone out.
            Err(e) => tracing::warn!(error = %e, url = %self.url, "JWKS download failed"),
        }
        self.cached(kid)
    }

    async fn download(&self) -> Result<HashMap<String, JwksKey>, String> {
        let mut response = self
            .client
            .get(&self.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| format!("not a JWKS: {e}"))?;
        Ok(set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                let algorithms = algorithms_for(jwk);
                if algorithms.is_empty() {
                    return None;
                }
                let decoding = DecodingKey::from_jwk(jwk).ok()?;
                Some((
                    kid,
                    JwksKey {
                        decoding,
                        algorithms,
                    },
                ))
            })
            .collect())
    }
}

/// The algorithms a published key may verify: the one its `alg` names, else those of its type.
/// Symmetric (`oct`) keys are never taken from a JWKS: a public document cannot hold a secret.
fn algorithms_for(jwk: &Jwk) -> Vec<Algorithm> {
    let by_type: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => Vec::new(),
        },
        AlgorithmParameters::OctetKeyPair(_) => vec![Algorithm::EdDSA],
        AlgorithmParameters::OctetKey(_) => Vec::new(),
    };
    match jwk.common.key_algorithm {
        None => by_type,
        Some(named) => {
            let named = match named {
                KeyAlgorithm::RS256 => Algorithm::RS256,
                KeyAlgorithm::RS384 => Algorithm::RS384,
                KeyAlgorithm::RS512 => Algorithm::RS512,
                KeyAlgorithm::PS256 => Algorithm::PS256,
                KeyAlgorithm::PS384 => Algorithm::PS384,
                KeyAlgorithm::PS512 => Algorithm::PS512,
                KeyAlgorithm::ES256 => Algorithm::ES256,
                KeyAlgorithm::ES384 => Algorithm::ES384,
                KeyAlgorithm::EdDSA => Algorithm::EdDSA,
                _ => return Vec::new(),
            };
            if by_type.contains(&named) {
                vec![named]
            } else {
                Vec::new()
            }
        }
    }
}
