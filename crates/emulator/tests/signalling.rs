//! The signalling WebSocket over real sockets: unknown sessions are closed, garbage and oversized
//! frames never take a session (or its neighbours) down, a newer socket replaces an older one,
//! and a session without any socket ends after the orphan timeout.
use std::time::Duration;

use anam_emulator::config::Config;
use anam_emulator::Emulator;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const KEY: &str = "ws-test-key";

struct Server {
    base: String,
    host: String,
}

async fn server() -> Server {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        api_key: KEY.to_owned(),
        control: true,
        orphan_timeout: Duration::from_millis(400),
        ..Config::default()
    };
    let emu = Emulator::bind(config).await.unwrap();
    let addr = emu.local_addr().unwrap();
    tokio::spawn(emu.serve());
    Server {
        base: format!("http://{addr}"),
        host: addr.to_string(),
    }
}

/// Minimal HTTP/1.1 POST over a raw socket (keeps the test free of an HTTP client crate).
async fn post(server: &Server, path: &str, auth: Option<&str>, body: &Value) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(&server.host).await.unwrap();
    let body = body.to_string();
    let auth = auth
        .map(|a| format!("authorization: Bearer {a}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n{auth}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        server.host,
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let status: u16 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

async fn get_sessions(server: &Server) -> Vec<Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(&server.host).await.unwrap();
    let req = format!(
        "GET /_emulator/sessions HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
        server.host
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: Value = serde_json::from_str(body).unwrap();
    v["sessions"].as_array().cloned().unwrap_or_default()
}

async fn new_session(server: &Server) -> String {
    let (status, body) = post(
        server,
        "/v1/auth/session-token",
        Some(KEY),
        &json!({"personaConfig": {"personaId": "persona-aria"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["sessionToken"].as_str().unwrap().to_owned();
    let (status, body) = post(server, "/v1/engine/session", Some(&token), &json!({})).await;
    assert_eq!(status, 200, "{body}");
    body["sessionId"].as_str().unwrap().to_owned()
}

async fn connect(server: &Server, id: &str) -> Ws {
    let url = format!("ws://{}/ws?session_id={id}", server.host);
    connect_async(url).await.unwrap().0
}

/// The next text frame as JSON, or `None` if the socket closed (or nothing came within 5 s).
async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .ok()??;
        match msg {
            Ok(Message::Text(t)) => return Some(serde_json::from_str(t.as_str()).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// Reads until the socket ends; returns the close code if a close frame came.
async fn close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_))) | Ok(None) => return None,
            Err(_) => panic!("socket neither closed nor errored within 5 s"),
        }
    }
}

async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn unknown_sessions_are_closed_with_a_policy_code() {
    let server = server().await;
    let mut ws = connect(&server, "no-such-session").await;
    assert_eq!(close_code(&mut ws).await, Some(1008));
    let mut ws = tokio_tungstenite::connect_async(format!("ws://{}/ws", server.host))
        .await
        .unwrap()
        .0;
    assert_eq!(close_code(&mut ws).await, Some(1008));
    assert!(server.base.starts_with("http://127.0.0.1:"));
}

#[tokio::test]
async fn garbage_gets_warnings_and_the_session_lives_on() {
    let server = server().await;
    let id = new_session(&server).await;
    let mut ws = connect(&server, &id).await;
    for junk in [
        "not json",
        "[1,2,3]",
        r#"{"payload": {}}"#,
        r#"{"actionType": "offer", "sessionId": "x", "payload": 7}"#,
        r#"{"actionType": "offer", "sessionId": "x", "payload": {"connectionDescription": {"type": "offer", "sdp": "garbage"}, "userUid": "x"}}"#,
        r#"{"actionType": "somethingnew", "sessionId": "x", "payload": {}}"#,
        r#"{"actionType": "talkstream", "sessionId": "x", "payload": {"content": 5}}"#,
        r#"{"actionType": "agentaudioinput", "sessionId": "x", "payload": {"audioData": "***", "encoding": "pcm_s16le", "sampleRate": 24000, "channels": 1, "sequenceNumber": 0}}"#,
    ] {
        ws.send(Message::Text(junk.into())).await.unwrap();
        let reply = next_json(&mut ws)
            .await
            .unwrap_or_else(|| panic!("no reply to {junk}"));
        assert_eq!(reply["actionType"], "warning", "{junk} -> {reply}");
        assert_eq!(reply["sessionId"], id.as_str());
        assert!(reply["payload"].as_str().is_some_and(|s| !s.is_empty()));
    }
    ws.send(Message::Binary(vec![0u8, 159, 146, 150].into()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await.unwrap()["actionType"], "warning");
    // Heartbeats are silently accepted, and the session still takes /talk.
    ws.send(Message::Text(
        json!({"actionType": "heartbeat", "sessionId": id, "payload": ""})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let (status, _) = post(
        &server,
        &format!("/talk?session_id={id}"),
        None,
        &json!({"content": "still alive"}),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_oversized_frame_closes_only_that_socket() {
    let server = server().await;
    let id = new_session(&server).await;
    let neighbour = new_session(&server).await;
    let mut other = connect(&server, &neighbour).await;
    let mut ws = connect(&server, &id).await;
    let huge = format!(
        r#"{{"actionType":"talkstream","sessionId":"{id}","payload":{{"content":"{}","startOfSpeech":true,"endOfSpeech":true,"correlationId":"c"}}}}"#,
        "a".repeat(400 * 1024)
    );
    let _ = ws.send(Message::Text(huge.into())).await;
    assert!(
        next_json(&mut ws).await.is_none(),
        "the oversized frame was accepted"
    );
    // The session survives and takes a new socket; the neighbour never noticed.
    let mut again = connect(&server, &id).await;
    again.send(Message::Text("junk".into())).await.unwrap();
    assert_eq!(
        next_json(&mut again).await.unwrap()["actionType"],
        "warning"
    );
    other.send(Message::Text("junk".into())).await.unwrap();
    assert_eq!(
        next_json(&mut other).await.unwrap()["sessionId"],
        neighbour.as_str()
    );
}

#[tokio::test]
async fn a_newer_socket_replaces_the_older_one() {
    let server = server().await;
    let id = new_session(&server).await;
    let mut first = connect(&server, &id).await;
    let mut second = connect(&server, &id).await;
    assert_eq!(close_code(&mut first).await, Some(1000));
    second.send(Message::Text("junk".into())).await.unwrap();
    assert_eq!(
        next_json(&mut second).await.unwrap()["actionType"],
        "warning"
    );
    let sessions = get_sessions(&server).await;
    let s = sessions.iter().find(|s| s["id"] == id.as_str()).unwrap();
    assert_eq!(s["wsConnectionsTotal"], 2);
}

#[tokio::test]
async fn drop_signalling_keeps_the_session_until_the_orphan_timeout() {
    let server = server().await;
    let id = new_session(&server).await;
    let mut ws = connect(&server, &id).await;
    let (status, _) = post(
        &server,
        &format!("/_emulator/sessions/{id}/drop-signalling"),
        None,
        &json!({}),
    )
    .await;
    assert_eq!(status, 200);
    // Dropped abruptly: no close frame.
    assert_eq!(close_code(&mut ws).await, None);
    // Reconnecting within the timeout keeps it alive...
    let mut back = connect(&server, &id).await;
    back.send(Message::Text("junk".into())).await.unwrap();
    assert_eq!(next_json(&mut back).await.unwrap()["actionType"], "warning");
    // ...and once the last socket goes, the session ends on its own.
    drop(back);
    wait_until("the orphaned session to end", || async {
        get_sessions(&server)
            .await
            .iter()
            .any(|s| s["id"] == id.as_str() && s["state"] == "ended")
    })
    .await;
    let (status, body) = post(
        &server,
        &format!("/talk?session_id={id}"),
        None,
        &json!({"content": "x"}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn ending_a_session_sends_endsession_then_closes() {
    let server = server().await;
    let id = new_session(&server).await;
    let mut ws = connect(&server, &id).await;
    let (status, _) = post(
        &server,
        &format!("/_emulator/sessions/{id}/end"),
        None,
        &json!({"reason": "bye"}),
    )
    .await;
    assert_eq!(status, 200);
    let msg = next_json(&mut ws).await.unwrap();
    assert_eq!(msg["actionType"], "endsession");
    assert_eq!(msg["payload"], "bye");
    assert_eq!(close_code(&mut ws).await, Some(1000));
}

/// A client closing its socket with 1000 has left (stop, abort, page gone): the session ends
/// within a short grace instead of the whole orphan timeout; a replacement socket inside the
/// grace keeps it, and an abrupt drop still gets the whole timeout.
#[tokio::test]
async fn a_deliberate_close_ends_the_session_after_a_short_grace() {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        api_key: KEY.to_owned(),
        control: true,
        orphan_timeout: Duration::from_secs(30),
        ..Config::default()
    };
    let emu = Emulator::bind(config).await.unwrap();
    let addr = emu.local_addr().unwrap();
    tokio::spawn(emu.serve());
    let server = Server {
        base: format!("http://{addr}"),
        host: addr.to_string(),
    };
    let state = |id: String| {
        let server = &server;
        async move {
            get_sessions(server)
                .await
                .iter()
                .find(|s| s["id"] == id.as_str())
                .map(|s| s["state"].as_str().unwrap_or("").to_owned())
                .unwrap_or_default()
        }
    };

    // Closed with 1000 and never replaced: ended well before the 30 s timeout.
    let left = new_session(&server).await;
    let mut ws = connect(&server, &left).await;
    ws.close(Some(normal_close())).await.unwrap();
    let closed_at = tokio::time::Instant::now();
    wait_until("the left session to end", || async {
        state(left.clone()).await == "ended"
    })
    .await;
    assert!(closed_at.elapsed() < Duration::from_secs(5));

    // Closed with 1000 and replaced at once (an ICE restart's fresh socket): kept.
    let replaced = new_session(&server).await;
    let mut ws = connect(&server, &replaced).await;
    ws.close(Some(normal_close())).await.unwrap();
    let mut back = connect(&server, &replaced).await;
    tokio::time::sleep(DELIBERATE_GRACE_AND_MARGIN).await;
    assert_eq!(state(replaced.clone()).await, "signalling");
    back.send(Message::Text("junk".into())).await.unwrap();
    assert_eq!(next_json(&mut back).await.unwrap()["actionType"], "warning");

    // Dropped without a close frame (a network loss): the whole timeout, room to reconnect.
    let dropped = new_session(&server).await;
    let ws = connect(&server, &dropped).await;
    drop(ws);
    tokio::time::sleep(DELIBERATE_GRACE_AND_MARGIN).await;
    assert_eq!(state(dropped).await, "signalling");
    let _ = server.base;
}

fn normal_close() -> tokio_tungstenite::tungstenite::protocol::CloseFrame {
    tokio_tungstenite::tungstenite::protocol::CloseFrame {
        code: tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Normal,
        reason: "bye".into(),
    }
}

/// The emulator's grace after a deliberate close (1 s) plus room for a slow machine.
const DELIBERATE_GRACE_AND_MARGIN: Duration = Duration::from_millis(2_000);
