//! Lifecycle extensions: automatic resume, stopping (and aborting) in every state, and starts
//! that join the session already under way.

use super::*;

const SID2: &str = "sess-2";

fn body_for(id: &str) -> String {
    start_body().replace(SID, id)
}

fn provider(auto_resume: Option<u32>) -> H {
    let mut config = SessionConfig::new(TokenSource::Provider);
    config.auto_resume = auto_resume;
    H {
        s: Session::new(config, 7),
        now: T0,
    }
}

fn fresh_token() -> String {
    token(T0 / 1000 + 3600)
}

fn emitted(out: &[Output]) -> Vec<&Event> {
    out.iter()
        .filter_map(|o| match o {
            Output::Emit(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn start_sessions(out: &[Output]) -> usize {
    out.iter()
        .filter(|o| matches!(o, Output::StartSession { .. }))
        .count()
}

impl H {
    /// Brings a session started through the provider (already asked for its token) up to
    /// media: start-session answered with `id`, negotiation done, both tracks in.
    fn connect(&mut self, id: &str) -> Vec<Output> {
        let mut out = self.input(Input::Token(fresh_token()));
        let request = out
            .iter()
            .find_map(|o| match o {
                Output::StartSession { request, .. } => Some(*request),
                _ => None,
            })
            .unwrap_or(0);
        out.extend(self.input(Input::StartSessionAnswered {
            request,
            status: 200,
            body: body_for(id),
        }));
        out.extend(self.input(Input::LocalOffer { sdp: "o".into() }));
        out.extend(self.input(Input::SocketOpened(socket_of(&out))));
        let socket = socket_of(&out);
        out.extend(self.input(Input::SocketMessage {
            socket,
            text: signal("answer", r#"{"type":"answer","sdp":"a"}"#),
        }));
        out.extend(self.input(Input::AnswerApplied));
        out.extend(self.input(Input::IceConnectionState("connected".into())));
        out.extend(self.input(Input::DataChannelOpen));
        out.extend(self.input(Input::RemoteTrack(TrackKind::Video)));
        out.extend(self.input(Input::RemoteTrack(TrackKind::Audio)));
        out
    }

    /// A provider session with media and a granted microphone.
    fn streaming(&mut self) -> Vec<Output> {
        assert_eq!(self.s.start(self.now, false, false), StartOutcome::Started);
        let mut out = self.drain();
        out.extend(self.input(Input::MicGranted));
        out.extend(self.connect(SID));
        assert!(out.contains(&Output::MediaReady));
        out
    }

    fn server_ends(&mut self, reason: &str) -> Vec<Output> {
        let text = signal("endsession", &format!("\"{reason}\""));
        self.input(Input::SocketMessage {
            socket: self.socket(),
            text,
        })
    }
}

#[test]
fn resume_after_a_server_end_keeps_history_mute_and_microphone() {
    let mut h = provider(Some(3));
    h.streaming();
    h.input(Input::DataChannelMessage(speech(
        "m1",
        0,
        "Hello there",
        "persona",
        true,
        false,
    )));
    h.s.set_muted(true);
    h.drain();
    let old_stream = h.s.create_talk_stream(Some("c")).expect("talk stream");

    let out = h.server_ends("Maximum session length reached");
    assert_eq!(
        emitted(&out),
        [&Event::Reconnecting {
            attempt: 1,
            reason: "CONNECTION_CLOSED_CODE_SERVER_CLOSED_CONNECTION",
        }],
        "no CONNECTION_CLOSED while resuming"
    );
    assert!(out.contains(&Output::SuspendForResume));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Socket(SocketCommand::Close { .. }))));
    assert!(!out.contains(&Output::Teardown), "the video and mic stay");
    assert!(
        !out.contains(&Output::RequestMic),
        "the granted mic is reused"
    );
    assert!(out.ends_with(&[Output::FetchToken]), "first try at once");
    assert!(h.s.is_streaming() && resuming(&h.s));
    assert_eq!(
        h.s.talk_stream_chunk(old_stream, "x", true, None),
        Err(TalkStreamError::SessionEnded)
    );

    let out = h.connect(SID2);
    assert_eq!(start_sessions(&out), 1);
    let events = emitted(&out);
    assert!(events.contains(&&Event::Reconnected(SID2.to_owned())));
    assert!(!events
        .iter()
        .any(|e| matches!(e, Event::ConnectionClosed { .. })));
    assert!(!resuming(&h.s));
    assert_eq!(h.s.session_id(), Some(SID2));
    assert!(h.s.input_audio_state().is_muted, "mute state survives");
    assert_eq!(
        h.s.input_audio_state().permission_state,
        AudioPermissionState::Granted
    );
    let history: Vec<&str> =
        h.s.history
            .messages()
            .iter()
            .map(|m| m.content.as_str())
            .collect();
    assert_eq!(history, ["Hello there"], "history is kept");

    // The resumed session is a normal one: a later loss resumes again from try 1.
    let out = h.input(Input::PeerConnectionClosed);
    assert_eq!(
        emitted(&out),
        [&Event::Reconnecting {
            attempt: 1,
            reason: "CONNECTION_CLOSED_CODE_WEBRTC_FAILURE",
        }]
    );
}

#[test]
fn resume_gives_up_after_its_tries_with_the_original_close() {
    let mut h = provider(Some(2));
    h.streaming();
    let out = h.input(Input::PeerConnectionClosed);
    assert!(out.ends_with(&[Output::FetchToken]));

    // Try 1: the provider fails.
    let out = h.input(Input::TokenFailed);
    assert_eq!(
        emitted(&out),
        [&Event::Reconnecting {
            attempt: 2,
            reason: "CONNECTION_CLOSED_CODE_WEBRTC_FAILURE",
        }]
    );
    assert!(
        !out.contains(&Output::FetchToken),
        "try 2 waits its backoff"
    );
    assert!(h.advance(999).is_empty());
    assert_eq!(h.advance(1), [Output::FetchToken]);

    // Try 2: the session starts but is lost before media arrives; that was the last try.
    let mut out = h.input(Input::Token(fresh_token()));
    out.extend(h.input(Input::StartSessionAnswered {
        request: h.s.last_request,
        status: 200,
        body: body_for(SID2),
    }));
    assert!(out.contains(&Output::SessionStarted {
        session_id: SID2.into()
    }));
    let out = h.input(Input::PeerConnectionClosed);
    assert_eq!(
        closed_codes(&out),
        ["CONNECTION_CLOSED_CODE_WEBRTC_FAILURE"],
        "the original code, once"
    );
    assert!(
        !emitted(&out)
            .iter()
            .any(|e| matches!(e, Event::Reconnecting { .. })),
        "no third try"
    );
    assert!(out.contains(&Output::Teardown));
    assert!(!h.s.is_streaming());
    assert_eq!(h.s.poll_timeout(), None);
    assert!(h.advance(60_000).is_empty(), "nothing runs after giving up");
}

#[test]
fn a_failed_start_session_counts_as_a_try_and_backoff_grows() {
    let mut h = provider(Some(3));
    h.streaming();
    h.server_ends("bye");
    let mut delays = Vec::new();
    for attempt in 1..=3 {
        let mut out = h.input(Input::Token(fresh_token()));
        out.extend(h.input(Input::StartSessionAnswered {
            request: h.s.last_request,
            status: 403,
            body: r#"{"error":"nope"}"#.into(),
        }));
        if attempt == 3 {
            assert_eq!(
                closed_codes(&out),
                ["CONNECTION_CLOSED_CODE_SERVER_CLOSED_CONNECTION"]
            );
            break;
        }
        let at = h.s.poll_timeout().expect("a backoff before the next try");
        delays.push(at - h.now);
        h.advance(at - h.now);
    }
    assert_eq!(delays, [1_000, 2_000]);
    assert!(!h.s.is_streaming());
}

#[test]
fn stop_during_a_resume_cancels_it() {
    // Waiting for the token of try 1.
    let mut h = provider(Some(3));
    h.streaming();
    h.server_ends("bye");
    h.s.stop(h.now);
    let out = h.drain();
    assert_eq!(closed_codes(&out), ["CONNECTION_CLOSED_CODE_NORMAL"]);
    assert!(out.contains(&Output::Teardown));
    assert!(!h.s.is_streaming());
    assert!(
        h.input(Input::Token(fresh_token())).is_empty(),
        "late token ignored"
    );

    // Waiting out the backoff of try 2.
    let mut h = provider(Some(3));
    h.streaming();
    h.server_ends("bye");
    h.input(Input::TokenFailed);
    assert!(h.s.poll_timeout().is_some());
    h.s.stop(h.now);
    h.drain();
    assert_eq!(h.s.poll_timeout(), None);
    assert!(h.advance(10_000).is_empty());

    // While the replacement negotiates.
    let mut h = provider(Some(3));
    h.streaming();
    h.server_ends("bye");
    let mut out = h.input(Input::Token(fresh_token()));
    out.extend(h.input(Input::StartSessionAnswered {
        request: h.s.last_request,
        status: 200,
        body: body_for(SID2),
    }));
    h.s.stop(h.now);
    let out = h.drain();
    assert_eq!(closed_codes(&out), ["CONNECTION_CLOSED_CODE_NORMAL"]);
    assert!(!emitted(&out)
        .iter()
        .any(|e| matches!(e, Event::Reconnected(_))));
    assert!(!h.s.is_streaming());
}

#[test]
fn no_resume_without_the_option_for_normal_stops_or_before_media() {
    // Without autoResume: the official behaviour.
    let mut h = provider(None);
    h.streaming();
    let out = h.server_ends("bye");
    assert_eq!(
        closed_codes(&out),
        ["CONNECTION_CLOSED_CODE_SERVER_CLOSED_CONNECTION"]
    );
    assert!(!h.s.is_streaming());

    // A stop is the app's decision.
    let mut h = provider(Some(3));
    h.streaming();
    h.s.stop(h.now);
    let out = h.drain();
    assert_eq!(closed_codes(&out), ["CONNECTION_CLOSED_CODE_NORMAL"]);
    assert!(!out.contains(&Output::FetchToken));

    // A first session that never delivered media fails its start instead.
    let mut h = provider(Some(3));
    assert_eq!(h.s.start(h.now, false, false), StartOutcome::Started);
    h.drain();
    let mut out = h.input(Input::Token(fresh_token()));
    out.extend(h.input(Input::StartSessionAnswered {
        request: 1,
        status: 200,
        body: start_body(),
    }));
    let out = h.input(Input::PeerConnectionClosed);
    assert_eq!(
        closed_codes(&out),
        ["CONNECTION_CLOSED_CODE_WEBRTC_FAILURE"]
    );
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::StartFailed(StartFailure::Closed { .. }))));
    assert!(!h.s.is_streaming());
}

#[test]
fn a_pending_microphone_prompt_is_asked_again_after_a_loss() {
    let mut h = provider(Some(1));
    assert_eq!(h.s.start(h.now, false, false), StartOutcome::Started);
    h.drain();
    h.connect(SID);
    assert_eq!(
        h.s.input_audio_state().permission_state,
        AudioPermissionState::Pending
    );
    let out = h.server_ends("bye");
    // The shell drops the old capture with the suspended session, so the machine asks anew.
    assert!(out.contains(&Output::RequestMic));
    let out = h.input(Input::MicGranted);
    assert_eq!(emitted(&out), [&Event::MicPermissionGranted]);
}

#[test]
fn stop_works_in_every_state_and_late_answers_are_ignored() {
    // Idle: nothing at all.
    let mut h = provider(None);
    h.s.stop(h.now);
    assert!(h.drain().is_empty());

    // Waiting for the token provider.
    assert_eq!(h.s.start(h.now, false, false), StartOutcome::Started);
    h.drain();
    h.s.stop(h.now);
    let out = h.drain();
    assert!(out.contains(&Output::StartFailed(StartFailure::Stopped)));
    assert!(out.contains(&Output::Teardown));
    assert!(closed_codes(&out).is_empty(), "nothing had started");
    assert!(h.input(Input::Token(fresh_token())).is_empty());
    assert_eq!(
        h.s.input_audio_state().permission_state,
        AudioPermissionState::NotRequested,
        "the abandoned prompt does not block the next start"
    );

    // Waiting for start-session: the request keeps running; the session its answer created is
    // ended through a throw-away socket, and nothing else changes.
    assert_eq!(h.s.start(h.now, false, false), StartOutcome::Started);
    let out = h.drain();
    assert!(out.contains(&Output::RequestMic), "asks for the mic again");
    h.input(Input::Token(fresh_token()));
    h.s.stop(h.now);
    let out = h.drain();
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::AbortStartSession { .. })),
        "not aborted: a session it created would be left on the server"
    );
    assert!(out.contains(&Output::StartFailed(StartFailure::Stopped)));
    assert_eq!(h.s.poll_timeout(), None, "no start-session timeout left");
    let out = h.input(Input::StartSessionAnswered {
        request: 1,
        status: 200,
        body: start_body(),
    });
    let [Output::Throwaway(SocketCommand::Open { socket, url })] = &out[..] else {
        panic!("expected a throw-away socket: {out:?}");
    };
    assert!(url.contains("session_id="), "{url}");
    assert_eq!(
        h.input(Input::SocketOpened(*socket)),
        [Output::Throwaway(SocketCommand::Close { socket: *socket })]
    );
    assert!(!h.s.is_streaming());

    // Negotiating (the session exists on the server): socket closed, everything torn down.
    assert_eq!(h.s.start(h.now, true, false), StartOutcome::Started);
    h.drain();
    let mut out = h.input(Input::Token(fresh_token()));
    out.extend(h.input(Input::StartSessionAnswered {
        request: 2,
        status: 200,
        body: start_body(),
    }));
    out.extend(h.input(Input::SocketOpened(socket_of(&out))));
    h.s.stop(h.now);
    let out = h.drain();
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Socket(SocketCommand::Close { .. }))));
    assert!(out.contains(&Output::StartFailed(StartFailure::Stopped)));
    assert!(out.contains(&Output::Teardown));
    assert_eq!(
        h.s.poll_timeout(),
        None,
        "no heartbeat or negotiation timer left"
    );
    assert!(h
        .input(Input::IceConnectionState("connected".into()))
        .is_empty());
}

#[test]
fn a_second_start_joins_the_session_under_way() {
    let mut h = provider(None);
    assert_eq!(h.s.start(h.now, false, false), StartOutcome::Started);
    let first = h.drain();
    assert_eq!(
        first
            .iter()
            .filter(|o| matches!(o, Output::FetchToken))
            .count(),
        1
    );
    assert_eq!(h.s.start(h.now, false, false), StartOutcome::Joined);
    assert!(
        h.drain().is_empty(),
        "no second token, mic prompt or request"
    );
    assert!(!h.s.media_ready());
    let out = h.connect(SID);
    assert_eq!(start_sessions(&out), 1);
    assert!(h.s.media_ready());
    assert_eq!(h.s.start(h.now, true, false), StartOutcome::Joined);
    assert!(h.drain().is_empty());
}

#[test]
fn a_resume_try_whose_peer_connection_fails_goes_on_silently() {
    let mut h = provider(Some(2));
    h.streaming();
    h.server_ends("bye");
    // Try 1 is accepted, then its peer connection cannot be created.
    let out = h.input(Input::Token(fresh_token()));
    let Some(Output::StartSession { request, .. }) = out.last().cloned() else {
        panic!("{out:?}")
    };
    let out = h.input(Input::StartSessionAnswered {
        request,
        status: 200,
        body: body_for("s2"),
    });
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::CreatePeerConnection { .. })));
    let out = h.input(Input::PeerConnectionFailed("no more peers".into()));
    assert!(
        closed_codes(&out).is_empty(),
        "no CONNECTION_CLOSED for a failed try"
    );
    assert_eq!(
        emitted(&out),
        [&Event::Reconnecting {
            attempt: 2,
            reason: "CONNECTION_CLOSED_CODE_SERVER_CLOSED_CONNECTION",
        }]
    );
    assert!(resuming(&h.s));
}

/// Whether an automatic resume is under way (between the loss and `RECONNECTED`).
fn resuming(s: &Session) -> bool {
    match &s.phase {
        Phase::Starting(starting) => starting.resume.is_some(),
        Phase::Live(live) => live.resume.is_some(),
        Phase::Idle => false,
    }
}
