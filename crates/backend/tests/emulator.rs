//! The real `anam-backend` binary against the real `anam-emulator` binary, over loopback:
//! stateful and ephemeral tokens, every fault status through the emulator's control API, and a
//! scan of everything the backend said (answers, headers, stdout, stderr) for the key and the
//! tokens.
//!
//! The emulator binary comes from `ANAM_EMULATOR_BIN`, else from the target directory these
//! tests were built into (`cargo build -p anam-emulator` first). When it is missing the test
//! fails, unless `ANAM_E2E_ALLOW_SKIP=1`, which turns that into a loud skip.
//!
//! One emulator serves every scenario, run in sequence: it takes seconds to start (it encodes
//! its video before it is ready), and its injected faults are global, so scenarios must not
//! overlap anyway.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const READY_TIMEOUT: Duration = Duration::from_secs(60);

fn emulator_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ANAM_EMULATOR_BIN") {
        return Some(PathBuf::from(path));
    }
    // target/<profile>/deps/emulator-<hash> -> target/<profile>/anam-emulator
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let candidate = profile_dir.join(format!("anam-emulator{}", std::env::consts::EXE_SUFFIX));
    candidate.is_file().then_some(candidate)
}

/// The emulator binary, or `None` after a loud skip notice when skipping is allowed.
fn require_emulator(test: &str) -> Option<PathBuf> {
    match emulator_binary().filter(|p| p.is_file()) {
        Some(p) => Some(p),
        None if std::env::var("ANAM_E2E_ALLOW_SKIP").as_deref() == Ok("1") => {
            eprintln!(
                "\n!!!!!!!! SKIPPED {test}: anam-emulator binary not found \
                 (ANAM_E2E_ALLOW_SKIP=1). Build it with `cargo build -p anam-emulator` or set \
                 ANAM_EMULATOR_BIN. !!!!!!!!\n"
            );
            None
        }
        None => panic!(
            "anam-emulator binary not found (ANAM_EMULATOR_BIN, else next to the test \
             executable): run `cargo build -p anam-emulator` with the same CARGO_TARGET_DIR, or \
             set ANAM_EMULATOR_BIN (ANAM_E2E_ALLOW_SKIP=1 skips instead)"
        ),
    }
}

/// A child process with its output collected, killed when dropped.
struct Proc {
    /// Held only so that `kill_on_drop` ends the process with the test.
    _child: Child,
    base: String,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// Spawns `command`, collects both streams line by line, and waits for the ready line
    /// `<name> listening on http://...` on stdout.
    async fn start(mut command: Command, name: &str) -> Proc {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<String>();

        let out = child.stdout.take().unwrap();
        let sink = stdout.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = ready_tx.send(line.clone());
                sink.lock().unwrap().push(line);
            }
        });
        let err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });

        let prefix = format!("{name} listening on ");
        let base = tokio::time::timeout(READY_TIMEOUT, async {
            while let Some(line) = ready_rx.recv().await {
                if let Some(url) = line.strip_prefix(&prefix) {
                    return Some(url.trim().to_owned());
                }
            }
            None
        })
        .await;
        match base {
            Ok(Some(base)) => Proc {
                _child: child,
                base,
                stdout,
                stderr,
            },
            other => panic!(
                "{name} did not print its ready line ({}); stderr:\n{}",
                if other.is_err() { "timeout" } else { "exited" },
                stderr.lock().unwrap().join("\n")
            ),
        }
    }

    fn output(&self) -> String {
        let mut all = self.stdout.lock().unwrap().join("\n");
        all.push('\n');
        all.push_str(&self.stderr.lock().unwrap().join("\n"));
        all
    }
}

async fn start_emulator(bin: &PathBuf, key: &str) -> Proc {
    let mut cmd = Command::new(bin);
    cmd.args(["--listen", "127.0.0.1:0", "--api-key", key, "--control"]);
    Proc::start(cmd, "anam-emulator").await
}

async fn start_backend(vars: &[(&str, &str)]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_anam-backend"));
    // Only what the test sets: a developer's own ANAM_* variables must not leak in.
    cmd.env_clear().env("LISTEN", "127.0.0.1:0");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    Proc::start(cmd, "anam-backend").await
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    /// Status, headers and body of a response, kept for assertions and the key-leak scan.
    async fn read(resp: reqwest::Response) -> Reply {
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp.text().await.unwrap_or_default();
        Reply {
            status,
            headers,
            body,
        }
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn code(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_owned()
    }
    fn token(&self) -> Option<String> {
        self.json()["sessionToken"].as_str().map(str::to_owned)
    }
}

async fn call(method: reqwest::Method, url: &str, body: Option<Value>) -> Reply {
    let client = reqwest::Client::new();
    let mut req = client.request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    Reply::read(req.send().await.expect("request failed")).await
}

async fn mint(backend: &Proc, body: Option<Value>) -> Reply {
    call(
        reqwest::Method::POST,
        &format!("{}/api/session-token", backend.base),
        body,
    )
    .await
}

async fn arm_fault(emulator: &Proc, status: u16) {
    let r = call(
        reqwest::Method::POST,
        &format!("{}/_emulator/faults", emulator.base),
        Some(json!({"endpoint": "session-token", "status": status, "count": 1})),
    )
    .await;
    assert!(
        (200..300).contains(&r.status),
        "arming fault {status}: {} {}",
        r.status,
        r.body
    );
}

fn jwt_payload(token: &str) -> Value {
    let payload = token
        .split('.')
        .nth(1)
        .expect("token has no payload segment");
    let bytes = anam_core::base64::decode_url_strict(payload).expect("payload is not base64url");
    serde_json::from_slice(&bytes).expect("payload is not JSON")
}

fn tmp_file(name: &str, text: &str) -> PathBuf {
    let path =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

async fn stateful_tokens_and_persona_names_from_the_emulator(emulator: &Proc, key: &str) {
    let backend = start_backend(&[
        ("ANAM_API_KEY", key),
        ("ANAM_API_BASE_URL", &emulator.base),
        ("ANAM_PERSONA_ID", "persona-aria,persona-milo"),
    ])
    .await;

    let config = call(
        reqwest::Method::GET,
        &format!("{}/api/config", backend.base),
        None,
    )
    .await;
    assert_eq!(config.status, 200);
    assert_eq!(
        config.json(),
        json!({
            "apiBaseUrl": emulator.base,
            "personas": [{"id": "persona-aria", "name": "Aria"}, {"id": "persona-milo", "name": "Milo"}]
        })
    );

    let first = mint(&backend, None).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.header("cache-control"), Some("no-store"));
    let t1 = first.token().unwrap();
    let claims = jwt_payload(&t1);
    assert_eq!(claims["type"], "stateful", "{claims}");

    let second = mint(&backend, Some(json!({"personaId": "persona-milo"}))).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let t2 = second.token().unwrap();
    assert_ne!(t1, t2, "every call mints a new token");
    assert_eq!(jwt_payload(&t2)["type"], "stateful");
    assert!(
        t2.contains('.') && jwt_payload(&t2).to_string().contains("persona-milo"),
        "token for the chosen persona: {}",
        jwt_payload(&t2)
    );
}

async fn ephemeral_tokens_from_a_persona_config_file(emulator: &Proc, key: &str) {
    let file = tmp_file(
        "cara.json",
        r#"{"name": "Cara", "avatarId": "avatar-milo", "voiceId": "voice-milo",
            "systemPrompt": "You are Cara. Be brief.", "maxSessionLengthSeconds": 600}"#,
    );
    let backend = start_backend(&[
        ("ANAM_API_KEY", key),
        ("ANAM_API_BASE_URL", &emulator.base),
        ("ANAM_PERSONA_CONFIG", file.to_str().unwrap()),
    ])
    .await;

    let config = call(
        reqwest::Method::GET,
        &format!("{}/api/config", backend.base),
        None,
    )
    .await;
    assert_eq!(
        config.json()["personas"],
        json!([{"id": "ephemeral", "name": "Cara"}])
    );

    let reply = mint(&backend, None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let claims = jwt_payload(&reply.token().unwrap());
    assert_eq!(claims["type"], "ephemeral", "{claims}");
}

/// Every fault status, through the emulator's control API, and what the page gets for it.
const FAULTS: [(u16, u16, &str); 8] = [
    (401, 401, "invalid_api_key"),
    (403, 403, "forbidden"),
    (404, 404, "persona_not_found"),
    (429, 429, "rate_limited"),
    (500, 502, "upstream_error"),
    (502, 502, "upstream_error"),
    (503, 502, "upstream_error"),
    (400, 502, "upstream_rejected"),
];

async fn each_emulator_fault_maps_to_the_documented_answer(emulator: &Proc, key: &str) {
    let backend = start_backend(&[
        ("ANAM_API_KEY", key),
        ("ANAM_API_BASE_URL", &emulator.base),
        ("ANAM_PERSONA_ID", "persona-aria"),
        ("RATE_LIMIT_PER_MINUTE", "1000"),
    ])
    .await;

    for (fault, want_status, want_code) in FAULTS {
        arm_fault(emulator, fault).await;
        let r = mint(&backend, None).await;
        assert_eq!(r.status, want_status, "fault {fault}: {}", r.body);
        assert_eq!(r.code(), want_code, "fault {fault}: {}", r.body);
        for field in ["message", "solution"] {
            assert!(r.json()[field].as_str().is_some_and(|s| !s.is_empty()));
        }
        if fault == 429 {
            assert!(r.header("retry-after").is_some(), "429 without Retry-After");
        }
        // count 1: the next call is served normally again.
        let ok = mint(&backend, None).await;
        assert_eq!(ok.status, 200, "after fault {fault}: {}", ok.body);
    }
}

async fn real_refusals_wrong_key_unknown_persona_and_a_dead_upstream(emulator: &Proc, key: &str) {
    let wrong_key = start_backend(&[
        ("ANAM_API_KEY", "a-wrong-key"),
        ("ANAM_API_BASE_URL", &emulator.base),
        ("ANAM_PERSONA_ID", "persona-aria"),
    ])
    .await;
    let r = mint(&wrong_key, None).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (401, "invalid_api_key"),
        "{}",
        r.body
    );

    let unknown = start_backend(&[
        ("ANAM_API_KEY", key),
        ("ANAM_API_BASE_URL", &emulator.base),
        ("ANAM_PERSONA_ID", "persona-nobody"),
    ])
    .await;
    let r = mint(&unknown, None).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (404, "persona_not_found"),
        "{}",
        r.body
    );

    // Nothing listens on a port just released: the upstream is down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let dead = start_backend(&[
        ("ANAM_API_KEY", key),
        ("ANAM_API_BASE_URL", &dead_base),
        ("ANAM_PERSONA_ID", "persona-aria"),
    ])
    .await;
    let r = mint(&dead, None).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (502, "upstream_unavailable"),
        "{}",
        r.body
    );
}

async fn no_key_and_no_token_in_any_answer_or_output(emulator: &Proc, key: &str) {
    let backend = start_backend(&[
        ("ANAM_API_KEY", key),
        ("ANAM_API_BASE_URL", &emulator.base),
        ("ANAM_PERSONA_ID", "persona-aria,persona-milo"),
        ("RATE_LIMIT_PER_MINUTE", "40"),
    ])
    .await;

    let mut replies = Vec::new();
    replies.push(mint(&backend, None).await);
    replies.push(mint(&backend, Some(json!({"personaId": "persona-milo"}))).await);
    for (fault, _, _) in FAULTS {
        arm_fault(emulator, fault).await;
        replies.push(mint(&backend, None).await);
    }
    replies.push(mint(&backend, Some(json!({"personaId": "persona-nobody"}))).await);
    replies.push(mint(&backend, Some(json!({"personaId": "x".repeat(20_000)}))).await);
    replies.push(mint(&backend, Some(json!([1, 2]))).await);
    let base = backend.base.clone();
    replies.push(
        call(
            reqwest::Method::GET,
            &format!("{base}/api/session-token"),
            None,
        )
        .await,
    );
    replies.push(call(reqwest::Method::GET, &format!("{base}/api/config"), None).await);
    replies.push(call(reqwest::Method::GET, &format!("{base}/healthz"), None).await);
    let client = reqwest::Client::new();
    for (content_type, origin) in [
        ("text/plain", None),
        ("application/json", Some("https://evil.example")),
    ] {
        let mut req = client
            .post(format!("{base}/api/session-token"))
            .header("content-type", content_type)
            .body("{}");
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        replies.push(Reply::read(req.send().await.unwrap()).await);
    }
    // Spend the budget until our own limit answers.
    for _ in 0..60 {
        let r = mint(&backend, None).await;
        let limited = r.status == 429 && r.header("retry-after").is_some();
        replies.push(r);
        if limited {
            break;
        }
    }
    assert_eq!(replies.last().map(|r| r.status), Some(429));

    let tokens: Vec<String> = replies.iter().filter_map(Reply::token).collect();
    assert!(tokens.len() >= 3, "{tokens:?}");
    let statuses: std::collections::BTreeSet<u16> = replies.iter().map(|r| r.status).collect();
    for s in [200, 400, 401, 403, 404, 405, 413, 415, 429, 502] {
        assert!(
            statuses.contains(&s),
            "status {s} not exercised: {statuses:?}"
        );
    }

    // Let the log lines of the last requests arrive, then read everything.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let last_id = replies
        .last()
        .and_then(|r| r.header("x-request-id"))
        .unwrap()
        .to_owned();
    while !backend.output().contains(&last_id) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let output = backend.output();
    assert!(
        output.contains(&last_id),
        "the last failure was not logged:\n{output}"
    );

    for r in &replies {
        assert!(!r.body.contains(key), "key in a body: {}", r.body);
        for (name, value) in &r.headers {
            assert!(!value.contains(key), "key in header {name}");
        }
    }
    assert!(
        !output.contains(key),
        "key in the backend's output:\n{output}"
    );
    for t in &tokens {
        assert!(
            !output.contains(t.as_str()),
            "a token in the backend's output"
        );
        // Not even the signature part (a token cut short in a log line).
        let sig = t.rsplit('.').next().unwrap_or(t);
        assert!(
            sig.len() < 8 || !output.contains(sig),
            "a token signature in the output"
        );
    }

    // Each failure was logged exactly once, under its request id.
    for r in replies.iter().filter(|r| r.status >= 400) {
        let id = r.header("x-request-id").unwrap();
        let n = output
            .lines()
            .filter(|l| l.contains(&format!("request_id={id} ")))
            .count();
        assert_eq!(n, 1, "request {id} ({}) logged {n} times", r.code());
    }
}

/// The distinctive key the shared emulator accepts; the leak scan looks for it everywhere.
const KEY: &str = "sk-E2E-LEAKCHECK-1f2e3d4c5b6a79880";

#[tokio::test]
async fn against_the_real_emulator() {
    let Some(bin) = require_emulator("against_the_real_emulator") else {
        return;
    };
    let emulator = start_emulator(&bin, KEY).await;
    let started = tokio::time::Instant::now();
    eprintln!("emulator ready at {}", emulator.base);

    stateful_tokens_and_persona_names_from_the_emulator(&emulator, KEY).await;
    eprintln!("stateful ok at {:?}", started.elapsed());
    ephemeral_tokens_from_a_persona_config_file(&emulator, KEY).await;
    eprintln!("ephemeral ok at {:?}", started.elapsed());
    each_emulator_fault_maps_to_the_documented_answer(&emulator, KEY).await;
    eprintln!("faults ok at {:?}", started.elapsed());
    real_refusals_wrong_key_unknown_persona_and_a_dead_upstream(&emulator, KEY).await;
    eprintln!("real refusals ok at {:?}", started.elapsed());
    no_key_and_no_token_in_any_answer_or_output(&emulator, KEY).await;
    eprintln!("leak scan ok at {:?}", started.elapsed());
}
