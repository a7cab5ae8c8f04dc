//! The headers a careful app sends with its pages, on everything this server answers:
//! a Content Security Policy that lets the client run and nothing more (README, "Content
//! Security Policy"), `Referrer-Policy`, a `Permissions-Policy` that allows the microphone
//! only, and `X-Content-Type-Options`. Each is set only when the response has none, so a
//! route (or an app that folds this server in) can send its own.
//!
//! `CONTENT_SECURITY_POLICY` replaces the policy (an empty value sends none); unset, the
//! policy is [`default_policy`] for the configured Anam API.

use axum::http::{header, HeaderName, HeaderValue};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

/// The minimal policy for a page that loads the client from this origin and talks to the
/// Anam API at `api_base_url`, whose engine (signalling socket, `/talk`) is on the same host,
/// as with the emulator; for Anam's cloud, whose engines have their own hosts, set
/// `CONTENT_SECURITY_POLICY` with them (see the README).
pub fn default_policy(api_base_url: &str) -> String {
    let mut connect = vec!["'self'".to_owned()];
    if let Ok(url) = reqwest::Url::parse(api_base_url) {
        let origin = url.origin().ascii_serialization();
        let socket = match url.scheme() {
            "http" => Some(origin.replacen("http:", "ws:", 1)),
            "https" => Some(origin.replacen("https:", "wss:", 1)),
            _ => None,
        };
        if origin != "null" {
            connect.push(origin);
            connect.extend(socket);
        }
    }
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src {}; \
         img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
         form-action 'self'",
        connect.join(" ")
    )
}

/// The policy to send: `CONTENT_SECURITY_POLICY` if set (`None` when empty), else the default.
pub fn policy_from_env(api_base_url: &str) -> Option<String> {
    match std::env::var("CONTENT_SECURITY_POLICY") {
        Ok(p) if p.trim().is_empty() => None,
        Ok(p) => Some(p),
        Err(_) => Some(default_policy(api_base_url)),
    }
}

/// Adds the headers to every response of `router` that lacks them. An invalid policy (a
/// control character) is not sent.
pub fn apply<S>(router: Router<S>, policy: Option<&str>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let mut headers = vec![
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ),
        (
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static(
                "microphone=(self), camera=(), geolocation=(), payment=(), usb=()",
            ),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    if let Some(value) = policy.and_then(|p| HeaderValue::from_str(p).ok()) {
        headers.push((header::CONTENT_SECURITY_POLICY, value));
    }
    headers.into_iter().fold(router, |r, (name, value)| {
        r.layer(SetResponseHeaderLayer::if_not_present(name, value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_allows_the_api_and_its_socket_and_wasm_only() {
        let p = default_policy("http://127.0.0.1:8787");
        assert!(p.contains("script-src 'self' 'wasm-unsafe-eval';"), "{p}");
        assert!(
            p.contains("connect-src 'self' http://127.0.0.1:8787 ws://127.0.0.1:8787;"),
            "{p}"
        );
        assert!(
            !p.contains("unsafe-inline") && !p.contains("'unsafe-eval'"),
            "{p}"
        );
        let p = default_policy("https://api.anam.ai/");
        assert!(
            p.contains("connect-src 'self' https://api.anam.ai wss://api.anam.ai;"),
            "{p}"
        );
        let p = default_policy("not a url");
        assert!(p.contains("connect-src 'self';"), "{p}");
    }
}
