//! `agentaudioinput` (§10.5): base64 PCM from the app, played by the persona instead of its own
//! synthesized voice. Decoded and resampled to the speaker's 48 kHz mono.
use anam_core::wire::signalling::AgentAudioInputPayload;

use crate::media::AUDIO_RATE;

/// Longest chunk accepted, in input samples (10 s at 48 kHz): the WebSocket frame limit bounds
/// it already; this keeps the resampled output bounded too.
const MAX_SAMPLES: usize = 480_000;

/// Decodes one chunk to 48 kHz mono samples.
pub fn to_48k(p: &AgentAudioInputPayload) -> Result<Vec<i16>, String> {
    if p.encoding != "pcm_s16le" {
        return Err(format!(
            "agent audio encoding `{}` is not supported",
            p.encoding
        ));
    }
    if !(8_000..=96_000).contains(&p.sample_rate) {
        return Err(format!(
            "agent audio sample rate {} is not supported",
            p.sample_rate
        ));
    }
    let channels = usize::from(p.channels.max(1));
    if channels > 8 {
        return Err("agent audio has too many channels".to_owned());
    }
    let bytes = anam_core::base64::decode_lenient(&p.audio_data)
        .ok_or("agent audio is not valid base64")?;
    let frames: Vec<i16> = bytes
        .chunks_exact(2 * channels)
        .take(MAX_SAMPLES)
        .map(|f| {
            // Mix down to mono.
            let sum: i32 = f
                .chunks_exact(2)
                .map(|s| match s {
                    [lo, hi] => i32::from(i16::from_le_bytes([*lo, *hi])),
                    _ => 0,
                })
                .sum();
            (sum / channels as i32) as i16
        })
        .collect();
    Ok(resample_linear(&frames, p.sample_rate, AUDIO_RATE))
}

/// Linear-interpolation resampler: plenty for a dev emulator's speech passthrough.
pub fn resample_linear(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to || input.is_empty() {
        return input.to_vec();
    }
    let out_len = (input.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let step = f64::from(from) / f64::from(to);
    (0..out_len)
        .map(|i| {
            let pos = i as f64 * step;
            let idx = pos as usize;
            let frac = pos - idx as f64;
            let a = f64::from(input.get(idx).copied().unwrap_or(0));
            let b = f64::from(input.get(idx + 1).copied().unwrap_or(a as i16));
            (a + (b - a) * frac) as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(data: &str, rate: u32) -> AgentAudioInputPayload {
        AgentAudioInputPayload {
            audio_data: data.to_owned(),
            encoding: "pcm_s16le".to_owned(),
            sample_rate: rate,
            channels: 1,
            sequence_number: 0,
        }
    }

    #[test]
    fn pcm_is_decoded_and_upsampled() {
        // Two samples: 1 and -2 (little endian) = AQD+/w==
        let out = to_48k(&payload("AQD+/w==", 24_000)).unwrap();
        assert_eq!(out.len(), 4);
        assert_eq!(out[0], 1);
        let same = to_48k(&payload("AQD+/w==", 48_000)).unwrap();
        assert_eq!(same, vec![1, -2]);
    }

    /// `ms` of a 300 Hz tone at 24 kHz with the given amplitude, as the SDK sends it.
    fn tone_chunk(amplitude: f32, ms: usize) -> AgentAudioInputPayload {
        let samples = 24 * ms;
        let bytes: Vec<u8> = (0..samples)
            .flat_map(|i| {
                let t = i as f32 / 24_000.0;
                let s = ((std::f32::consts::TAU * 300.0 * t).sin() * amplitude) as i16;
                s.to_le_bytes()
            })
            .collect();
        payload(&anam_core::base64::encode_standard(&bytes), 24_000)
    }

    /// Mean mouth openness over the ticks that play `chunk`.
    fn openness_for(chunk: &AgentAudioInputPayload) -> f32 {
        let mut speaker = crate::media::Speaker::new().unwrap();
        speaker.push_pcm(&to_48k(chunk).unwrap());
        let mut sum = 0.0;
        let mut ticks = 0;
        while speaker.is_speaking() && ticks < 100 {
            sum += speaker.tick().openness;
            ticks += 1;
        }
        assert_eq!(ticks, 10, "200 ms of audio is 10 ticks");
        sum / ticks as f32
    }

    #[test]
    fn the_lips_follow_the_agent_audio_level() {
        let silent = openness_for(&tone_chunk(0.0, 200));
        let quiet = openness_for(&tone_chunk(600.0, 200));
        let loud = openness_for(&tone_chunk(6_000.0, 200));
        assert_eq!(silent, 0.0);
        assert!(quiet > 0.05, "{quiet}");
        assert!(loud > quiet * 2.0, "quiet {quiet}, loud {loud}");
    }

    #[test]
    fn an_ended_sequence_plays_out_and_the_next_follows_it() {
        let mut speaker = crate::media::Speaker::new().unwrap();
        speaker.push_pcm(&to_48k(&tone_chunk(6_000.0, 100)).unwrap());
        speaker.push_pcm(&to_48k(&tone_chunk(6_000.0, 100)).unwrap());
        assert_eq!(speaker.queued_items(), 1, "chunks of one sequence join");
        speaker.end_raw_sequence();
        speaker.push_pcm(&to_48k(&tone_chunk(6_000.0, 100)).unwrap());
        assert_eq!(speaker.queued_items(), 2, "a new sequence after the end");
        let mut ticks = 0;
        while speaker.is_speaking() && ticks < 100 {
            assert!(speaker.tick().openness > 0.3);
            ticks += 1;
        }
        assert_eq!(ticks, 15, "all 300 ms play, back to back");
        assert_eq!(speaker.tick().openness, 0.0);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(to_48k(&payload("***", 24_000)).is_err());
        assert!(to_48k(&payload("AQD+/w==", 1)).is_err());
        let mut p = payload("AQD+/w==", 24_000);
        p.encoding = "mp3".to_owned();
        assert!(to_48k(&p).is_err());
    }
}
