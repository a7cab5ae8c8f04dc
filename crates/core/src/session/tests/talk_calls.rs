//! `talk()` calls: the request as an output, its answer as an input, a deadline of its own.

use super::*;

fn settled(out: &[Output]) -> Vec<(u32, Result<(), String>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::TalkSettled { call, result } => Some((*call, result.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_talk_settles_with_its_answer() {
    let mut h = H::fixed();
    h.live();
    let first = h.s.talk(h.now, "hello").expect("live");
    let second = h.s.talk(h.now, "again").expect("live");
    let out = h.drain();
    let bodies: Vec<&str> = out
        .iter()
        .filter_map(|o| match o {
            Output::SendTalk { body, .. } => Some(body.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(bodies, [r#"{"content":"hello"}"#, r#"{"content":"again"}"#]);
    // Answers may come in any order; each settles its own call once.
    let out = h.input(Input::TalkAnswered {
        call: second,
        status: 503,
    });
    assert_eq!(
        settled(&out),
        [(second, Err("talk failed with HTTP 503".to_owned()))]
    );
    let out = h.input(Input::TalkAnswered {
        call: first,
        status: 204,
    });
    assert_eq!(settled(&out), [(first, Ok(()))]);
    let out = h.input(Input::TalkAnswered {
        call: first,
        status: 200,
    });
    assert!(settled(&out).is_empty(), "a call settles once");
}

#[test]
fn a_talk_without_an_answer_gives_up_at_the_request_timeout() {
    let mut h = H::fixed();
    h.live();
    let call = h.s.talk(h.now, "hello").expect("live");
    h.drain();
    let timeout = crate::retry::DEFAULT_REQUEST_TIMEOUT_MS;
    assert!(h.s.poll_timeout().is_some_and(|t| t <= h.now + timeout));
    let out = h.advance(timeout - 1);
    assert!(settled(&out).is_empty());
    let out = h.advance(1);
    assert!(out.contains(&Output::AbortTalk { call }));
    assert_eq!(
        settled(&out),
        [(
            call,
            Err(format!("talk failed: no answer within {timeout} ms"))
        )]
    );
    // A late answer changes nothing.
    let out = h.input(Input::TalkUnreachable {
        call,
        detail: "aborted".into(),
    });
    assert!(settled(&out).is_empty());
}

#[test]
fn a_talk_outlives_its_session_and_needs_one_to_start() {
    let mut h = H::fixed();
    assert_eq!(
        h.s.talk(h.now, "early"),
        Err(CommandError("Not streaming: start a session first"))
    );
    h.live();
    let call = h.s.talk(h.now, "hello").expect("live");
    h.s.stop(h.now);
    h.drain();
    // The server may have accepted it: its answer still settles the promise.
    let out = h.input(Input::TalkUnreachable {
        call,
        detail: "Failed to fetch".into(),
    });
    assert_eq!(
        settled(&out),
        [(call, Err("talk failed: Failed to fetch".to_owned()))]
    );
    assert_eq!(h.s.poll_timeout(), None);
}
