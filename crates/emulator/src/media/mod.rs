//! The synthetic persona's media: a face in VP8 video whose mouth follows its voice, and the
//! voice itself as Opus audio with a transcript paced to it.
//!
//! The engine side (sessions, WebRTC) uses it like this:
//!
//! - Once per persona: [`PersonaStyle::for_persona`] (by id or name; `persona-aria` and
//!   `persona-milo` are built in, any other name gets a stable look derived from it), then
//!   [`FrameBank::build`] in `spawn_blocking` (it is CPU-bound, about a second in release).
//!   Share the bank in an `Arc` between all sessions showing that persona.
//! - Per session: a [`Speaker`]. Every 20 ms call [`Speaker::tick`]: send
//!   [`AudioTick::opus`] (one 20 ms packet, 960 samples at 48 kHz: RTP time advances by 960),
//!   send each [`TranscriptChunk`] as a persona `speechText` (`message_id` = `utterance_id`,
//!   `content_index` = `index`, `end_of_speech` = `last`), and keep [`AudioTick::openness`].
//! - Every 40 ms (25 fps): send [`FrameBank::frame`]`(video_tick, openness)` (RTP time advances
//!   by 3600 at 90 kHz). Every frame is a keyframe, so a session can start on any tick and
//!   answer a keyframe request by simply sending the next frame.
//! - To speak: `let pcm = synthesize(text, &style)` (blocking, runs espeak-ng for up to a few
//!   hundred ms: use `spawn_blocking`), then [`Speaker::enqueue`]`(message_id, text, pcm)`.
//!   A talk stream: [`Speaker::enqueue_part`] per chunk with the same id; the final one with
//!   `end_of_speech = true` (an empty text and empty PCM is fine for the terminator).
//! - To interrupt: [`Speaker::interrupt`] returns the utterance cut off and the `next_index`;
//!   send one more persona `speechText` with that index, `end_of_speech: true`,
//!   `interrupted: true`. Do not enqueue further parts under an interrupted id.
//! - Agent audio passthrough: [`Speaker::push_pcm`] (48 kHz mono), lips move, no transcript.
//!
//! Everything here is `Send`; nothing panics on input (text of any length or content, any
//! openness, any tick).

mod face;
mod frame_bank;
mod speaker;
mod style;
mod tts;

pub use frame_bank::{mouth_level, FrameBank, IDLE_LOOP_FRAMES, MOUTH_LEVELS};
pub use speaker::{
    word_chunks, AudioTick, InterruptedUtterance, Speaker, TranscriptChunk, MAX_QUEUED_SAMPLES,
};
pub use style::{PersonaStyle, Rgb};
pub use tts::{synthesize, synthesize_espeak, synthesize_tone, MAX_TEXT_CHARS};

/// Video width in pixels.
pub const WIDTH: u32 = 640;
/// Video height in pixels.
pub const HEIGHT: u32 = 360;
/// Video frames per second.
pub const FPS: u32 = 25;
/// Audio sample rate (Opus's native rate).
pub const AUDIO_RATE: u32 = 48_000;
/// Samples in one 20 ms Opus frame at [`AUDIO_RATE`].
pub const AUDIO_FRAME_SAMPLES: usize = 960;

/// A codec could not be set up or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaError {
    /// The VP8 encoder failed.
    Video(String),
    /// The Opus encoder failed.
    Audio(String),
}

impl std::fmt::Display for MediaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediaError::Video(m) => write!(f, "video encoder: {m}"),
            MediaError::Audio(m) => write!(f, "audio encoder: {m}"),
        }
    }
}

impl std::error::Error for MediaError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn media_types_can_move_between_threads() {
        assert_send::<FrameBank>();
        assert_send::<Speaker>();
        assert_send::<std::sync::Arc<FrameBank>>();
        fn assert_sync<T: Sync>() {}
        assert_sync::<FrameBank>();
    }

    #[test]
    fn a_synthesized_sentence_drives_lips_and_transcript_end_to_end() {
        let style = PersonaStyle::for_persona("persona-milo");
        let text = "Nice to meet you.";
        let pcm = synthesize(text, &style);
        let expected_ticks = pcm.len().div_ceil(AUDIO_FRAME_SAMPLES);
        let mut speaker = Speaker::new().expect("speaker");
        speaker.enqueue("m1".into(), text.into(), pcm);
        let mut ticks = Vec::new();
        for _ in 0..1_000 {
            ticks.push(speaker.tick());
            if !speaker.is_speaking() {
                break;
            }
        }
        assert_eq!(ticks.len(), expected_ticks);
        let transcript: String = ticks
            .iter()
            .flat_map(|t| t.chunks.iter().map(|c| c.text.as_str()))
            .collect();
        assert_eq!(transcript, text);
        let levels: std::collections::HashSet<usize> =
            ticks.iter().map(|t| mouth_level(t.openness)).collect();
        assert!(
            levels.len() >= 3,
            "the mouth should take several shapes: {levels:?}"
        );
    }
}
