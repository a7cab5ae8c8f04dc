//! One task per session. It owns the session's WebRTC peer, its speaker and its conversation,
//! and serialises everything that happens to it: signalling frames, `/talk` calls, control
//! commands, UDP datagrams, str0m timeouts and the 20 ms media clock.
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant as StdInstant;

use anam_core::wire::datachannel::{
    ClientDataMessage, DirectorNoteCueApplied, ServerDataMessage, ToolResult, UserSpeech,
};
use anam_core::wire::signalling::{
    self, AgentAudioInputPayload, IceCandidate, SessionDescription, SignalAction, SignalMessage,
};
use str0m::format::Codec;
use str0m::Event;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Duration, Instant, MissedTickBehavior};

use crate::media::{FrameBank, PersonaStyle, Speaker, AUDIO_FRAME_SAMPLES, FPS};
use crate::model::{self, Action};
use crate::personas::SessionPersona;
use crate::registry::{SessionCmd, SessionHandle, SessionStats, ToolResultRecord, WsOut};
use crate::rtc::{self, Drained, Peer};
use crate::speech::{self, Conversation, Outgoing, SynthDone, SynthJob};
use crate::state::AppState;
use crate::tools::{Finished, ToolDesk, UserAction};
use crate::vad::{MicListener, VoiceEvent};

/// Commands queued per session before senders wait.
const CMD_QUEUE: usize = 256;
/// Messages queued per signalling socket; beyond that the socket is too slow and frames drop.
pub const WS_QUEUE: usize = 256;
/// Remote candidates held until the offer arrives.
const MAX_EARLY_CANDIDATES: usize = 64;
/// How long a session waits for a new socket after the client closed its socket with 1000: a
/// client replacing its socket (ICE restart) opens the new one right away.
pub const DELIBERATE_CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Data-channel messages held until the channel opens.
const MAX_PENDING_DATA: usize = 512;
/// Synthesis requests queued per session.
const SYNTH_QUEUE: usize = 64;
/// The media clock: one Opus frame per tick, one video frame every second tick.
const AUDIO_TICK: Duration = Duration::from_millis(20);
/// Audio ticks caught up at most in one go (200 ms).
const MAX_CATCH_UP_TICKS: u64 = 10;
/// Longest `context` kept for the toy model, in characters.
const MAX_CONTEXT_CHARS: usize = 4_000;

/// Creates a session, starts its task and registers it.
pub fn spawn(state: AppState, id: String, persona: SessionPersona) -> SessionHandle {
    let (tx, rx) = mpsc::channel(CMD_QUEUE);
    let stats = Arc::new(SessionStats::new(&id, &persona.id));
    let handle = SessionHandle {
        tx,
        stats: stats.clone(),
    };
    state.sessions.insert(handle.clone());
    let task = SessionTask::new(state, id, persona, stats);
    tokio::spawn(task.run(rx));
    handle
}

fn std_now() -> StdInstant {
    Instant::now().into_std()
}

struct SessionTask {
    state: AppState,
    id: String,
    persona: SessionPersona,
    stats: Arc<SessionStats>,
    ws: Option<(u64, mpsc::Sender<WsOut>)>,
    no_ws_since: Option<Instant>,
    /// How long the session may stay without a socket: the orphan timeout, or a short grace
    /// after the client closed its socket on purpose.
    orphan_grace: Duration,
    peer: Option<Peer>,
    rtc_wake: Option<Instant>,
    early_candidates: Vec<String>,
    speaker: Option<Speaker>,
    conversation: Conversation,
    generation: Arc<AtomicU64>,
    synth_tx: mpsc::Sender<SynthJob>,
    synth_rx: mpsc::Receiver<SynthDone>,
    bank: Option<Arc<FrameBank>>,
    bank_rx: Option<oneshot::Receiver<Option<Arc<FrameBank>>>>,
    media_running: bool,
    /// Set by the control API: the peer is frozen, incoming datagrams are dropped and nothing
    /// is sent, so the browser sees its ICE path die while signalling keeps working.
    media_stopped: bool,
    media_started: Option<Instant>,
    last_frame: Option<u64>,
    audio_ticks: u64,
    openness: f32,
    dtls_connected: bool,
    ready_sent: bool,
    pending_data: VecDeque<String>,
    deadline: Option<Instant>,
    finished: bool,
    tools: ToolDesk,
    mic: MicListener,
    /// The user utterance in progress on the microphone, by correlation id.
    user_utterance: Option<String>,
    /// The newest `context` message (the toy model can quote it).
    latest_context: Option<String>,
}

impl SessionTask {
    fn new(state: AppState, id: String, persona: SessionPersona, stats: Arc<SessionStats>) -> Self {
        let style = Arc::new(PersonaStyle::for_persona(persona.look));
        let generation = Arc::new(AtomicU64::new(0));
        let (synth_tx, synth_rx) = start_synth_worker(style, generation.clone());
        let speaker = match Speaker::new() {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(session = %id, "no audio: {e}");
                None
            }
        };
        let now = Instant::now();
        SessionTask {
            orphan_grace: state.config.orphan_timeout,
            tools: ToolDesk::new(&id),
            deadline: persona.max_session_length.map(|d| now + d),
            conversation: Conversation::new(&persona.name),
            state,
            id,
            persona,
            stats,
            ws: None,
            no_ws_since: Some(now),
            peer: None,
            rtc_wake: None,
            early_candidates: Vec::new(),
            speaker,
            generation,
            synth_tx,
            synth_rx,
            bank: None,
            bank_rx: None,
            media_running: false,
            media_stopped: false,
            media_started: None,
            last_frame: None,
            audio_ticks: 0,
            openness: 0.0,
            dtls_connected: false,
            ready_sent: false,
            pending_data: VecDeque::new(),
            finished: false,
            mic: MicListener::new(),
            user_utterance: None,
            latest_context: None,
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<SessionCmd>) {
        tracing::info!(session = %self.id, persona = %self.persona.id, "session created");
        let mut ticker = tokio::time::interval(AUDIO_TICK);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut buf = vec![0u8; rtc::MAX_DATAGRAM];
        while !self.finished {
            self.drain_peer();
            if self.finished {
                break;
            }
            let socket = self.peer.as_ref().map(Peer::socket);
            let orphan_grace = self.orphan_grace;
            let orphan_at = self.no_ws_since.map(|t| t + orphan_grace);
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.on_cmd(cmd).await,
                    None => break,
                },
                r = recv_from(socket.as_deref(), &mut buf) => {
                    // Datagrams are still read after stop-media, so the socket's buffer stays
                    // empty, but they go nowhere: no STUN answer, no DTLS, no RTCP.
                    let peer = self.peer.as_mut().filter(|_| !self.media_stopped);
                    if let (Ok((n, from)), Some(peer)) = (r, peer) {
                        if let Some(data) = buf.get(..n) {
                            peer.receive(std_now(), from, data);
                        }
                    }
                }
                _ = sleep_until(self.rtc_wake) => {
                    self.rtc_wake = None;
                    if let Some(peer) = self.peer.as_mut() {
                        peer.timeout(std_now());
                    }
                }
                _ = ticker.tick(), if self.media_running => self.media_tick(),
                Some(done) = self.synth_rx.recv() => {
                    if let Some(speaker) = self.speaker.as_mut() {
                        self.conversation.deliver(done, speaker);
                    }
                }
                bank = recv_bank(&mut self.bank_rx) => {
                    self.bank_rx = None;
                    self.bank = bank;
                }
                _ = sleep_until(orphan_at) => {
                    tracing::info!(session = %self.id, "no signalling socket for {orphan_grace:?}: ending");
                    self.finished = true;
                }
                _ = sleep_until(self.deadline) => {
                    self.end("Maximum session length reached");
                }
                _ = sleep_until(self.tools.next_due()) => {
                    for done in self.tools.poll(Instant::now()) {
                        self.finish_tool(done);
                    }
                }
            }
        }
        self.teardown();
    }

    fn teardown(&mut self) {
        // A stopped peer stays silent to the end: not even a DTLS close alert goes out.
        if let Some(peer) = self.peer.as_mut().filter(|_| !self.media_stopped) {
            peer.close();
            let mut drained = Drained::default();
            let _ = peer.drain(&mut drained);
        }
        if let Some((_, out)) = self.ws.take() {
            let _ = out.try_send(WsOut::Close {
                code: 1000,
                reason: "session ended".to_owned(),
            });
        }
        self.stats.set_state("ended");
        self.stats.set_ice_state("closed");
        self.state.sessions.remove(&self.id);
        tracing::info!(session = %self.id, "session ended");
    }

    /// Sends `endsession` and stops the session.
    fn end(&mut self, reason: &str) {
        self.send_signal(SignalAction::EndSession(reason.to_owned()));
        self.finished = true;
    }

    // ---------------------------------------------------------------------------------------
    // Commands

    async fn on_cmd(&mut self, cmd: SessionCmd) {
        match cmd {
            SessionCmd::WsAttach { conn, out } => {
                if let Some((_, old)) = self.ws.replace((conn, out)) {
                    let _ = old.try_send(WsOut::Close {
                        code: 1000,
                        reason: "replaced by a newer connection".to_owned(),
                    });
                }
                self.no_ws_since = None;
                self.orphan_grace = self.state.config.orphan_timeout;
                self.stats.ws_connections.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .ws_connections_total
                    .fetch_add(1, Ordering::Relaxed);
                if self.stats.state() == "created" {
                    self.stats.set_state("signalling");
                }
            }
            SessionCmd::WsClosed { conn, deliberate } => {
                let _ = self.stats.ws_connections.fetch_update(
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                    |n| Some(n.saturating_sub(1)),
                );
                if self.ws.as_ref().is_some_and(|(c, _)| *c == conn) {
                    self.ws = None;
                    self.no_ws_since = Some(Instant::now());
                    // A client that closes with 1000 and opens no new socket at once has left
                    // (stop, abort, page gone): the protocol has no end message (§7.3), so this
                    // is the signal. Before its media path is up there is no DTLS close to see
                    // either; without this the session would linger for the whole timeout.
                    let timeout = self.state.config.orphan_timeout;
                    self.orphan_grace = if deliberate {
                        DELIBERATE_CLOSE_GRACE.min(timeout)
                    } else {
                        timeout
                    };
                }
            }
            SessionCmd::WsText { conn: _, text } => self.on_signal_text(&text).await,
            SessionCmd::WsInvalid { conn: _, reason } => self.warn(&reason),
            SessionCmd::Talk { content } => {
                self.stats.add_talk_text(&content);
                let jobs = self.conversation.talk(&content);
                self.submit(jobs);
            }
            SessionCmd::DropSignalling => {
                if let Some((_, out)) = self.ws.take() {
                    let _ = out.try_send(WsOut::Abort);
                    self.no_ws_since = Some(Instant::now());
                }
            }
            SessionCmd::End { reason } => self.end(&reason),
            SessionCmd::StopMedia => self.stop_media(),
            SessionCmd::SendData { text } => self.send_data(text),
        }
    }

    async fn on_signal_text(&mut self, text: &str) {
        let msg = match signalling::decode(text) {
            Ok(m) => m,
            Err(e) => {
                self.warn(&format!("could not read signalling message: {e}"));
                return;
            }
        };
        match msg.action {
            SignalAction::Offer(offer) => self.on_offer(&offer.connection_description.sdp).await,
            SignalAction::IceCandidate(c) => match self.peer.as_mut() {
                Some(peer) => {
                    peer.add_remote_candidate(&c.candidate);
                }
                None if self.early_candidates.len() < MAX_EARLY_CANDIDATES => {
                    self.early_candidates.push(c.candidate);
                }
                None => {}
            },
            SignalAction::Heartbeat => {}
            SignalAction::AgentAudioInputEnd => {
                self.stats
                    .agent_audio_sequences_ended
                    .fetch_add(1, Ordering::Relaxed);
                if let Some(speaker) = self.speaker.as_mut() {
                    speaker.end_raw_sequence();
                }
            }
            SignalAction::TalkStream(p) => {
                self.stats
                    .talk_stream_chunks
                    .fetch_add(1, Ordering::Relaxed);
                if !p.content.is_empty() {
                    self.stats.add_talk_text(&p.content);
                }
                match self.conversation.talk_stream(&p) {
                    Ok(jobs) => self.submit(jobs),
                    Err(e) => self.warn(&e),
                }
            }
            SignalAction::AgentAudioInput(p) => {
                self.stats
                    .agent_audio_chunks
                    .fetch_add(1, Ordering::Relaxed);
                self.play_agent_audio(&p);
            }
            other => {
                let kind = other.action_type().to_owned();
                self.warn(&format!("unexpected signalling action `{kind}`"));
            }
        }
    }

    /// `agentaudioinput`: the app's PCM, played by the persona (lips follow its level).
    fn play_agent_audio(&mut self, p: &AgentAudioInputPayload) {
        match crate::agent_audio::to_48k(p) {
            Ok(pcm) => {
                if let Some(speaker) = self.speaker.as_mut() {
                    speaker.push_pcm(&pcm);
                }
            }
            Err(e) => self.warn(&e),
        }
    }

    async fn on_offer(&mut self, sdp: &str) {
        if self.peer.is_none() {
            match Peer::new(self.state.dtls_cert(), std_now()).await {
                Ok(p) => self.peer = Some(p),
                Err(e) => {
                    tracing::error!(session = %self.id, "cannot create peer: {e}");
                    self.warn("the emulator could not create a peer connection");
                    return;
                }
            }
        }
        let Some(peer) = self.peer.as_mut() else {
            return;
        };
        let restart = self.stats.state() != "signalling";
        match peer.accept_offer(sdp) {
            Ok(answer) => {
                self.request_bank();
                let Some(peer) = self.peer.as_mut() else {
                    return;
                };
                for c in std::mem::take(&mut self.early_candidates) {
                    peer.add_remote_candidate(&c);
                }
                let candidate = peer.local_candidate();
                self.send_signal(SignalAction::Answer(SessionDescription {
                    kind: "answer".to_owned(),
                    sdp: answer,
                }));
                // The candidate is in the answer too; trickling it keeps clients that only
                // look at trickled candidates working.
                self.send_signal(SignalAction::IceCandidate(IceCandidate {
                    candidate,
                    sdp_mid: rtc::first_mid(sdp),
                    sdp_m_line_index: Some(0),
                    username_fragment: None,
                }));
                if !restart {
                    self.stats.set_state("negotiating");
                }
            }
            Err(e) => self.warn(&e),
        }
    }

    /// Fetches (or builds) the shared frame bank without holding up signalling. Done at the
    /// first offer, not at creation: a session that never negotiates media costs no encoding.
    fn request_bank(&mut self) {
        if self.bank.is_some() || self.bank_rx.is_some() {
            return;
        }
        let (bank_tx, bank_rx) = oneshot::channel();
        let state = self.state.clone();
        let look = self.persona.look;
        tokio::spawn(async move {
            let bank = state.media.bank(look).await;
            let _ = bank_tx.send(bank);
        });
        self.bank_rx = Some(bank_rx);
    }

    // ---------------------------------------------------------------------------------------
    // WebRTC

    /// Control API `stop-media`: from now on the peer is never polled, fed or woken, and the
    /// media clock stops. Later offers (ICE restarts) are still answered over signalling, so
    /// only the media path is dead, which is the fault the client must detect and give up on.
    fn stop_media(&mut self) {
        if self.media_stopped {
            return;
        }
        tracing::info!(session = %self.id, "media stopped by the control API");
        self.media_stopped = true;
        self.media_running = false;
        self.rtc_wake = None;
    }

    fn drain_peer(&mut self) {
        if self.media_stopped {
            return;
        }
        let Some(peer) = self.peer.as_mut() else {
            return;
        };
        let mut drained = Drained::default();
        match peer.drain(&mut drained) {
            Ok(wake) => self.rtc_wake = Some(Instant::from_std(wake)),
            Err(e) => {
                tracing::warn!(session = %self.id, "peer failed: {e}");
                self.finished = true;
                return;
            }
        }
        if !peer.is_alive() {
            tracing::info!(session = %self.id, "peer connection closed");
            self.finished = true;
            return;
        }
        for event in drained.events {
            self.on_rtc_event(event);
        }
        self.check_ready();
    }

    fn on_rtc_event(&mut self, event: Event) {
        match event {
            Event::IceConnectionStateChange(s) => {
                self.stats.set_ice_state(rtc::ice_state_name(s));
            }
            Event::Connected => {
                self.dtls_connected = true;
                self.media_running = true;
                if self.media_started.is_none() {
                    self.media_started = Some(Instant::now());
                    // The first frame leaves now, as a streaming server sends as soon as the
                    // transport is up, not at the media clock's next tick (0-20 ms later).
                    self.media_tick();
                }
                self.stats.set_state("connected");
            }
            Event::ChannelData(d) if !d.binary => match String::from_utf8(d.data) {
                Ok(text) => self.on_client_data(&text),
                Err(_) => self.warn("data-channel message is not UTF-8"),
            },
            // The client's microphone (the only Opus stream it sends).
            Event::MediaData(m) if m.params.spec().codec == Codec::Opus => {
                let heard = self.mic.on_packet(&m.data, Instant::now());
                self.on_voice(heard);
            }
            _ => {}
        }
    }

    /// Reports the start or end of a user utterance found on the microphone track.
    fn on_voice(&mut self, event: Option<VoiceEvent>) {
        let message = match event {
            Some(VoiceEvent::Started) => {
                let id = uuid::Uuid::new_v4().to_string();
                self.user_utterance = Some(id.clone());
                self.stats
                    .user_speech_started
                    .fetch_add(1, Ordering::Relaxed);
                ServerDataMessage::UserSpeechStarted(UserSpeech {
                    user_action_correlation_id: Some(id),
                })
            }
            Some(VoiceEvent::Ended) => {
                self.stats.user_speech_ended.fetch_add(1, Ordering::Relaxed);
                ServerDataMessage::UserSpeechEnded(UserSpeech {
                    user_action_correlation_id: self.user_utterance.take(),
                })
            }
            None => return,
        };
        self.send_data(message.encode());
    }

    fn check_ready(&mut self) {
        let open = self.peer.as_ref().is_some_and(Peer::channel_open);
        if self.ready_sent || !self.dtls_connected || !open {
            return;
        }
        self.ready_sent = true;
        self.stats.set_state("ready");
        self.send_signal(SignalAction::SessionReady);
        while let Some(text) = self.pending_data.pop_front() {
            if !self.send_now(&text) {
                self.pending_data.push_front(text);
                break;
            }
        }
    }

    fn on_client_data(&mut self, text: &str) {
        let msg = match ClientDataMessage::decode(text) {
            Ok(m) => m,
            Err(e) => {
                // Kept for the control API: `sendDataMessage(raw)` sends anything at all.
                self.stats.add_raw_data_message(text);
                self.warn(&format!("could not read data-channel message: {e}"));
                return;
            }
        };
        match msg {
            ClientDataMessage::Speech(s) => self.on_user_message(&s.content),
            ClientDataMessage::Interrupt(_) => {
                self.stats.interrupts.fetch_add(1, Ordering::Relaxed);
                self.generation.fetch_add(1, Ordering::Relaxed);
                let out = self.conversation.interrupt(self.speaker.as_mut());
                self.emit(out);
            }
            ClientDataMessage::DirectorNoteCue(cue) => {
                self.stats.add_director_cue(&cue.cue.tag);
                let applied = ServerDataMessage::DirectorNoteCueApplied(DirectorNoteCueApplied {
                    session_id: Some(self.id.clone()),
                    user_action_correlation_id: Some(uuid::Uuid::new_v4().to_string()),
                    timestamp_user_action: None,
                    cue_tag: Some(cue.cue.tag),
                });
                self.emit(vec![Outgoing::Data(applied.encode())]);
            }
            // Context is stored silently, as the real engine does; the toy model can quote it.
            ClientDataMessage::Context(c) => {
                self.stats.add_context(&c.content);
                self.latest_context = Some(c.content.chars().take(MAX_CONTEXT_CHARS).collect());
            }
            ClientDataMessage::ToolResult(r) => self.on_tool_result(&r),
            ClientDataMessage::RemoteRtpStats(_) => {
                self.stats
                    .rtp_stats_received
                    .fetch_add(1, Ordering::Relaxed);
            }
            ClientDataMessage::Unknown { .. } => self.stats.add_raw_data_message(text),
        }
    }

    /// A typed user message: echoed as a user transcript, then the toy model's turn (a thought
    /// first if asked for, then a reply or a tool call).
    fn on_user_message(&mut self, content: &str) {
        self.stats.add_user_message(content);
        let action = UserAction::now();
        let echo = self.conversation.user_echo(content, &action.correlation_id);
        self.emit(vec![echo]);
        let turn = model::respond(
            self.conversation.persona_name(),
            content,
            self.latest_context.as_deref(),
        );
        if let Some(thought) = turn.thought {
            self.emit(speech::reasoning(&thought));
        }
        let now = Instant::now();
        let started = match turn.action {
            Action::Say(text) => {
                let jobs = self.conversation.talk(&text);
                self.submit(jobs);
                return;
            }
            Action::ClientTool { name, arguments } => {
                self.tools.start_client(&name, arguments, &action, now)
            }
            Action::ServerTool {
                name,
                subtype,
                arguments,
                outcome,
            } => self
                .tools
                .start_server(&name, &subtype, arguments, outcome, &action, now)
                .map(|m| vec![m]),
        };
        match started {
            Ok(messages) => {
                for m in messages {
                    self.send_data(m.encode());
                }
            }
            Err(e) => self.warn(&e),
        }
    }

    fn on_tool_result(&mut self, r: &ToolResult) {
        self.stats.add_tool_result(ToolResultRecord {
            tool_call_id: r.tool_call_id.clone(),
            result: r.result.clone(),
            error: r.error.clone(),
        });
        if let Some(done) = self.tools.on_result(r) {
            self.finish_tool(done);
        }
    }

    /// Sends a tool call's completion or failure, then has the persona talk about it.
    fn finish_tool(&mut self, done: Finished) {
        self.send_data(done.message.encode());
        let line = model::after_tool(&done.tool_name, &done.arguments, &done.outcome);
        let jobs = self.conversation.talk(&line);
        self.submit(jobs);
    }

    // ---------------------------------------------------------------------------------------
    // Media

    /// Runs the media clock up to now. Ticks are counted from the wall clock, not from timer
    /// wake-ups: on a loaded machine the timer fires late, and counting wake-ups would slow the
    /// video down. Late audio ticks are caught up (a short burst the jitter buffer absorbs); for
    /// video only the newest due frame is sent.
    fn media_tick(&mut self) {
        let Some(started) = self.media_started else {
            return;
        };
        let now = std_now();
        let elapsed = Instant::now().saturating_duration_since(started);
        let due = (elapsed.as_micros() / AUDIO_TICK.as_micros()) as u64 + 1;
        if due.saturating_sub(self.audio_ticks) > MAX_CATCH_UP_TICKS {
            // Too far behind (the process was starved): skip ahead rather than flood.
            self.audio_ticks = due - MAX_CATCH_UP_TICKS;
        }
        while self.audio_ticks < due {
            let tick = self.audio_ticks;
            self.audio_ticks += 1;
            self.audio_tick(now, tick);
        }
        // 25 fps on the 50 Hz clock: frame n belongs to tick 2n.
        let frame_no = (self.audio_ticks - 1) / 2;
        if self.last_frame == Some(frame_no) {
            return;
        }
        if let (Some(bank), Some(peer)) = (self.bank.as_ref(), self.peer.as_mut()) {
            let frame = bank.frame(frame_no, self.openness);
            if peer.write_video(now, frame_no, FPS, &frame) {
                self.stats.frames_sent.fetch_add(1, Ordering::Relaxed);
            }
            self.last_frame = Some(frame_no);
        }
    }

    fn audio_tick(&mut self, now: StdInstant, tick: u64) {
        let idle = self.mic.on_idle(Instant::now());
        self.on_voice(idle);
        let Some(speaker) = self.speaker.as_mut() else {
            return;
        };
        let audio = speaker.tick();
        self.openness = audio.openness;
        if !audio.opus.is_empty() {
            if let Some(peer) = self.peer.as_mut() {
                let pos = tick * AUDIO_FRAME_SAMPLES as u64;
                if peer.write_audio(now, pos, &audio.opus) {
                    self.stats
                        .audio_packets_sent
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let out = self.conversation.transcript(&audio);
        self.emit(out);
    }

    // ---------------------------------------------------------------------------------------
    // Output

    fn submit(&mut self, jobs: Vec<SynthJob>) {
        for job in jobs {
            if self.synth_tx.try_send(job).is_err() {
                self.warn("the persona is too busy to say that");
            }
        }
    }

    fn emit(&mut self, out: Vec<Outgoing>) {
        for o in out {
            match o {
                Outgoing::Data(text) => self.send_data(text),
                Outgoing::Signal(action) => self.send_signal(action),
            }
        }
    }

    fn send_data(&mut self, text: String) {
        if self.ready_sent && self.pending_data.is_empty() && self.send_now(&text) {
            return;
        }
        if self.pending_data.len() >= MAX_PENDING_DATA {
            self.pending_data.pop_front();
        }
        self.pending_data.push_back(text);
    }

    fn send_now(&mut self, text: &str) -> bool {
        if self.media_stopped {
            return false; // kept (bounded) in pending_data, never sent
        }
        self.peer.as_mut().is_some_and(|p| p.send_text(text))
    }

    fn send_signal(&mut self, action: SignalAction) {
        if let Some((_, out)) = self.ws.as_ref() {
            let text = SignalMessage::new(self.id.clone(), action).encode();
            if out.try_send(WsOut::Text(text)).is_err() {
                tracing::warn!(session = %self.id, "signalling socket is backed up: frame dropped");
            }
        }
    }

    fn warn(&mut self, text: &str) {
        tracing::debug!(session = %self.id, "warning to client: {text}");
        self.send_signal(SignalAction::Warning(text.to_owned()));
    }
}

/// Runs synthesis jobs in order on the blocking pool, skipping ones made stale by an interrupt.
fn start_synth_worker(
    style: Arc<PersonaStyle>,
    generation: Arc<AtomicU64>,
) -> (mpsc::Sender<SynthJob>, mpsc::Receiver<SynthDone>) {
    let (job_tx, mut job_rx) = mpsc::channel::<SynthJob>(SYNTH_QUEUE);
    let (done_tx, done_rx) = mpsc::channel::<SynthDone>(SYNTH_QUEUE);
    tokio::spawn(async move {
        while let Some(job) = job_rx.recv().await {
            if job.generation < generation.load(Ordering::Relaxed) {
                continue;
            }
            let style = style.clone();
            let Ok(done) =
                tokio::task::spawn_blocking(move || speech::synthesize(job, &style)).await
            else {
                continue;
            };
            if done_tx.send(done).await.is_err() {
                break;
            }
        }
    });
    (job_tx, done_rx)
}

async fn recv_from(
    socket: Option<&UdpSocket>,
    buf: &mut [u8],
) -> std::io::Result<(usize, SocketAddr)> {
    match socket {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

async fn recv_bank(
    rx: &mut Option<oneshot::Receiver<Option<Arc<FrameBank>>>>,
) -> Option<Arc<FrameBank>> {
    match rx.as_mut() {
        Some(r) => r.await.ok().flatten(),
        None => std::future::pending().await,
    }
}
