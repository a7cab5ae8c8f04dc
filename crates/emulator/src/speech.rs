//! What the persona says and the transcript it sends: turns `talk`, talk streams, user `speech`
//! and `interrupt` into Speaker calls, and Speaker transcript chunks into `speechText` messages.
//!
//! Synthesis is slow (espeak-ng, tens of milliseconds or more), so it runs on a per-session worker
//! that keeps request order; every request carries a generation number and results from before
//! the latest interrupt are thrown away.
use std::collections::{HashMap, VecDeque};

use anam_core::wire::datachannel::{MessageRole, ReasoningText, ServerDataMessage, SpeechText};
use anam_core::wire::signalling::{SignalAction, TalkInterruptedPayload, TalkStreamPayload};

use crate::media::{AudioTick, PersonaStyle, Speaker};

/// A text waiting to be synthesized.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthJob {
    pub generation: u64,
    pub utterance_id: String,
    pub text: String,
    /// `None`: a whole utterance. `Some(end)`: one part of a talk stream.
    pub part: Option<bool>,
    /// A talk stream chunk's `utteranceId` [4.27], echoed on its transcript as `utterance_id`.
    pub label: Option<String>,
}

/// A synthesized job, ready for the speaker.
#[derive(Debug)]
pub struct SynthDone {
    pub job: SynthJob,
    pub pcm: Vec<i16>,
}

/// Something the session must send.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// A data-channel message (JSON text).
    Data(String),
    /// A signalling action.
    Signal(SignalAction),
}

/// Talk streams whose speech has been interrupted: later chunks with their id are refused.
const REMEMBERED_INTERRUPTED: usize = 64;
/// Bound on concurrently open talk streams per session.
const MAX_OPEN_STREAMS: usize = 64;

pub struct Conversation {
    persona_name: String,
    generation: u64,
    /// Talk streams by correlation id → utterance id, until their last chunk has been spoken.
    streams: HashMap<String, String>,
    interrupted: VecDeque<String>,
}

impl Conversation {
    pub fn new(persona_name: &str) -> Self {
        Conversation {
            persona_name: persona_name.to_owned(),
            generation: 0,
            streams: HashMap::new(),
            interrupted: VecDeque::new(),
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// `POST /talk`: say `content` as one persona message.
    pub fn talk(&mut self, content: &str) -> Vec<SynthJob> {
        if content.trim().is_empty() {
            return Vec::new();
        }
        vec![self.job(new_id(), content.to_owned(), None)]
    }

    /// A `talkstream` chunk: spoken as it arrives, one persona message per correlation id.
    pub fn talk_stream(&mut self, p: &TalkStreamPayload) -> Result<Vec<SynthJob>, String> {
        if self.interrupted.iter().any(|c| *c == p.correlation_id) {
            return Err(format!(
                "talk stream {} was interrupted; chunk ignored",
                p.correlation_id
            ));
        }
        let utterance_id = match self.streams.get(&p.correlation_id) {
            Some(id) => id.clone(),
            None => {
                if self.streams.len() >= MAX_OPEN_STREAMS {
                    return Err("too many open talk streams".to_owned());
                }
                let id = new_id();
                self.streams.insert(p.correlation_id.clone(), id.clone());
                id
            }
        };
        let mut job = self.job(utterance_id, p.content.clone(), Some(p.end_of_speech));
        job.label = p.utterance_id.clone().filter(|u| !u.is_empty());
        Ok(vec![job])
    }

    /// A user `speech` message, echoed as one user transcript event (the official client
    /// appends every user event as a new history entry, §9.3). What to answer is the toy
    /// model's business.
    pub fn user_echo(&self, content: &str, correlation_id: &str) -> Outgoing {
        speech_text(SpeechText {
            message_id: new_id(),
            content_index: Some(0),
            content: content.to_owned(),
            role: MessageRole::User,
            end_of_speech: true,
            interrupted: false,
            user_action_correlation_id: Some(correlation_id.to_owned()),
            ..SpeechText::default()
        })
    }

    pub fn persona_name(&self) -> &str {
        &self.persona_name
    }

    /// An `interrupt`: stop speaking, close the interrupted message, and tell every open talk
    /// stream that it was cut off.
    pub fn interrupt(&mut self, speaker: Option<&mut Speaker>) -> Vec<Outgoing> {
        self.generation += 1;
        let mut out = Vec::new();
        if let Some(cut) = speaker.and_then(Speaker::interrupt) {
            out.push(speech_text(SpeechText {
                message_id: cut.utterance_id,
                content_index: Some(cut.next_index),
                content: String::new(),
                role: MessageRole::Persona,
                end_of_speech: true,
                interrupted: true,
                ..SpeechText::default()
            }));
        }
        let mut ids: Vec<String> = self.streams.drain().map(|(c, _)| c).collect();
        ids.sort();
        for correlation_id in ids {
            self.remember_interrupted(correlation_id.clone());
            out.push(Outgoing::Signal(SignalAction::TalkInputStreamInterrupted(
                TalkInterruptedPayload { correlation_id },
            )));
        }
        out
    }

    /// Hands a finished synthesis to the speaker, unless an interrupt made it stale.
    pub fn deliver(&self, done: SynthDone, speaker: &mut Speaker) {
        if done.job.generation != self.generation {
            return;
        }
        match done.job.part {
            None => speaker.enqueue(done.job.utterance_id, done.job.text, done.pcm),
            Some(end) => speaker.enqueue_labelled_part(
                done.job.utterance_id,
                done.job.label,
                done.job.text,
                done.pcm,
                end,
            ),
        }
    }

    /// Transcript messages for one audio tick's chunks.
    pub fn transcript(&mut self, tick: &AudioTick) -> Vec<Outgoing> {
        let mut out = Vec::with_capacity(tick.chunks.len());
        for chunk in &tick.chunks {
            if chunk.last {
                self.streams.retain(|_, u| *u != chunk.utterance_id);
            }
            out.push(speech_text(SpeechText {
                message_id: chunk.utterance_id.clone(),
                content_index: Some(chunk.index),
                content: chunk.text.clone(),
                role: MessageRole::Persona,
                end_of_speech: chunk.last,
                interrupted: false,
                utterance_id: chunk.label.clone(),
                ..SpeechText::default()
            }));
        }
        out
    }

    fn job(&self, utterance_id: String, text: String, part: Option<bool>) -> SynthJob {
        SynthJob {
            generation: self.generation,
            utterance_id,
            text,
            part,
            label: None,
        }
    }

    fn remember_interrupted(&mut self, correlation_id: String) {
        if self.interrupted.len() >= REMEMBERED_INTERRUPTED {
            self.interrupted.pop_front();
        }
        self.interrupted.push_back(correlation_id);
    }
}

/// Synthesizes one job (blocking: run it on the blocking pool).
pub fn synthesize(job: SynthJob, style: &PersonaStyle) -> SynthDone {
    let pcm = if job.text.trim().is_empty() {
        Vec::new()
    } else {
        crate::media::synthesize(&job.text, style)
    };
    SynthDone { job, pcm }
}

/// One thought as `reasoningText` chunks: one message id, rising indexes, the last one ending
/// the thought.
pub fn reasoning(chunks: &[String]) -> Vec<Outgoing> {
    let message_id = new_id();
    let count = chunks.len();
    chunks
        .iter()
        .enumerate()
        .map(|(i, content)| {
            Outgoing::Data(
                ServerDataMessage::ReasoningText(ReasoningText {
                    message_id: message_id.clone(),
                    content_index: u32::try_from(i).ok(),
                    content: content.clone(),
                    role: MessageRole::Persona,
                    end_of_thought: i + 1 == count,
                })
                .encode(),
            )
        })
        .collect()
}

fn speech_text(data: SpeechText) -> Outgoing {
    Outgoing::Data(ServerDataMessage::SpeechText(data).encode())
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use anam_core::wire::datachannel::ServerDataMessage;

    fn decode(o: &Outgoing) -> SpeechText {
        match o {
            Outgoing::Data(t) => match ServerDataMessage::decode(t).unwrap() {
                ServerDataMessage::SpeechText(s) => s,
                other => panic!("not speechText: {other:?}"),
            },
            other => panic!("not data: {other:?}"),
        }
    }

    fn stream(c: &str, text: &str, start: bool, end: bool) -> TalkStreamPayload {
        TalkStreamPayload {
            content: text.to_owned(),
            start_of_speech: start,
            end_of_speech: end,
            correlation_id: c.to_owned(),
            utterance_id: None,
        }
    }

    #[test]
    fn user_message_is_echoed_once_with_its_correlation_id() {
        let c = Conversation::new("Milo");
        let echo = decode(&c.user_echo("hello there", "c-7"));
        assert_eq!(echo.role, MessageRole::User);
        assert!(echo.end_of_speech);
        assert_eq!(echo.content, "hello there");
        assert_eq!(echo.content_index, Some(0));
        assert_eq!(echo.effective_correlation_id(), Some("c-7"));
        assert_eq!(c.persona_name(), "Milo");
    }

    #[test]
    fn a_thought_is_one_reasoning_message() {
        let out = reasoning(&["a ".to_owned(), "b ".to_owned(), "c".to_owned()]);
        let chunks: Vec<ReasoningText> = out
            .iter()
            .map(|o| match o {
                Outgoing::Data(t) => match ServerDataMessage::decode(t).unwrap() {
                    ServerDataMessage::ReasoningText(r) => r,
                    other => panic!("not reasoningText: {other:?}"),
                },
                other => panic!("not data: {other:?}"),
            })
            .collect();
        assert_eq!(chunks.len(), 3);
        assert!(chunks.iter().all(|c| c.message_id == chunks[0].message_id));
        assert!(chunks.iter().all(|c| c.role == MessageRole::Persona));
        let indexes: Vec<Option<u32>> = chunks.iter().map(|c| c.content_index).collect();
        assert_eq!(indexes, [Some(0), Some(1), Some(2)]);
        let ends: Vec<bool> = chunks.iter().map(|c| c.end_of_thought).collect();
        assert_eq!(ends, [false, false, true]);
    }

    #[test]
    fn a_talk_stream_utterance_id_is_echoed_on_its_transcript() {
        let mut c = Conversation::new("Aria");
        let mut speaker = Speaker::new().unwrap();
        let uid = "0b8f2a4e-1c3d-4e5f-8a9b-0c1d2e3f4a5b";
        let mut p = stream("c1", "hello there", true, true);
        p.utterance_id = Some(uid.to_owned());
        let jobs = c.talk_stream(&p).unwrap();
        assert_eq!(jobs[0].label.as_deref(), Some(uid));
        for job in jobs {
            let pcm = vec![500i16; 960 * 3];
            c.deliver(SynthDone { job, pcm }, &mut speaker);
        }
        let mut sent = Vec::new();
        for _ in 0..20 {
            let tick = speaker.tick();
            sent.extend(c.transcript(&tick).iter().map(decode));
        }
        assert_eq!(sent.len(), 2, "{sent:?}");
        assert!(sent.iter().all(|s| s.utterance_id.as_deref() == Some(uid)));
        // Without an utteranceId there is none on the transcript.
        let jobs = c.talk_stream(&stream("c2", "plain", true, true)).unwrap();
        assert_eq!(jobs[0].label, None);
    }

    #[test]
    fn a_talk_stream_is_one_message() {
        let mut c = Conversation::new("Aria");
        let a = c.talk_stream(&stream("c1", "one ", true, false)).unwrap();
        let b = c.talk_stream(&stream("c1", "two ", false, false)).unwrap();
        let d = c.talk_stream(&stream("c1", "three", false, true)).unwrap();
        assert_eq!(a[0].utterance_id, b[0].utterance_id);
        assert_eq!(a[0].utterance_id, d[0].utterance_id);
        assert_eq!(a[0].part, Some(false));
        assert_eq!(d[0].part, Some(true));
        let other = c.talk_stream(&stream("c2", "x", true, true)).unwrap();
        assert_ne!(other[0].utterance_id, a[0].utterance_id);
        assert!(c.talk("   ").is_empty());
    }

    #[test]
    fn interrupt_cuts_open_streams_and_stales_pending_jobs() {
        let mut c = Conversation::new("Aria");
        let mut speaker = Speaker::new().unwrap();
        let jobs = c.talk_stream(&stream("c1", "one", true, false)).unwrap();
        let out = c.interrupt(Some(&mut speaker));
        assert!(
            out.contains(&Outgoing::Signal(SignalAction::TalkInputStreamInterrupted(
                TalkInterruptedPayload {
                    correlation_id: "c1".to_owned()
                }
            )))
        );
        assert!(c.talk_stream(&stream("c1", "two", false, false)).is_err());
        assert_ne!(jobs[0].generation, c.generation());
    }
}
