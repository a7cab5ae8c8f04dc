//! Message history folding (docs/PROTOCOL.md §9.3): transcript chunks become messages.
//!
//! User chunks are appended one per event (the server sends each user utterance whole); persona
//! chunks with the same id are merged, their `interrupted` flags OR-ed. The history belongs to
//! one session: a new session starts with an empty one (the official client keeps it for the
//! life of the client object, which leaks one conversation into the next).

use super::events::MessageStreamEvent;
use super::events::ReasoningStreamEvent;
use crate::wire::datachannel::{ReasoningText, SpeechText};
use serde::Serialize;

/// One entry of the message history, serialized with the official keys (absent options are
/// left out).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// `<role>::<message_id>`; persona chunks with the same id merge into one entry.
    pub id: String,
    /// The full text: the user's utterance, or the persona's chunks joined.
    pub content: String,
    /// `user` or `persona` (or another role the server sent).
    pub role: String,
    /// Whether the persona was cut off; absent for user messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<bool>,
    /// [4.27] A persona message's chunks grouped by `utterance_id`, in order (only when the
    /// server sends utterance ids).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utterances: Option<Vec<Utterance>>,
}

/// One utterance of a persona message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Utterance {
    /// The `utterance_id` the chunks carried.
    pub id: String,
    /// The utterance's chunks joined.
    pub content: String,
}

/// Appends a chunk to the utterance list: consecutive chunks of one utterance id are joined; a
/// new utterance after the first drops one leading space (the engine separates utterances with
/// it, and the message content keeps it).
fn fold_utterance(list: &mut Vec<Utterance>, id: &str, content: &str) {
    match list.last_mut() {
        Some(last) if last.id == id => last.content.push_str(content),
        last => {
            let content = match last {
                Some(_) => content.strip_prefix(' ').unwrap_or(content),
                None => content,
            };
            list.push(Utterance {
                id: id.to_owned(),
                content: content.to_owned(),
            });
        }
    }
}

/// The public stream event of a `speechText` chunk (§9.3): the id is prefixed with the role
/// because user and persona messages share ids within one exchange; empty optional strings are
/// omitted.
pub fn stream_event(t: &SpeechText) -> MessageStreamEvent {
    let non_empty = |s: &Option<String>| s.as_ref().filter(|v| !v.is_empty()).cloned();
    MessageStreamEvent {
        id: format!("{}::{}", t.role.as_str(), t.message_id),
        content: t.content.clone(),
        role: t.role.as_str().to_owned(),
        end_of_speech: t.end_of_speech,
        interrupted: t.interrupted,
        content_index: t.content_index,
        correlation_id: t.effective_correlation_id().map(str::to_owned),
        cue_tag: non_empty(&t.cue_tag),
        utterance_id: non_empty(&t.utterance_id),
    }
}

/// The public event of a `reasoningText` chunk.
pub fn reasoning_event(t: &ReasoningText) -> ReasoningStreamEvent {
    ReasoningStreamEvent {
        id: format!("{}::{}", t.role.as_str(), t.message_id),
        content: t.content.clone(),
        end_of_thought: t.end_of_thought,
        role: t.role.as_str().to_owned(),
    }
}

/// Folds a reasoning chunk into `list` (merged by id, `interrupted` unused); returns true when a
/// `REASONING_HISTORY_UPDATED` is due (end of thought).
pub fn fold_reasoning(list: &mut Vec<Message>, e: &ReasoningStreamEvent) -> bool {
    match list.iter_mut().find(|m| m.id == e.id) {
        Some(m) => m.content.push_str(&e.content),
        None => list.push(Message {
            id: e.id.clone(),
            content: e.content.clone(),
            role: e.role.clone(),
            interrupted: None,
            utterances: None,
        }),
    }
    e.end_of_thought
}

/// The folded conversation of one session.
#[derive(Debug, Default, Clone)]
pub struct History {
    messages: Vec<Message>,
}

impl History {
    /// Folds one chunk in; returns true when a `MESSAGE_HISTORY_UPDATED` is due (end of speech).
    pub fn fold(&mut self, event: &MessageStreamEvent) -> bool {
        if event.role == "persona" {
            let index = match self.messages.iter().position(|m| m.id == event.id) {
                Some(i) => i,
                None => {
                    self.messages.push(Message {
                        id: event.id.clone(),
                        content: String::new(),
                        role: event.role.clone(),
                        interrupted: Some(false),
                        utterances: None,
                    });
                    self.messages.len() - 1
                }
            };
            if let Some(message) = self.messages.get_mut(index) {
                message.content.push_str(&event.content);
                message.interrupted = Some(message.interrupted == Some(true) || event.interrupted);
                if let Some(id) = &event.utterance_id {
                    let list = message.utterances.get_or_insert_with(Vec::new);
                    fold_utterance(list, id, &event.content);
                }
            }
        } else {
            self.messages.push(Message {
                id: event.id.clone(),
                content: event.content.clone(),
                role: event.role.clone(),
                interrupted: None,
                utterances: None,
            });
        }
        event.end_of_speech
    }

    /// The messages so far (a copy is handed to listeners, never the live list).
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// Forgets every message.
    pub fn clear(&mut self) {
        self.messages.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::datachannel::MessageRole;

    fn chunk(
        role: &str,
        id: &str,
        idx: u32,
        text: &str,
        eos: bool,
        int: bool,
    ) -> MessageStreamEvent {
        stream_event(&SpeechText {
            message_id: id.into(),
            content_index: Some(idx),
            content: text.into(),
            role: MessageRole::from(role.to_owned()),
            end_of_speech: eos,
            interrupted: int,
            ..Default::default()
        })
    }

    #[test]
    fn persona_chunks_merge_by_id_and_or_the_interrupt_flag() {
        let mut h = History::default();
        assert!(!h.fold(&chunk("persona", "m1", 0, "Hello ", false, false)));
        assert!(!h.fold(&chunk("persona", "m1", 1, "there", false, true)));
        assert!(h.fold(&chunk("persona", "m1", 2, "!", true, false)));
        assert_eq!(h.messages().len(), 1);
        assert_eq!(h.messages()[0].content, "Hello there!");
        assert_eq!(h.messages()[0].id, "persona::m1");
        assert_eq!(h.messages()[0].interrupted, Some(true));
    }

    #[test]
    fn user_chunks_are_appended_and_ids_are_role_scoped() {
        let mut h = History::default();
        assert!(h.fold(&chunk("user", "m1", 0, "hi", true, false)));
        assert!(h.fold(&chunk("user", "m1", 0, "again", true, false)));
        h.fold(&chunk("persona", "m1", 0, "yo", true, false));
        let ids: Vec<_> = h.messages().iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["user::m1", "user::m1", "persona::m1"]);
        assert_eq!(h.messages()[0].interrupted, None);
    }

    #[test]
    fn persona_utterances_group_consecutive_chunks() {
        let mut h = History::default();
        let with_utterance = |idx: u32, text: &str, utterance: &str, eos: bool| {
            let mut e = chunk("persona", "m1", idx, text, eos, false);
            e.utterance_id = Some(utterance.to_owned());
            e
        };
        h.fold(&with_utterance(0, "Hello", "u1", false));
        h.fold(&with_utterance(1, " there.", "u1", false));
        h.fold(&with_utterance(2, " Second", "u2", false));
        h.fold(&with_utterance(3, " one.", "u2", true));
        let m = &h.messages()[0];
        assert_eq!(m.content, "Hello there. Second one.");
        let u: Vec<(&str, &str)> = m
            .utterances
            .iter()
            .flatten()
            .map(|u| (u.id.as_str(), u.content.as_str()))
            .collect();
        assert_eq!(u, [("u1", "Hello there."), ("u2", "Second one.")]);
        // Without utterance ids the key is omitted, as before 4.27.
        h.fold(&chunk("persona", "m2", 0, "Hi", true, false));
        let json = serde_json::to_value(&h.messages()[1]).unwrap();
        assert!(json.get("utterances").is_none());
    }

    #[test]
    fn empty_optional_strings_are_omitted_from_the_event() {
        let e = stream_event(&SpeechText {
            role: MessageRole::Persona,
            user_action_correlation_id: Some(String::new()),
            cue_tag: Some("happy".into()),
            ..Default::default()
        });
        assert_eq!(e.correlation_id, None);
        assert_eq!(e.cue_tag.as_deref(), Some("happy"));
        let json = serde_json::to_value(&e).unwrap();
        assert!(json.get("correlationId").is_none());
        assert_eq!(json["endOfSpeech"], false);
    }
}
