//! Static files, and the log: one line per failure with its request id, and never the key or a
//! token anywhere a client or an operator can see.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use anam_backend::upstream::UpstreamError;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode};
use common::{config, send, token_request, Answer, FakeUpstream};

fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("backend-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The whole app, serving `files` (paths under `www/` or `pkg/`) from a fresh directory.
fn static_app(name: &str, files: &[(&str, &[u8])]) -> axum::Router {
    log_sink();
    let root = temp_dir(name);
    for (path, body) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    let (www, pkg) = (root.join("www"), root.join("pkg"));
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(&pkg).unwrap();
    let cfg = config(
        &[
            ("ANAM_API_KEY", "k"),
            ("ANAM_PERSONA_ID", "p"),
            ("WWW_DIR", www.to_str().unwrap()),
            ("PKG_DIR", pkg.to_str().unwrap()),
        ],
        &[],
    );
    anam_backend::app(&cfg, FakeUpstream::default(), &[]).unwrap()
}

#[tokio::test]
async fn serves_www_at_root_and_pkg_with_wasm_mime() {
    let app = static_app(
        "static",
        &[
            ("www/index.html", b"<!doctype html><title>demo</title>"),
            ("www/app.js", b"export {}"),
            ("pkg/anam_wasm_bg.wasm", b"\0asm\x01\0\0\0"),
            ("pkg/anam_wasm.js", b"export default 1"),
        ],
    );
    let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();

    let index = send(&app, get("/")).await;
    assert_eq!(index.status, StatusCode::OK);
    assert!(index
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(index.text().contains("<title>demo</title>"));
    assert_eq!(index.header("x-content-type-options"), Some("nosniff"));

    let js = send(&app, get("/app.js")).await;
    assert!(js.header("content-type").unwrap().contains("javascript"));

    let wasm = send(&app, get("/pkg/anam_wasm_bg.wasm")).await;
    assert_eq!(wasm.status, StatusCode::OK);
    assert_eq!(wasm.header("content-type"), Some("application/wasm"));
    assert_eq!(wasm.body, b"\0asm\x01\0\0\0");

    let glue = send(&app, get("/pkg/anam_wasm.js")).await;
    assert!(glue.header("content-type").unwrap().contains("javascript"));

    assert_eq!(
        send(&app, get("/missing.html")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&app, get("/pkg/missing.wasm")).await.status,
        StatusCode::NOT_FOUND
    );
    // No way out of the served directories.
    let escape = send(&app, get("/pkg/../www/index.html")).await;
    assert_ne!(escape.status, StatusCode::INTERNAL_SERVER_ERROR);
    let escape = send(&app, get("/%2e%2e/%2e%2e/etc/passwd")).await;
    assert_eq!(escape.status, StatusCode::NOT_FOUND);
}

/// A package file with a `.br` / `.gz` beside it (what `make pkg` writes) is served from that
/// file, byte for byte, with the original's type; without the encoding, the original.
#[tokio::test]
async fn precompressed_package_files_are_served_as_written() {
    let app = static_app(
        "precompressed",
        &[
            ("pkg/anam_wasm_bg.wasm", b"\0asm\x01\0\0\0"),
            (
                "pkg/anam_wasm_bg.wasm.br",
                b"brotli bytes as make pkg wrote them",
            ),
            (
                "pkg/anam_wasm_bg.wasm.gz",
                b"gzip bytes as make pkg wrote them",
            ),
        ],
    );
    let get = |accept: &str| {
        Request::get("/pkg/anam_wasm_bg.wasm")
            .header("accept-encoding", accept)
            .body(Body::empty())
            .unwrap()
    };
    let br = send(&app, get("gzip, deflate, br")).await;
    assert_eq!(br.status, StatusCode::OK);
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(br.header("content-type"), Some("application/wasm"));
    assert_eq!(br.body, b"brotli bytes as make pkg wrote them");
    let gzip = send(&app, get("gzip")).await;
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert_eq!(gzip.body, b"gzip bytes as make pkg wrote them");
    let plain = send(&app, get("identity")).await;
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.body, b"\0asm\x01\0\0\0");
}

/// The package and the pages go out brotli- or gzip-compressed to a browser that accepts it,
/// and decode to the served file; a client that accepts neither gets the file as it is.
#[tokio::test]
async fn static_files_are_compressed_for_browsers_that_accept_it() {
    let module: String = (0..400)
        .map(|i| format!("export const v{i} = {i};\n"))
        .collect();
    let app = static_app(
        "compressed",
        &[
            ("www/index.html", b"<!doctype html><title>demo</title>"),
            ("pkg/anam_wasm.js", module.as_bytes()),
        ],
    );
    let get = |accept: Option<&str>| {
        let mut r = Request::get("/pkg/anam_wasm.js");
        if let Some(a) = accept {
            r = r.header("accept-encoding", a);
        }
        r.body(Body::empty()).unwrap()
    };

    let br = send(&app, get(Some("gzip, deflate, br"))).await;
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert!(br.body.len() * 4 < module.len(), "{} bytes", br.body.len());
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(
        &mut brotli_decompressor::Decompressor::new(&br.body[..], 4096),
        &mut decoded,
    )
    .unwrap();
    assert_eq!(decoded, module.as_bytes());

    let gzip = send(&app, get(Some("gzip"))).await;
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&gzip.body[..]),
        &mut decoded,
    )
    .unwrap();
    assert_eq!(decoded, module.as_bytes());

    let plain = send(&app, get(None)).await;
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.body, module.as_bytes());
}

/// Collects everything the tracing subscriber writes.
#[derive(Clone, Default)]
struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process-wide subscriber of this test binary, installed before any test logs. A
/// per-test `set_default` lost lines now and then: a callsite first hit by the other test, on a
/// thread without a subscriber, could keep its cached "never" interest. Lines are told apart by
/// their request ids.
fn log_sink() -> LogSink {
    static SINK: OnceLock<LogSink> = OnceLock::new();
    SINK.get_or_init(|| {
        let sink = LogSink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        sink
    })
    .clone()
}

const KEY: &str = "sk-LEAKCHECK-9f8e7d6c5b4a";
const TOKEN_PREFIX: &str = "eyJTOKENLEAKCHECK.";

#[tokio::test]
async fn every_failure_logged_once_with_its_id_and_no_secret_anywhere() {
    let sink = log_sink();

    let cfg = config(
        &[
            ("ANAM_API_KEY", KEY),
            ("ANAM_PERSONA_ID", "persona-aria,persona-milo"),
            ("ALLOWED_ORIGINS", "http://localhost:5173"),
            ("RATE_LIMIT_PER_MINUTE", "25"),
        ],
        &[],
    );
    let fake = FakeUpstream::default();
    *fake.token_prefix.lock().unwrap() = TOKEN_PREFIX.to_owned();
    let app = anam_backend::app(&cfg, fake.clone(), &[]).unwrap();

    let mut answers: Vec<Answer> = Vec::new();
    // Successes.
    answers.push(send(&app, token_request(None)).await);
    answers.push(send(&app, token_request(Some(r#"{"personaId":"persona-milo"}"#))).await);
    // Every upstream failure.
    for status in [401u16, 403, 404, 429, 500, 502, 400] {
        fake.push(Err(UpstreamError::Status {
            status,
            retry_after: Some(HeaderValue::from_static("5")),
            reason: Some("upstream says no".into()),
        }));
        answers.push(send(&app, token_request(None)).await);
    }
    for err in [
        UpstreamError::Timeout,
        UpstreamError::Unreachable("connection refused".into()),
        UpstreamError::BadResponse("garbage".into()),
    ] {
        fake.push(Err(err));
        answers.push(send(&app, token_request(None)).await);
    }
    // Our own refusals.
    let big = format!(r#"{{"personaId":"{}"}}"#, "x".repeat(20_000));
    answers.push(send(&app, token_request(Some(&big))).await);
    answers.push(send(&app, token_request(Some("{oops"))).await);
    answers.push(send(&app, token_request(Some(r#"{"personaId":"nope"}"#))).await);
    answers.push(
        send(
            &app,
            Request::post("/api/session-token")
                .header("content-type", "text/plain")
                .body(Body::from("hello"))
                .unwrap(),
        )
        .await,
    );
    answers.push(
        send(
            &app,
            Request::get("/api/session-token")
                .body(Body::empty())
                .unwrap(),
        )
        .await,
    );
    answers.push(
        send(
            &app,
            Request::post("/api/session-token")
                .header("origin", "https://evil.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await,
    );
    answers.push(
        send(
            &app,
            Request::get("/api/config").body(Body::empty()).unwrap(),
        )
        .await,
    );
    answers.push(send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await);
    // Spend the rest of the budget, then hit the limit.
    loop {
        let a = send(&app, token_request(None)).await;
        let limited = a.status == StatusCode::TOO_MANY_REQUESTS;
        answers.push(a);
        if limited || answers.len() > 100 {
            break;
        }
    }
    assert_eq!(
        answers.last().map(|a| a.status),
        Some(StatusCode::TOO_MANY_REQUESTS)
    );

    let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    let minted: Vec<String> = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .filter_map(|a| {
            a.json()
                .get("sessionToken")
                .and_then(|t| t.as_str())
                .map(str::to_owned)
        })
        .collect();
    assert!(minted.len() >= 3, "expected some tokens, got {minted:?}");

    for a in &answers {
        assert!(!a.text().contains(KEY), "key in a body: {}", a.text());
        for (name, value) in &a.headers {
            assert!(
                !String::from_utf8_lossy(value.as_bytes()).contains(KEY),
                "key in header {name}"
            );
        }
    }
    assert!(!logs.contains(KEY), "key in the log:\n{logs}");
    assert!(!logs.contains(TOKEN_PREFIX), "a token in the log:\n{logs}");
    for t in &minted {
        assert!(!logs.contains(t.as_str()));
    }

    // Each failure: exactly one log line, carrying its request id and its code.
    let failures: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status.as_u16() >= 400)
        .collect();
    assert!(failures.len() >= 17, "{}", failures.len());
    for a in &failures {
        let id = a.header("x-request-id").unwrap();
        let code = a.json()["error"].as_str().unwrap().to_owned();
        let lines: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains(&format!("request_id={id} ")))
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "request {id} ({code}) logged {} times:\n{logs}",
            lines.len()
        );
        assert!(lines[0].contains("request failed"), "{}", lines[0]);
        assert!(
            lines[0].contains(&format!("code=\"{code}\"")),
            "{}",
            lines[0]
        );
    }
    // No failure line for a request of this test that succeeded (the other test's lines, in
    // the same sink, are left out by their ids).
    let ids: Vec<String> = answers
        .iter()
        .filter_map(|a| a.header("x-request-id"))
        .map(|id| format!("request_id={id} "))
        .collect();
    let failure_lines = logs
        .lines()
        .filter(|l| l.contains("request failed") && ids.iter().any(|id| l.contains(id)))
        .count();
    assert_eq!(failure_lines, failures.len());
}
