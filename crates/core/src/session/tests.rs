//! Scenario tests of the session machine with a fake clock: each test drives a whole
//! conversation through inputs and checks the IO requests and public events it produces.

use super::*;
use crate::session::negotiation::FIRST_CONNECT_TIMEOUT_MS;
use crate::session::talk::TalkStreamError;

mod conversation;

const SID: &str = "sess-1";

fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn token(exp_secs: u64) -> String {
    let payload = format!(r#"{{"type":"stateful","accountId":"acc","exp":{exp_secs}}}"#);
    format!("eyJhbGciOiJIUzI1NiJ9.{}.sig", b64url(payload.as_bytes()))
}

/// Start time of every scenario: 2026-01-01, so token expiry is meaningful.
const T0: Millis = 1_767_225_600_000;

fn start_body() -> String {
    format!(
        r#"{{"sessionId":"{SID}","engineHost":"127.0.0.1:9","engineProtocol":"http",
            "signallingEndpoint":"/ws","clientConfig":{{"heartbeatIntervalSeconds":5,
            "maxWsReconnectionAttempts":2,"iceServers":[]}}}}"#
    )
}

fn signal(action: &str, payload: &str) -> String {
    format!(r#"{{"actionType":"{action}","sessionId":"{SID}","payload":{payload}}}"#)
}

fn speech(id: &str, idx: u32, text: &str, role: &str, eos: bool, interrupted: bool) -> String {
    format!(
        r#"{{"messageType":"speechText","data":{{"message_id":"{id}","content_index":{idx},
            "content":"{text}","role":"{role}","end_of_speech":{eos},"interrupted":{interrupted}}}}}"#
    )
}

struct H {
    s: Session,
    now: Millis,
}

impl H {
    fn new(source: TokenSource) -> H {
        H {
            s: Session::new(SessionConfig::new(source), 7),
            now: T0,
        }
    }

    fn fixed() -> H {
        H::new(TokenSource::Fixed(token(T0 / 1000 + 3600)))
    }

    fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.s.poll_output()).collect()
    }

    fn input(&mut self, i: Input) -> Vec<Output> {
        self.s.handle_input(self.now, i);
        self.drain()
    }

    /// Moves the fake clock forward by `ms`, firing every timeout on the way.
    fn advance(&mut self, ms: Millis) -> Vec<Output> {
        let end = self.now + ms;
        let mut out = Vec::new();
        for _ in 0..10_000 {
            match self.s.poll_timeout() {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    out.extend(self.input(Input::Tick));
                }
                _ => break,
            }
        }
        self.now = end;
        out
    }

    /// Starts a session and has the Core API accept it (socket and peer connection asked for).
    fn accepted(&mut self) -> Vec<Output> {
        assert_eq!(self.s.start(self.now, false, false), StartOutcome::Started);
        let mut out = self.drain();
        out.extend(self.input(Input::StartSessionAnswered {
            request: self.s.last_request,
            status: 200,
            body: start_body(),
        }));
        out
    }

    /// Starts a session and brings it up to an open socket with the offer sent.
    fn offered(&mut self) -> Vec<Output> {
        let mut out = self.accepted();
        out.extend(self.input(Input::LocalOffer { sdp: "o".into() }));
        out.extend(self.input(Input::SocketOpened(socket_of(&out))));
        out
    }

    /// Starts a session and brings it up to an open socket, applied answer and connected ICE.
    fn live(&mut self) -> Vec<Output> {
        let mut out = self.offered();
        out.extend(self.input(Input::SocketMessage {
            socket: socket_of(&out),
            text: signal("answer", r#"{"type":"answer","sdp":"a"}"#),
        }));
        out.extend(self.input(Input::AnswerApplied));
        out.extend(self.input(Input::IceConnectionState("connected".into())));
        out.extend(self.input(Input::DataChannelOpen));
        out
    }

    /// Gives every restart offer its local description and lets the clock run in 1 s steps
    /// until the session ends (bounded); returns `all` with everything output on the way.
    fn restart_until_closed(&mut self, mut all: Vec<Output>) -> Vec<Output> {
        for _ in 0..60 {
            if let Some(Output::CreateOffer { .. }) = all.last() {
                all.extend(self.input(Input::LocalOffer { sdp: "r".into() }));
            }
            all.extend(self.advance(1_000));
            if !self.s.is_streaming() {
                break;
            }
        }
        all
    }

    fn socket(&self) -> u32 {
        match &self.s.phase {
            Phase::Live(l) => l.signalling.socket(),
            _ => 0,
        }
    }
}

/// ICE-restart offers asked for in `out`.
fn restart_offers(out: &[Output]) -> usize {
    out.iter()
        .filter(|o| matches!(o, Output::CreateOffer { ice_restart: true }))
        .count()
}

/// Id of the last socket opened in `out`.
fn socket_of(out: &[Output]) -> u32 {
    out.iter()
        .rev()
        .find_map(|o| match o {
            Output::Socket(SocketCommand::Open { socket, .. }) => Some(*socket),
            _ => None,
        })
        .unwrap_or(0)
}

fn events(out: &[Output]) -> Vec<&'static str> {
    out.iter()
        .filter_map(|o| match o {
            Output::Emit(e) => Some(e.name()),
            _ => None,
        })
        .collect()
}

fn sent(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Socket(SocketCommand::Send { text, .. }) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_video_is_set_up_once_the_offer_is_on_its_way() {
    let mut h = H::fixed();
    let mut out = h.accepted();
    out.extend(h.input(Input::SocketOpened(socket_of(&out))));
    assert!(!out.contains(&Output::ShowVideo), "no offer yet: {out:?}");
    // The socket is open when the offer is set: it goes out at once, then the video.
    let out = h.input(Input::LocalOffer { sdp: "v=0".into() });
    let offer = out
        .iter()
        .position(|o| sent(std::slice::from_ref(o)).len() == 1);
    let show = out.iter().position(|o| o == &Output::ShowVideo);
    assert!(offer.is_some() && show > offer, "{out:?}");
}

fn closed_codes(out: &[Output]) -> Vec<&'static str> {
    out.iter()
        .filter_map(|o| match o {
            Output::Emit(Event::ConnectionClosed { code, .. }) => Some(*code),
            _ => None,
        })
        .collect()
}

#[test]
fn happy_path_requests_events_and_ordering() {
    let mut h = H::fixed();
    assert_eq!(h.s.start(h.now, false, false), StartOutcome::Started);
    let out = h.drain();
    assert_eq!(events(&out), ["MIC_PERMISSION_PENDING"]);
    assert!(out.contains(&Output::RequestMic));
    let Some(Output::StartSession {
        url,
        token: t,
        body,
        request,
    }) = out
        .iter()
        .find(|o| matches!(o, Output::StartSession { .. }))
        .cloned()
    else {
        panic!("no start-session request in {out:?}");
    };
    assert_eq!(request, 1);
    assert_eq!(url, "https://api.anam.ai/v1/engine/session");
    assert_eq!(t, token(T0 / 1000 + 3600));
    assert!(body.contains(r#""clientMetadata""#));
    assert!(h.s.is_streaming());

    let out = h.input(Input::StartSessionAnswered {
        request: 1,
        status: 200,
        body: start_body(),
    });
    assert!(matches!(out[0], Output::SessionStarted { ref session_id } if session_id == SID));
    assert!(out.contains(&Output::Socket(SocketCommand::Open {
        socket: 1,
        url: format!("ws://127.0.0.1:9/ws?session_id={SID}"),
    })));
    assert!(out.contains(&Output::CreateOffer { ice_restart: false }));
    assert_eq!(h.s.session_id(), Some(SID));
    assert!(
        h.s.talk(h.now, "hi").is_ok(),
        "talk works as soon as the session started"
    );
    assert!(
        matches!(&h.drain()[..], [Output::SendTalk { call: 1, url, .. }]
        if url == &format!("http://127.0.0.1:9/talk?session_id={SID}"))
    );

    // The offer is ready before the socket: it waits in the queue, with its candidates, and
    // the video waits for it to go out.
    let out = h.input(Input::LocalOffer { sdp: "v=0".into() });
    assert!(sent(&out).is_empty() && !out.contains(&Output::ShowVideo));
    let cand = IceCandidate {
        candidate: "candidate:1".into(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
        username_fragment: None,
    };
    assert!(sent(&h.input(Input::LocalCandidate(cand.clone()))).is_empty());
    let out = h.input(Input::SocketOpened(1));
    assert_eq!(
        out.last(),
        Some(&Output::ShowVideo),
        "after the offer went out: {out:?}"
    );
    let flushed = sent(&out);
    assert_eq!(flushed.len(), 2);
    assert!(flushed[0].contains(r#""actionType":"offer""#));
    assert!(flushed[0].contains(r#""userUid":"sess-1""#));
    assert!(flushed[1].contains(r#""actionType":"icecandidate""#));

    // Remote candidates wait for the answer.
    let rc = signal(
        "icecandidate",
        r#"{"candidate":"candidate:2","sdpMid":"0"}"#,
    );
    let out = h.input(Input::SocketMessage {
        socket: 1,
        text: rc,
    });
    assert!(!out
        .iter()
        .any(|o| matches!(o, Output::AddRemoteCandidate(_))));
    let ans = signal("answer", r#"{"type":"answer","sdp":"a"}"#);
    let out = h.input(Input::SocketMessage {
        socket: 1,
        text: ans.clone(),
    });
    assert!(out.contains(&Output::ApplyAnswer { sdp: "a".into() }));
    let out = h.input(Input::SocketMessage {
        socket: 1,
        text: ans,
    });
    assert!(out.is_empty(), "a second answer is ignored: {out:?}");
    let out = h.input(Input::AnswerApplied);
    assert!(matches!(&out[..], [Output::AddRemoteCandidate(c)] if c.candidate == "candidate:2"));

    let mut all = h.input(Input::RemoteTrack(TrackKind::Video));
    assert!(!all.contains(&Output::MediaReady));
    all.extend(h.input(Input::RemoteTrack(TrackKind::Audio)));
    assert!(all.contains(&Output::MediaReady));
    for _ in 0..2 {
        all.extend(h.input(Input::IceConnectionState("connected".into())));
        all.extend(h.input(Input::DataChannelOpen));
        all.extend(h.input(Input::FirstFrame));
        all.extend(h.input(Input::SocketMessage {
            socket: 1,
            text: signal("sessionready", "{}"),
        }));
    }
    all.extend(h.input(Input::MicGranted));
    all.extend(h.input(Input::InputAudioAttached));
    assert_eq!(
        events(&all),
        [
            "VIDEO_STREAM_STARTED",
            "AUDIO_STREAM_STARTED",
            "CONNECTION_ESTABLISHED",
            "DATA_CHANNEL_OPEN",
            "VIDEO_PLAY_STARTED",
            "SESSION_READY",
            "MIC_PERMISSION_GRANTED",
            "INPUT_AUDIO_STREAM_STARTED",
        ],
        "each event once"
    );
    assert_eq!(
        h.s.input_audio_state().permission_state,
        AudioPermissionState::Granted
    );
}

#[test]
fn heartbeats_follow_client_config_and_stop_with_the_socket() {
    let mut h = H::fixed();
    h.live();
    let out = h.advance(4_999);
    assert!(sent(&out).is_empty());
    let out = h.advance(1);
    let beats: Vec<serde_json::Value> = sent(&out)
        .iter()
        .filter_map(|t| serde_json::from_str(t).ok())
        .collect();
    assert_eq!(
        beats,
        [serde_json::json!({"actionType": "heartbeat", "sessionId": SID, "payload": ""})]
    );
    assert_eq!(sent(&h.advance(10_000)).len(), 2);
    let sock = h.socket();
    h.input(Input::SocketClosed {
        socket: sock,
        code: 1006,
        reason: String::new(),
    });
    // While the socket is down no heartbeat is sent (only a reconnect is scheduled).
    let out = h.advance(99);
    assert!(sent(&out).is_empty());
}

#[test]
fn reconnects_after_each_close_and_talk_streams_survive() {
    let mut h = H::fixed();
    h.live();
    let ts = h.s.create_talk_stream(Some("corr-1")).expect("stream");
    for round in 0..4 {
        let sock = h.socket();
        let out = h.input(Input::SocketClosed {
            socket: sock,
            code: 1006,
            reason: String::new(),
        });
        assert!(closed_codes(&out).is_empty(), "round {round}");
        // Talk while reconnecting: queued, not lost.
        h.s.talk_stream_chunk(ts, &format!("part {round} "), false, None)
            .expect("chunk while reconnecting");
        assert!(sent(&h.drain()).is_empty());
        let out = h.advance(100);
        let new = socket_of(&out);
        assert!(new > sock, "a new socket is opened after 100 ms");
        let out = h.input(Input::SocketOpened(new));
        let texts = sent(&out);
        assert_eq!(texts.len(), 1, "queued chunk flushed on open");
        assert!(texts[0].contains(&format!("part {round} ")));
        assert!(texts[0].contains(r#""correlationId":"corr-1""#));
        // A server that sends sessionready again on the new socket does not duplicate it.
        let out = h.input(Input::SocketMessage {
            socket: new,
            text: signal("sessionready", "{}"),
        });
        let ready = events(&out)
            .iter()
            .filter(|e| **e == "SESSION_READY")
            .count();
        assert!(ready <= 1);
        // Stable for 5 s: the budget (2) is restored, so four rounds never exhaust it.
        h.advance(5_000);
    }
    // Messages from an old socket are ignored.
    let out = h.input(Input::SocketMessage {
        socket: 1,
        text: signal("endsession", r#""stale""#),
    });
    assert!(closed_codes(&out).is_empty());
    assert!(h.s.is_streaming());
}

#[test]
fn reconnect_budget_exhaustion_closes_once() {
    let mut h = H::fixed();
    h.live();
    let mut all = Vec::new();
    for _ in 0..3 {
        let sock = h.socket();
        all.extend(h.input(Input::SocketClosed {
            socket: sock,
            code: 1006,
            reason: String::new(),
        }));
        all.extend(h.advance(1_000));
    }
    assert_eq!(
        closed_codes(&all),
        ["CONNECTION_CLOSED_CODE_SIGNALLING_CLIENT_CONNECTION_FAILURE"]
    );
    assert!(all.contains(&Output::Teardown));
    assert!(!h.s.is_streaming(), "a failed session is not streaming");
    h.s.stop(h.now);
    assert!(
        closed_codes(&h.drain()).is_empty(),
        "no second CONNECTION_CLOSED"
    );
}

#[test]
fn transcripts_fold_into_history() {
    let mut h = H::fixed();
    h.live();
    let mut all = Vec::new();
    all.extend(h.input(Input::DataChannelMessage(speech(
        "m1", 0, "hello", "user", true, false,
    ))));
    all.extend(h.input(Input::DataChannelMessage(speech(
        "m1", 0, "Hi ", "persona", false, false,
    ))));
    all.extend(h.input(Input::DataChannelMessage(speech(
        "m1", 1, "there", "persona", false, true,
    ))));
    all.extend(h.input(Input::DataChannelMessage(speech(
        "m1", 2, "!", "persona", true, false,
    ))));
    all.extend(h.input(Input::DataChannelMessage("not json".into())));
    assert_eq!(
        events(&all),
        [
            "MESSAGE_STREAM_EVENT_RECEIVED",
            "MESSAGE_HISTORY_UPDATED",
            "MESSAGE_STREAM_EVENT_RECEIVED",
            "MESSAGE_STREAM_EVENT_RECEIVED",
            "MESSAGE_STREAM_EVENT_RECEIVED",
            "MESSAGE_HISTORY_UPDATED",
        ]
    );
    let last = all
        .iter()
        .rev()
        .find_map(|o| match o {
            Output::Emit(Event::MessageHistoryUpdated(m)) => Some(m.clone()),
            _ => None,
        })
        .unwrap_or_default();
    assert_eq!(last.len(), 2);
    assert_eq!(last[0].id, "user::m1");
    assert_eq!(last[1].content, "Hi there!");
    assert_eq!(last[1].interrupted, Some(true));
    assert!(
        matches!(all.last(), Some(Output::Warn(_))),
        "bad JSON only warns"
    );
}

#[test]
fn interrupts_reach_talk_streams_and_the_data_channel() {
    let mut h = H::fixed();
    h.live();
    let ts = h.s.create_talk_stream(None).expect("stream");
    let cid =
        h.s.talk_stream_correlation_id(ts)
            .unwrap_or_default()
            .to_owned();
    assert_eq!(cid.len(), 11, "random id generated");
    h.s.talk_stream_chunk(ts, "one ", false, None)
        .expect("chunk");
    let out = h.input(Input::SocketMessage {
        socket: h.socket(),
        text: signal(
            "talkinputstreaminterrupted",
            &format!(r#"{{"correlationId":"{cid}"}}"#),
        ),
    });
    assert!(out.contains(&Output::Emit(Event::TalkStreamInterrupted(cid.clone()))));
    assert_eq!(
        h.s.talk_stream_state(ts),
        Some(TalkStreamState::Interrupted)
    );
    assert_eq!(
        h.s.talk_stream_chunk(ts, "two", true, None),
        Err(TalkStreamError::NotActive(TalkStreamState::Interrupted))
    );

    h.now = 1_784_801_551_123;
    h.s.interrupt(h.now).expect("live");
    let out = h.drain();
    let Some(Output::SendData(text)) = out.first() else {
        panic!("interrupt not sent: {out:?}");
    };
    assert!(text.contains(r#""message_type":"interrupt""#));
    assert!(text.contains(r#""timestamp":"2026-07-23T10:12:31.123Z""#));
    h.s.send_user_message(h.now, "hey").expect("live");
    let out = h.drain();
    let Some(Output::SendData(text)) = out.first() else {
        panic!("speech not sent: {out:?}");
    };
    assert!(text.contains(r#""timestamp":"2026-07-23T10:12:31.123""#));
    assert!(!text.contains(".123Z"), "speech timestamps drop the Z");

    h.input(Input::DataChannelClosed);
    h.s.interrupt(h.now).expect("live");
    assert!(!h.drain().iter().any(|o| matches!(o, Output::SendData(_))));
}

#[test]
fn start_session_retries_5xx_with_backoff_then_fails_typed() {
    let mut h = H::fixed();
    assert_eq!(h.s.start(h.now, true, false), StartOutcome::Started);
    h.drain();
    let busy = r#"{"error":"busy","message":"try later"}"#;
    let mut delays = Vec::new();
    for attempt in 1..=3 {
        let out = h.input(Input::StartSessionAnswered {
            request: attempt,
            status: 503,
            body: busy.into(),
        });
        if attempt == 3 {
            let Some(Output::StartFailed(StartFailure::Api(f))) = out.first() else {
                panic!("expected a failure: {out:?}");
            };
            assert_eq!((f.code, f.status), (ErrorCode::ServiceBusy, 503));
            assert_eq!(f.cause.as_deref(), Some("try later"));
            assert!(!h.s.is_streaming());
            break;
        }
        let due = h.s.poll_timeout().expect("backoff timer");
        delays.push(due - h.now);
        let out = h.advance(due - h.now);
        assert!(out
            .iter()
            .any(|o| matches!(o, Output::StartSession { request: a, .. } if *a == attempt + 1)));
    }
    assert!((125..250).contains(&delays[0]), "{delays:?}");
    assert!((250..500).contains(&delays[1]), "{delays:?}");
}

#[test]
fn client_errors_are_not_retried_and_timeouts_are() {
    let mut h = H::fixed();
    assert_eq!(h.s.start(h.now, true, false), StartOutcome::Started);
    h.drain();
    let out = h.input(Input::StartSessionAnswered {
        request: 1,
        status: 429,
        body: r#"{"error":"Concurrent session limit reached"}"#.into(),
    });
    assert!(matches!(&out[0], Output::StartFailed(StartFailure::Api(f))
        if f.code == ErrorCode::MaxConcurrentSessionsReached && f.status == 429));

    let mut h = H::fixed();
    assert_eq!(h.s.start(h.now, true, false), StartOutcome::Started);
    h.drain();
    let out = h.advance(10_000);
    assert!(out.contains(&Output::AbortStartSession { request: 1 }));
    let out = h.advance(300);
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::StartSession { request: 2, .. })));
    // The aborted attempt's late answer is ignored.
    let out = h.input(Input::StartSessionUnreachable {
        request: 1,
        detail: "aborted".into(),
    });
    assert!(out.is_empty());
}

#[test]
fn token_provider_is_asked_again_once_for_expired_tokens_and_401() {
    let mut h = H::new(TokenSource::Provider);
    assert_eq!(h.s.start(h.now, true, false), StartOutcome::Started);
    assert_eq!(h.drain(), [Output::FetchToken]);
    // Expired by `exp`: asked again once before any request.
    let out = h.input(Input::Token(token(T0 / 1000 - 10)));
    assert_eq!(out, [Output::FetchToken]);
    let out = h.input(Input::Token(token(T0 / 1000 + 3600)));
    assert!(matches!(out[..], [Output::StartSession { request: 1, .. }]));
    // A 401 after the refresh is final.
    let out = h.input(Input::StartSessionAnswered {
        request: 1,
        status: 401,
        body: r#"{"message":"expired"}"#.into(),
    });
    assert!(matches!(&out[0], Output::StartFailed(StartFailure::Api(f))
        if f.code == ErrorCode::AuthenticationError));

    // Without an expired `exp`, a 401 triggers the one refresh.
    let mut h = H::new(TokenSource::Provider);
    assert_eq!(h.s.start(h.now, true, false), StartOutcome::Started);
    h.drain();
    h.input(Input::Token(token(T0 / 1000 + 3600)));
    let out = h.input(Input::StartSessionAnswered {
        request: 1,
        status: 401,
        body: "{}".into(),
    });
    assert_eq!(out, [Output::FetchToken]);
    let out = h.input(Input::Token(token(T0 / 1000 + 7200)));
    assert!(matches!(out[..], [Output::StartSession { request: 2, .. }]));

    // A provider failure rejects with the app's own error.
    let mut h = H::new(TokenSource::Provider);
    assert_eq!(h.s.start(h.now, true, false), StartOutcome::Started);
    h.drain();
    let out = h.input(Input::TokenFailed);
    assert_eq!(out[0], Output::StartFailed(StartFailure::TokenProvider));
    assert!(!h.s.is_streaming());
}

#[test]
fn server_end_and_stop_close_exactly_once() {
    let mut h = H::fixed();
    h.live();
    let out = h.input(Input::SocketMessage {
        socket: h.socket(),
        text: signal("endsession", r#""bye""#),
    });
    assert!(out.contains(&Output::Emit(Event::ConnectionClosed {
        code: "CONNECTION_CLOSED_CODE_SERVER_CLOSED_CONNECTION",
        details: Some("bye".into()),
    })));
    assert!(out.contains(&Output::Teardown));
    assert!(!h.s.is_streaming());
    assert_eq!(h.s.session_id(), None);
    h.s.stop(h.now);
    assert!(h.drain().is_empty());

    // A new session on the same client starts clean; old talk streams are dead.
    let mut h = H::fixed();
    h.live();
    let old = h.s.create_talk_stream(Some("c")).expect("stream");
    h.s.stop(h.now);
    let out = h.drain();
    assert_eq!(closed_codes(&out), ["CONNECTION_CLOSED_CODE_NORMAL"]);
    assert!(
        matches!(out[0], Output::Emit(Event::ConnectionClosed { .. })),
        "fires first"
    );
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Socket(SocketCommand::Close { .. }))));
    let out = h.live();
    assert!(closed_codes(&out).is_empty());
    assert_eq!(
        h.s.talk_stream_chunk(old, "x", true, None),
        Err(TalkStreamError::SessionEnded)
    );
    // A second start while live shares the session: no second start-session.
    assert_eq!(h.s.start(h.now, false, false), StartOutcome::Joined);
    assert!(h.drain().is_empty());
}

#[test]
fn stream_promise_rejects_when_the_session_fails_before_media() {
    let mut h = H::fixed();
    assert_eq!(h.s.start(h.now, true, false), StartOutcome::Started);
    h.input(Input::StartSessionAnswered {
        request: 1,
        status: 200,
        body: start_body(),
    });
    let out = h.input(Input::OfferFailed("boom".into()));
    assert_eq!(
        closed_codes(&out),
        ["CONNECTION_CLOSED_CODE_WEBRTC_FAILURE"]
    );
    assert!(out.iter().any(|o| matches!(
        o,
        Output::StartFailed(StartFailure::Closed {
            code: ConnectionClosedCode::WebrtcFailure,
            ..
        })
    )));
}

#[test]
fn ice_restart_is_bounded_and_recovers() {
    // Recovery: failed -> new socket -> restart offer -> connected.
    let mut h = H::fixed();
    h.live();
    let old = h.socket();
    let out = h.input(Input::IceConnectionState("failed".into()));
    assert!(out.contains(&Output::Socket(SocketCommand::Close { socket: old })));
    let new = socket_of(&out);
    assert!(new > old);
    let out = h.input(Input::SocketOpened(new));
    assert!(out.contains(&Output::CreateOffer { ice_restart: true }));
    let out = h.input(Input::LocalOffer { sdp: "o2".into() });
    assert!(sent(&out)[0].contains(r#""sdp":"o2""#));
    let out = h.input(Input::IceConnectionState("connected".into()));
    assert!(
        events(&out).is_empty(),
        "CONNECTION_ESTABLISHED fires only once"
    );
    assert!(closed_codes(&h.advance(30_000)).is_empty());

    // Exhaustion: three offers without recovery, then WEBRTC_FAILURE.
    let mut h = H::fixed();
    h.live();
    let mut all = h.input(Input::IceConnectionState("disconnected".into()));
    all.extend(h.advance(1_999));
    assert!(!all.iter().any(|o| matches!(o, Output::CreateOffer { .. })));
    all.extend(h.advance(1));
    let new = socket_of(&all);
    all.extend(h.input(Input::SocketOpened(new)));
    let all = h.restart_until_closed(all);
    assert_eq!(restart_offers(&all), 3);
    assert_eq!(
        closed_codes(&all),
        ["CONNECTION_CLOSED_CODE_WEBRTC_FAILURE"]
    );
}

#[test]
fn a_first_connection_that_never_connects_is_restarted_then_fails() {
    // As in a browser that gathered no local candidate (the answer applies, ICE never connects),
    // and with an answer that never comes.
    for answered in [true, false] {
        let mut h = H::fixed();
        let socket = socket_of(&h.offered());
        if answered {
            h.input(Input::SocketMessage {
                socket,
                text: signal("answer", r#"{"type":"answer","sdp":"a"}"#),
            });
            h.input(Input::AnswerApplied);
            h.input(Input::IceConnectionState("checking".into()));
        }
        let quiet = h.advance(FIRST_CONNECT_TIMEOUT_MS - 1);
        assert!(!quiet.iter().any(|o| matches!(
            o,
            Output::Socket(SocketCommand::Close { .. }) | Output::CreateOffer { .. }
        )));
        let out = h.advance(1);
        assert!(
            out.contains(&Output::Socket(SocketCommand::Close { socket })),
            "the restart episode starts with a fresh socket"
        );
        let opened = h.input(Input::SocketOpened(socket_of(&out)));
        let all = h.restart_until_closed(opened);
        assert_eq!(restart_offers(&all), 3, "answered: {answered}");
        assert_eq!(
            closed_codes(&all),
            ["CONNECTION_CLOSED_CODE_WEBRTC_FAILURE"]
        );
    }

    // A first connection that made it in time is never restarted by the deadline.
    let mut h = H::fixed();
    h.live();
    assert!(!h
        .advance(FIRST_CONNECT_TIMEOUT_MS * 3)
        .iter()
        .any(|o| matches!(o, Output::CreateOffer { .. })));
}

#[test]
fn mute_state_is_kept_across_sessions_and_applied() {
    let mut h = H::fixed();
    let st = h.s.set_muted(true);
    assert!(st.is_muted);
    assert_eq!(st.permission_state, AudioPermissionState::NotRequested);
    assert_eq!(h.drain(), [Output::ApplyMute(true)]);
    h.live();
    assert!(h.s.input_audio_state().is_muted);
    h.s.set_muted(false);
    assert_eq!(h.drain(), [Output::ApplyMute(false)]);
}

#[test]
fn reasoning_chunks_fold_and_config_updates_are_reported() {
    let mut h = H::fixed();
    h.live();
    let chunk = |idx: u32, text: &str, end: bool| {
        format!(
            r#"{{"messageType":"reasoningText","data":{{"message_id":"r1","content_index":{idx},
                "content":"{text}","role":"persona","end_of_thought":{end}}}}}"#
        )
    };
    let mut all = h.input(Input::DataChannelMessage(chunk(0, "Let me ", false)));
    all.extend(h.input(Input::DataChannelMessage(chunk(1, "think.", true))));
    all.extend(h.input(Input::DataChannelMessage(
        r#"{"messageType":"personaConfigUpdateApplied","data":{"session_id":"s","changed_fields":{"voice":{"before":"a","after":"b"}}}}"#.into(),
    )));
    assert_eq!(
        events(&all),
        [
            "REASONING_STREAM_EVENT_RECEIVED",
            "REASONING_STREAM_EVENT_RECEIVED",
            "REASONING_HISTORY_UPDATED",
            "PERSONA_CONFIG_UPDATE_APPLIED",
        ]
    );
    let history = all.iter().find_map(|o| match o {
        Output::Emit(Event::ReasoningHistoryUpdated(m)) => Some(m.clone()),
        _ => None,
    });
    let history = history.unwrap_or_default();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].id, "persona::r1");
    assert_eq!(history[0].content, "Let me think.");
    let changed = all.iter().find_map(|o| match o {
        Output::Emit(Event::PersonaConfigUpdateApplied(j)) => Some(j.clone()),
        _ => None,
    });
    let changed: serde_json::Value =
        serde_json::from_str(&changed.unwrap_or_default()).unwrap_or_default();
    assert_eq!(changed["changedFields"]["voice"]["after"], "b");
}

#[test]
fn the_peer_connection_is_created_with_the_servers_ice_settings_once_the_socket_opens() {
    let mut h = H::fixed();
    assert_eq!(h.s.start(h.now, true, false), StartOutcome::Started);
    let out = h.drain();
    assert!(matches!(out[..], [Output::StartSession { .. }]), "{out:?}");
    let out = h.input(Input::StartSessionAnswered {
        request: 1,
        status: 200,
        body: start_body(),
    });
    let position = |f: &dyn Fn(&Output) -> bool| out.iter().position(f);
    let socket = position(&|o| matches!(o, Output::Socket(SocketCommand::Open { .. })));
    let peer = position(
        &|o| matches!(o, Output::CreatePeerConnection { ice_servers_json, .. } if ice_servers_json == "[]"),
    );
    let offer = position(&|o| *o == Output::CreateOffer { ice_restart: false });
    assert!(
        matches!((socket, peer, offer), (Some(s), Some(p), Some(o)) if s < p && p < o),
        "{out:?}"
    );
}

#[test]
fn a_peer_connection_that_cannot_be_created_ends_the_start() {
    let mut h = H::fixed();
    assert_eq!(h.s.start(h.now, true, false), StartOutcome::Started);
    h.input(Input::StartSessionAnswered {
        request: 1,
        status: 200,
        body: start_body(),
    });
    let out = h.input(Input::PeerConnectionFailed("bad rtcConfiguration".into()));
    assert_eq!(
        closed_codes(&out),
        ["CONNECTION_CLOSED_CODE_WEBRTC_FAILURE"]
    );
    assert!(out.iter().any(|o| matches!(o,
        Output::StartFailed(StartFailure::Closed { details: Some(d), .. }) if d == "bad rtcConfiguration")));
    assert!(out.contains(&Output::Teardown));
    assert!(!h.s.is_streaming());
}
mod calls;
mod lifecycle;
mod microphone;
mod start_requests;
mod talk_calls;
