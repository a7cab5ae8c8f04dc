//! User speech detection on the microphone track: the client's Opus packets are decoded and an
//! energy-based voice activity detector with hysteresis turns their level into utterances
//! (`userSpeechStarted` / `userSpeechEnded`).
//!
//! The level is the RMS of each decoded packet. Speech starts once the level has been at or
//! above [`ON_LEVEL`] for [`MIN_SPEECH_MS`] (dips between the two thresholds do not reset that
//! count, drops below [`OFF_LEVEL`] do); it ends once the level has stayed below [`OFF_LEVEL`]
//! for [`HANGOVER_MS`], or when packets stop arriving for that long. A muted track
//! (`enabled = false`) sends digital silence, which never starts anything.
//!
//! Tuned on what Chromium's fake microphone actually delivers: every 500 ms a 20 ms beep. With
//! the browser's default audio processing (echo cancellation, noise suppression, gain control:
//! what the official client asks for) it arrives as packets of about 10 000 RMS decaying through
//! ~1 900, 630, 380, 240, 170, 120, 75, then digital silence: ~140 ms at or above
//! [`ON_LEVEL`] and ~340 ms below [`OFF_LEVEL`] before the next beep. Without processing it is
//! three packets (~11 900, 10 400, 1 850) and silence. [`MIN_SPEECH_MS`] is 60 ms so that both
//! count as one short utterance each, which ends before the next beep; a lone 20-40 ms click
//! still does not.
use tokio::time::{Duration, Instant};

use crate::media::AUDIO_RATE;

/// Level (RMS of i16 samples) that counts as voice: about -47 dBFS.
pub const ON_LEVEL: f32 = 150.0;
/// Level below which voice has stopped (hysteresis: lower than [`ON_LEVEL`]), about -50 dBFS.
pub const OFF_LEVEL: f32 = 100.0;
/// Voice must last this long before an utterance starts (shorter clicks are ignored). Speech
/// syllables last longer; 60 ms is what the fake microphone's beep lasts without processing.
pub const MIN_SPEECH_MS: u32 = 60;
/// Quiet must last this long before an utterance ends (pauses between words are kept).
pub const HANGOVER_MS: u32 = 300;
/// Largest decoded packet: 120 ms at 48 kHz (Opus's maximum frame).
const MAX_PACKET_SAMPLES: usize = 5_760;

/// A change the detector reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoiceEvent {
    Started,
    Ended,
}

/// The detector proper: levels and durations in, utterance boundaries out.
#[derive(Debug, Default)]
pub struct VoiceDetector {
    speaking: bool,
    /// Milliseconds the level has been on (while quiet) or off (while speaking).
    run_ms: u32,
}

impl VoiceDetector {
    pub fn is_speaking(&self) -> bool {
        self.speaking
    }

    /// Feeds one frame: its RMS level and its length in milliseconds.
    pub fn push(&mut self, rms: f32, ms: u32) -> Option<VoiceEvent> {
        let level = if rms.is_finite() { rms } else { 0.0 };
        if self.speaking {
            if level < OFF_LEVEL {
                self.run_ms = self.run_ms.saturating_add(ms);
            } else {
                self.run_ms = 0;
            }
            if self.run_ms >= HANGOVER_MS {
                self.speaking = false;
                self.run_ms = 0;
                return Some(VoiceEvent::Ended);
            }
        } else {
            if level >= ON_LEVEL {
                self.run_ms = self.run_ms.saturating_add(ms);
            } else if level < OFF_LEVEL {
                self.run_ms = 0;
            }
            if self.run_ms >= MIN_SPEECH_MS {
                self.speaking = true;
                self.run_ms = 0;
                return Some(VoiceEvent::Started);
            }
        }
        None
    }

    /// No audio arrived for `ms`: counts as silence.
    pub fn quiet(&mut self, ms: u32) -> Option<VoiceEvent> {
        self.push(0.0, ms)
    }
}

/// Root mean square of 16-bit samples.
pub fn rms(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let energy: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
    (energy / samples.len() as f64).sqrt() as f32
}

/// One session's microphone: Opus packets in, voice events out.
pub struct MicListener {
    decoder: Option<opus::Decoder>,
    detector: VoiceDetector,
    pcm: Vec<i16>,
    last_packet: Option<Instant>,
}

impl std::fmt::Debug for MicListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicListener")
            .field("detector", &self.detector)
            .finish()
    }
}

impl Default for MicListener {
    fn default() -> Self {
        Self::new()
    }
}

impl MicListener {
    pub fn new() -> Self {
        let decoder = match opus::Decoder::new(AUDIO_RATE, opus::Channels::Mono) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::error!("no user speech detection: opus decoder: {e}");
                None
            }
        };
        MicListener {
            decoder,
            detector: VoiceDetector::default(),
            pcm: vec![0; MAX_PACKET_SAMPLES],
            last_packet: None,
        }
    }

    /// One Opus packet from the client. Undecodable packets are skipped. Bounded work: one
    /// decode of at most 120 ms of audio.
    pub fn on_packet(&mut self, packet: &[u8], now: Instant) -> Option<VoiceEvent> {
        let decoder = self.decoder.as_mut()?;
        let n = decoder.decode(packet, &mut self.pcm, false).ok()?;
        let frame = self.pcm.get(..n)?;
        self.last_packet = Some(now);
        let ms = (n as u64 * 1000 / u64::from(AUDIO_RATE)) as u32;
        let level = rms(frame);
        tracing::trace!(level, ms, "mic packet");
        self.detector.push(level, ms.max(1))
    }

    /// Called on the media clock: an utterance whose packets stopped coming (the track was
    /// removed, or the sender uses DTX) ends after the hangover.
    pub fn on_idle(&mut self, now: Instant) -> Option<VoiceEvent> {
        let last = self.last_packet?;
        let silent = now.saturating_duration_since(last);
        if !self.detector.is_speaking() || silent < Duration::from_millis(HANGOVER_MS.into()) {
            return None;
        }
        self.last_packet = Some(now);
        self.detector
            .quiet(u32::try_from(silent.as_millis()).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `ms` of 20 ms frames at `level`; returns the events with their time offsets.
    fn feed(d: &mut VoiceDetector, level: f32, ms: u32) -> Vec<VoiceEvent> {
        (0..ms / 20).filter_map(|_| d.push(level, 20)).collect()
    }

    #[test]
    fn an_utterance_starts_after_the_minimum_and_ends_after_the_hangover() {
        let mut d = VoiceDetector::default();
        assert!(feed(&mut d, 0.0, 500).is_empty());
        // 40 ms of voice is not enough...
        assert!(feed(&mut d, 2_000.0, 40).is_empty());
        // ...60 ms is, even with a dip between the thresholds on the way.
        assert!(feed(&mut d, (ON_LEVEL + OFF_LEVEL) / 2.0, 40).is_empty());
        assert_eq!(feed(&mut d, 2_000.0, 20), [VoiceEvent::Started]);
        assert!(d.is_speaking());
        // A 200 ms pause between words does not end it.
        assert!(feed(&mut d, 0.0, 200).is_empty());
        assert!(feed(&mut d, 2_000.0, 200).is_empty());
        // A long quiet does, once.
        assert_eq!(feed(&mut d, 0.0, 1_000), [VoiceEvent::Ended]);
        assert!(!d.is_speaking());
    }

    #[test]
    fn silence_and_faint_noise_never_start_speech() {
        let mut d = VoiceDetector::default();
        assert!(feed(&mut d, 0.0, 5_000).is_empty());
        assert!(feed(&mut d, OFF_LEVEL * 0.9, 5_000).is_empty());
        assert!(feed(&mut d, f32::NAN, 1_000).is_empty());
    }

    #[test]
    fn clicks_are_ignored() {
        // Clicks of up to 40 ms, every 240 ms.
        let mut d = VoiceDetector::default();
        for _ in 0..20 {
            assert!(d.push(20_000.0, 20).is_none());
            assert!(d.push(20_000.0, 20).is_none());
            assert!(feed(&mut d, 0.0, 200).is_empty());
        }
    }

    #[test]
    fn the_fake_microphone_beeps_are_separate_utterances() {
        // Packet levels measured from Chromium's fake microphone (see the module comment), one
        // 500 ms period each: with the default audio processing, and without.
        let processed = [
            3.0, 9_056.0, 10_668.0, 1_876.0, 631.0, 380.0, 236.0, 174.0, 119.0, 70.0, 49.0, 28.0,
            16.0, 11.0, 6.0, 3.9, 2.2, 1.1, 0.6, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        ];
        let mut raw = [0.0; 25];
        raw[5..10].copy_from_slice(&[11_878.0, 10_424.0, 1_850.0, 12.0, 1.0]);
        for period in [processed, raw] {
            let mut d = VoiceDetector::default();
            let mut events = Vec::new();
            for _ in 0..6 {
                events.extend(period.iter().filter_map(|&level| d.push(level, 20)));
            }
            assert_eq!(events.len(), 12, "a start and an end per beep: {events:?}");
            // Strictly alternating, starting with Started.
            for (i, e) in events.iter().enumerate() {
                let want = if i % 2 == 0 {
                    VoiceEvent::Started
                } else {
                    VoiceEvent::Ended
                };
                assert_eq!(*e, want, "{events:?}");
            }
        }
    }

    #[test]
    fn decoded_opus_tone_is_heard_and_silence_is_not() {
        let mut enc =
            opus::Encoder::new(AUDIO_RATE, opus::Channels::Mono, opus::Application::Voip).unwrap();
        let tone: Vec<i16> = (0..960)
            .map(|i| ((i as f32 * 400.0 / 48_000.0 * std::f32::consts::TAU).sin() * 6_000.0) as i16)
            .collect();
        let silence = vec![0i16; 960];
        let mut mic = MicListener::new();
        let t0 = Instant::now();
        let mut events = Vec::new();
        let mut at = t0;
        for i in 0..40 {
            let frame = if (5..20).contains(&i) {
                &tone
            } else {
                &silence
            };
            let packet = enc.encode_vec(frame, 1_500).unwrap();
            at += Duration::from_millis(20);
            events.extend(mic.on_packet(&packet, at));
        }
        assert_eq!(events, [VoiceEvent::Started, VoiceEvent::Ended]);
        // Garbage is skipped, not fatal.
        assert_eq!(mic.on_packet(&[0xff; 3], at), None);
        assert_eq!(mic.on_packet(&[], at), None);
    }

    #[test]
    fn speech_ends_when_packets_stop() {
        let mut mic = MicListener::new();
        let t0 = Instant::now();
        assert_eq!(mic.on_idle(t0), None, "no packets yet");
        mic.detector.push(5_000.0, MIN_SPEECH_MS);
        assert!(mic.detector.is_speaking());
        mic.last_packet = Some(t0);
        assert_eq!(mic.on_idle(t0 + Duration::from_millis(100)), None);
        assert_eq!(
            mic.on_idle(t0 + Duration::from_millis(400)),
            Some(VoiceEvent::Ended)
        );
        assert_eq!(mic.on_idle(t0 + Duration::from_secs(2)), None);
    }
}
