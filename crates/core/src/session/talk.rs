//! Talk message streams (docs/PROTOCOL.md §10.4): per-stream state and correlation ids.

use crate::wire::signalling::TalkStreamPayload;

/// State of one talk stream; the numbers are the official (unexported) ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TalkStreamState {
    /// Created; nothing sent yet.
    Unstarted = 0,
    /// At least one chunk sent, the last one not yet.
    Streaming = 1,
    /// The server interrupted it; further chunks are refused.
    Interrupted = 2,
    /// The final chunk was sent.
    Ended = 3,
}

impl TalkStreamState {
    /// The official state name, e.g. `STREAMING`.
    pub fn as_str(self) -> &'static str {
        match self {
            TalkStreamState::Unstarted => "UNSTARTED",
            TalkStreamState::Streaming => "STREAMING",
            TalkStreamState::Interrupted => "INTERRUPTED",
            TalkStreamState::Ended => "ENDED",
        }
    }

    /// Whether chunks may still be sent.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            TalkStreamState::Unstarted | TalkStreamState::Streaming
        )
    }
}

/// Why a chunk was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TalkStreamError {
    /// The stream is ENDED or INTERRUPTED.
    NotActive(TalkStreamState),
    /// `utteranceId` is not a lowercase UUID v4.
    BadUtteranceId,
    /// The session this stream belongs to is over.
    SessionEnded,
    /// No stream with this handle.
    UnknownStream,
}

impl std::fmt::Display for TalkStreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TalkStreamError::NotActive(s) => {
                write!(f, "Talk stream is not active (state {})", s.as_str())
            }
            TalkStreamError::BadUtteranceId => {
                f.write_str("utteranceId must be a lowercase UUID v4")
            }
            TalkStreamError::SessionEnded => {
                f.write_str("The session of this talk stream has ended")
            }
            TalkStreamError::UnknownStream => f.write_str("Unknown talk stream"),
        }
    }
}

impl std::error::Error for TalkStreamError {}

/// One stream's bookkeeping.
#[derive(Debug, Clone)]
pub(crate) struct TalkStream {
    pub correlation_id: String,
    pub state: TalkStreamState,
    /// Generation of the session the stream was created in.
    pub generation: u64,
    pub last_utterance_id: Option<String>,
}

impl TalkStream {
    /// Applies `streamMessageChunk`: returns the payload to send. The state changes before the
    /// send, as in the official client.
    pub fn chunk(
        &mut self,
        content: &str,
        end_of_speech: bool,
        utterance_id: Option<&str>,
    ) -> Result<TalkStreamPayload, TalkStreamError> {
        if !self.state.is_active() {
            return Err(TalkStreamError::NotActive(self.state));
        }
        if let Some(u) = utterance_id {
            if !is_uuid_v4(u) {
                return Err(TalkStreamError::BadUtteranceId);
            }
            self.last_utterance_id = Some(u.to_owned());
        }
        let start_of_speech = self.state == TalkStreamState::Unstarted;
        self.state = if end_of_speech {
            TalkStreamState::Ended
        } else {
            TalkStreamState::Streaming
        };
        Ok(TalkStreamPayload {
            content: content.to_owned(),
            start_of_speech,
            end_of_speech,
            correlation_id: self.correlation_id.clone(),
            utterance_id: utterance_id.map(str::to_owned),
        })
    }

    /// Applies `endMessage`: a terminator only when STREAMING; `None` means "warn, send nothing".
    pub fn end(&mut self) -> Option<TalkStreamPayload> {
        if self.state != TalkStreamState::Streaming {
            return None;
        }
        self.state = TalkStreamState::Ended;
        Some(TalkStreamPayload {
            content: String::new(),
            start_of_speech: false,
            end_of_speech: true,
            correlation_id: self.correlation_id.clone(),
            utterance_id: self.last_utterance_id.clone(),
        })
    }
}

/// `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`.
pub fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 36 {
        return false;
    }
    b.iter().enumerate().all(|(i, &c)| match i {
        8 | 13 | 18 | 23 => c == b'-',
        14 => c == b'4',
        19 => matches!(c, b'8' | b'9' | b'a' | b'b'),
        _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
    })
}

/// The talk streams of a client by handle. A client has a handful, so a vector beats a tree map
/// (and keeps `BTreeMap`'s code out of the wasm bundle); handles only grow, so pushing keeps the
/// entries in handle order.
#[derive(Debug, Default)]
pub(crate) struct TalkStreams(Vec<(u32, TalkStream)>);

impl TalkStreams {
    pub fn insert(&mut self, handle: u32, stream: TalkStream) {
        match self.get_mut(&handle) {
            Some(slot) => *slot = stream,
            None => self.0.push((handle, stream)),
        }
    }

    pub fn get(&self, handle: &u32) -> Option<&TalkStream> {
        self.0.iter().find(|(h, _)| h == handle).map(|(_, s)| s)
    }

    pub fn get_mut(&mut self, handle: &u32) -> Option<&mut TalkStream> {
        self.0.iter_mut().find(|(h, _)| h == handle).map(|(_, s)| s)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&u32, &mut TalkStream) -> bool) {
        self.0.retain_mut(|(h, s)| keep(h, s));
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut TalkStream> {
        self.0.iter_mut().map(|(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_table_finds_replaces_and_forgets_by_handle() {
        let mut table = TalkStreams::default();
        table.insert(1, stream());
        table.insert(2, stream());
        table.insert(
            1,
            TalkStream {
                generation: 9,
                ..stream()
            },
        );
        assert_eq!(table.get(&1).map(|s| s.generation), Some(9));
        assert!(table.get(&3).is_none());
        table.retain(|h, _| *h != 1);
        assert!(table.get(&1).is_none());
        assert_eq!(table.values_mut().count(), 1);
        if let Some(s) = table.get_mut(&2) {
            s.generation = 4;
        }
        assert_eq!(table.get(&2).map(|s| s.generation), Some(4));
    }

    fn stream() -> TalkStream {
        TalkStream {
            correlation_id: "c1".into(),
            state: TalkStreamState::Unstarted,
            generation: 1,
            last_utterance_id: None,
        }
    }

    #[test]
    fn first_chunk_starts_speech_and_last_ends_the_stream() {
        let mut s = stream();
        let p = s.chunk("a", false, None).ok();
        assert_eq!(
            p.map(|p| (p.start_of_speech, p.end_of_speech)),
            Some((true, false))
        );
        assert_eq!(s.state, TalkStreamState::Streaming);
        let p = s.chunk("b", true, None).ok();
        assert_eq!(
            p.map(|p| (p.start_of_speech, p.end_of_speech)),
            Some((false, true))
        );
        assert_eq!(s.state, TalkStreamState::Ended);
        assert_eq!(
            s.chunk("c", false, None).err(),
            Some(TalkStreamError::NotActive(TalkStreamState::Ended))
        );
    }

    #[test]
    fn end_message_only_terminates_a_streaming_stream() {
        let mut s = stream();
        assert!(s.end().is_none(), "UNSTARTED sends nothing");
        let uid = "123e4567-e89b-42d3-a456-426614174000";
        assert!(s.chunk("a", false, Some(uid)).is_ok());
        let t = s.end();
        assert_eq!(t.as_ref().map(|t| t.content.as_str()), Some(""));
        assert_eq!(t.and_then(|t| t.utterance_id).as_deref(), Some(uid));
        assert!(s.end().is_none(), "ENDED sends nothing");
    }

    #[test]
    fn utterance_ids_must_be_lowercase_v4() {
        assert!(is_uuid_v4("123e4567-e89b-42d3-a456-426614174000"));
        assert!(!is_uuid_v4("123E4567-e89b-42d3-a456-426614174000"));
        assert!(!is_uuid_v4("123e4567-e89b-12d3-a456-426614174000"));
        assert!(!is_uuid_v4("123e4567-e89b-42d3-c456-426614174000"));
        let mut s = stream();
        assert_eq!(
            s.chunk("a", false, Some("x")).err(),
            Some(TalkStreamError::BadUtteranceId)
        );
        assert_eq!(s.state, TalkStreamState::Unstarted);
    }
}
