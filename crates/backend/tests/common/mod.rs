//! Shared test helpers: a scripted fake upstream (no sockets), configuration from literal
//! variables, and a one-call request helper.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anam_backend::config::Config;
use anam_backend::upstream::{Upstream, UpstreamError};
use anam_core::wire::rest::{PersonaSelection, PersonaSummary};
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// Answers queued with [`FakeUpstream::push`] in order, then fresh tokens `tok-<n>`; records
/// every persona it was asked for.
#[derive(Clone, Default)]
pub struct FakeUpstream {
    script: Arc<Mutex<VecDeque<Result<String, UpstreamError>>>>,
    pub calls: Arc<Mutex<Vec<PersonaSelection>>>,
    minted: Arc<Mutex<u32>>,
    pub token_prefix: Arc<Mutex<String>>,
}

impl FakeUpstream {
    pub fn push(&self, answer: Result<String, UpstreamError>) {
        self.script.lock().unwrap().push_back(answer);
    }

    pub fn calls(&self) -> Vec<PersonaSelection> {
        self.calls.lock().unwrap().clone()
    }
}

impl Upstream for FakeUpstream {
    async fn session_token(&self, persona: &PersonaSelection) -> Result<String, UpstreamError> {
        self.calls.lock().unwrap().push(persona.clone());
        if let Some(answer) = self.script.lock().unwrap().pop_front() {
            return answer;
        }
        let mut n = self.minted.lock().unwrap();
        *n += 1;
        let prefix = self.token_prefix.lock().unwrap().clone();
        Ok(format!("{}tok-{n}", prefix))
    }

    async fn personas(&self) -> Result<Vec<PersonaSummary>, UpstreamError> {
        Ok(Vec::new())
    }
}

/// A configuration from literal variables; `ANAM_PERSONA_CONFIG` paths resolve in `files`.
pub fn config(vars: &[(&str, &str)], files: &[(&str, &str)]) -> Config {
    try_config(vars, files).unwrap()
}

pub fn try_config(
    vars: &[(&str, &str)],
    files: &[(&str, &str)],
) -> Result<Config, anam_backend::config::ConfigError> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let files: Vec<(PathBuf, String)> = files
        .iter()
        .map(|(k, v)| (PathBuf::from(k), (*v).to_owned()))
        .collect();
    Config::parse(
        |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
        |path| {
            files
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, text)| text.clone())
                .ok_or_else(|| "No such file or directory".to_owned())
        },
    )
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the error shape every failure uses and returns its code.
    pub fn error_code(&self) -> String {
        let v = self.json();
        for field in ["error", "message", "solution"] {
            let text = v.get(field).and_then(Value::as_str).unwrap_or_default();
            assert!(!text.is_empty(), "missing {field} in {v}");
        }
        assert_eq!(self.header("content-type"), Some("application/json"));
        v["error"].as_str().unwrap_or_default().to_owned()
    }
}

pub async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

/// `POST /api/session-token` with an optional JSON body, as a same-origin page sends it.
pub fn token_request(body: Option<&str>) -> Request<Body> {
    let builder = Request::post("/api/session-token").header("host", "127.0.0.1:8080");
    match body {
        Some(b) => builder
            .header("content-type", "application/json")
            .body(Body::from(b.to_owned()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}
