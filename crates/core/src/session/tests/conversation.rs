//! Scenarios for tool calls, director-note cues, context, raw data messages, stats reports, the
//! persona config and agent audio (§8.7, §9, §10.5).

use super::*;
use crate::session::conversation::{AgentAudioConfig, CueTiming};
use crate::session::tools::{HandlerOutcome, ToolStage};
use serde_json::{json, Value};

fn num(text: &str) -> crate::json::Number {
    crate::json::Number::from_json_text(text).expect("test number")
}

fn tool_msg(kind: &str, id: &str, tool_type: &str, session: &str, extra: &str) -> String {
    format!(
        r#"{{"messageType":"{kind}","data":{{"event_uid":"e-{id}","session_id":"{session}",
            "tool_call_id":"{id}","tool_name":"open_page","tool_type":"{tool_type}",
            "arguments":{{"url":"/pricing"}},"timestamp":"2026-01-01T00:00:01.000Z",
            "timestamp_user_action":"2026-01-01T00:00:00.000Z",
            "user_action_correlation_id":"c-1","used_outside_engine":true{extra}}}}}"#
    )
}

fn data_sent(out: &[Output]) -> Vec<Value> {
    out.iter()
        .filter_map(|o| match o {
            Output::SendData(t) => serde_json::from_str(t).ok(),
            _ => None,
        })
        .collect()
}

fn handler_runs(out: &[Output]) -> Vec<(ToolStage, String)> {
    out.iter()
        .filter_map(|o| match o {
            Output::RunToolHandler { stage, event } => Some((*stage, event.tool_call_id.clone())),
            _ => None,
        })
        .collect()
}

fn tool_event(out: &[Output], name: &str) -> Option<Value> {
    out.iter().find_map(|o| match o {
        Output::Emit(
            e
            @ (Event::ToolCallStarted(t) | Event::ToolCallCompleted(t) | Event::ToolCallFailed(t)),
        ) if e.name() == name => Some(serde_json::to_value(t).unwrap()),
        _ => None,
    })
}

#[test]
fn a_client_tool_sends_its_handlers_result_and_completes_once() {
    let mut h = H::fixed();
    h.live();
    let out = h.input(Input::DataChannelMessage(tool_msg(
        "toolCallStarted",
        "t1",
        "client",
        SID,
        "",
    )));
    assert_eq!(events(&out), ["TOOL_CALL_STARTED"]);
    assert_eq!(handler_runs(&out), [(ToolStage::Start, "t1".to_owned())]);
    let started = tool_event(&out, "TOOL_CALL_STARTED").unwrap_or_default();
    assert_eq!(started["toolCallId"], "t1");
    assert_eq!(started["arguments"]["url"], "/pricing");
    assert!(started.get("executionTime").is_none());

    h.now += 250;
    let out = h.input(Input::ToolStartHandled {
        tool_call_id: "t1".into(),
        outcome: HandlerOutcome::Returned(Some("opened".into())),
    });
    let sent = data_sent(&out);
    assert_eq!(
        sent,
        [
            json!({"message_type": "tool_result", "session_id": SID, "tool_call_id": "t1",
            "user_action_correlation_id": "c-1",
            "timestamp_user_action": "2026-01-01T00:00:00.000Z", "result": "opened"})
        ]
    );
    assert_eq!(events(&out), ["TOOL_CALL_COMPLETED"]);
    let done = tool_event(&out, "TOOL_CALL_COMPLETED").unwrap_or_default();
    assert_eq!(done["result"], "opened");
    assert_eq!(done["executionTime"], 250);
    assert_eq!(handler_runs(&out), [(ToolStage::Complete, "t1".to_owned())]);

    // The server's own completion of the same call is not reported a second time.
    let echo = tool_msg(
        "toolCallCompleted",
        "t1",
        "client",
        SID,
        r#","result":"opened""#,
    );
    let out = h.input(Input::DataChannelMessage(echo));
    assert!(events(&out).is_empty(), "{out:?}");
    assert!(handler_runs(&out).is_empty());
}

#[test]
fn a_throwing_client_tool_handler_reports_the_error_both_ways() {
    let mut h = H::fixed();
    h.live();
    h.input(Input::DataChannelMessage(tool_msg(
        "toolCallStarted",
        "t2",
        "client",
        SID,
        "",
    )));
    let out = h.input(Input::ToolStartHandled {
        tool_call_id: "t2".into(),
        outcome: HandlerOutcome::Threw("no such page".into()),
    });
    let sent = data_sent(&out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["error"], "Error in handler: no such page");
    assert!(sent[0].get("result").is_none());
    let failed = tool_event(&out, "TOOL_CALL_FAILED").unwrap_or_default();
    assert_eq!(
        failed["errorMessage"],
        "Error in onStart handler: no such page"
    );
    assert_eq!(handler_runs(&out), [(ToolStage::Fail, "t2".to_owned())]);
    let echo = tool_msg(
        "toolCallFailed",
        "t2",
        "client",
        SID,
        r#","error_message":"x""#,
    );
    assert!(events(&h.input(Input::DataChannelMessage(echo))).is_empty());
}

#[test]
fn a_server_tool_completes_from_the_server_with_its_duration() {
    let mut h = H::fixed();
    h.live();
    h.input(Input::DataChannelMessage(tool_msg(
        "toolCallStarted",
        "t3",
        "server",
        SID,
        "",
    )));
    // A server tool's onStart only observes: no tool_result, no outcome yet.
    let out = h.input(Input::ToolStartHandled {
        tool_call_id: "t3".into(),
        outcome: HandlerOutcome::Returned(Some("ignored".into())),
    });
    assert!(out.is_empty());
    let done = tool_msg(
        "toolCallCompleted",
        "t3",
        "server",
        SID,
        r#","result":{"forecast":"sunny"},"documents_accessed":["a.pdf"]"#,
    )
    .replace("00:00:01.000Z", "00:00:02.500Z");
    let out = h.input(Input::DataChannelMessage(done));
    let ev = tool_event(&out, "TOOL_CALL_COMPLETED").unwrap_or_default();
    assert_eq!(ev["executionTime"], 1500);
    assert_eq!(ev["result"]["forecast"], "sunny");
    assert_eq!(ev["documentsAccessed"], json!(["a.pdf"]));
    assert_eq!(handler_runs(&out), [(ToolStage::Complete, "t3".to_owned())]);
    assert!(data_sent(&out).is_empty());
}

#[test]
fn a_server_tool_failure_and_a_throwing_observer_fail_once() {
    let mut h = H::fixed();
    h.live();
    h.input(Input::DataChannelMessage(tool_msg(
        "toolCallStarted",
        "t4",
        "server",
        SID,
        "",
    )));
    let out = h.input(Input::ToolStartHandled {
        tool_call_id: "t4".into(),
        outcome: HandlerOutcome::Threw("bad".into()),
    });
    assert!(
        data_sent(&out).is_empty(),
        "no tool_result for a server tool"
    );
    assert_eq!(events(&out), ["TOOL_CALL_FAILED"]);
    let late = tool_msg("toolCallCompleted", "t4", "server", SID, r#","result":1"#);
    assert!(events(&h.input(Input::DataChannelMessage(late))).is_empty());
}

#[test]
fn tool_calls_of_another_session_are_reported_without_handlers() {
    let mut h = H::fixed();
    h.live();
    let mut out = h.input(Input::DataChannelMessage(tool_msg(
        "toolCallStarted",
        "t5",
        "server",
        "other",
        "",
    )));
    out.extend(h.input(Input::DataChannelMessage(tool_msg(
        "toolCallFailed",
        "t5",
        "server",
        "other",
        r#","error_message":"nope""#,
    ))));
    assert_eq!(events(&out), ["TOOL_CALL_STARTED", "TOOL_CALL_FAILED"]);
    assert!(handler_runs(&out).is_empty());
    let failed = tool_event(&out, "TOOL_CALL_FAILED").unwrap_or_default();
    assert_eq!(failed["executionTime"], 0);
    assert_eq!(failed["errorMessage"], "nope");
}

#[test]
fn pending_tool_calls_are_forgotten_when_the_session_stops() {
    let mut h = H::fixed();
    h.live();
    h.input(Input::DataChannelMessage(tool_msg(
        "toolCallStarted",
        "t6",
        "client",
        SID,
        "",
    )));
    h.s.stop(h.now);
    h.drain();
    let out = h.input(Input::ToolStartHandled {
        tool_call_id: "t6".into(),
        outcome: HandlerOutcome::Returned(None),
    });
    assert!(out.is_empty());
}

#[test]
fn legacy_client_tool_events_and_cue_acknowledgements_are_reported() {
    let mut h = H::fixed();
    h.live();
    let out = h.input(Input::DataChannelMessage(
        r#"{"messageType":"clientToolEvent","data":{"event_uid":"e","session_id":"sess-1",
            "event_name":"open_page","event_data":{"url":"/x"},"timestamp":"t",
            "timestamp_user_action":"u","user_action_correlation_id":"c",
            "used_outside_engine":true}}"#
            .into(),
    ));
    let payload = out.iter().find_map(|o| match o {
        Output::Emit(Event::ClientToolEventReceived(p)) => Some(serde_json::to_value(p).unwrap()),
        _ => None,
    });
    assert_eq!(
        payload,
        Some(
            json!({"eventUid": "e", "sessionId": SID, "eventName": "open_page",
            "eventData": {"url": "/x"}, "timestamp": "t", "timestampUserAction": "u",
            "userActionCorrelationId": "c"})
        )
    );
    let out = h.input(Input::DataChannelMessage(
        r#"{"messageType":"directorNoteCueApplied","data":{"cue_tag":"happy"}}"#.into(),
    ));
    assert_eq!(
        out,
        [Output::Emit(Event::DirectorNoteCueApplied {
            cue_tag: "happy".into(),
            correlation_id: "unknown".into()
        })]
    );
}

#[test]
fn director_note_cues_are_checked_then_sent() {
    let mut h = H::fixed();
    let cue = |h: &mut H, tag: &str, t: CueTiming| h.s.send_director_note_cue(tag, t);
    assert!(
        cue(&mut h, "happy", CueTiming::Now).is_err(),
        "not streaming"
    );
    h.live();
    for (tag, timing) in [
        ("", CueTiming::Now),
        ("ecstatic", CueTiming::Now),
        (&"a".repeat(65), CueTiming::Now),
        ("happy", CueTiming::InSeconds(num("-1"))),
        ("happy", CueTiming::AtSeconds(num("-0.5"))),
        // Reads as +infinity. (NaN has no JSON form: the shell refuses it with the same message.)
        ("happy", CueTiming::InSeconds(num("1e999"))),
    ] {
        let shown = format!("{tag:?} {timing:?}");
        assert!(cue(&mut h, tag, timing).is_err(), "{shown}");
    }
    assert!(h.drain().iter().all(|o| !matches!(o, Output::SendData(_))));
    assert_eq!(
        cue(&mut h, "warm", CueTiming::InSeconds(num("1.5"))),
        Ok(())
    );
    assert_eq!(cue(&mut h, "sad", CueTiming::Now), Ok(()));
    assert_eq!(
        data_sent(&h.drain()),
        [
            json!({"message_type": "director_note_cue", "cue": {"tag": "warm"}, "in_seconds": 1.5}),
            json!({"message_type": "director_note_cue", "cue": {"tag": "sad"}}),
        ]
    );
    h.input(Input::DataChannelClosed);
    assert!(
        cue(&mut h, "sad", CueTiming::Now).is_err(),
        "channel closed"
    );
}

#[test]
fn context_and_raw_messages_go_out_on_the_data_channel() {
    let mut h = H::fixed();
    assert!(h.s.add_context("x").is_err());
    assert!(h.s.send_data_message("x").is_err());
    h.live();
    h.s.add_context("The user is on the pricing page")
        .expect("live");
    h.s.send_data_message(r#"{"message_type":"custom","n":1}"#)
        .expect("live");
    let out = h.drain();
    assert_eq!(
        data_sent(&out),
        [
            json!({"message_type": "context", "session_id": SID,
                "content": "The user is on the pricing page"}),
            json!({"message_type": "custom", "n": 1}),
        ]
    );
    // Raw text goes out exactly as given, even when it is not JSON.
    h.s.send_data_message("not json").expect("live");
    assert_eq!(h.drain(), [Output::SendData("not json".into())]);
}

#[test]
fn stats_reports_start_after_ice_connects_and_skip_a_closed_channel() {
    let mut h = H::fixed();
    h.live();
    let count = |out: &[Output]| {
        out.iter()
            .filter(|o| **o == Output::CollectRtpStats)
            .count()
    };
    assert_eq!(count(&h.advance(4_999)), 0);
    assert_eq!(count(&h.advance(1)), 1);
    assert_eq!(count(&h.advance(10_000)), 2);
    h.input(Input::DataChannelClosed);
    assert_eq!(count(&h.advance(10_000)), 0);
    h.input(Input::DataChannelOpen);
    assert_eq!(count(&h.advance(5_000)), 1);
    h.s.stop(h.now);
    h.drain();
    assert_eq!(count(&h.advance(20_000)), 0);
    assert_eq!(h.s.poll_timeout(), None);
}

#[test]
fn collected_stats_go_out_as_remote_rtp_stats_for_inbound_entries_only() {
    let mut h = H::fixed();
    h.live();
    let entries = vec![
        r#"{"type":"inbound-rtp","kind":"video","packetsReceived":1200,"jitter":0.004}"#.into(),
        r#"{"type":"outbound-rtp","kind":"audio"}"#.into(),
        "not json".into(),
        r#"{"type":"inbound-rtp","kind":"audio","packetsLost":3}"#.into(),
    ];
    let out = h.input(Input::RtpStats(entries.clone()));
    let sent: Vec<Value> = out
        .iter()
        .filter_map(|o| match o {
            Output::SendData(text) => serde_json::from_str(text).ok(),
            _ => None,
        })
        .collect();
    assert_eq!(
        sent,
        [
            json!({"message_type": "remote_rtp_stats", "data": {"type": "inbound-rtp",
                "kind": "video", "packetsReceived": 1200, "jitter": 0.004}}),
            json!({"message_type": "remote_rtp_stats", "data": {"type": "inbound-rtp",
                "kind": "audio", "packetsLost": 3}}),
        ]
    );
    // Without an open data channel they are dropped, without a warning.
    h.input(Input::DataChannelClosed);
    assert_eq!(h.input(Input::RtpStats(entries)), []);
}

#[test]
fn a_persona_config_is_sent_with_the_next_session() {
    let mut h = H::fixed();
    for bad in [
        json!({"personaId": "p", "directorNotes": {"expressivity": 2}}),
        json!({"directorNotes": {"presetStyle": "happy", "customStylePrompt": "x"}}),
        json!({"directorNotes": {"expressivity": "high"}}),
        json!("persona-aria"),
    ] {
        assert!(
            h.s.set_persona_config(Some(bad.clone().into())).is_err(),
            "{bad}"
        );
    }
    let good = json!({"personaId": "p", "name": "Ada", "futureOption": [1]});
    h.s.set_persona_config(Some(good.into())).expect("valid");
    assert_eq!(
        h.s.persona_config().and_then(|c| c.get("name")),
        Some(&crate::json::Value::from("Ada"))
    );
    let out = h.live();
    let body = out.iter().find_map(|o| match o {
        Output::StartSession { body, .. } => serde_json::from_str::<Value>(body).ok(),
        _ => None,
    });
    let body = body.unwrap_or_default();
    assert_eq!(
        body["personaConfig"],
        json!({"personaId": "p", "name": "Ada", "futureOption": [1]})
    );
}

#[test]
fn agent_audio_chunks_are_numbered_per_sequence_and_stay_in_their_session() {
    let mut h = H::fixed();
    let config = AgentAudioConfig {
        encoding: "pcm_s16le".into(),
        sample_rate: 24_000,
        channels: 1,
    };
    assert!(h.s.create_agent_audio_stream(config.clone()).is_err());
    h.live();
    let a = h.s.create_agent_audio_stream(config).expect("live");
    h.s.send_agent_audio(h.now, a, "AAA=".into());
    h.s.send_agent_audio(h.now, a, "AQA=".into());
    h.s.end_agent_audio_sequence(a);
    h.s.send_agent_audio(h.now, a, "AgA=".into());
    let frames: Vec<Value> = sent(&h.drain())
        .iter()
        .filter_map(|t| serde_json::from_str(t).ok())
        .collect();
    let kinds: Vec<(&str, Option<u64>)> = frames
        .iter()
        .map(|f| {
            (
                f["actionType"].as_str().unwrap_or(""),
                f["payload"]["sequenceNumber"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("agentaudioinput", Some(0)),
            ("agentaudioinput", Some(1)),
            ("agentaudioinputend", None),
            ("agentaudioinput", Some(0)),
        ]
    );
    assert_eq!(frames[0]["payload"]["sampleRate"], 24_000);
    assert_eq!(frames[0]["payload"]["audioData"], "AAA=");
    assert_eq!(h.s.agent_audio_sequence(a), 1);
    // After the session ends, and in the next one, the old stream sends nothing.
    h.s.stop(h.now);
    h.drain();
    h.live();
    h.s.send_agent_audio(h.now, a, "AAA=".into());
    let out = h.drain();
    assert!(sent(&out).is_empty());
    assert!(out.iter().any(|o| matches!(o, Output::Warn(_))));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// One remote or app step of a tool-call conversation.
    #[derive(Debug, Clone)]
    enum Step {
        Message {
            kind: usize,
            id: usize,
            client: bool,
            other_session: bool,
        },
        Handled {
            id: usize,
            threw: bool,
        },
        Garbage(String),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0..4usize, 0..3usize, any::<bool>(), proptest::bool::weighted(0.2))
                .prop_map(|(kind, id, client, other_session)| Step::Message { kind, id, client, other_session }),
            2 => (0..3usize, any::<bool>()).prop_map(|(id, threw)| Step::Handled { id, threw }),
            1 => ".{0,40}".prop_map(Step::Garbage),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Whatever order the server's tool messages and the app's handlers arrive in, nothing
        /// panics, and a call of the live session reports at most one outcome per start.
        #[test]
        fn each_call_reports_at_most_one_outcome(steps in proptest::collection::vec(step(), 1..40)) {
            let mut h = H::fixed();
            h.live();
            let mut outcomes_since_start = [0u32; 3];
            for step in steps {
                let out = match step {
                    Step::Message { kind, id, client, other_session } => {
                        let name = ["toolCallStarted", "toolCallCompleted", "toolCallFailed", "clientToolEvent"][kind];
                        let session = if other_session { "other" } else { SID };
                        let tool_type = if client { "client" } else { "server" };
                        h.input(Input::DataChannelMessage(tool_msg(name, &format!("t{id}"), tool_type, session, "")))
                    }
                    Step::Handled { id, threw } => h.input(Input::ToolStartHandled {
                        tool_call_id: format!("t{id}"),
                        outcome: if threw { HandlerOutcome::Threw("x".into()) } else { HandlerOutcome::Returned(None) },
                    }),
                    Step::Garbage(text) => h.input(Input::DataChannelMessage(text)),
                };
                for o in &out {
                    let Output::Emit(e @ (Event::ToolCallStarted(t) | Event::ToolCallCompleted(t) | Event::ToolCallFailed(t))) = o else {
                        continue;
                    };
                    if t.session_id != SID {
                        continue;
                    }
                    let Some(slot) = t.tool_call_id.strip_prefix('t').and_then(|n| n.parse::<usize>().ok()) else {
                        continue;
                    };
                    if let Event::ToolCallStarted(_) = e {
                        outcomes_since_start[slot] = 0;
                    } else {
                        outcomes_since_start[slot] += 1;
                        prop_assert!(outcomes_since_start[slot] <= 1, "two outcomes for t{slot}: {out:?}");
                    }
                }
            }
        }
    }
}
