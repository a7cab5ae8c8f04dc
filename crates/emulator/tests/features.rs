//! Issue 10's features against a real emulator over real sockets, with the scripted str0m client
//! in the browser's place: the toy model's tool calls (client and server, success, failure and
//! timeout), reasoning, context, director cues, stats, raw messages, the control routes that
//! push data-channel messages, user speech detection on the microphone track, agent audio and
//! talk-stream utterance ids.
mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::client::{http, start_session, TestClient};

const KEY: &str = "features-key";
/// Persona speech is paced in real time; a sentence takes a few seconds.
const SPEECH: Duration = Duration::from_secs(30);

async fn server() -> String {
    support::serve_emulator(KEY, true).await
}

async fn ready_client(host: &str) -> TestClient {
    let id = start_session(host, KEY, json!({"personaId": "persona-aria"}))
        .await
        .unwrap();
    let mut c = TestClient::connect(host, &id).await.unwrap();
    assert!(
        c.run_until(Duration::from_secs(20), |c| c.ready).await,
        "no sessionready"
    );
    c
}

fn say(c: &mut TestClient, text: &str) {
    let msg = json!({"message_type": "speech", "content": text, "session_id": c.session_id, "timestamp": "2026-01-01T00:00:00.000"});
    assert!(c.send_data(&msg.to_string()));
}

/// The `data` of messages of `kind` received from index `from` on.
fn of_kind(c: &TestClient, from: usize, kind: &str) -> Vec<Value> {
    c.data[from..]
        .iter()
        .filter(|m| m["messageType"] == kind)
        .map(|m| m["data"].clone())
        .collect()
}

/// How long a reply the emulator sends at once may take on a loaded machine.
const SHORT: Duration = Duration::from_secs(5);

/// Runs the client until a message of `kind` arrived from index `from` on; returns the first.
async fn first_of_kind(c: &mut TestClient, from: usize, kind: &str, within: Duration) -> Value {
    let arrived = c
        .run_until(within, |c| !of_kind(c, from, kind).is_empty())
        .await;
    assert!(arrived, "no {kind} within {within:?}");
    of_kind(c, from, kind)[0].clone()
}

/// The finished persona messages after index `from`, as texts, in order.
fn persona_messages(c: &TestClient, from: usize) -> Vec<String> {
    let speech = of_kind(c, from, "speechText");
    let mut ids: Vec<&Value> = Vec::new();
    for d in &speech {
        if d["role"] == "persona" && d["end_of_speech"] == true && !ids.contains(&&d["message_id"])
        {
            ids.push(&d["message_id"]);
        }
    }
    ids.iter()
        .map(|id| {
            speech
                .iter()
                .filter(|d| d["message_id"] == **id)
                .map(|d| d["content"].as_str().unwrap_or(""))
                .collect()
        })
        .collect()
}

/// Waits for a finished persona message after index `from` that contains `needle`
/// (case-insensitive), and returns it. Other lines may come in between: the timeout of an
/// unanswered tool call is spoken whenever it falls due.
async fn persona_reply(c: &mut TestClient, from: usize, needle: &str) -> String {
    let needle = needle.to_lowercase();
    let hit = |c: &TestClient| {
        persona_messages(c, from)
            .into_iter()
            .find(|m| m.to_lowercase().contains(&needle))
    };
    let found = c.run_until(SPEECH, |c| hit(c).is_some()).await;
    assert!(
        found,
        "no persona reply with {needle:?}: {:?}",
        persona_messages(c, from)
    );
    hit(c).unwrap_or_default()
}

async fn snapshot(host: &str, id: &str) -> Value {
    let (_, body) = http(host, "GET", "/_emulator/sessions", None, &Value::Null).await;
    body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .cloned()
        .unwrap()
}

fn tool_result(c: &TestClient, call: &Value, result: Option<&str>, error: Option<&str>) -> String {
    let mut msg = json!({
        "message_type": "tool_result",
        "session_id": c.session_id,
        "tool_call_id": call["tool_call_id"],
        "user_action_correlation_id": call["user_action_correlation_id"],
        "timestamp_user_action": call["timestamp_user_action"],
    });
    if let Some(r) = result {
        msg["result"] = json!(r);
    }
    if let Some(e) = error {
        msg["error"] = json!(e);
    }
    msg.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_reasoning_context_and_bookkeeping() {
    let host = server().await;
    let mut c = ready_client(&host).await;
    let sid = c.session_id.clone();

    // A client tool nobody answers: it fails after 10 s (checked at the end).
    let start = c.data.len();
    say(&mut c, "Open the pricing page, but I will not answer");
    let unanswered = first_of_kind(&mut c, start, "toolCallStarted", SHORT).await;
    let started_at = support::client::std_now();

    // Context, then a thought and a reply that quotes it.
    let ctx =
        json!({"message_type": "context", "session_id": sid, "content": "The user's name is Ada."});
    assert!(c.send_data(&ctx.to_string()));
    let start = c.data.len();
    say(&mut c, "Think first: what context do you have?");
    persona_reply(&mut c, start, "The user's name is Ada.").await;
    let thought = of_kind(&c, start, "reasoningText");
    assert!((2..=3).contains(&thought.len()), "{thought:?}");
    for (i, t) in thought.iter().enumerate() {
        assert_eq!(t["message_id"], thought[0]["message_id"]);
        assert_eq!(t["content_index"], i);
        assert_eq!(t["role"], "persona");
        assert_eq!(t["end_of_thought"], i + 1 == thought.len());
    }
    // The thought comes before the reply's first word.
    let first_reasoning = c.data[start..]
        .iter()
        .position(|m| m["messageType"] == "reasoningText")
        .unwrap();
    let first_persona = c.data[start..]
        .iter()
        .position(|m| m["messageType"] == "speechText" && m["data"]["role"] == "persona")
        .unwrap();
    assert!(first_reasoning < first_persona);

    // The client tool: legacy event and started, our result, completed, a line quoting it.
    let start = c.data.len();
    say(&mut c, "please OPEN THE PRICING PAGE");
    assert!(
        c.run_until(Duration::from_secs(5), |c| !of_kind(
            c,
            start,
            "toolCallStarted"
        )
        .is_empty()
            && !of_kind(c, start, "clientToolEvent").is_empty())
            .await
    );
    let call = of_kind(&c, start, "toolCallStarted")[0].clone();
    let legacy = of_kind(&c, start, "clientToolEvent")[0].clone();
    assert_eq!(call["tool_name"], "open_page");
    assert_eq!(call["tool_type"], "client");
    assert_eq!(call["arguments"], json!({"url": "/pricing"}));
    assert_eq!(call["session_id"], sid.as_str());
    assert_eq!(call["used_outside_engine"], true);
    assert!(call["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(call["timestamp_user_action"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    assert_ne!(call["tool_call_id"], unanswered["tool_call_id"]);
    assert_eq!(legacy["event_name"], "open_page");
    assert_eq!(legacy["event_data"], json!({"url": "/pricing"}));
    assert_eq!(
        legacy["user_action_correlation_id"],
        call["user_action_correlation_id"]
    );
    // The user's message carries the same correlation id.
    let echo = of_kind(&c, start, "speechText")
        .into_iter()
        .find(|d| d["role"] == "user")
        .unwrap();
    assert_eq!(
        echo["user_action_correlation_id"],
        call["user_action_correlation_id"]
    );
    let start = c.data.len();
    assert!(c.send_data(&tool_result(
        &c,
        &call,
        Some("Pricing: 9 EUR a month"),
        None
    )));
    persona_reply(&mut c, start, "Pricing: 9 EUR a month").await;
    let done = of_kind(&c, start, "toolCallCompleted");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["tool_call_id"], call["tool_call_id"]);
    assert_eq!(done[0]["result"], "Pricing: 9 EUR a month");

    // The client tool again, failing in the client's handler.
    let start = c.data.len();
    say(&mut c, "open the pricing page once more");
    let call = first_of_kind(&mut c, start, "toolCallStarted", SHORT).await;
    let start = c.data.len();
    assert!(c.send_data(&tool_result(
        &c,
        &call,
        None,
        Some("Error in handler: no browser")
    )));
    persona_reply(&mut c, start, "could not").await;
    let failed = of_kind(&c, start, "toolCallFailed");
    assert_eq!(failed[0]["error_message"], "Error in handler: no browser");
    assert_eq!(failed[0]["tool_call_id"], call["tool_call_id"]);

    // The server tool: started, completed a moment later, the forecast said.
    let start = c.data.len();
    say(&mut c, "What's the weather in Paris?");
    persona_reply(&mut c, start, "forecast for Paris is sunny").await;
    let started = of_kind(&c, start, "toolCallStarted");
    let completed = of_kind(&c, start, "toolCallCompleted");
    assert_eq!(started[0]["tool_name"], "get_weather");
    assert_eq!(started[0]["tool_type"], "server");
    assert_eq!(started[0]["tool_subtype"], "webhook");
    assert_eq!(started[0]["arguments"], json!({"city": "Paris"}));
    assert_eq!(
        completed[0]["result"],
        json!({"city": "Paris", "forecast": "sunny", "temperatureC": 21})
    );
    assert_eq!(completed[0]["tool_call_id"], started[0]["tool_call_id"]);

    // ... and failing for Atlantis.
    let start = c.data.len();
    say(&mut c, "weather in atlantis");
    persona_reply(
        &mut c,
        start,
        "sorry, I couldn't get the weather for Atlantis",
    )
    .await;
    let failed = of_kind(&c, start, "toolCallFailed");
    assert_eq!(failed[0]["error_message"], "Unknown city: Atlantis");
    assert_eq!(failed[0]["tool_type"], "server");

    // Director cue, stats report, an unknown message and a non-JSON one.
    let start = c.data.len();
    assert!(c.send_data(
        &json!({"message_type": "director_note_cue", "cue": {"tag": "happy"}}).to_string()
    ));
    assert!(c.send_data(&json!({"message_type": "remote_rtp_stats", "data": {"type": "inbound-rtp", "kind": "video"}}).to_string()));
    assert!(c.send_data(r#"{"message_type":"app_ping","n":1}"#));
    assert!(c.send_data("not json at all"));
    let applied = first_of_kind(&mut c, start, "directorNoteCueApplied", SHORT).await;
    assert_eq!(applied["cue_tag"], "happy");

    // The unanswered call has timed out by now (10 s), with its own id.
    let waited = support::client::std_now().duration_since(started_at);
    let remaining = Duration::from_secs(12).saturating_sub(waited);
    assert!(
        c.run_until(remaining, |c| of_kind(c, 0, "toolCallFailed")
            .iter()
            .any(|f| f["tool_call_id"] == unanswered["tool_call_id"]))
            .await,
        "the unanswered client tool never timed out"
    );
    let timeout = of_kind(&c, 0, "toolCallFailed")
        .into_iter()
        .find(|f| f["tool_call_id"] == unanswered["tool_call_id"])
        .unwrap();
    assert_eq!(timeout["error_message"], "client tool timed out");

    let s = snapshot(&host, &sid).await;
    assert_eq!(s["contexts"], json!(["The user's name is Ada."]));
    assert_eq!(s["directorCues"], json!(["happy"]));
    assert_eq!(s["rtpStatsReceived"], 1);
    assert_eq!(
        s["rawDataMessages"],
        json!([r#"{"message_type":"app_ping","n":1}"#, "not json at all"])
    );
    let results = s["toolResults"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["result"], "Pricing: 9 EUR a month");
    assert!(results[0].get("error").is_none());
    assert_eq!(results[1]["error"], "Error in handler: no browser");
    assert_eq!(results[1]["toolCallId"], call["tool_call_id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_routes_push_data_channel_messages() {
    let host = server().await;
    let mut c = ready_client(&host).await;
    let sid = c.session_id.clone();

    let start = c.data.len();
    let changed = json!({"llm.temperature": {"before": 0.2, "after": 0.7}});
    let (status, body) = http(
        &host,
        "POST",
        &format!("/_emulator/sessions/{sid}/persona-config-update"),
        None,
        &json!({ "changedFields": changed }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let raw = json!({"messageType": "somethingNew", "data": {"x": [1, 2]}});
    let (status, _) = http(
        &host,
        "POST",
        &format!("/_emulator/sessions/{sid}/data-message"),
        None,
        &raw,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        c.run_until(Duration::from_secs(5), |c| c.data.len() >= start + 2)
            .await
    );
    let applied = of_kind(&c, start, "personaConfigUpdateApplied");
    assert_eq!(applied[0]["changed_fields"], changed);
    assert_eq!(applied[0]["session_id"], sid.as_str());
    assert_eq!(of_kind(&c, start, "somethingNew")[0], json!({"x": [1, 2]}));

    // Bad requests and unknown sessions.
    for (path, body) in [
        ("persona-config-update", json!({"changed": {}})),
        ("persona-config-update", Value::Null),
        ("data-message", Value::Null),
        ("data-message", json!({"big": "x".repeat(20_000)})),
    ] {
        let (status, _) = http(
            &host,
            "POST",
            &format!("/_emulator/sessions/{sid}/{path}"),
            None,
            &body,
        )
        .await;
        assert_eq!(status, 400, "{path}");
    }
    let (status, _) = http(
        &host,
        "POST",
        "/_emulator/sessions/nope/data-message",
        None,
        &json!({}),
    )
    .await;
    assert_eq!(status, 404);
}

/// 20 ms Opus packets of a loud 400 Hz tone (`true`) or digital silence (`false`).
fn mic_packets(pattern: &[(bool, usize)]) -> Vec<Vec<u8>> {
    let mut enc =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    let tone: Vec<i16> = (0..960)
        .map(|i| ((i as f32 * 400.0 / 48_000.0 * std::f32::consts::TAU).sin() * 6_000.0) as i16)
        .collect();
    let silence = vec![0i16; 960];
    let mut out = Vec::new();
    for &(voiced, frames) in pattern {
        for _ in 0..frames {
            let pcm = if voiced { &tone } else { &silence };
            out.push(enc.encode_vec(pcm, 1_500).unwrap());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microphone_speech_agent_audio_and_utterance_ids() {
    let host = server().await;
    let mut c = ready_client(&host).await;
    let sid = c.session_id.clone();

    // 400 ms of tone between silences: one utterance. Then two seconds of silence: nothing.
    let packets = mic_packets(&[(false, 10), (true, 20), (false, 30), (false, 100)]);
    let start = c.data.len();
    for (i, p) in packets.iter().enumerate() {
        assert!(
            c.send_opus(p, i as u64 * 960),
            "the audio sender is not ready"
        );
        c.run_until(Duration::from_millis(20), |_| false).await;
    }
    first_of_kind(&mut c, start, "userSpeechEnded", Duration::from_secs(3)).await;
    let started = of_kind(&c, start, "userSpeechStarted");
    let ended = of_kind(&c, start, "userSpeechEnded");
    assert_eq!((started.len(), ended.len()), (1, 1));
    let id = &started[0]["user_action_correlation_id"];
    assert!(id.as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(&ended[0]["user_action_correlation_id"], id);
    let first_started = c.data[start..]
        .iter()
        .position(|m| m["messageType"] == "userSpeechStarted");
    let first_ended = c.data[start..]
        .iter()
        .position(|m| m["messageType"] == "userSpeechEnded");
    assert!(first_started < first_ended);

    // Agent audio: two chunks of a tone and the end of the sequence.
    let pcm: Vec<u8> = (0..2_400)
        .flat_map(|i| (((i as f32 * 0.1).sin() * 8_000.0) as i16).to_le_bytes())
        .collect();
    let chunk = json!({"audioData": anam_core::base64::encode_standard(&pcm), "encoding": "pcm_s16le", "sampleRate": 24000, "channels": 1, "sequenceNumber": 0});
    c.send_signal("agentaudioinput", chunk.clone()).await;
    let mut second = chunk;
    second["sequenceNumber"] = json!(1);
    c.send_signal("agentaudioinput", second).await;
    c.send_signal("agentaudioinputend", json!({})).await;

    // A talk stream with a 4.27 utterance id: echoed on every transcript chunk.
    let uid = "3f2a1b0c-9d8e-4f7a-b6c5-d4e3f2a1b0c9";
    let start = c.data.len();
    c.send_signal(
        "talkstream",
        json!({"content": "Hello with an id", "startOfSpeech": true, "endOfSpeech": true, "correlationId": "corr-1", "utteranceId": uid}),
    )
    .await;
    let reply = persona_reply(&mut c, start, "Hello with an id").await;
    assert_eq!(reply.trim(), "Hello with an id");
    let chunks = of_kind(&c, start, "speechText");
    assert!(chunks
        .iter()
        .filter(|d| d["role"] == "persona")
        .all(|d| d["utterance_id"] == uid));

    let s = snapshot(&host, &sid).await;
    assert_eq!(s["userSpeechStarted"], 1);
    assert_eq!(s["userSpeechEnded"], 1);
    assert_eq!(s["agentAudioChunks"], 2);
    assert_eq!(s["agentAudioSequencesEnded"], 1);
}
