//! The binary's contract with whoever starts it: one clear line and a non-zero exit for every
//! configuration mistake, and the ready line once it serves.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn backend(vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_anam-backend"));
    cmd.env_clear();
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// Runs a configuration that must be refused; returns its stderr.
fn refused(vars: &[(&str, &str)]) -> String {
    let out = backend(vars).stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{vars:?} should be refused; stderr: {stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing on stdout when refusing");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line: {stderr:?}");
    assert!(lines[0].starts_with("anam-backend: "), "{stderr}");
    stderr
}

#[test]
fn refuses_to_start_with_one_clear_line() {
    let key = ("ANAM_API_KEY", "k");
    let persona = ("ANAM_PERSONA_ID", "persona-aria");
    let missing = std::env::temp_dir().join("anam-backend-no-such-file.json");
    let missing = missing.to_str().unwrap();
    let garbage =
        std::env::temp_dir().join(format!("anam-backend-bad-{}.json", std::process::id()));
    std::fs::write(&garbage, "{ not json").unwrap();
    let garbage = garbage.to_str().unwrap();

    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![persona], "ANAM_API_KEY"),
        (vec![key], "ANAM_PERSONA_ID"),
        (vec![key, persona, ("ANAM_PERSONA_CONFIG", missing)], "both"),
        (
            vec![key, ("ANAM_PERSONA_CONFIG", missing)],
            "cannot be read",
        ),
        (
            vec![key, ("ANAM_PERSONA_CONFIG", garbage)],
            "not a valid persona config",
        ),
        (vec![key, persona, ("LISTEN", "not-an-address")], "LISTEN"),
        (
            vec![key, persona, ("RATE_LIMIT_PER_MINUTE", "0")],
            "RATE_LIMIT_PER_MINUTE",
        ),
        (
            vec![key, persona, ("RATE_LIMIT_PER_MINUTE", "lots")],
            "RATE_LIMIT_PER_MINUTE",
        ),
        (
            vec![key, persona, ("ANAM_API_BASE_URL", "api.anam.ai")],
            "ANAM_API_BASE_URL",
        ),
        (
            vec![key, persona, ("ALLOWED_ORIGINS", "*")],
            "ALLOWED_ORIGINS",
        ),
    ];
    for (vars, needle) in cases {
        let line = refused(&vars);
        assert!(line.contains(needle), "{vars:?}: {line}");
    }
}

#[test]
fn refusal_never_echoes_the_key() {
    let line = refused(&[("ANAM_API_KEY", "sk-should-not-appear"), ("LISTEN", "x")]);
    assert!(!line.contains("sk-should-not-appear"));
}

#[test]
fn prints_the_ready_line_and_serves_on_port_zero() {
    let mut child = backend(&[
        ("ANAM_API_KEY", "k"),
        // Nothing listens there: the startup name lookup fails fast and is not fatal.
        ("ANAM_API_BASE_URL", "http://127.0.0.1:9"),
        ("ANAM_PERSONA_ID", "persona-aria"),
        ("LISTEN", "127.0.0.1:0"),
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    // Read on a thread so that a hung binary fails the test instead of blocking it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            panic!("no ready line within 20 s");
        }
    };
    let port = line
        .trim_end()
        .strip_prefix("anam-backend listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected ready line {line:?}"));
    let port: u16 = port.parse().unwrap();
    assert_ne!(port, 0);

    // A raw HTTP/1.1 request keeps this test free of an async runtime.
    use std::io::{Read, Write};
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    let _ = sock.read_to_string(&mut reply);
    let _ = child.kill();
    let _ = child.wait();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("x-request-id:"), "{reply}");
    assert!(reply.ends_with(r#"{"status":"ok"}"#), "{reply}");
}
