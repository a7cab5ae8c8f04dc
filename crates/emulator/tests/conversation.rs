//! A whole conversation against a real emulator over real sockets, with a scripted str0m client
//! in the browser's place: offer/answer, ICE, `sessionready`, video and audio, `/talk` and a user
//! message with their `speechText` transcripts, an interrupt, and an ICE-restarting second offer.
mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::client::{http, start_session, TestClient};

const KEY: &str = "conversation-key";

async fn server() -> String {
    support::serve_emulator(KEY, true).await
}

/// The persona messages of `speech`, by message id, as (joined text, last chunk).
fn persona_message<'a>(speech: &'a [Value], id: &str) -> (String, Option<&'a Value>) {
    let chunks: Vec<&Value> = speech.iter().filter(|d| d["message_id"] == id).collect();
    let text = chunks
        .iter()
        .map(|d| d["content"].as_str().unwrap_or(""))
        .collect();
    (text, chunks.last().copied())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_client_converses_with_the_persona() {
    let host = server().await;
    let id = start_session(&host, KEY, json!({"personaId": "persona-milo"}))
        .await
        .unwrap();
    let mut c = TestClient::connect(&host, &id).await.unwrap();

    assert!(
        c.run_until(Duration::from_secs(20), |c| c.ready).await,
        "no sessionready"
    );
    assert!(c.connected);
    // Media flows: audio at once, video once the (shared) frame bank exists.
    assert!(
        c.run_until(Duration::from_secs(60), |c| c.video_frames >= 5
            && c.audio_packets >= 10)
            .await,
        "media: {} frames, {} audio packets",
        c.video_frames,
        c.audio_packets
    );

    // /talk: persona chunks with one message id, rising indexes, the last one ending speech.
    let (status, _) = http(
        &host,
        "POST",
        &format!("/talk?session_id={id}"),
        None,
        &json!({"content": "Good morning to you"}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        c.run_until(Duration::from_secs(20), |c| c
            .speech
            .iter()
            .any(|d| d["end_of_speech"] == true))
            .await
    );
    let first = c.speech[0]["message_id"].as_str().unwrap().to_owned();
    let (text, last) = persona_message(&c.speech, &first);
    assert_eq!(
        text.split_whitespace().collect::<Vec<_>>().join(" "),
        "Good morning to you"
    );
    assert_eq!(last.unwrap()["role"], "persona");
    let indexes: Vec<u64> = c
        .speech
        .iter()
        .filter(|d| d["message_id"] == first.as_str())
        .map(|d| d["content_index"].as_u64().unwrap())
        .collect();
    assert!(indexes.windows(2).all(|w| w[1] == w[0] + 1), "{indexes:?}");

    // A user message: echoed once as a user transcript, answered by a reply that quotes it.
    let before = c.speech.len();
    assert!(c.send_data(&json!({"message_type": "speech", "content": "tell me a story", "session_id": id, "timestamp": "2026-01-01T00:00:00.000"}).to_string()));
    assert!(
        c.run_until(Duration::from_secs(30), |c| c.speech[before..]
            .iter()
            .any(|d| d["role"] == "persona" && d["end_of_speech"] == true))
            .await,
        "no persona reply"
    );
    let new = &c.speech[before..];
    let users: Vec<&Value> = new.iter().filter(|d| d["role"] == "user").collect();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["content"], "tell me a story");
    assert_eq!(users[0]["end_of_speech"], true);
    let reply_id = new.iter().find(|d| d["role"] == "persona").unwrap()["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(persona_message(new, &reply_id)
        .0
        .contains("tell me a story"));

    // Interrupt mid-sentence: a final chunk with interrupted: true, before the text is through.
    let long = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen";
    http(
        &host,
        "POST",
        &format!("/talk?session_id={id}"),
        None,
        &json!({"content": long}),
    )
    .await;
    let before = c.speech.len();
    assert!(
        c.run_until(Duration::from_secs(20), |c| c.speech.len() > before)
            .await
    );
    assert!(c.send_data(&json!({"message_type": "interrupt", "session_id": id, "timestamp": "2026-01-01T00:00:00.000Z"}).to_string()));
    assert!(
        c.run_until(Duration::from_secs(10), |c| c.speech[before..]
            .iter()
            .any(|d| d["interrupted"] == true))
            .await
    );
    let cut = c.speech[before..]
        .iter()
        .find(|d| d["interrupted"] == true)
        .unwrap()
        .clone();
    assert_eq!(cut["end_of_speech"], true);
    let (said, _) = persona_message(&c.speech, cut["message_id"].as_str().unwrap());
    assert!(
        said.split_whitespace().count() < long.split_whitespace().count(),
        "{said}"
    );

    // A second offer with new ICE credentials is an ICE restart of the same peer: answered,
    // and media keeps flowing on the same session.
    c.restart_ice().await.unwrap();
    let frames = c.video_frames;
    assert!(
        c.run_until(Duration::from_secs(20), |c| c.answered()
            && c.video_frames >= frames + 25)
            .await,
        "no answer or no media after the ICE restart"
    );

    let (_, sessions) = http(&host, "GET", "/_emulator/sessions", None, &Value::Null).await;
    let s = &sessions["sessions"][0];
    assert_eq!(s["userMessagesReceived"], 1);
    assert_eq!(s["interruptsReceived"], 1);
    assert!(s["framesSent"].as_u64().unwrap() >= 5);
    assert_eq!(s["state"], "ready");
}
