//! Conversation inputs beyond speech (docs/PROTOCOL.md §9.1, §10.3, §10.5): context, raw data
//! messages, director-note cues, the persona config of the next session, and agent audio.

use crate::json::{Number, Value};
use crate::wire::datachannel::{
    ClientDataMessage, Context, Cue, DirectorNoteCue, DIRECTOR_NOTE_CUE_TAGS, MAX_CUE_TAG_BYTES,
};
use crate::wire::decode_payload;
use crate::wire::rest::DirectorNotes;
use crate::wire::signalling::{AgentAudioInputPayload, SignalAction};

use super::{CommandError, Millis, Phase, Session};

/// When a director-note cue applies: now, after a delay, or at a point of the current speech.
#[derive(Debug, Clone, PartialEq)]
pub enum CueTiming {
    /// As soon as the engine gets the cue.
    Now,
    /// Numbers keep the text the app gave (JS's own number formatting), so the wire carries
    /// exactly what the official client would send.
    InSeconds(Number),
    /// At this offset in seconds; numbers keep the app's text, as for `InSeconds`.
    AtSeconds(Number),
}

/// `{encoding, sampleRate, channels}` of an agent-audio stream (§10.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentAudioConfig {
    /// Sample format, e.g. `pcm_s16le`.
    pub encoding: String,
    /// Samples per second, e.g. 24000.
    pub sample_rate: u32,
    /// Number of interleaved channels.
    pub channels: u16,
}

impl AgentAudioConfig {
    /// Checks the app's `{encoding?, sampleRate, channels}`: only 16-bit little-endian PCM
    /// exists in the protocol; rate and channel count are whole numbers in a sane range.
    pub fn from_raw(
        encoding: Option<String>,
        sample_rate: Option<f64>,
        channels: Option<f64>,
    ) -> Result<AgentAudioConfig, String> {
        let encoding = encoding.unwrap_or_else(|| "pcm_s16le".to_owned());
        if encoding != "pcm_s16le" {
            return Err("agent audio encoding must be 'pcm_s16le'".to_owned());
        }
        let positive = |value: Option<f64>, key: &str, max: f64| {
            value
                .filter(|v| v.fract() == 0.0 && *v >= 1.0 && *v <= max)
                .ok_or_else(|| format!("agent audio {key} must be a positive integer"))
        };
        Ok(AgentAudioConfig {
            encoding,
            sample_rate: positive(sample_rate, "sampleRate", 384_000.0)? as u32,
            channels: positive(channels, "channels", 32.0)? as u16,
        })
    }
}

/// One `AgentAudioInputStream`: its config and the next sequence number.
#[derive(Debug)]
pub(super) struct AgentAudioStream {
    config: AgentAudioConfig,
    next_sequence: u64,
    /// The session it was created in; it never sends into a later one.
    generation: u64,
}

impl Session {
    /// `addContext(content)`: silent context for the persona; dropped while the data channel is
    /// not open (like `sendUserMessage`).
    pub fn add_context(&mut self, content: &str) -> Result<(), CommandError> {
        let session_id = self.live_session_id()?;
        let msg = ClientDataMessage::Context(Context {
            session_id,
            content: content.to_owned(),
        });
        self.send_data(msg.encode());
        Ok(())
    }

    /// `sendDataMessage(raw)`: the text as given, on the data channel.
    pub fn send_data_message(&mut self, raw: &str) -> Result<(), CommandError> {
        if !matches!(self.phase, Phase::Live(_)) {
            return Err(CommandError("Cannot send a data message: no session"));
        }
        self.send_data(raw.to_owned());
        Ok(())
    }

    /// `sendDirectorNoteCue(tag, timing)`, with the official checks (§10.3); unlike the other
    /// sends it fails when the data channel is not open.
    pub fn send_director_note_cue(
        &mut self,
        tag: &str,
        timing: CueTiming,
    ) -> Result<(), CommandError> {
        let Phase::Live(live) = &self.phase else {
            return Err(CommandError(
                "Cannot send a director note cue: not streaming",
            ));
        };
        if tag.is_empty() {
            return Err(CommandError("A director note cue needs a tag"));
        }
        if tag.len() > MAX_CUE_TAG_BYTES {
            return Err(CommandError(
                "A director note cue tag is at most 64 UTF-8 bytes",
            ));
        }
        if !DIRECTOR_NOTE_CUE_TAGS.contains(&tag) {
            return Err(CommandError(
                "Unknown director note cue tag (see DIRECTOR_NOTE_CUE_TAGS)",
            ));
        }
        let (in_seconds, at_seconds) = match timing {
            CueTiming::Now => (None, None),
            CueTiming::InSeconds(s) => (Some(s), None),
            CueTiming::AtSeconds(s) => (None, Some(s)),
        };
        if [&in_seconds, &at_seconds]
            .into_iter()
            .flatten()
            .map(Number::as_f64)
            .any(|s| !(s.is_finite() && s >= 0.0))
        {
            return Err(CommandError(
                "A director note cue timing must be a finite number of seconds >= 0",
            ));
        }
        if !live.data_channel_open {
            return Err(CommandError(
                "Cannot send a director note cue: the data channel is not open",
            ));
        }
        let msg = ClientDataMessage::DirectorNoteCue(DirectorNoteCue {
            cue: Cue {
                tag: tag.to_owned(),
            },
            in_seconds,
            at_seconds,
        });
        self.send_data(msg.encode());
        Ok(())
    }

    /// `setPersonaConfig(cfg)`: sent as given with the next start-session (§3.1); `None` clears
    /// it. Only `directorNotes` is checked (as the official client does); the config stays
    /// untyped so that options this crate does not know reach the server unchanged.
    pub fn set_persona_config(&mut self, config: Option<Value>) -> Result<(), String> {
        if let Some(config) = &config {
            if config.as_object().is_none() {
                return Err("the persona config must be an object".to_owned());
            }
            if let Some(notes) = config.get("directorNotes") {
                decode_payload::<DirectorNotes>("directorNotes", notes)
                    .map_err(|e| format!("directorNotes: {e}"))?
                    .validate()
                    .map_err(|e| e.to_string())?;
            }
        }
        self.persona_config = config;
        Ok(())
    }

    /// The config set with `setPersonaConfig`, sent with the next start-session; `None` if unset.
    pub fn persona_config(&self) -> Option<&Value> {
        self.persona_config.as_ref()
    }

    /// `createAgentAudioInputStream(config)`: returns the stream's handle.
    pub fn create_agent_audio_stream(
        &mut self,
        config: AgentAudioConfig,
    ) -> Result<u32, CommandError> {
        if !matches!(self.phase, Phase::Live(_)) {
            return Err(CommandError(
                "Cannot create an agent audio input stream: no session is started",
            ));
        }
        let generation = self.generation;
        self.agent_audio.retain(|(_, s)| s.generation == generation);
        self.next_agent_audio += 1;
        self.agent_audio.push((
            self.next_agent_audio,
            AgentAudioStream {
                config,
                next_sequence: 0,
                generation,
            },
        ));
        Ok(self.next_agent_audio)
    }

    /// Next `sequenceNumber` of agent-audio stream `handle` (`getSequenceNumber()`); 0 if unknown.
    pub fn agent_audio_sequence(&self, handle: u32) -> u64 {
        self.agent_audio
            .iter()
            .find(|(h, _)| *h == handle)
            .map_or(0, |(_, s)| s.next_sequence)
    }

    /// `sendAudioChunk`: one base64 chunk, queued in signalling until the socket is open.
    pub fn send_agent_audio(&mut self, now: Millis, handle: u32, audio_data: String) {
        self.now = now;
        let generation = self.generation;
        let Some(stream) = self.agent_audio_stream(handle) else {
            return;
        };
        if stream.generation != generation {
            return self.warn_agent_audio_dropped();
        }
        let payload = AgentAudioInputPayload {
            audio_data,
            encoding: stream.config.encoding.clone(),
            sample_rate: stream.config.sample_rate,
            channels: stream.config.channels,
            sequence_number: stream.next_sequence,
        };
        stream.next_sequence += 1;
        self.signal_or_warn(SignalAction::AgentAudioInput(payload));
    }

    /// `endSequence`: ends the current sequence; the next chunk counts from 0 again.
    pub fn end_agent_audio_sequence(&mut self, handle: u32) {
        let generation = self.generation;
        if let Some(stream) = self.agent_audio_stream(handle) {
            stream.next_sequence = 0;
            if stream.generation != generation {
                return self.warn_agent_audio_dropped();
            }
            self.signal_or_warn(SignalAction::AgentAudioInputEnd);
        }
    }

    fn agent_audio_stream(&mut self, handle: u32) -> Option<&mut AgentAudioStream> {
        self.agent_audio
            .iter_mut()
            .find(|(h, _)| *h == handle)
            .map(|(_, s)| s)
    }

    fn signal_or_warn(&mut self, action: SignalAction) {
        if matches!(self.phase, Phase::Live(_)) {
            self.signal(action);
        } else {
            self.warn_agent_audio_dropped();
        }
    }

    fn warn_agent_audio_dropped(&mut self) {
        self.outputs.push_back(super::Output::Warn(
            "agent audio dropped: its session has ended".to_owned(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_audio_configs_are_pcm_with_whole_positive_numbers() {
        let ok = AgentAudioConfig::from_raw(None, Some(24_000.0), Some(1.0)).unwrap();
        assert_eq!(
            (ok.encoding.as_str(), ok.sample_rate, ok.channels),
            ("pcm_s16le", 24_000, 1)
        );
        for (encoding, rate, channels, message) in [
            (
                Some("opus"),
                Some(24_000.0),
                Some(1.0),
                "agent audio encoding must be 'pcm_s16le'",
            ),
            (
                None,
                None,
                Some(1.0),
                "agent audio sampleRate must be a positive integer",
            ),
            (
                None,
                Some(22_050.5),
                Some(1.0),
                "agent audio sampleRate must be a positive integer",
            ),
            (
                None,
                Some(24_000.0),
                Some(0.0),
                "agent audio channels must be a positive integer",
            ),
            (
                None,
                Some(24_000.0),
                Some(64.0),
                "agent audio channels must be a positive integer",
            ),
        ] {
            let e = AgentAudioConfig::from_raw(encoding.map(str::to_owned), rate, channels);
            assert_eq!(e, Err(message.to_owned()));
        }
    }
}
