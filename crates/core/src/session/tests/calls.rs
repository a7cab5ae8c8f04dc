//! `stream…()` calls: admission, sharing one session, settlement and abort.

use super::*;

fn request(kind: CallKind) -> CallRequest {
    CallRequest {
        kind,
        user_audio: None,
        shows_video: false,
        aborted: false,
    }
}

fn settled(out: &[Output]) -> Vec<(u32, CallSettlement)> {
    out.iter()
        .filter_map(|o| match o {
            Output::SettleCall { call, settlement } => Some((*call, settlement.clone())),
            _ => None,
        })
        .collect()
}

fn answer() -> Input {
    Input::StartSessionAnswered {
        request: 1,
        status: 200,
        body: start_body(),
    }
}

#[test]
fn concurrent_calls_share_one_session_and_settle_when_it_gets_where_they_resolve() {
    let mut h = H::fixed();
    let media = h.s.start_call(h.now, request(CallKind::Media)).unwrap();
    let shown = h.s.start_call(h.now, request(CallKind::Started)).unwrap();
    assert!(!media.joined && shown.joined);
    let out = h.drain();
    let starts = out
        .iter()
        .filter(|o| matches!(o, Output::StartSession { .. }))
        .count();
    assert_eq!(starts, 1, "one session for both calls");
    assert!(settled(&out).is_empty());
    let out = h.input(answer());
    // Right after the output it follows from.
    let at = out
        .iter()
        .position(|o| matches!(o, Output::SessionStarted { .. }))
        .unwrap();
    assert_eq!(
        out[at + 1],
        Output::SettleCall {
            call: shown.id,
            settlement: CallSettlement::Started
        }
    );
    assert_eq!(settled(&out).len(), 1);
    let mut out = h.input(Input::RemoteTrack(TrackKind::Video));
    out.extend(h.input(Input::RemoteTrack(TrackKind::Audio)));
    assert_eq!(settled(&out), [(media.id, CallSettlement::Media)]);
    // A call that joins a session already there settles at once.
    let late = h.s.start_call(h.now, request(CallKind::Media)).unwrap();
    assert_eq!(settled(&h.drain()), [(late.id, CallSettlement::Media)]);
}

#[test]
fn aborting_one_of_two_waiting_calls_leaves_the_session_to_the_other() {
    let mut h = H::fixed();
    let first = h.s.start_call(h.now, request(CallKind::Media)).unwrap();
    let second = h.s.start_call(h.now, request(CallKind::Media)).unwrap();
    h.drain();
    h.s.abort_call(h.now, first.id);
    let out = h.drain();
    assert_eq!(settled(&out), [(first.id, CallSettlement::Aborted)]);
    assert!(!out.contains(&Output::Teardown));
    assert!(h.s.is_streaming());
    // The last waiting call's abort ends the session.
    h.s.abort_call(h.now, second.id);
    let out = h.drain();
    assert_eq!(settled(&out), [(second.id, CallSettlement::Aborted)]);
    assert!(out.contains(&Output::Teardown));
    assert!(!h.s.is_streaming());
}

#[test]
fn aborting_a_settled_call_ends_the_session() {
    let mut h = H::fixed();
    let call = h.s.start_call(h.now, request(CallKind::Started)).unwrap();
    h.drain();
    h.input(answer());
    h.s.abort_call(h.now, call.id);
    let out = h.drain();
    assert!(settled(&out).is_empty());
    assert!(out.contains(&Output::Teardown));
}

#[test]
fn a_failed_start_settles_every_waiting_call() {
    let mut h = H::fixed();
    let a = h.s.start_call(h.now, request(CallKind::Media)).unwrap();
    let b = h.s.start_call(h.now, request(CallKind::Started)).unwrap();
    h.drain();
    let out = h.input(Input::StartSessionAnswered {
        request: 1,
        status: 402,
        body: r#"{"message":"no plan"}"#.into(),
    });
    let settled = settled(&out);
    assert_eq!(
        settled.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        [a.id, b.id]
    );
    assert!(settled
        .iter()
        .all(|(_, s)| matches!(s, CallSettlement::Failed(StartFailure::Api(_)))));
}

#[test]
fn refused_calls_send_nothing() {
    let mut h = H::fixed();
    let aborted = CallRequest {
        aborted: true,
        ..request(CallKind::Media)
    };
    assert_eq!(h.s.start_call(h.now, aborted), Err(CallRefusal::Aborted));
    let silent = CallRequest {
        user_audio: Some(false),
        ..request(CallKind::Media)
    };
    assert_eq!(
        h.s.start_call(h.now, silent),
        Err(CallRefusal::NoAudioTrack)
    );
    assert!(h.drain().is_empty());
    assert!(!h.s.is_streaming());
    // With input audio disabled, an app's stream is ignored with a warning, not refused.
    let mut config = SessionConfig::new(TokenSource::Fixed(token(T0 / 1000 + 3600)));
    config.disable_input_audio = true;
    let mut s = Session::new(config, 1);
    assert!(s.start_call(T0, silent).is_ok());
    let out: Vec<Output> = std::iter::from_fn(|| s.poll_output()).collect();
    assert!(out.contains(&Output::Warn(
        "disableInputAudio is set: the provided input stream is ignored".into()
    )));
}
