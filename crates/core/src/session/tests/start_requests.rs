//! Start-session requests the machine no longer wants, and the one the page sent before the
//! client existed: ids never reused across sessions, a late answer's session ended through a
//! throw-away socket, a prefetched request adopted only when it is exactly the first attempt's.

use super::*;

const URL: &str = "https://api.anam.ai/v1/engine/session";

fn provider() -> H {
    H::new(TokenSource::Provider)
}

fn fresh_token() -> String {
    token(T0 / 1000 + 3600)
}

/// The first attempt's body, as the machine writes it for the default options.
fn first_body() -> String {
    let mut h = H::fixed();
    h.s.start(h.now, true, false);
    match h.drain().into_iter().find_map(|o| match o {
        Output::StartSession { body, .. } => Some(body),
        _ => None,
    }) {
        Some(body) => body,
        None => panic!("no start-session request"),
    }
}

fn requests(out: &[Output]) -> Vec<u32> {
    out.iter()
        .filter_map(|o| match o {
            Output::StartSession { request, .. } => Some(*request),
            _ => None,
        })
        .collect()
}

fn answered(request: u32, status: u16) -> Input {
    Input::StartSessionAnswered {
        request,
        status,
        body: if status == 200 {
            start_body()
        } else {
            r#"{"error":"nope"}"#.into()
        },
    }
}

/// `out` opens exactly one throw-away socket (to the answer's signalling URL); opening it
/// closes it again.
fn assert_ends_through_throwaway(h: &mut H, out: &[Output]) {
    let [Output::Throwaway(SocketCommand::Open { socket, url })] = out else {
        panic!("expected one throw-away socket: {out:?}");
    };
    assert!(
        url.starts_with("ws") && url.contains("session_id=sess-1"),
        "{url}"
    );
    assert_eq!(
        h.input(Input::SocketOpened(*socket)),
        [Output::Throwaway(SocketCommand::Close { socket: *socket })]
    );
    assert!(h.input(Input::SocketOpened(*socket)).is_empty(), "once");
}

#[test]
fn a_matching_prefetched_request_is_the_first_attempt() {
    let mut h = provider();
    let id = h.s.prefetched(URL.into(), fresh_token(), first_body());
    h.s.start(h.now, true, false);
    h.drain();
    let out = h.input(Input::Token(fresh_token()));
    assert!(requests(&out).is_empty(), "nothing sent twice: {out:?}");
    let out = h.input(answered(id, 200));
    assert!(out.contains(&Output::SessionStarted {
        session_id: SID.into()
    }));
}

#[test]
fn a_prefetched_answer_that_comes_before_the_token_is_used_when_it_comes() {
    let mut h = provider();
    let id = h.s.prefetched(URL.into(), fresh_token(), first_body());
    assert!(h.input(answered(id, 200)).is_empty(), "kept for the start");
    h.s.start(h.now, true, false);
    h.drain();
    let out = h.input(Input::Token(fresh_token()));
    assert!(requests(&out).is_empty());
    assert!(out.contains(&Output::SessionStarted {
        session_id: SID.into()
    }));
    // A prefetched failure is the first attempt's failure: retried like one.
    let mut h = provider();
    let id = h.s.prefetched(URL.into(), fresh_token(), first_body());
    h.input(answered(id, 503));
    h.s.start(h.now, true, false);
    h.drain();
    assert!(h.input(Input::Token(fresh_token())).is_empty());
    let due = h.s.poll_timeout().expect("a backoff");
    let out = h.advance(due - h.now);
    assert_eq!(requests(&out), [id + 1], "attempt 2 under a new id");
}

#[test]
fn a_prefetched_request_that_differs_is_replaced_and_its_session_ended() {
    for (url, body) in [
        (
            "https://other.example/v1/engine/session".to_owned(),
            first_body(),
        ),
        (URL.to_owned(), first_body().replace("anam-wasm", "other")),
    ] {
        let mut h = provider();
        let id = h.s.prefetched(url, fresh_token(), body);
        h.s.start(h.now, true, false);
        h.drain();
        let out = h.input(Input::Token(fresh_token()));
        assert_eq!(requests(&out), [id + 1]);
        let out = h.input(answered(id, 200));
        assert_ends_through_throwaway(&mut h, &out);
        assert!(
            h.s.is_streaming(),
            "the session's own request is still awaited"
        );
        let out = h.input(answered(id + 1, 200));
        assert!(out.contains(&Output::SessionStarted {
            session_id: SID.into()
        }));
    }
    // Another token: also a different request.
    let mut h = provider();
    let id =
        h.s.prefetched(URL.into(), token(T0 / 1000 + 60), first_body());
    h.s.start(h.now, true, false);
    h.drain();
    assert_eq!(requests(&h.input(Input::Token(fresh_token()))), [id + 1]);
}

#[test]
fn a_prefetched_request_no_start_uses_ends_its_session() {
    // Stopped before the start came.
    let mut h = provider();
    let id = h.s.prefetched(URL.into(), fresh_token(), first_body());
    h.s.stop(h.now);
    h.drain();
    let out = h.input(answered(id, 200));
    assert_ends_through_throwaway(&mut h, &out);

    // The start call was refused (its signal had fired): the answer came first this time.
    let mut h = provider();
    let id = h.s.prefetched(URL.into(), fresh_token(), first_body());
    assert!(h.input(answered(id, 200)).is_empty());
    let refused = h.s.start_call(
        h.now,
        CallRequest {
            kind: CallKind::Started,
            user_audio: None,
            shows_video: true,
            aborted: true,
        },
    );
    assert_eq!(refused, Err(CallRefusal::Aborted));
    let out = h.drain();
    assert_ends_through_throwaway(&mut h, &out);

    // The provider failed: the start is over, and so is the prefetched session.
    let mut h = provider();
    let id = h.s.prefetched(URL.into(), fresh_token(), first_body());
    h.s.start(h.now, true, false);
    h.drain();
    h.input(Input::TokenFailed);
    let out = h.input(answered(id, 200));
    assert_ends_through_throwaway(&mut h, &out);

    // A second prefetched request releases the first.
    let mut h = provider();
    let first = h.s.prefetched(URL.into(), fresh_token(), first_body());
    let second = h.s.prefetched(URL.into(), fresh_token(), first_body());
    assert_ne!(first, second);
    let out = h.input(answered(first, 200));
    assert_ends_through_throwaway(&mut h, &out);
}

#[test]
fn an_answer_that_created_no_session_needs_no_ending() {
    let mut h = provider();
    let id = h.s.prefetched(URL.into(), fresh_token(), first_body());
    h.s.stop(h.now);
    h.drain();
    assert!(h.input(answered(id, 401)).is_empty());
    let mut h = provider();
    let id = h.s.prefetched(URL.into(), fresh_token(), first_body());
    h.s.stop(h.now);
    h.drain();
    let out = h.input(Input::StartSessionUnreachable {
        request: id,
        detail: "Failed to fetch".into(),
    });
    assert!(out.is_empty());
}

#[test]
fn request_ids_are_never_reused_so_a_late_answer_ends_only_its_own_session() {
    let mut h = provider();
    h.s.start(h.now, true, false);
    h.drain();
    let first = requests(&h.input(Input::Token(fresh_token())));
    h.s.stop(h.now);
    h.drain();
    // The next session's first attempt gets a new id; the old answer cannot start it.
    h.s.start(h.now, true, false);
    h.drain();
    let second = requests(&h.input(Input::Token(fresh_token())));
    assert_eq!((first.len(), second.len()), (1, 1));
    assert_ne!(first, second);
    let out = h.input(answered(first[0], 200));
    assert_ends_through_throwaway(&mut h, &out);
    assert_eq!(
        h.s.session_id(),
        None,
        "the old answer did not start this session"
    );
    let out = h.input(answered(second[0], 200));
    assert!(out.contains(&Output::SessionStarted {
        session_id: SID.into()
    }));
}

#[test]
fn a_throwaway_socket_that_fails_to_open_is_dropped() {
    let mut h = provider();
    let id = h.s.prefetched(URL.into(), fresh_token(), first_body());
    h.s.stop(h.now);
    h.drain();
    let out = h.input(answered(id, 200));
    let [Output::Throwaway(SocketCommand::Open { socket, .. })] = out[..] else {
        panic!("{out:?}");
    };
    let out = h.input(Input::SocketClosed {
        socket,
        code: 1006,
        reason: String::new(),
    });
    assert_eq!(out, [Output::Throwaway(SocketCommand::Close { socket })]);
    assert!(h
        .input(Input::SocketClosed {
            socket,
            code: 1006,
            reason: String::new(),
        })
        .is_empty());
}

#[test]
fn an_adopted_request_times_out_like_the_first_attempt() {
    let mut h = provider();
    let id = h.s.prefetched(URL.into(), fresh_token(), first_body());
    h.s.start(h.now, true, false);
    h.drain();
    h.input(Input::Token(fresh_token()));
    let out = h.advance(10_000);
    assert!(out.contains(&Output::AbortStartSession { request: id }));
    let due = h.s.poll_timeout().expect("a backoff");
    assert_eq!(requests(&h.advance(due - h.now)), [id + 1]);
}
