//! The control API's `stop-media` over real sockets: it exists only with `--control`, wants a
//! live session, and kills a session's media path for good (no media, no answers to ICE) while
//! its signalling keeps working, which is what a browser needs to see to restart ICE and then
//! give up with `WEBRTC_FAILURE`.
mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::client::{http, start_session, TestClient};

const KEY: &str = "stop-media-key";

async fn server(control: bool) -> String {
    support::serve_emulator(KEY, control).await
}

async fn stop_media(host: &str, id: &str) -> (u16, Value) {
    let path = format!("/_emulator/sessions/{id}/stop-media");
    http(host, "POST", &path, None, &Value::Null).await
}

async fn snapshot(host: &str, id: &str) -> Value {
    let (_, body) = http(host, "GET", "/_emulator/sessions", None, &Value::Null).await;
    body["sessions"]
        .as_array()
        .and_then(|l| l.iter().find(|s| s["id"] == id))
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn stop_media_is_refused_without_control_and_for_unknown_sessions() {
    // Without --control the route does not exist, even for a live session.
    let plain = server(false).await;
    let id = start_session(&plain, KEY, json!({"personaId": "persona-aria"}))
        .await
        .unwrap();
    let (status, body) = stop_media(&plain, &id).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].is_string(), "a JSON error body: {body}");

    let host = server(true).await;
    let (status, body) = stop_media(&host, "no-such-session").await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].is_string(), "a JSON error body: {body}");
    let id = start_session(&host, KEY, json!({"personaId": "persona-aria"}))
        .await
        .unwrap();
    let (status, body) = stop_media(&host, &id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sessionId"], id.as_str());
    // Ending the session makes the id unknown again.
    let (status, _) = http(
        &host,
        "POST",
        &format!("/_emulator/sessions/{id}/end"),
        None,
        &Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let mut gone = false;
    for _ in 0..200 {
        if stop_media(&host, &id).await.0 == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone, "stop-media for an ended session is a 404");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_media_kills_the_media_path_but_not_signalling() {
    let host = server(true).await;
    let id = start_session(&host, KEY, json!({"personaId": "persona-aria"}))
        .await
        .unwrap();
    let mut c = TestClient::connect(&host, &id).await.unwrap();
    assert!(
        c.run_until(Duration::from_secs(20), |c| c.ready).await,
        "no sessionready"
    );
    assert!(
        c.run_until(Duration::from_secs(60), |c| c.video_frames >= 5
            && c.audio_packets >= 10)
            .await,
        "media never flowed: {} frames, {} audio packets",
        c.video_frames,
        c.audio_packets
    );

    let (status, body) = stop_media(&host, &id).await;
    assert_eq!(status, 200, "{body}");
    // Idempotent: a second call changes nothing and is not an error.
    assert_eq!(stop_media(&host, &id).await.0, 200);

    // Let what was already in flight arrive, then nothing more may come.
    c.run_until(Duration::from_millis(300), |_| false).await;
    let (frames, audio) = (c.video_frames, c.audio_packets);
    let sent = snapshot(&host, &id).await;
    c.run_until(Duration::from_secs(2), |_| false).await;
    assert_eq!(
        (c.video_frames, c.audio_packets),
        (frames, audio),
        "media still arrives after stop-media"
    );
    let later = snapshot(&host, &id).await;
    assert_eq!(later["framesSent"], sent["framesSent"]);
    assert_eq!(later["audioPacketsSent"], sent["audioPacketsSent"]);

    // Signalling is alive: an ICE-restarting offer is answered, yet the media path stays dead,
    // since the emulator no longer answers the restarted ICE checks either.
    c.restart_ice().await.unwrap();
    assert!(
        c.run_until(Duration::from_secs(10), |c| c.answered()).await,
        "the restart offer was not answered"
    );
    c.run_until(Duration::from_secs(3), |_| false).await;
    assert_eq!((c.video_frames, c.audio_packets), (frames, audio));
    assert!(!c.ws_closed, "signalling must stay up");
    let (status, _) = http(
        &host,
        "POST",
        &format!("/talk?session_id={id}"),
        None,
        &json!({"content": "still there"}),
    )
    .await;
    assert_eq!(status, 200, "the session itself lives on");
    assert_eq!(snapshot(&host, &id).await["state"], "ready");
}
