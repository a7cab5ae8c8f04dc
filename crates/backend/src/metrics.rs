//! `GET /metrics`: what an operator graphs and alerts on, in the Prometheus text format. Each
//! router has its own registry, so an app that mounts several (or tests that build many) never
//! mixes their counts.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

use crate::upstream::UpstreamError;

pub struct Metrics {
    registry: Registry,
    minted: IntCounterVec,
    refused: IntCounterVec,
    upstream_seconds: HistogramVec,
    upstream_responses: IntCounterVec,
    limiter_errors: IntCounter,
}

impl Metrics {
    pub fn new() -> Result<Self, String> {
        let err = |e: prometheus::Error| format!("metrics: {e}");
        let registry = Registry::new();
        let minted = IntCounterVec::new(
            Opts::new(
                "anam_backend_tokens_minted_total",
                "Session tokens handed to pages, by persona and kind (stateful, ephemeral).",
            ),
            &["persona", "kind"],
        )
        .map_err(err)?;
        let refused = IntCounterVec::new(
            Opts::new(
                "anam_backend_token_refusals_total",
                "Token requests answered with an error, by error code.",
            ),
            &["reason"],
        )
        .map_err(err)?;
        let upstream_seconds = HistogramVec::new(
            HistogramOpts::new(
                "anam_backend_upstream_seconds",
                "Duration of Anam session-token calls.",
            )
            .buckets(vec![0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["outcome"],
        )
        .map_err(err)?;
        let upstream_responses = IntCounterVec::new(
            Opts::new(
                "anam_backend_upstream_responses_total",
                "Anam session-token call results, by HTTP status (or timeout, unreachable, \
                 bad_response).",
            ),
            &["status"],
        )
        .map_err(err)?;
        let limiter_errors = IntCounter::new(
            "anam_backend_limiter_errors_total",
            "Token requests for which the limits store (Redis) could not be reached.",
        )
        .map_err(err)?;
        for c in [
            Box::new(minted.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(refused.clone()),
            Box::new(upstream_seconds.clone()),
            Box::new(upstream_responses.clone()),
            Box::new(limiter_errors.clone()),
        ] {
            registry.register(c).map_err(err)?;
        }
        Ok(Self {
            registry,
            minted,
            refused,
            upstream_seconds,
            upstream_responses,
            limiter_errors,
        })
    }

    pub fn minted(&self, persona: &str, kind: &str) {
        self.minted.with_label_values(&[persona, kind]).inc();
    }

    pub fn refused(&self, code: &str) {
        self.refused.with_label_values(&[code]).inc();
    }

    pub fn limiter_error(&self) {
        self.limiter_errors.inc();
    }

    pub fn upstream(&self, took: Duration, answer: &Result<String, UpstreamError>) {
        let status = match answer {
            Ok(_) => "200".to_owned(),
            Err(UpstreamError::Status { status, .. }) => status.to_string(),
            Err(UpstreamError::Timeout) => "timeout".to_owned(),
            Err(UpstreamError::Unreachable(_)) => "unreachable".to_owned(),
            Err(UpstreamError::BadResponse(_)) => "bad_response".to_owned(),
        };
        let outcome = if answer.is_ok() { "ok" } else { "error" };
        self.upstream_seconds
            .with_label_values(&[outcome])
            .observe(took.as_secs_f64());
        self.upstream_responses.with_label_values(&[&status]).inc();
    }

    /// The registry in the text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec only fails on a malformed metric family, which the fixed set
        // above cannot produce; an empty page is the harmless answer if it ever did.
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .is_err()
        {
            out.clear();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
