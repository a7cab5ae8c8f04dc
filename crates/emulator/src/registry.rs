//! The live sessions: a handle per session for the HTTP side, and per-session counters for the
//! control API.
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::mpsc;

/// Ended sessions kept for `GET /_emulator/sessions`, oldest dropped first.
const ENDED_KEPT: usize = 64;
/// Texts kept per list in the counters (the counts keep going).
const TEXTS_KEPT: usize = 32;
/// Longest text kept per entry, in characters.
const TEXT_CHARS_KEPT: usize = 1000;

/// What the HTTP handlers and signalling sockets tell a session task.
#[derive(Debug)]
pub enum SessionCmd {
    /// A signalling socket attached; it becomes the session's outbound channel.
    WsAttach { conn: u64, out: mpsc::Sender<WsOut> },
    /// A text frame from socket `conn`.
    WsText { conn: u64, text: String },
    /// A frame that could not be used (binary, oversized); the session answers with a warning.
    WsInvalid { conn: u64, reason: String },
    /// Socket `conn` is gone; `deliberate` when the client closed it with code 1000.
    WsClosed { conn: u64, deliberate: bool },
    /// `POST /talk`.
    Talk { content: String },
    /// Control API: drop the signalling socket without a close frame.
    DropSignalling,
    /// Control API: send `endsession` and tear down.
    End { reason: String },
    /// Control API: stop all media for good (no UDP read or written), signalling untouched.
    StopMedia,
    /// Control API: send this text as one data-channel message, as it is.
    SendData { text: String },
}

/// What a session task tells one signalling socket.
#[derive(Debug, Clone, PartialEq)]
pub enum WsOut {
    Text(String),
    /// Close with a close frame (the socket was replaced or the session ended).
    Close {
        code: u16,
        reason: String,
    },
    /// Drop the TCP connection without a close frame.
    Abort,
}

/// Counters and state of one session, as the control API shows them.
#[derive(Debug)]
pub struct SessionStats {
    pub id: String,
    pub persona_id: String,
    state: Mutex<&'static str>,
    ice_state: Mutex<&'static str>,
    pub ws_connections: AtomicU32,
    pub ws_connections_total: AtomicU32,
    pub frames_sent: AtomicU64,
    pub audio_packets_sent: AtomicU64,
    pub interrupts: AtomicU32,
    pub talk_stream_chunks: AtomicU32,
    pub rtp_stats_received: AtomicU32,
    pub user_speech_started: AtomicU32,
    pub user_speech_ended: AtomicU32,
    pub agent_audio_chunks: AtomicU32,
    pub agent_audio_sequences_ended: AtomicU32,
    talk_texts: Mutex<Bounded<String>>,
    user_messages: Mutex<Bounded<String>>,
    contexts: Mutex<Bounded<String>>,
    director_cues: Mutex<Bounded<String>>,
    raw_data_messages: Mutex<Bounded<String>>,
    tool_results: Mutex<Bounded<ToolResultRecord>>,
}

/// A count of everything pushed, and the last [`TEXTS_KEPT`] items.
#[derive(Debug)]
struct Bounded<T> {
    total: u32,
    last: VecDeque<T>,
}

impl<T: Clone> Bounded<T> {
    fn new() -> Mutex<Self> {
        Mutex::new(Bounded {
            total: 0,
            last: VecDeque::new(),
        })
    }

    fn push(&mut self, item: T) {
        self.total = self.total.saturating_add(1);
        if self.last.len() >= TEXTS_KEPT {
            self.last.pop_front();
        }
        self.last.push_back(item);
    }

    fn items(&self) -> Vec<T> {
        self.last.iter().cloned().collect()
    }
}

fn push_text(list: &Mutex<Bounded<String>>, text: &str) {
    lock(list).push(clip(text));
}

fn clip(text: &str) -> String {
    text.chars().take(TEXT_CHARS_KEPT).collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A `tool_result` the client sent, as the control API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResultRecord {
    pub tool_call_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SessionStats {
    pub fn new(id: &str, persona_id: &str) -> Self {
        SessionStats {
            id: id.to_owned(),
            persona_id: persona_id.to_owned(),
            state: Mutex::new("created"),
            ice_state: Mutex::new("new"),
            ws_connections: AtomicU32::new(0),
            ws_connections_total: AtomicU32::new(0),
            frames_sent: AtomicU64::new(0),
            audio_packets_sent: AtomicU64::new(0),
            interrupts: AtomicU32::new(0),
            talk_stream_chunks: AtomicU32::new(0),
            rtp_stats_received: AtomicU32::new(0),
            user_speech_started: AtomicU32::new(0),
            user_speech_ended: AtomicU32::new(0),
            agent_audio_chunks: AtomicU32::new(0),
            agent_audio_sequences_ended: AtomicU32::new(0),
            talk_texts: Bounded::new(),
            user_messages: Bounded::new(),
            contexts: Bounded::new(),
            director_cues: Bounded::new(),
            raw_data_messages: Bounded::new(),
            tool_results: Bounded::new(),
        }
    }

    pub fn set_state(&self, s: &'static str) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = s;
    }

    pub fn state(&self) -> &'static str {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_ice_state(&self, s: &'static str) {
        *self.ice_state.lock().unwrap_or_else(|e| e.into_inner()) = s;
    }

    pub fn add_talk_text(&self, text: &str) {
        push_text(&self.talk_texts, text);
    }

    pub fn add_user_message(&self, text: &str) {
        push_text(&self.user_messages, text);
    }

    pub fn add_context(&self, text: &str) {
        push_text(&self.contexts, text);
    }

    pub fn add_director_cue(&self, tag: &str) {
        push_text(&self.director_cues, tag);
    }

    /// A data-channel message the emulator does not understand (kept verbatim, clipped).
    pub fn add_raw_data_message(&self, text: &str) {
        push_text(&self.raw_data_messages, text);
    }

    pub fn add_tool_result(&self, record: ToolResultRecord) {
        lock(&self.tool_results).push(ToolResultRecord {
            tool_call_id: clip(&record.tool_call_id),
            result: record.result.as_deref().map(clip),
            error: record.error.as_deref().map(clip),
        });
    }

    pub fn snapshot(&self) -> SessionSnapshot {
        let talk = lock(&self.talk_texts);
        let user = lock(&self.user_messages);
        let count = |n: &AtomicU32| n.load(Ordering::Relaxed);
        SessionSnapshot {
            id: self.id.clone(),
            persona_id: self.persona_id.clone(),
            state: self.state(),
            ws_connections: self.ws_connections.load(Ordering::Relaxed),
            ws_connections_total: self.ws_connections_total.load(Ordering::Relaxed),
            ice_state: *self.ice_state.lock().unwrap_or_else(|e| e.into_inner()),
            frames_sent: self.frames_sent.load(Ordering::Relaxed),
            audio_packets_sent: self.audio_packets_sent.load(Ordering::Relaxed),
            talk_texts_received: talk.total,
            talk_texts: talk.items(),
            talk_stream_chunks_received: count(&self.talk_stream_chunks),
            user_messages_received: user.total,
            user_messages: user.items(),
            interrupts_received: count(&self.interrupts),
            tool_results: lock(&self.tool_results).items(),
            contexts: lock(&self.contexts).items(),
            director_cues: lock(&self.director_cues).items(),
            rtp_stats_received: count(&self.rtp_stats_received),
            user_speech_started: count(&self.user_speech_started),
            user_speech_ended: count(&self.user_speech_ended),
            agent_audio_chunks: count(&self.agent_audio_chunks),
            agent_audio_sequences_ended: count(&self.agent_audio_sequences_ended),
            raw_data_messages: lock(&self.raw_data_messages).items(),
        }
    }
}

/// One entry of `GET /_emulator/sessions`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSnapshot {
    pub id: String,
    pub persona_id: String,
    pub state: &'static str,
    pub ws_connections: u32,
    pub ws_connections_total: u32,
    pub ice_state: &'static str,
    pub frames_sent: u64,
    pub audio_packets_sent: u64,
    pub talk_texts_received: u32,
    pub talk_texts: Vec<String>,
    pub talk_stream_chunks_received: u32,
    pub user_messages_received: u32,
    pub user_messages: Vec<String>,
    pub interrupts_received: u32,
    /// `tool_result` messages, last 32.
    pub tool_results: Vec<ToolResultRecord>,
    /// `context` contents, last 32.
    pub contexts: Vec<String>,
    /// Director-note cue tags, last 32.
    pub director_cues: Vec<String>,
    pub rtp_stats_received: u32,
    /// Utterances the voice detector found on the microphone track.
    pub user_speech_started: u32,
    pub user_speech_ended: u32,
    /// `agentaudioinput` chunks received (played or not).
    pub agent_audio_chunks: u32,
    /// `agentaudioinputend` messages received.
    pub agent_audio_sequences_ended: u32,
    /// Data-channel messages of unknown type or shape, verbatim (clipped), last 32.
    pub raw_data_messages: Vec<String>,
}

/// How the HTTP side reaches a live session.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    pub tx: mpsc::Sender<SessionCmd>,
    pub stats: Arc<SessionStats>,
}

#[derive(Default)]
pub struct Registry {
    live: Mutex<HashMap<String, SessionHandle>>,
    ended: Mutex<VecDeque<Arc<SessionStats>>>,
}

impl Registry {
    pub fn insert(&self, handle: SessionHandle) {
        let id = handle.stats.id.clone();
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, handle);
    }

    pub fn get(&self, id: &str) -> Option<SessionHandle> {
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    pub fn live_count(&self) -> usize {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Moves a session from the live map to the ended list.
    pub fn remove(&self, id: &str) {
        let removed = self
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        if let Some(h) = removed {
            let mut ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
            if ended.len() >= ENDED_KEPT {
                ended.pop_front();
            }
            ended.push_back(h.stats);
        }
    }

    /// Live sessions first, then recently ended ones.
    pub fn snapshots(&self) -> Vec<SessionSnapshot> {
        let mut out: Vec<SessionSnapshot> = self
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|h| h.stats.snapshot())
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        let ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        out.extend(ended.iter().rev().map(|s| s.snapshot()));
        out
    }
}
