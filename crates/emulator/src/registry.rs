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
    talk_texts: Mutex<(u32, VecDeque<String>)>,
    user_messages: Mutex<(u32, VecDeque<String>)>,
}

fn push_bounded(list: &Mutex<(u32, VecDeque<String>)>, text: &str) {
    let mut l = list.lock().unwrap_or_else(|e| e.into_inner());
    l.0 = l.0.saturating_add(1);
    if l.1.len() >= TEXTS_KEPT {
        l.1.pop_front();
    }
    l.1.push_back(text.chars().take(1000).collect());
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
            talk_texts: Mutex::new((0, VecDeque::new())),
            user_messages: Mutex::new((0, VecDeque::new())),
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
        push_bounded(&self.talk_texts, text);
    }

    pub fn add_user_message(&self, text: &str) {
        push_bounded(&self.user_messages, text);
    }

    pub fn snapshot(&self) -> SessionSnapshot {
        let talk = self.talk_texts.lock().unwrap_or_else(|e| e.into_inner());
        let user = self.user_messages.lock().unwrap_or_else(|e| e.into_inner());
        SessionSnapshot {
            id: self.id.clone(),
            persona_id: self.persona_id.clone(),
            state: self.state(),
            ws_connections: self.ws_connections.load(Ordering::Relaxed),
            ws_connections_total: self.ws_connections_total.load(Ordering::Relaxed),
            ice_state: *self.ice_state.lock().unwrap_or_else(|e| e.into_inner()),
            frames_sent: self.frames_sent.load(Ordering::Relaxed),
            audio_packets_sent: self.audio_packets_sent.load(Ordering::Relaxed),
            talk_texts_received: talk.0,
            talk_texts: talk.1.iter().cloned().collect(),
            talk_stream_chunks_received: self.talk_stream_chunks.load(Ordering::Relaxed),
            user_messages_received: user.0,
            user_messages: user.1.iter().cloned().collect(),
            interrupts_received: self.interrupts.load(Ordering::Relaxed),
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
