//! Many replicas, one limit: two real `anam-backend` processes on one real `redis-server`
//! (started here on a free loopback port), a fake Anam API on loopback, requests over sockets.
//! Three times the budget sent across both instances mints exactly the budget; Redis stopped
//! mid-run gives `503 limits_unavailable` (and a fail-open instance keeps minting), `/healthz`
//! says degraded, the outage is logged once; Redis restarted, minting resumes without
//! restarting the backends. Also: a SIGTERM drains an in-flight request before exiting.

use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::time::Instant;

const BUDGET: usize = 5;

/// A fake Anam API that answers after `delay` and counts its mints.
async fn fake_upstream(delay: Duration) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = Router::new()
        .route(
            "/v1/auth/session-token",
            post(move || {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    tokio::time::sleep(delay).await;
                    Json(json!({ "sessionToken": format!("fake.token.{n}") }))
                }
            }),
        )
        .route("/v1/personas", get(|| async { Json(json!([])) }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, calls)
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `redis-server` on `port`, without persistence, killed when dropped.
struct Redis(Child);

impl Redis {
    async fn start(port: u16) -> Self {
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run redis-server ({e}): it is a test dependency; install it with \
                     scripts/setup.sh"
                )
            });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(10), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("Ready to accept connections") {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(ready, Ok(true), "redis-server did not get ready");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self(child)
    }

    async fn stop(mut self) {
        self.0.kill().await.unwrap();
        self.0.wait().await.unwrap();
    }
}

/// A backend process; its stderr is kept for the log assertions.
struct Backend {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

async fn start_backend(upstream: &str, vars: &[(&str, &str)]) -> Backend {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("redis-limits-www");
    std::fs::create_dir_all(&dir).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_anam-backend"));
    command
        .env_clear()
        .env("ANAM_API_KEY", "sk-redis-test")
        .env("ANAM_API_BASE_URL", upstream)
        .env("ANAM_PERSONA_ID", "persona-aria")
        .env("LISTEN", "127.0.0.1:0")
        .env("WWW_DIR", &dir)
        .env("PKG_DIR", &dir);
    for (k, v) in vars {
        command.env(k, v);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let sink = stderr.clone();
    let mut err_lines = BufReader::new(child.stderr.take().unwrap()).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = err_lines.next_line().await {
            let mut s = sink.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(15), lines.next_line())
        .await
        .expect("the backend did not get ready in 15 s")
        .unwrap()
        .expect("the backend exited before its ready line");
    let addr = line
        .strip_prefix("anam-backend listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Backend {
        child,
        addr,
        stderr,
    }
}

impl Backend {
    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

/// A client whose requests come from `from` (any 127.x address is loopback).
fn client(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn mint(c: &reqwest::Client, b: &Backend) -> (u16, Value) {
    let r = c
        .post(format!("http://{}/api/session-token", b.addr))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn health(b: &Backend) -> Value {
    client("127.0.0.1")
        .get(format!("http://{}/healthz", b.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn two_replicas_share_one_limit_and_survive_a_redis_outage() {
    let (upstream, calls) = fake_upstream(Duration::ZERO).await;
    let port = free_port();
    let redis = Redis::start(port).await;
    let url = format!("redis://127.0.0.1:{port}/0");
    let budget = BUDGET.to_string();
    let vars = [
        ("REDIS_URL", url.as_str()),
        ("TOKENS_PER_USER_PER_HOUR", budget.as_str()),
        ("RATE_LIMIT_PER_MINUTE", "1000"),
    ];
    let a = start_backend(&upstream, &vars).await;
    let b = start_backend(&upstream, &vars).await;
    let mut open_vars = vars.to_vec();
    open_vars.push(("LIMITS_FAIL_OPEN", "true"));
    let open = start_backend(&upstream, &open_vars).await;

    // 3x the budget from one client, all at once, spread over both replicas.
    let c = client("127.0.0.11");
    let mut set = tokio::task::JoinSet::new();
    for i in 0..3 * BUDGET {
        let c = c.clone();
        let target = if i % 2 == 0 { a.addr } else { b.addr };
        set.spawn(async move {
            let r = c
                .post(format!("http://{target}/api/session-token"))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap();
            (status, body)
        });
    }
    let answers = set.join_all().await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(ok, BUDGET, "{answers:?}");
    assert!(answers
        .iter()
        .filter(|(s, _)| *s != 200)
        .all(|(s, v)| *s == 429 && v["error"] == "token_budget_exhausted"));
    assert_eq!(calls.load(Ordering::SeqCst), BUDGET);
    // Another client has its own budget, on either replica.
    assert_eq!(mint(&client("127.0.0.12"), &b).await.0, 200);

    // Every key the limits wrote expires by itself.
    let rc = redis::Client::open(url.as_str()).unwrap();
    let mut conn = rc.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("anam-backend:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!keys.is_empty());
    for k in &keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(k)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(ttl > 0 && ttl <= 3_600_000, "{k}: pttl {ttl}");
    }
    drop(conn);

    // Redis goes away: fail closed (503, nothing minted), fail open mints; healthz degraded.
    redis.stop().await;
    let before = calls.load(Ordering::SeqCst);
    let fresh = client("127.0.0.13");
    for backend in [&a, &b, &a, &b] {
        let (status, body) = mint(&fresh, backend).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (503, Some("limits_unavailable"))
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), before);
    assert_eq!(mint(&fresh, &open).await.0, 200);
    for backend in [&a, &b, &open] {
        assert_eq!(health(backend).await["status"], "degraded");
    }

    // Redis comes back (empty, on the same port): minting resumes without a restart.
    let redis = Redis::start(port).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    for backend in [&a, &b] {
        loop {
            let (status, _) = mint(&fresh, backend).await;
            if status == 200 {
                break;
            }
            assert_eq!(status, 503);
            assert!(Instant::now() < deadline, "minting did not resume in 15 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(health(backend).await["status"], "ok");
    }

    // One outage, one error line per replica (not one per refused request), and one recovery.
    for backend in [&a, &b] {
        let log = backend.log();
        assert_eq!(log.matches("limits store unreachable").count(), 1, "{log}");
        assert_eq!(
            log.matches("limits store reachable again").count(),
            1,
            "{log}"
        );
    }
    drop(redis);
}

#[tokio::test]
async fn sigterm_drains_the_request_in_flight() {
    let (upstream, calls) = fake_upstream(Duration::from_millis(1500)).await;
    let mut backend = start_backend(&upstream, &[]).await;
    let addr = backend.addr;
    let in_flight = tokio::spawn(async move {
        let r = client("127.0.0.1")
            .post(format!("http://{addr}/api/session-token"))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    });
    // Signal once the request has reached upstream, i.e. is in flight inside the backend.
    let deadline = Instant::now() + Duration::from_secs(10);
    while calls.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the request never reached upstream"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = backend.child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sessionToken"], "fake.token.1");
    let exit = tokio::time::timeout(Duration::from_secs(10), backend.child.wait())
        .await
        .expect("the backend did not exit after draining")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(backend.log().contains("shutting down"));
    // Nothing listens any more.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
