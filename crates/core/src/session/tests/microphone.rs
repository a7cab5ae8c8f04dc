//! The microphone request of a session whose video the client shows: deferred until the first
//! frame, or until [`MIC_DEFERRAL_MS`] passed.

use super::*;

fn mic_requests(out: &[Output]) -> usize {
    out.iter().filter(|o| **o == Output::RequestMic).count()
}

/// Brings an accepted session up to connected media; `before` is its output so far.
fn connect(h: &mut H, before: &[Output]) -> Vec<Output> {
    let mut out = h.input(Input::LocalOffer { sdp: "o".into() });
    out.extend(h.input(Input::SocketOpened(socket_of(before))));
    out.extend(h.input(Input::SocketMessage {
        socket: socket_of(before),
        text: signal("answer", r#"{"type":"answer","sdp":"a"}"#),
    }));
    out.extend(h.input(Input::AnswerApplied));
    out.extend(h.input(Input::IceConnectionState("connected".into())));
    out.extend(h.input(Input::RemoteTrack(TrackKind::Video)));
    out.extend(h.input(Input::RemoteTrack(TrackKind::Audio)));
    out
}

/// Starts a session shown in a `<video>` and brings it to an accepted start-session.
fn started_with_video(h: &mut H) -> Vec<Output> {
    assert_eq!(h.s.start(h.now, false, true), StartOutcome::Started);
    let mut out = h.drain();
    out.extend(h.input(Input::StartSessionAnswered {
        request: 1,
        status: 200,
        body: start_body(),
    }));
    out
}

#[test]
fn a_shown_video_defers_the_microphone_until_its_first_frame() {
    let mut h = H::fixed();
    let started = started_with_video(&mut h);
    let out = started.clone();
    assert!(events(&out).contains(&"MIC_PERMISSION_PENDING"), "{out:?}");
    assert_eq!(mic_requests(&out), 0);
    assert_eq!(
        h.s.input_audio_state().permission_state,
        AudioPermissionState::Pending
    );
    // The deadline is part of the machine's own timeout.
    assert!(h
        .s
        .poll_timeout()
        .is_some_and(|t| t <= h.now + MIC_DEFERRAL_MS));

    let mut out = h.advance(300);
    assert_eq!(mic_requests(&out), 0, "nothing before the first frame");
    out.extend(connect(&mut h, &started));
    assert_eq!(mic_requests(&out), 0, "nothing before the first frame");
    out.extend(h.input(Input::FirstFrame));
    assert_eq!(mic_requests(&out), 1);
    // The deadline is gone: it fires no second request.
    let out = h.advance(MIC_DEFERRAL_MS * 2);
    assert_eq!(mic_requests(&out), 0);
}

#[test]
fn without_a_first_frame_the_microphone_is_requested_at_the_deadline() {
    let mut h = H::fixed();
    started_with_video(&mut h);
    let out = h.advance(MIC_DEFERRAL_MS - 1);
    assert_eq!(mic_requests(&out), 0);
    let out = h.advance(1);
    assert_eq!(mic_requests(&out), 1);
    let out = h.input(Input::FirstFrame);
    assert_eq!(
        mic_requests(&out),
        0,
        "the frame after the deadline asks nothing"
    );
}

#[test]
fn a_stop_drops_a_deferred_request() {
    let mut h = H::fixed();
    started_with_video(&mut h);
    h.s.stop(h.now);
    let out = h.drain();
    assert!(out.contains(&Output::Teardown));
    assert_eq!(h.s.poll_timeout(), None, "no deadline left");
    assert_eq!(mic_requests(&h.advance(MIC_DEFERRAL_MS * 2)), 0);
}

#[test]
fn without_a_shown_video_the_microphone_is_requested_at_once() {
    let mut h = H::fixed();
    assert_eq!(h.s.start(h.now, false, false), StartOutcome::Started);
    assert_eq!(mic_requests(&h.drain()), 1);
}
