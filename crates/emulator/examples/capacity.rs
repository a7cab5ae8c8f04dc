//! Capacity probe: how many concurrent sessions a running emulator keeps at 25 fps.
//!
//! Starts N scripted WebRTC clients (str0m, the same as the integration tests use) against an
//! emulator, waits until every session is ready, then counts the video frames each client
//! receives over a window and reads the emulator's CPU time from /proc. The clients run on the
//! same machine, so the numbers are conservative: they compete with the emulator for the cores.
//!
//! `cargo run --release -p anam-emulator --example capacity -- --host 127.0.0.1:8787 \
//!     --key anam-emulator-dev-key --sessions 8 --seconds 10 --pid <emulator pid>`
#[path = "../tests/support/client.rs"]
mod client;

use std::time::Duration;

use client::{http, start_session, std_now, TestClient};
use serde_json::json;

struct Args {
    host: String,
    key: String,
    sessions: usize,
    seconds: u64,
    pid: Option<u32>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        host: "127.0.0.1:8787".to_owned(),
        key: "anam-emulator-dev-key".to_owned(),
        sessions: 4,
        seconds: 10,
        pid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--host" => a.host = value()?,
            "--key" => a.key = value()?,
            "--sessions" => a.sessions = value()?.parse().map_err(|_| "bad --sessions")?,
            "--seconds" => a.seconds = value()?.parse().map_err(|_| "bad --seconds")?,
            "--pid" => a.pid = Some(value()?.parse().map_err(|_| "bad --pid")?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

/// Frames sent so far by each live session (control API; empty without `--control`).
async fn frames_sent(host: &str) -> Vec<(String, u64)> {
    let (status, body) = http(
        host,
        "GET",
        "/_emulator/sessions",
        None,
        &serde_json::Value::Null,
    )
    .await;
    if status != 200 {
        return Vec::new();
    }
    body["sessions"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter(|s| s["state"] != "ended")
                .filter_map(|s| Some((s["id"].as_str()?.to_owned(), s["framesSent"].as_u64()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// utime + stime of a process, in clock ticks (USER_HZ, 100 on Linux).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("capacity: {e}");
            std::process::exit(2);
        }
    };
    let personas = ["persona-aria", "persona-milo"];
    let window = Duration::from_secs(args.seconds);
    let (tx, mut rx) = tokio::sync::mpsc::channel(args.sessions.max(1));
    let start_gate = std::sync::Arc::new(tokio::sync::Barrier::new(args.sessions + 1));
    for i in 0..args.sessions {
        let (host, key, tx, gate) = (
            args.host.clone(),
            args.key.clone(),
            tx.clone(),
            start_gate.clone(),
        );
        let persona = personas[i % personas.len()];
        tokio::spawn(async move {
            let result = async {
                let id = start_session(&host, &key, json!({ "personaId": persona })).await?;
                let mut c = TestClient::connect(&host, &id).await?;
                if !c
                    .run_until(Duration::from_secs(30), |c| c.ready && c.video_frames > 0)
                    .await
                {
                    return Err("not ready with video within 30 s".to_owned());
                }
                Ok(c)
            }
            .await;
            let mut client = match result {
                Ok(c) => Some(c),
                Err(e) => {
                    eprintln!("session {i}: {e}");
                    None
                }
            };
            gate.wait().await;
            // Measure: frames received during the window.
            let fps = match client.as_mut() {
                Some(c) => {
                    let before = c.video_frames;
                    c.run_until(window, |_| false).await;
                    Some((c.video_frames - before) as f64 / window.as_secs_f64())
                }
                None => None,
            };
            let _ = tx.send(fps).await;
        });
    }
    drop(tx);
    start_gate.wait().await;
    let t0 = std_now();
    let cpu0 = args.pid.and_then(cpu_ticks);
    let sent0 = frames_sent(&args.host).await;
    let mut rates = Vec::new();
    let mut failed = 0;
    while let Some(r) = rx.recv().await {
        match r {
            Some(fps) => rates.push(fps),
            None => failed += 1,
        }
    }
    let elapsed = std_now().duration_since(t0).as_secs_f64();
    let sent1 = frames_sent(&args.host).await;
    // Server side (needs --control): frames each live session sent during the window.
    let mut sent_rates: Vec<f64> = sent1
        .iter()
        .filter_map(|(id, n)| {
            let before = sent0.iter().find(|(i, _)| i == id)?.1;
            Some((n - before) as f64 / elapsed)
        })
        .collect();
    sent_rates.sort_by(|a, b| a.total_cmp(b));
    let sent = match (sent_rates.first(), sent_rates.is_empty()) {
        (Some(min), false) => format!(
            "sent_fps_min={min:.1} sent_fps_avg={:.1}",
            sent_rates.iter().sum::<f64>() / sent_rates.len() as f64
        ),
        _ => "sent_fps=n/a".to_owned(),
    };
    let cpu = match (cpu0, args.pid.and_then(cpu_ticks)) {
        (Some(a), Some(b)) => format!("{:.0}%", (b - a) as f64 / 100.0 / elapsed * 100.0),
        _ => "n/a".to_owned(),
    };
    rates.sort_by(|a, b| a.total_cmp(b));
    let min = rates.first().copied().unwrap_or(0.0);
    let avg = if rates.is_empty() {
        0.0
    } else {
        rates.iter().sum::<f64>() / rates.len() as f64
    };
    let at_25 = rates.iter().filter(|r| **r >= 24.0).count();
    println!(
        "sessions={} ok={} failed={} recv_fps_min={:.1} recv_fps_avg={:.1} recv_at_24fps_or_more={} {sent} emulator_cpu={}",
        args.sessions,
        rates.len(),
        failed,
        min,
        avg,
        at_25,
        cpu
    );
}
