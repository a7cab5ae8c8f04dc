//! The real `anam-backend` binary under load and abuse, over real sockets:
//! - while a burst of token requests waits on a deliberately slow upstream, `/healthz` and
//!   `/api/config` keep answering quickly;
//! - thousands of abusive requests (oversized bodies, bad JSON, wrong content types and methods,
//!   foreign origins, a burst past the rate limit) each get the right status, and the process's
//!   resident memory stays flat between a warm-up round and a measured round of the same size.
//!
//! Requests are raw HTTP/1.1, one connection each, so a test controls every byte and the source
//! address (the rate limit is per client address, and all of 127.0.0.0/8 is loopback).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket};
use tokio::process::{Child, Command};
use tokio::task::JoinSet;
use tokio::time::Instant;

const KEY: &str = "sk-abuse-load-test-key";
const ALLOWED_ORIGIN: &str = "http://allowed.test";

/// A fake Anam API: session tokens after `delay`, personas at once. Counts the token calls in
/// flight and their peak, to show the backend does not serialise them.
struct FakeUpstream {
    url: String,
    in_flight: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

async fn fake_upstream(delay: Duration) -> FakeUpstream {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let (now_in, peak_in, calls_in) = (in_flight.clone(), peak.clone(), calls.clone());
    let app = Router::new()
        .route(
            "/v1/auth/session-token",
            post(move || {
                let (now_in, peak_in) = (now_in.clone(), peak_in.clone());
                calls_in.fetch_add(1, Ordering::SeqCst);
                async move {
                    let n = now_in.fetch_add(1, Ordering::SeqCst) + 1;
                    peak_in.fetch_max(n, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    now_in.fetch_sub(1, Ordering::SeqCst);
                    Json(json!({ "sessionToken": "fake.session.token" }))
                }
            }),
        )
        .route("/v1/personas", get(|| async { Json(json!([])) }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    FakeUpstream {
        url,
        in_flight,
        peak,
        calls,
    }
}

/// The backend binary, killed when dropped.
struct Backend {
    child: Child,
    addr: SocketAddr,
}

async fn start_backend(upstream: &str, rate_limit_per_minute: u32) -> Backend {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("abuse-load-www");
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_anam-backend"))
        .env_clear()
        .env("ANAM_API_KEY", KEY)
        .env("ANAM_API_BASE_URL", upstream)
        .env("ANAM_PERSONA_ID", "persona-aria")
        .env("LISTEN", "127.0.0.1:0")
        .env("ALLOWED_ORIGINS", ALLOWED_ORIGIN)
        .env("RATE_LIMIT_PER_MINUTE", rate_limit_per_minute.to_string())
        .env("WWW_DIR", &dir)
        .env("PKG_DIR", &dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(15), lines.next_line())
        .await
        .expect("the backend did not get ready in 15 s")
        .unwrap()
        .expect("the backend exited before its ready line");
    let url = line
        .strip_prefix("anam-backend listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let addr = url.parse().unwrap();
    // Keep reading stdout so the backend never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Backend { child, addr }
}

impl Backend {
    /// Resident set size of the process, from /proc (kB → bytes).
    fn rss_bytes(&self) -> u64 {
        let pid = self.child.id().expect("the backend is running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS in /proc/<pid>/status");
        kb * 1024
    }
}

/// One request on its own connection from `from`; returns the status (0 if there was no
/// readable answer).
async fn request(to: SocketAddr, from: IpAddr, head: String, body: Vec<u8>) -> u16 {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    let Ok(mut stream) = socket.connect(to).await else {
        return 0;
    };
    // The server may answer and close before taking the whole body (an oversized one): a
    // failed write is fine as long as the answer can be read.
    if stream.write_all(head.as_bytes()).await.is_ok() {
        let _ = stream.write_all(&body).await;
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn head(method: &str, path: &str, extra: &[(&str, &str)], body_len: Option<usize>) -> String {
    let mut h = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n");
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(n) = body_len {
        h.push_str(&format!("content-length: {n}\r\n"));
    }
    h.push_str("\r\n");
    h
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upstream_does_not_hold_up_other_requests() {
    const SLOW: Duration = Duration::from_secs(2);
    const BURST: usize = 64;
    let upstream = fake_upstream(SLOW).await;
    let backend = start_backend(&upstream.url, 100_000).await;
    let to = backend.addr;
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);

    let started = Instant::now();
    let mut burst = JoinSet::new();
    for _ in 0..BURST {
        let h = head(
            "POST",
            "/api/session-token",
            &[("content-type", "application/json")],
            Some(2),
        );
        burst.spawn(async move { request(to, local, h, b"{}".to_vec()).await });
    }
    // Measure only while the burst really is waiting upstream.
    let deadline = Instant::now() + Duration::from_secs(5);
    while upstream.in_flight.load(Ordering::SeqCst) < BURST / 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        upstream.in_flight.load(Ordering::SeqCst) >= BURST / 2,
        "the burst never reached the upstream"
    );
    let mut latencies = Vec::new();
    let mut measured_while_waiting = 0;
    for i in 0..100 {
        let path = if i % 2 == 0 {
            "/healthz"
        } else {
            "/api/config"
        };
        let t = Instant::now();
        let status = request(to, local, head("GET", path, &[], None), Vec::new()).await;
        latencies.push(t.elapsed());
        assert_eq!(status, 200, "GET {path} during the burst");
        if upstream.in_flight.load(Ordering::SeqCst) > 0 {
            measured_while_waiting += 1;
        }
    }
    latencies.sort();
    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    println!(
        "fast path during the slow burst: p50 {p50:?}, p99 {p99:?}, max {:?}; {measured_while_waiting}/100 measured with the burst upstream",
        latencies.last().copied().unwrap_or_default()
    );
    assert!(p99 < Duration::from_millis(500), "p99 {p99:?}");
    assert!(
        measured_while_waiting >= 50,
        "the fast requests were not measured during the burst"
    );

    let mut ok = 0;
    while let Some(status) = burst.join_next().await {
        assert_eq!(status.unwrap(), 200, "a slow token request");
        ok += 1;
    }
    let took = started.elapsed();
    assert_eq!(ok, BURST);
    assert!(took >= SLOW, "the upstream really was slow ({took:?})");
    // Waited on side by side, not one after another (64 x 2 s).
    assert!(took < SLOW * 4, "the burst took {took:?}");
    assert!(upstream.peak.load(Ordering::SeqCst) >= BURST / 2);
}

/// What one abusive request is and the status it must get.
#[derive(Clone, Copy, Debug)]
enum Abuse {
    OversizedDeclared,
    OversizedChunked,
    BadJson,
    WrongContentType,
    WrongMethodHealthz,
    WrongMethodToken,
    ForeignOrigin,
    PastRateLimit,
}

const KINDS: [Abuse; 8] = [
    Abuse::OversizedDeclared,
    Abuse::OversizedChunked,
    Abuse::BadJson,
    Abuse::WrongContentType,
    Abuse::WrongMethodHealthz,
    Abuse::WrongMethodToken,
    Abuse::ForeignOrigin,
    Abuse::PastRateLimit,
];

impl Abuse {
    /// Requests that would otherwise spend the shared rate budget come from an address of their
    /// own, so that they reach the check they are about.
    fn needs_fresh_address(self) -> bool {
        matches!(
            self,
            Abuse::OversizedDeclared
                | Abuse::OversizedChunked
                | Abuse::BadJson
                | Abuse::WrongContentType
                | Abuse::WrongMethodToken
        )
    }

    fn expected(self) -> u16 {
        match self {
            Abuse::OversizedDeclared | Abuse::OversizedChunked => 413,
            Abuse::BadJson => 400,
            Abuse::WrongContentType => 415,
            Abuse::WrongMethodHealthz | Abuse::WrongMethodToken => 405,
            Abuse::ForeignOrigin => 403,
            Abuse::PastRateLimit => 429,
        }
    }

    fn build(self) -> (String, Vec<u8>) {
        let json = [("content-type", "application/json")];
        match self {
            Abuse::OversizedDeclared => {
                // 64 KiB declared, only the first 1 KiB sent: refused on the header alone.
                let h = head("POST", "/api/session-token", &json, Some(64 * 1024));
                (h, vec![b' '; 1024])
            }
            Abuse::OversizedChunked => {
                // No Content-Length: 32 KiB in 1 KiB chunks, refused while reading.
                let h = head(
                    "POST",
                    "/api/session-token",
                    &[
                        ("content-type", "application/json"),
                        ("transfer-encoding", "chunked"),
                    ],
                    None,
                );
                let mut body = Vec::new();
                for _ in 0..32 {
                    body.extend_from_slice(b"400\r\n");
                    body.extend_from_slice(&[b' '; 1024]);
                    body.extend_from_slice(b"\r\n");
                }
                body.extend_from_slice(b"0\r\n\r\n");
                (h, body)
            }
            Abuse::BadJson => {
                let body = b"{\"personaId\": ".to_vec();
                (
                    head("POST", "/api/session-token", &json, Some(body.len())),
                    body,
                )
            }
            Abuse::WrongContentType => {
                let body = b"personaId=persona-aria".to_vec();
                let h = head(
                    "POST",
                    "/api/session-token",
                    &[("content-type", "application/x-www-form-urlencoded")],
                    Some(body.len()),
                );
                (h, body)
            }
            Abuse::WrongMethodHealthz => (head("POST", "/healthz", &[], Some(0)), Vec::new()),
            Abuse::WrongMethodToken => {
                (head("DELETE", "/api/session-token", &[], None), Vec::new())
            }
            Abuse::ForeignOrigin => {
                let h = head(
                    "POST",
                    "/api/session-token",
                    &[
                        ("content-type", "application/json"),
                        ("origin", "http://evil.test"),
                    ],
                    Some(2),
                );
                (h, b"{}".to_vec())
            }
            Abuse::PastRateLimit => {
                let h = head(
                    "POST",
                    "/api/session-token",
                    &[
                        ("content-type", "application/json"),
                        ("origin", ALLOWED_ORIGIN),
                    ],
                    Some(2),
                );
                (h, b"{}".to_vec())
            }
        }
    }
}

/// A distinct loopback address per call: 127.1.0.1, 127.1.0.2, …
fn fresh_address(n: usize) -> IpAddr {
    let n = n + 1;
    IpAddr::V4(Ipv4Addr::new(127, 1, (n / 250) as u8, (n % 250 + 1) as u8))
}

/// Sends `count` abusive requests, 16 at a time; returns the mismatches as (kind, status).
async fn abuse_round(to: SocketAddr, count: usize, next_address: &mut usize) -> Vec<(Abuse, u16)> {
    let mut set = JoinSet::new();
    let mut wrong = Vec::new();
    for i in 0..count {
        let kind = KINDS[i % KINDS.len()];
        let from = if kind.needs_fresh_address() {
            *next_address += 1;
            fresh_address(*next_address)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        };
        let (h, body) = kind.build();
        set.spawn(async move { (kind, request(to, from, h, body).await) });
        if set.len() >= 16 {
            if let Some(Ok((kind, status))) = set.join_next().await {
                if status != kind.expected() {
                    wrong.push((kind, status));
                }
            }
        }
    }
    while let Some(r) = set.join_next().await {
        let (kind, status) = r.unwrap();
        if status != kind.expected() {
            wrong.push((kind, status));
        }
    }
    wrong
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_gets_the_right_status_and_memory_stays_flat() {
    const ROUND: usize = 2_000;
    let upstream = fake_upstream(Duration::ZERO).await;
    // One token per minute per address: the first valid request from 127.0.0.1 is served, every
    // later one is past the limit for the rest of this (much shorter than a minute) test.
    let backend = start_backend(&upstream.url, 1).await;
    let to = backend.addr;
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let (h, body) = Abuse::PastRateLimit.build();
    assert_eq!(
        request(to, local, h, body).await,
        200,
        "the first one is served"
    );

    let rss_start = backend.rss_bytes();
    let mut next_address = 0;
    let started = Instant::now();
    let wrong = abuse_round(to, ROUND, &mut next_address).await;
    assert!(wrong.is_empty(), "warm-up: wrong statuses {wrong:?}");
    let rss_warm = backend.rss_bytes();
    let wrong = abuse_round(to, ROUND, &mut next_address).await;
    assert!(wrong.is_empty(), "measured round: wrong statuses {wrong:?}");
    let rss_after = backend.rss_bytes();
    let took = started.elapsed();

    // Still serving, and the rate limit still holds for the flooded address.
    let health = head("GET", "/healthz", &[], None);
    assert_eq!(request(to, local, health, Vec::new()).await, 200);
    let (h, body) = Abuse::PastRateLimit.build();
    assert_eq!(request(to, local, h, body).await, 429);
    assert_eq!(
        upstream.calls.load(Ordering::SeqCst),
        1,
        "only the first request reached the upstream"
    );

    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "{} abusive requests in {took:?} from {next_address} fresh addresses; RSS start {:.1} MiB, after warm-up {:.1} MiB, after the measured round {:.1} MiB (growth {:+.2} MiB)",
        2 * ROUND,
        mib(rss_start),
        mib(rss_warm),
        mib(rss_after),
        mib(rss_after) - mib(rss_warm)
    );
    assert!(
        rss_after <= rss_warm + 5 * 1024 * 1024,
        "RSS grew from {:.1} MiB to {:.1} MiB over {ROUND} abusive requests",
        mib(rss_warm),
        mib(rss_after)
    );
}
