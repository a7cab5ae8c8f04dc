//! The live phase of a session: signalling, negotiation, data-channel messages, the end of a
//! session (or its suspension for a resume), and the helpers that send.

use super::*;

impl Session {
    /// Runs `f` on the live session, taking it out of `self` meanwhile; `f` may end the session
    /// (then it leaves `self.phase` as it set it).
    pub(super) fn with_live(&mut self, f: impl FnOnce(&mut Session, &mut Live)) {
        let mut live = match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Live(live) => live,
            other => {
                // An input for a live session while starting (a stale socket's frame) changes
                // nothing; it must not end the start either.
                self.phase = other;
                return;
            }
        };
        let generation = self.generation;
        f(self, &mut live);
        // `f` ends the session through `close_with` (marks the generation ended) or `stop`.
        if self.ended_generation != Some(generation) {
            self.phase = Phase::Live(live);
        }
    }

    pub(super) fn on_live_input(&mut self, live: &mut Live, input: Input) {
        match input {
            Input::SocketOpened(socket) => {
                let mut cmds = Vec::new();
                live.signalling.on_open(socket, self.now, &mut cmds);
                self.outputs.extend(cmds.into_iter().map(Output::Socket));
                if live.signalling.is_open() {
                    if live.neg.offer_outstanding() {
                        self.outputs.push_back(Output::ShowVideo); // it was in the flushed queue
                    }
                    let effects = live.neg.on_socket_open(self.now);
                    self.apply_negotiation(live, effects);
                }
            }
            Input::SocketClosed { socket, .. } if live.signalling.on_close(socket, self.now) => {
                self.close_with(
                    live,
                    ConnectionClosedCode::SignallingClientConnectionFailure,
                    Some("the signalling connection could not be re-established".to_owned()),
                );
            }
            Input::SocketMessage { socket, text } if socket == live.signalling.socket() => {
                self.on_signal(live, &text);
            }
            Input::PeerConnectionFailed(why) => {
                self.close_with(live, ConnectionClosedCode::WebrtcFailure, Some(why));
            }
            Input::LocalOffer { sdp } => {
                let effects = live.neg.on_local_offer(self.now);
                let offer = SignalAction::Offer(sig::OfferPayload {
                    connection_description: sig::SessionDescription {
                        kind: "offer".to_owned(),
                        sdp,
                    },
                    user_uid: live.info.session_id.clone(),
                });
                self.live_signal(live, offer);
                if live.signalling.is_open() {
                    self.outputs.push_back(Output::ShowVideo);
                }
                self.apply_negotiation(live, effects);
            }
            Input::OfferFailed(why) => {
                let effects = live.neg.on_offer_failed(self.now);
                if effects.contains(&NegotiationEffect::Fatal) {
                    self.close_with(live, ConnectionClosedCode::WebrtcFailure, Some(why));
                } else {
                    self.apply_negotiation(live, effects);
                }
            }
            Input::LocalCandidate(c) => {
                if let Some(c) = live.neg.on_local_candidate(c) {
                    self.live_signal(live, SignalAction::IceCandidate(c));
                }
            }
            Input::AnswerApplied => {
                let effects = live.neg.on_answer_applied();
                self.apply_negotiation(live, effects);
            }
            Input::AnswerFailed(why) => {
                let effects = live.neg.on_answer_failed();
                if effects.contains(&NegotiationEffect::Fatal) {
                    self.close_with(live, ConnectionClosedCode::WebrtcFailure, Some(why));
                } else {
                    self.apply_negotiation(live, effects);
                }
            }
            Input::IceConnectionState(state) => {
                let state = IceState::parse(&state);
                if matches!(state, IceState::Connected) {
                    live.signalling.end_extended_budget();
                    if !live.fired_established {
                        live.fired_established = true;
                        live.stats_due = Some(self.now + STATS_INTERVAL_MS);
                        self.emit(Event::ConnectionEstablished);
                    }
                }
                let effects = live.neg.on_ice_state(state, self.now);
                self.apply_negotiation(live, effects);
            }
            Input::PeerConnectionClosed => {
                self.close_with(
                    live,
                    ConnectionClosedCode::WebrtcFailure,
                    Some("the peer connection closed".to_owned()),
                );
            }
            Input::DataChannelOpen => {
                live.data_channel_open = true;
                if !live.fired_data_channel {
                    live.fired_data_channel = true;
                    self.emit(Event::DataChannelOpen);
                }
            }
            Input::DataChannelClosed => live.data_channel_open = false,
            Input::DataChannelMessage(text) => self.on_data(&live.info.session_id, &text),
            Input::RemoteTrack(kind) => {
                let first = match kind {
                    TrackKind::Video => !std::mem::replace(&mut live.video_track, true),
                    TrackKind::Audio => !std::mem::replace(&mut live.audio_track, true),
                };
                if first {
                    self.emit(match kind {
                        TrackKind::Video => Event::VideoStreamStarted,
                        TrackKind::Audio => Event::AudioStreamStarted,
                    });
                }
                if live.video_track && live.audio_track && live.start_pending {
                    live.start_pending = false;
                    self.outputs.push_back(Output::MediaReady);
                    if live.resume.take().is_some() {
                        self.emit(Event::Reconnected(live.info.session_id.clone()));
                    }
                }
            }
            Input::FirstFrame if !live.fired_play => {
                live.fired_play = true;
                self.emit(Event::VideoPlayStarted);
                self.release_mic();
            }
            _ => {}
        }
    }

    pub(super) fn on_signal(&mut self, live: &mut Live, text: &str) {
        let msg = match sig::decode(text) {
            Ok(m) => m,
            Err(e) => {
                self.outputs
                    .push_back(Output::Warn(format!("ignoring a signalling frame: {e}")));
                return;
            }
        };
        match msg.action {
            SignalAction::Answer(desc) => {
                if live.neg.accept_answer() {
                    self.outputs
                        .push_back(Output::ApplyAnswer { sdp: desc.sdp });
                }
            }
            SignalAction::IceCandidate(c) => {
                if let Some(c) = live.neg.on_remote_candidate(c) {
                    self.outputs.push_back(Output::AddRemoteCandidate(c));
                }
            }
            SignalAction::Heartbeat => {}
            SignalAction::TalkInputStreamInterrupted(p) => {
                let generation = self.generation;
                for s in self.talk_streams.values_mut() {
                    if s.generation == generation && s.correlation_id == p.correlation_id {
                        s.state = TalkStreamState::Interrupted;
                    }
                }
                self.emit(Event::TalkStreamInterrupted(p.correlation_id));
            }
            SignalAction::SessionReady => {
                if !live.fired_ready {
                    live.fired_ready = true;
                    let id = if msg.session_id.is_empty() {
                        live.info.session_id.clone()
                    } else {
                        msg.session_id
                    };
                    self.emit(Event::SessionReady(id));
                }
            }
            SignalAction::Warning(text) => {
                self.outputs
                    .push_back(Output::Warn(format!("server warning: {text}")));
                self.emit(Event::ServerWarning(text));
            }
            SignalAction::EndSession(reason) => {
                self.close_with(
                    live,
                    ConnectionClosedCode::ServerClosedConnection,
                    Some(reason),
                );
            }
            other => {
                self.outputs.push_back(Output::Warn(format!(
                    "ignoring signalling action {}",
                    other.action_type()
                )));
            }
        }
    }

    /// A data-channel message of the live session `session_id` (taken out of `self.phase`).
    pub(super) fn on_data(&mut self, session_id: &str, text: &str) {
        let msg = match ServerDataMessage::decode(text) {
            Ok(m) => m,
            Err(e) => {
                self.outputs.push_back(Output::Warn(format!(
                    "ignoring a data-channel message: {e}"
                )));
                return;
            }
        };
        match msg {
            ServerDataMessage::SpeechText(t) => {
                let event = history::stream_event(&t);
                let done = self.history.fold(&event);
                self.emit(Event::MessageStreamEventReceived(event));
                if done {
                    self.emit(Event::MessageHistoryUpdated(
                        self.history.messages().to_vec(),
                    ));
                }
            }
            ServerDataMessage::UserSpeechStarted(u) => self.emit(Event::UserSpeechStarted(
                u.user_action_correlation_id
                    .unwrap_or_else(|| "unknown".to_owned()),
            )),
            ServerDataMessage::UserSpeechEnded(u) => self.emit(Event::UserSpeechEnded(
                u.user_action_correlation_id
                    .unwrap_or_else(|| "unknown".to_owned()),
            )),
            ServerDataMessage::ReasoningText(t) => {
                let event = history::reasoning_event(&t);
                let done = history::fold_reasoning(&mut self.reasoning, &event);
                self.emit(Event::ReasoningStreamEventReceived(event));
                if done {
                    self.emit(Event::ReasoningHistoryUpdated(self.reasoning.clone()));
                }
            }
            ServerDataMessage::PersonaConfigUpdateApplied(p) => {
                let changed = crate::json::Object::new().with("changedFields", p.changed_fields);
                self.emit(Event::PersonaConfigUpdateApplied(
                    changed.into_value().to_json(),
                ));
            }
            ServerDataMessage::DirectorNoteCueApplied(d) => {
                let or_unknown = |v: Option<String>| v.unwrap_or_else(|| "unknown".to_owned());
                self.emit(Event::DirectorNoteCueApplied {
                    cue_tag: or_unknown(d.cue_tag),
                    correlation_id: or_unknown(d.user_action_correlation_id),
                });
            }
            // Unknown kinds are ignored for forward compatibility (§11.1 item 10).
            other => {
                self.on_tool_message(session_id, &other);
            }
        }
    }

    pub(super) fn apply_negotiation(&mut self, live: &mut Live, effects: Vec<NegotiationEffect>) {
        for effect in effects {
            match effect {
                NegotiationEffect::CreateOffer { ice_restart } => {
                    self.outputs.push_back(Output::CreateOffer { ice_restart })
                }
                NegotiationEffect::AddRemoteCandidate(c) => {
                    self.outputs.push_back(Output::AddRemoteCandidate(c))
                }
                NegotiationEffect::SendCandidate(c) => {
                    self.live_signal(live, SignalAction::IceCandidate(c))
                }
                NegotiationEffect::ForceNewSocket => {
                    self.next_socket += 1;
                    let mut cmds = Vec::new();
                    live.signalling.force_reconnect(self.next_socket, &mut cmds);
                    self.outputs.extend(cmds.into_iter().map(Output::Socket));
                }
                NegotiationEffect::CheckSocket => {
                    if live.signalling.is_dead() {
                        // The signalling layer already reported the end (§8.5 step 2).
                        live.neg.abandon_restart();
                    } else if live.signalling.is_open() {
                        let more = live.neg.on_socket_open(self.now);
                        self.apply_negotiation(live, more);
                    }
                }
                NegotiationEffect::Fatal => {
                    return self.close_with(
                        live,
                        ConnectionClosedCode::WebrtcFailure,
                        Some("ICE restart attempts exhausted".to_owned()),
                    );
                }
            }
        }
    }

    /// Ends the live session with `code` (fires `CONNECTION_CLOSED` once) and tears down, or
    /// hands it to the automatic resume.
    pub(super) fn close_with(
        &mut self,
        live: &mut Live,
        code: ConnectionClosedCode,
        details: Option<String>,
    ) {
        if self.ended_generation == Some(self.generation) {
            return;
        }
        let resume = match live.resume.take() {
            // A resume try lost before its media arrived, whatever the cause: the next try.
            Some(r) => Some(r),
            // A session that was up, lost beyond what reconnection and ICE restarts save.
            None if self.config.auto_resume.is_some()
                && self.config.token == TokenSource::Provider
                && !live.start_pending
                && resume::is_resumable(code) =>
            {
                Some(Resume::new(code, details.clone()))
            }
            None => None,
        };
        if let Some(r) = resume {
            let mut cmds = Vec::new();
            live.signalling.stop(&mut cmds);
            self.outputs.extend(cmds.into_iter().map(Output::Socket));
            self.outputs.push_back(Output::SuspendForResume);
            self.mic_due = None;
            self.ended_generation = Some(self.generation);
            if self.permission == AudioPermissionState::Pending {
                // The shell drops the capture of the suspended session: ask again.
                self.permission = AudioPermissionState::NotRequested;
                self.request_mic();
            }
            return self.next_resume_try(r);
        }
        self.emit(Event::ConnectionClosed {
            code: code.as_str(),
            details: details.clone(),
        });
        if live.start_pending {
            live.start_pending = false;
            self.outputs
                .push_back(Output::StartFailed(StartFailure::Closed { code, details }));
        }
        self.shut_down(live);
        self.ended_generation = Some(self.generation);
    }

    pub(super) fn shut_down(&mut self, live: &mut Live) {
        self.tools.clear();
        let mut cmds = Vec::new();
        live.signalling.stop(&mut cmds);
        self.outputs.extend(cmds.into_iter().map(Output::Socket));
        self.mic_due = None;
        self.outputs.push_back(Output::Teardown);
        self.phase = Phase::Idle;
        self.release_pending_mic();
    }

    // -----------------------------------------------------------------------------------------
    // Sending

    pub(super) fn live_session_id(&self) -> Result<String, CommandError> {
        match &self.phase {
            Phase::Live(live) => Ok(live.info.session_id.clone()),
            Phase::Starting(_) => Err(CommandError("Session is not started yet")),
            Phase::Idle => Err(CommandError("Not streaming: start a session first")),
        }
    }

    /// Sends each `inbound-rtp` entry as a `remote_rtp_stats` message (§8.7); the other entries
    /// are not the server's business. Stats are best effort: without an open data channel they
    /// are dropped without a warning.
    pub(super) fn send_rtp_stats(&mut self, entries: &[String]) {
        if !matches!(&self.phase, Phase::Live(live) if live.data_channel_open) {
            return;
        }
        for text in entries {
            let Ok(data) = crate::json::parse(text) else {
                continue;
            };
            if data.get("type").and_then(crate::json::Value::as_str) != Some("inbound-rtp") {
                continue;
            }
            let msg = ClientDataMessage::RemoteRtpStats(RemoteRtpStats { data });
            self.outputs.push_back(Output::SendData(msg.encode()));
        }
    }

    pub(super) fn send_data(&mut self, text: String) {
        if let Phase::Live(live) = &self.phase {
            if live.data_channel_open {
                self.outputs.push_back(Output::SendData(text));
            } else {
                self.outputs.push_back(Output::Warn(
                    "data channel is not open; message dropped".to_owned(),
                ));
            }
        }
    }

    /// Sends a signalling action from a command (the session is in `self.phase`).
    pub(super) fn signal(&mut self, action: SignalAction) {
        if let Phase::Live(live) = &mut self.phase {
            let text = SignalMessage::new(live.info.session_id.clone(), action).encode();
            let mut cmds = Vec::new();
            live.signalling.send(text, &mut cmds);
            self.outputs.extend(cmds.into_iter().map(Output::Socket));
        }
    }

    /// Sends a signalling action while the live session is taken out of `self.phase`.
    pub(super) fn live_signal(&mut self, live: &mut Live, action: SignalAction) {
        let text = SignalMessage::new(live.info.session_id.clone(), action).encode();
        let mut cmds = Vec::new();
        live.signalling.send(text, &mut cmds);
        self.outputs.extend(cmds.into_iter().map(Output::Socket));
    }

    pub(super) fn emit(&mut self, event: Event) {
        self.outputs.push_back(Output::Emit(event));
    }
}
