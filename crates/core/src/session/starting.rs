//! The start phase of a session: the token, the start-session request with its retries and
//! timeouts, the microphone request, and the step to a live session (or to a resume try).

use super::*;

impl Session {
    pub(super) fn request_mic(&mut self) {
        if self.permission == AudioPermissionState::Pending {
            return; // one request at a time (§8.4)
        }
        self.permission = AudioPermissionState::Pending;
        self.emit(Event::MicPermissionPending);
        if self.shows_video {
            self.mic_due = Some(self.now.saturating_add(MIC_DEFERRAL_MS));
        } else {
            self.outputs.push_back(Output::RequestMic);
        }
    }

    /// The first frame is shown, or the deferral ran out: a deferred request goes out.
    pub(super) fn release_mic(&mut self) {
        if self.mic_due.take().is_some() {
            self.outputs.push_back(Output::RequestMic);
        }
    }

    /// A start-session request the page sent before this client existed (the package's loader
    /// sends one while the WebAssembly module loads, so the answer is on its way sooner):
    /// returns the id to report its answer under. The next start's first attempt uses it if
    /// that attempt would send exactly this request; otherwise, and if no start uses it, its
    /// answer only ends the session it created. A second one releases the first.
    pub fn prefetched(&mut self, url: String, token: String, body: String) -> u32 {
        self.release_prefetched();
        self.last_request = self.last_request.wrapping_add(1);
        let request = self.last_request;
        self.prefetched = Some(Prefetched {
            request,
            url,
            token,
            body,
            answer: None,
        });
        request
    }

    /// No start will use the prefetched request: a session it creates is ended.
    pub(super) fn release_prefetched(&mut self) {
        let Some(p) = self.prefetched.take() else {
            return;
        };
        match p.answer {
            None => self.unwanted.push(p.request),
            Some(result) => self.end_unwanted(result),
        }
    }

    /// Ends the session an unwanted request created, if it created one.
    fn end_unwanted(&mut self, result: Result<StartSessionResponse, ApiFailure>) {
        let Ok(info) = result else {
            return;
        };
        self.next_socket += 1;
        let socket = self.next_socket;
        self.throwaway.push(socket);
        self.outputs
            .push_back(Output::Throwaway(SocketCommand::Open {
                socket,
                url: info.signalling_url(),
            }));
    }

    /// The answer to start-session request `request`, whichever wants it.
    pub(super) fn on_start_answer(
        &mut self,
        request: u32,
        result: Result<StartSessionResponse, ApiFailure>,
    ) {
        if let Some(i) = self.unwanted.iter().position(|r| *r == request) {
            self.unwanted.swap_remove(i);
            return self.end_unwanted(result);
        }
        if let Some(p) = self.prefetched.as_mut().filter(|p| p.request == request) {
            p.answer = Some(result);
            return;
        }
        let current = matches!(&self.phase, Phase::Starting(s)
            if s.request == request && matches!(s.wait, Wait::Answer { .. }));
        if current {
            self.on_start_result(result);
        }
    }

    pub(super) fn on_token(&mut self, token: String) {
        let Phase::Starting(s) = &mut self.phase else {
            return;
        };
        if s.wait != Wait::Token {
            return;
        }
        // A fixed token never reaches here; a provider's token is checked like one.
        match TokenClaims::decode(&token) {
            Err(e) => return self.fail_start(StartFailure::BadToken(e.to_string())),
            Ok(claims) => {
                if let Err(e) = claims.validate_for_client() {
                    return self.fail_start(StartFailure::BadToken(e.to_string()));
                }
                // An expired token is refreshed once through the provider before it is used.
                let expired = claims.is_expired((self.now / 1000) as i64, 0);
                if expired && !s.refreshed {
                    s.refreshed = true;
                    self.outputs.push_back(Output::FetchToken);
                    return;
                }
            }
        }
        s.token = Some(token);
        self.next_attempt();
    }

    pub(super) fn next_attempt(&mut self) {
        let Phase::Starting(s) = &self.phase else {
            return;
        };
        let Some(token) = s.token.clone() else {
            return;
        };
        let first = s.attempt == 0;
        let url = format!(
            "{}{}/engine/session",
            self.config.base_url, self.config.api_version
        );
        let body = self.start_session_body();
        let adopted = self
            .prefetched
            .take_if(|p| first && p.url == url && p.token == token && p.body == body);
        self.release_prefetched(); // one that differs

        let request = match &adopted {
            Some(p) => p.request,
            None => {
                self.last_request = self.last_request.wrapping_add(1);
                self.last_request
            }
        };
        let deadline = self.config.retry.request_timeout().map(|t| self.now + t);
        let Phase::Starting(s) = &mut self.phase else {
            return;
        };
        s.attempt += 1;
        s.request = request;
        s.wait = Wait::Answer { deadline };
        match adopted {
            Some(Prefetched {
                answer: Some(result),
                ..
            }) => self.on_start_result(result),
            Some(_) => {}
            None => self.outputs.push_back(Output::StartSession {
                request,
                url,
                token,
                body,
            }),
        }
    }

    /// The start-session request body (§3.1).
    fn start_session_body(&self) -> String {
        let body = StartSessionRequest {
            persona_config: None,
            session_options: self.config.end_of_speech_sensitivity.clone().map(|v| {
                SessionOptions {
                    voice_detection: Some(VoiceDetection {
                        end_of_speech_sensitivity: Some(v),
                    }),
                    ..Default::default()
                }
            }),
            client_metadata: Some(ClientMetadata {
                client: CLIENT_NAME.to_owned(),
                version: crate::VERSION.to_owned(),
            }),
        };
        let mut body = body.to_json();
        if let Some(cfg) = &self.persona_config {
            body.insert("personaConfig", cfg.clone());
        }
        body.into_value().to_string()
    }

    pub(super) fn on_start_result(&mut self, result: Result<StartSessionResponse, ApiFailure>) {
        let Phase::Starting(s) = &mut self.phase else {
            return;
        };
        match result {
            Ok(info) => {
                let resume = s.resume.take();
                self.go_live(info, resume)
            }
            Err(failure) => {
                // A 401 with a provider: the token may have expired in flight; ask once more.
                if failure.status == 401
                    && self.config.token == TokenSource::Provider
                    && !s.refreshed
                {
                    s.refreshed = true;
                    s.token = None;
                    s.wait = Wait::Token;
                    self.outputs.push_back(Output::FetchToken);
                    return;
                }
                if failure.retryable && self.config.retry.allows_another_attempt(s.attempt) {
                    let delay = self
                        .config
                        .retry
                        .delay_after(s.attempt, self.rng.next_f64());
                    s.wait = Wait::Backoff(self.now + delay);
                    return;
                }
                self.fail_start(StartFailure::Api(failure));
            }
        }
    }

    pub(super) fn fail_start(&mut self, failure: StartFailure) {
        self.release_prefetched();
        let phase = std::mem::replace(&mut self.phase, Phase::Idle);
        if let Phase::Starting(Starting {
            resume: Some(resume),
            ..
        }) = phase
        {
            // A resume try failed: the next one, or the end of the resume.
            return self.next_resume_try(resume);
        }
        self.outputs.push_back(Output::StartFailed(failure));
        self.mic_due = None;
        self.outputs.push_back(Output::Teardown);
        self.release_pending_mic();
    }

    /// A capture still waiting for the user dies with the session; the next session asks again.
    pub(super) fn release_pending_mic(&mut self) {
        if self.permission == AudioPermissionState::Pending {
            self.permission = AudioPermissionState::NotRequested;
        }
    }

    /// Starts try `resume.attempt + 1` of a resume, or gives up after the last one with the
    /// original session's `CONNECTION_CLOSED` (as if there had been no resume).
    pub(super) fn next_resume_try(&mut self, mut resume: Resume) {
        let max = self.config.auto_resume.unwrap_or(0);
        if resume.attempt >= max {
            self.emit(Event::ConnectionClosed {
                code: resume.code.as_str(),
                details: resume.details.clone(),
            });
            // Starts that joined during the resume wait for nothing any more.
            self.outputs
                .push_back(Output::StartFailed(StartFailure::Closed {
                    code: resume.code,
                    details: resume.details,
                }));
            self.mic_due = None;
            self.outputs.push_back(Output::Teardown);
            self.release_pending_mic();
            self.phase = Phase::Idle;
            return;
        }
        resume.attempt += 1;
        self.emit(Event::Reconnecting {
            attempt: resume.attempt,
            reason: resume.code.as_str(),
        });
        // Each try is a new session: talk streams of the lost one are over.
        self.generation += 1;
        let delay = resume::delay_before(resume.attempt);
        let mut starting = Starting::new(None, Some(resume));
        if delay == 0 {
            self.outputs.push_back(Output::FetchToken);
        } else {
            starting.wait = Wait::ResumeBackoff(self.now + delay);
        }
        self.phase = Phase::Starting(starting);
    }

    pub(super) fn go_live(&mut self, info: StartSessionResponse, resume: Option<Resume>) {
        let heartbeat =
            SignalMessage::new(info.session_id.clone(), SignalAction::Heartbeat).encode();
        self.next_socket += 1;
        let mut signalling = Signalling::new(
            info.signalling_url(),
            heartbeat,
            info.client_config.heartbeat_interval_ms(),
            info.client_config.max_ws_reconnection_attempts(),
            self.next_socket,
        );
        let mut cmds = Vec::new();
        signalling.connect(&mut cmds);
        self.outputs.push_back(Output::SessionStarted {
            session_id: info.session_id.clone(),
        });
        // Fast start: the socket opens while the peer connection and its offer are prepared; the
        // offer waits in the signalling queue if it is ready first.
        self.outputs.extend(cmds.into_iter().map(Output::Socket));
        self.outputs.push_back(Output::CreatePeerConnection {
            ice_servers_json: crate::wire::rest::ice_servers_json(&info.client_config.ice_servers),
            ice_transport_policy: info.client_config.ice_transport_policy.clone(),
        });
        let mut neg = Negotiation::default();
        neg.begin_initial_offer();
        self.outputs
            .push_back(Output::CreateOffer { ice_restart: false });
        self.phase = Phase::Live(Box::new(Live {
            info,
            signalling,
            neg,
            data_channel_open: false,
            fired_established: false,
            fired_data_channel: false,
            fired_play: false,
            fired_ready: false,
            video_track: false,
            audio_track: false,
            start_pending: true,
            resume,
            stats_due: None,
        }));
    }

    pub(super) fn on_tick(&mut self) {
        let now = self.now;
        if self.mic_due.is_some_and(|at| now >= at) {
            self.release_mic();
        }
        self.expire_talks();
        if let Phase::Starting(s) = &mut self.phase {
            match s.wait {
                Wait::Backoff(at) if now >= at => self.next_attempt(),
                Wait::ResumeBackoff(at) if now >= at => {
                    s.wait = Wait::Token;
                    self.outputs.push_back(Output::FetchToken);
                }
                Wait::Answer { deadline: Some(at) } if now >= at => {
                    let request = s.request;
                    self.outputs
                        .push_back(Output::AbortStartSession { request });
                    self.on_start_result(Err(classify_network_failure(
                        "the start-session request timed out",
                    )));
                }
                _ => {}
            }
            return;
        }
        self.with_live(|s, live| {
            let mut cmds = Vec::new();
            let next = &mut s.next_socket;
            live.signalling.on_timeout(
                now,
                &mut || {
                    *next += 1;
                    *next
                },
                &mut cmds,
            );
            s.outputs.extend(cmds.into_iter().map(Output::Socket));
            let effects = live.neg.on_timeout(now);
            s.apply_negotiation(live, effects);
            if let Some(due) = live.stats_due.filter(|due| now >= *due) {
                // Skipped (not queued) while the data channel is closed, as the official client.
                live.stats_due = Some(due.max(now - STATS_INTERVAL_MS) + STATS_INTERVAL_MS);
                if live.data_channel_open {
                    s.outputs.push_back(Output::CollectRtpStats);
                }
            }
        });
    }
}
