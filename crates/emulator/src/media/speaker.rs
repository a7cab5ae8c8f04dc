//! One session's voice: a queue of utterances played out as 20 ms Opus packets, with the mouth
//! openness and the transcript chunks that go with each packet.

use std::collections::VecDeque;

use super::{MediaError, AUDIO_FRAME_SAMPLES, AUDIO_RATE};

/// Largest Opus packet we accept from the encoder; 20 ms at 32 kbit/s is ~80 bytes.
const MAX_PACKET: usize = 1_500;
const BITRATE: i32 = 32_000;
/// Most audio a session may have queued (two minutes): a client flooding talk messages cannot
/// grow a session's memory without bound. Audio beyond it is dropped.
pub const MAX_QUEUED_SAMPLES: usize = 120 * AUDIO_RATE as usize;
/// RMS level (of i16 samples) at which the mouth is drawn fully open.
const FULL_OPEN_RMS: f32 = 5_000.0;
/// Per-tick decay of the openness: the mouth closes over ~60 ms instead of snapping shut.
const CLOSE_RATE: f32 = 0.55;

/// A piece of an utterance's transcript, due to be sent now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptChunk {
    pub utterance_id: String,
    /// 0-based, rising within an utterance (and across the parts of a streamed one).
    pub index: u32,
    /// About one word, with its trailing space.
    pub text: String,
    /// The utterance's final chunk (its audio has finished playing).
    pub last: bool,
    /// The app's own id for the part this chunk belongs to (a talk stream's `utteranceId`,
    /// echoed as `utterance_id`), if it gave one.
    pub label: Option<String>,
}

/// What [`Speaker::interrupt`] cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterruptedUtterance {
    pub utterance_id: String,
    /// Index the next chunk would have had: the interrupted final chunk should carry it.
    pub next_index: u32,
}

/// The output of one 20 ms tick.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioTick {
    /// One Opus packet of 20 ms (encoded silence when idle).
    pub opus: Vec<u8>,
    /// How open the mouth should be drawn, 0..=1 (0 when idle).
    pub openness: f32,
    /// Transcript chunks whose audio has now played, in order.
    pub chunks: Vec<TranscriptChunk>,
}

/// A transcript chunk waiting for its audio to play.
#[derive(Debug)]
struct PendingChunk {
    index: u32,
    text: String,
    last: bool,
    /// Sample position (within its item) after which the chunk is due.
    due_at: usize,
}

/// One queued stretch of audio: an utterance (or a part of a streamed one), or raw audio.
#[derive(Debug)]
struct Item {
    utterance_id: Option<String>,
    label: Option<String>,
    /// Raw audio only: the sequence was ended, later raw audio starts a new item.
    sealed: bool,
    pcm: Vec<i16>,
    played: usize,
    chunks: VecDeque<PendingChunk>,
}

/// An utterance whose parts are still arriving (a talk stream), and the next chunk index.
#[derive(Debug)]
struct OpenUtterance {
    utterance_id: String,
    next_index: u32,
    /// Whether an end-of-speech part has been queued: later parts start a new numbering.
    ended: bool,
}

/// Splits text into about-one-word chunks, each keeping its trailing whitespace, so that
/// concatenating the chunks gives back the text.
pub fn word_chunks(text: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut in_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            in_space = true;
        } else if in_space && !current.trim().is_empty() {
            chunks.push(std::mem::take(&mut current));
            in_space = false;
        } else {
            in_space = false;
        }
        current.push(c);
    }
    if !current.is_empty() {
        // Leading whitespace only (no word at all) still belongs somewhere: keep it as text.
        chunks.push(current);
    }
    chunks
}

/// A session's speaker. Call [`Speaker::tick`] every 20 ms.
pub struct Speaker {
    encoder: opus::Encoder,
    queue: VecDeque<Item>,
    queued_samples: usize,
    open: Option<OpenUtterance>,
    /// Utterance of the chunk most recently sent, and the index after it.
    current: Option<(String, u32)>,
    openness: f32,
    frame: Vec<i16>,
}

impl std::fmt::Debug for Speaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speaker")
            .field("queued_items", &self.queue.len())
            .field("queued_samples", &self.queued_samples)
            .field("openness", &self.openness)
            .finish()
    }
}

impl Speaker {
    /// A speaker with an Opus encoder (48 kHz mono, VoIP, 32 kbit/s).
    pub fn new() -> Result<Speaker, MediaError> {
        let audio = |e: opus::Error| MediaError::Audio(e.to_string());
        let mut encoder =
            opus::Encoder::new(AUDIO_RATE, opus::Channels::Mono, opus::Application::Voip)
                .map_err(audio)?;
        encoder
            .set_bitrate(opus::Bitrate::Bits(BITRATE))
            .map_err(audio)?;
        // Complexity 5 of 10 roughly halves the encode cost per session; for a synthetic voice
        // at 32 kbit/s the difference in quality is inaudible.
        encoder.set_complexity(5).map_err(audio)?;
        Ok(Speaker {
            encoder,
            queue: VecDeque::new(),
            queued_samples: 0,
            open: None,
            current: None,
            openness: 0.0,
            frame: vec![0; AUDIO_FRAME_SAMPLES],
        })
    }

    /// Queues a whole utterance: `pcm` (48 kHz mono) to play, and `text` sent as word chunks,
    /// each due once its share of the audio (by characters) has played; the last one has
    /// `last = true` and is due when the audio ends.
    pub fn enqueue(&mut self, utterance_id: String, text: String, pcm: Vec<i16>) {
        self.enqueue_part(utterance_id, text, pcm, true);
    }

    /// Queues one part of a streamed utterance (talk stream chunks, spoken as they arrive).
    /// Parts with the same `utterance_id` as the previous, not yet ended part continue its chunk
    /// numbering; only the part with `end_of_speech` gets a `last` chunk (an end part with no
    /// text sends an empty last chunk once the earlier parts have played).
    pub fn enqueue_part(
        &mut self,
        utterance_id: String,
        text: String,
        pcm: Vec<i16>,
        end_of_speech: bool,
    ) {
        self.enqueue_labelled_part(utterance_id, None, text, pcm, end_of_speech);
    }

    /// [`Speaker::enqueue_part`] with the app's label for the part, carried by its chunks.
    pub fn enqueue_labelled_part(
        &mut self,
        utterance_id: String,
        label: Option<String>,
        text: String,
        mut pcm: Vec<i16>,
        end_of_speech: bool,
    ) {
        let room = MAX_QUEUED_SAMPLES.saturating_sub(self.queued_samples);
        pcm.truncate(room);
        let first_index = match &self.open {
            Some(open) if open.utterance_id == utterance_id && !open.ended => open.next_index,
            _ => 0,
        };
        let mut words = word_chunks(&text);
        if words.is_empty() && end_of_speech {
            words.push(String::new());
        }
        let total_chars: usize = words.iter().map(|w| w.chars().count()).sum();
        let mut chunks = VecDeque::with_capacity(words.len());
        let mut chars_so_far = 0usize;
        let count = words.len();
        for (i, word) in words.into_iter().enumerate() {
            chars_so_far += word.chars().count();
            let is_final = i + 1 == count;
            // Due when this word's share of the audio has played; the final chunk of the part
            // exactly at its end (rounding must not make it early).
            let due_at = if is_final || total_chars == 0 {
                pcm.len()
            } else {
                (pcm.len() as u64 * chars_so_far as u64 / total_chars as u64) as usize
            };
            chunks.push_back(PendingChunk {
                index: first_index.saturating_add(i as u32),
                text: word,
                last: is_final && end_of_speech,
                due_at,
            });
        }
        self.open = Some(OpenUtterance {
            utterance_id: utterance_id.clone(),
            next_index: first_index.saturating_add(count as u32),
            ended: end_of_speech,
        });
        self.queued_samples += pcm.len();
        self.queue.push_back(Item {
            utterance_id: Some(utterance_id),
            label,
            sealed: false,
            pcm,
            played: 0,
            chunks,
        });
    }

    /// Queues raw 48 kHz mono audio with no transcript (agent audio passthrough); the lips move
    /// with it all the same. Consecutive pushes join one item.
    pub fn push_pcm(&mut self, pcm_48k: &[i16]) {
        let room = MAX_QUEUED_SAMPLES.saturating_sub(self.queued_samples);
        let pcm = pcm_48k.get(..pcm_48k.len().min(room)).unwrap_or_default();
        if pcm.is_empty() {
            return;
        }
        self.queued_samples += pcm.len();
        if let Some(last) = self.queue.back_mut() {
            if last.utterance_id.is_none() && !last.sealed {
                last.pcm.extend_from_slice(pcm);
                return;
            }
        }
        self.queue.push_back(Item {
            utterance_id: None,
            label: None,
            sealed: false,
            pcm: pcm.to_vec(),
            played: 0,
            chunks: VecDeque::new(),
        });
    }

    /// Ends the current raw-audio sequence (`agentaudioinputend`): what was pushed plays out,
    /// and the next [`Speaker::push_pcm`] starts a new sequence after it.
    pub fn end_raw_sequence(&mut self) {
        if let Some(last) = self.queue.back_mut() {
            if last.utterance_id.is_none() {
                last.sealed = true;
            }
        }
    }

    /// Number of separate stretches of audio queued (utterance parts and raw sequences).
    pub fn queued_items(&self) -> usize {
        self.queue.len()
    }

    /// Stops at once: drops all queued audio and transcript. Returns the utterance that was
    /// being spoken (or whose stream was still open) and the index its next chunk would have
    /// had, so the caller can send the final `interrupted` chunk. Queued utterances that had not
    /// started are dropped without a report (none of their chunks was sent). `None` when
    /// nothing with a transcript was in progress.
    pub fn interrupt(&mut self) -> Option<InterruptedUtterance> {
        // Only the front item can have been heard; later ones are dropped unheard.
        let playing = self
            .queue
            .front()
            .and_then(|item| item.utterance_id.clone());
        let open_stream = self
            .open
            .as_ref()
            .filter(|o| !o.ended)
            .map(|o| o.utterance_id.clone());
        let id = playing.or(open_stream);
        let report = id.map(|utterance_id| {
            let next_index = match &self.current {
                Some((current_id, next)) if *current_id == utterance_id => *next,
                _ => 0,
            };
            InterruptedUtterance {
                utterance_id,
                next_index,
            }
        });
        self.queue.clear();
        self.queued_samples = 0;
        if let Some(open) = &mut self.open {
            open.ended = true;
        }
        self.openness = 0.0;
        report
    }

    /// Whether audio is queued or playing.
    pub fn is_speaking(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Produces the next 20 ms: one Opus packet, the mouth openness, and the transcript chunks
    /// whose audio has now played.
    pub fn tick(&mut self) -> AudioTick {
        self.frame.fill(0);
        let mut filled = 0usize;
        let mut chunks = Vec::new();
        // Bounded: each pass either fills samples or removes an item. An item with no audio
        // left is finished even when the frame is full, so a transcript whose audio was cut
        // (or empty) is not held back a tick.
        while let Some(item) = self.queue.front_mut() {
            if filled == AUDIO_FRAME_SAMPLES && item.played < item.pcm.len() {
                break;
            }
            if item.played == 0 {
                // A new item starts: its first pending chunk is the next one of its utterance.
                if let (Some(id), Some(first)) = (&item.utterance_id, item.chunks.front()) {
                    self.current = Some((id.clone(), first.index));
                }
            }
            let available = item.pcm.len().saturating_sub(item.played);
            let take = available.min(AUDIO_FRAME_SAMPLES - filled);
            if let (Some(dst), Some(src)) = (
                self.frame.get_mut(filled..filled + take),
                item.pcm.get(item.played..item.played + take),
            ) {
                dst.copy_from_slice(src);
            }
            item.played += take;
            filled += take;
            self.queued_samples = self.queued_samples.saturating_sub(take);
            if let Some(id) = &item.utterance_id {
                while item.chunks.front().is_some_and(|c| c.due_at <= item.played) {
                    if let Some(chunk) = item.chunks.pop_front() {
                        self.current = Some((id.clone(), chunk.index.saturating_add(1)));
                        chunks.push(TranscriptChunk {
                            utterance_id: id.clone(),
                            index: chunk.index,
                            text: chunk.text,
                            last: chunk.last,
                            label: item.label.clone(),
                        });
                    }
                }
            }
            if item.played >= item.pcm.len() && item.chunks.is_empty() {
                self.queue.pop_front();
            }
        }

        self.openness = if filled == 0 {
            0.0
        } else {
            let energy: f64 = self.frame.iter().map(|&s| f64::from(s).powi(2)).sum();
            let rms = (energy / AUDIO_FRAME_SAMPLES as f64).sqrt() as f32;
            // Fast opening, gradual closing: lips that track syllables without jitter.
            let target = (rms / FULL_OPEN_RMS).clamp(0.0, 1.0).sqrt();
            target.max(self.openness * CLOSE_RATE)
        };

        let opus = self
            .encoder
            .encode_vec(&self.frame, MAX_PACKET)
            .unwrap_or_default();
        AudioTick {
            opus,
            openness: self.openness,
            chunks,
        }
    }
}

#[cfg(test)]
mod tests;
