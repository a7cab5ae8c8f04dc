//! Text to speech: espeak-ng when it is installed, else a syllable-like tone pattern.
//!
//! espeak-ng runs as a child process (`--stdout` gives a WAV stream); the text goes in on stdin,
//! never on the command line, so no text can be mistaken for an option. The output is resampled
//! to the 48 kHz the Opus encoder takes.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::style::PersonaStyle;
use super::AUDIO_RATE;

/// Longest text spoken in one utterance, in characters; the rest is dropped. Bounds both the
/// synthesis time and the memory of the PCM (about a minute of speech).
pub const MAX_TEXT_CHARS: usize = 1_000;
/// Longest time espeak-ng may take before it is killed and the tone voice is used instead.
const ESPEAK_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(5);
/// Upper bound on the WAV bytes read from espeak-ng (~5 minutes at 22 kHz): a runaway child
/// cannot exhaust memory.
const MAX_WAV_BYTES: u64 = 16 * 1024 * 1024;

/// Text to 48 kHz mono PCM in the persona's voice. Uses espeak-ng when installed, else an
/// audible tone pattern with one beep per syllable. Never panics; at most [`MAX_TEXT_CHARS`]
/// characters are spoken; empty or blank text gives no samples.
pub fn synthesize(text: &str, style: &PersonaStyle) -> Vec<i16> {
    let text = bounded(text);
    if text.trim().is_empty() {
        return Vec::new();
    }
    match synthesize_espeak(&text, style) {
        Some(pcm) if !pcm.is_empty() => pcm,
        _ => synthesize_tone(&text, style),
    }
}

/// The first [`MAX_TEXT_CHARS`] characters, with control characters turned into spaces.
fn bounded(text: &str) -> String {
    text.chars()
        .take(MAX_TEXT_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Runs espeak-ng; `None` when it is missing, fails, times out, or gives no usable WAV.
pub fn synthesize_espeak(text: &str, style: &PersonaStyle) -> Option<Vec<i16>> {
    let mut child = Command::new("espeak-ng")
        .args(["--stdout", "--stdin", "-b", "1"])
        .arg("-v")
        .arg(&style.voice)
        .arg("-p")
        .arg(style.pitch.min(99).to_string())
        .arg("-s")
        .arg(style.words_per_minute.clamp(80, 450).to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;

    // Reading happens on its own thread so a child that fills the pipe never blocks us, and so
    // the wait below can give up on a child that hangs.
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take();
    thread::spawn(move || {
        let mut wav = Vec::new();
        let ok = stdout
            .map(|out| out.take(MAX_WAV_BYTES).read_to_end(&mut wav).is_ok())
            .unwrap_or(false);
        // The receiver may have given up already; nothing to do then.
        let _ = tx.send(ok.then_some(wav));
    });
    if let Some(mut stdin) = child.stdin.take() {
        // The text is at most a few KB, well under a pipe buffer, so this does not block.
        let mut line = text.to_owned();
        line.push('\n');
        if stdin.write_all(line.as_bytes()).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        // Dropping stdin closes it: espeak-ng sees end of input and finishes.
    }

    let polls = (ESPEAK_TIMEOUT.as_millis() / POLL.as_millis()) as usize;
    let mut status = None;
    for _ in 0..polls {
        match child.try_wait() {
            Ok(Some(s)) => {
                status = Some(s);
                break;
            }
            Ok(None) => thread::sleep(POLL),
            Err(_) => break,
        }
    }
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    };
    if !status.success() {
        return None;
    }
    let wav = rx.recv_timeout(Duration::from_secs(2)).ok()??;
    let (rate, samples) = parse_wav(&wav)?;
    Some(resample_linear(&samples, rate, AUDIO_RATE))
}

/// Reads a 16-bit PCM WAV (mono, or the first channel of several). espeak-ng writes to a pipe,
/// so its size fields are placeholders: the data chunk is taken to run to the end of the input.
pub fn parse_wav(bytes: &[u8]) -> Option<(u32, Vec<i16>)> {
    if bytes.get(0..4)? != b"RIFF" || bytes.get(8..12)? != b"WAVE" {
        return None;
    }
    let mut pos = 12usize;
    let mut format: Option<(u16, u16, u32, u16)> = None;
    // Bounded: each step moves forward by at least the 8-byte chunk header.
    while pos + 8 <= bytes.len() {
        let id = bytes.get(pos..pos + 4)?;
        let size = u32::from_le_bytes(bytes.get(pos + 4..pos + 8)?.try_into().ok()?) as usize;
        let body_start = pos + 8;
        if id == b"fmt " {
            let body = bytes.get(body_start..body_start + 16)?;
            let tag = u16::from_le_bytes([body[0], body[1]]);
            let channels = u16::from_le_bytes([body[2], body[3]]);
            let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
            let bits = u16::from_le_bytes([body[14], body[15]]);
            format = Some((tag, channels, rate, bits));
        } else if id == b"data" {
            let (tag, channels, rate, bits) = format?;
            if tag != 1 || bits != 16 || channels == 0 || !(8_000..=192_000).contains(&rate) {
                return None;
            }
            let end = body_start.saturating_add(size).min(bytes.len());
            let data = bytes.get(body_start..end)?;
            let frame = 2 * usize::from(channels);
            let samples = data
                .chunks_exact(frame)
                .map(|f| i16::from_le_bytes([f[0], f[1]]))
                .collect();
            return Some((rate, samples));
        }
        // Chunks are padded to an even length.
        pos = body_start.checked_add(size)?.checked_add(size % 2)?;
    }
    None
}

/// Linear-interpolation resampling. Good enough for speech going up in rate (22.05 -> 48 kHz):
/// upsampling adds no aliasing, and Opus band-limits what it encodes anyway.
pub fn resample_linear(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    if input.is_empty() || from == 0 || to == 0 {
        return Vec::new();
    }
    if from == to {
        return input.to_vec();
    }
    let out_len = (input.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let step = f64::from(from) / f64::from(to);
    let last = input.len() - 1;
    (0..out_len)
        .map(|i| {
            let t = i as f64 * step;
            let k = (t as usize).min(last);
            let frac = t - k as f64;
            let a = f64::from(input[k]);
            let b = f64::from(input[(k + 1).min(last)]);
            (a + (b - a) * frac).round() as i16
        })
        .collect()
}

/// Syllables in a word, counted as groups of vowels (at least one per word).
fn syllables(word: &str) -> usize {
    let mut count = 0;
    let mut in_vowel = false;
    for c in word.chars() {
        let vowel = matches!(c.to_ascii_lowercase(), 'a' | 'e' | 'i' | 'o' | 'u' | 'y');
        if vowel && !in_vowel {
            count += 1;
        }
        in_vowel = vowel;
    }
    count.max(1)
}

/// The fallback voice: for each syllable a short voiced tone (base frequency plus two
/// harmonics, with a rising-then-falling pitch and a smooth envelope), short gaps between
/// syllables and longer ones between words, so lips and transcript pacing behave as with
/// speech.
pub fn synthesize_tone(text: &str, style: &PersonaStyle) -> Vec<i16> {
    let rate = AUDIO_RATE as f32;
    let syllable_len = (0.16 * rate) as usize;
    let syllable_gap = (0.05 * rate) as usize;
    let word_gap = (0.12 * rate) as usize;
    let base = style.tone_hz.clamp(60.0, 600.0);
    let mut pcm = Vec::new();
    let mut phase = 0.0f32;
    for (w, word) in bounded(text).split_whitespace().enumerate() {
        let n = syllables(word);
        for s in 0..n {
            // Intonation: each word starts a little higher, syllables fall within a word.
            let pitch = base * (1.0 + 0.08 * ((w % 3) as f32) - 0.05 * s as f32);
            for i in 0..syllable_len {
                let t = i as f32 / syllable_len as f32;
                let freq = pitch * (1.0 + 0.06 * (std::f32::consts::PI * t).sin());
                phase = (phase + freq / rate).fract();
                let x = std::f32::consts::TAU * phase;
                let wave = x.sin() + 0.45 * (2.0 * x).sin() + 0.2 * (3.0 * x).sin();
                let envelope = (std::f32::consts::PI * t).sin().powf(0.6);
                pcm.push((wave * envelope * 7_000.0) as i16);
            }
            pcm.extend(std::iter::repeat_n(0, syllable_gap));
        }
        pcm.extend(std::iter::repeat_n(0, word_gap));
    }
    pcm
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms(pcm: &[i16]) -> f64 {
        let sum: f64 = pcm.iter().map(|&s| f64::from(s).powi(2)).sum();
        (sum / pcm.len().max(1) as f64).sqrt()
    }

    const SENTENCE: &str = "Hello, I am Aria, and this is a sentence of about two seconds.";

    #[test]
    fn espeak_speaks_a_sentence_at_48khz_for_a_plausible_time() {
        // espeak-ng is part of the project's setup; this checks the real voice.
        let style = PersonaStyle::for_persona("persona-aria");
        let pcm = synthesize_espeak(SENTENCE, &style).expect("espeak-ng installed and working");
        let seconds = pcm.len() as f64 / f64::from(AUDIO_RATE);
        assert!((1.5..8.0).contains(&seconds), "{seconds:.2} s");
        assert!(rms(&pcm) > 500.0, "audible: rms {:.0}", rms(&pcm));
        // synthesize() picks the same engine.
        let via_api = synthesize(SENTENCE, &style);
        assert_eq!(via_api.len(), pcm.len());
    }

    #[test]
    fn the_two_built_in_voices_sound_different() {
        let aria = synthesize("Good morning", &PersonaStyle::for_persona("persona-aria"));
        let milo = synthesize("Good morning", &PersonaStyle::for_persona("persona-milo"));
        assert!(!aria.is_empty() && !milo.is_empty());
        assert_ne!(aria, milo);
    }

    #[test]
    fn tone_fallback_is_audible_and_scales_with_the_text() {
        let style = PersonaStyle::for_persona("persona-milo");
        let short = synthesize_tone("Hi there", &style);
        let long = synthesize_tone(SENTENCE, &style);
        assert!(rms(&long) > 1_000.0);
        let seconds = long.len() as f64 / f64::from(AUDIO_RATE);
        assert!((2.0..8.0).contains(&seconds), "{seconds:.2} s");
        assert!(long.len() > 3 * short.len());
        // Gaps between syllables: the envelope really goes back to silence.
        let silent_frames = long.chunks(480).filter(|c| rms(c) < 10.0).count();
        assert!(silent_frames > 5, "{silent_frames}");
    }

    #[test]
    fn blank_text_is_silent_and_long_text_is_bounded() {
        let style = PersonaStyle::for_persona("persona-aria");
        assert!(synthesize("", &style).is_empty());
        assert!(synthesize("  \n\t ", &style).is_empty());
        let huge = "word ".repeat(10_000);
        let bounded_tone = synthesize_tone(&huge, &style);
        let words_spoken = MAX_TEXT_CHARS / 5;
        let per_word = synthesize_tone("word", &style).len();
        assert_eq!(bounded_tone.len(), words_spoken * per_word);
    }

    #[test]
    fn text_that_looks_like_options_is_spoken_not_parsed() {
        let style = PersonaStyle::for_persona("persona-aria");
        let pcm = synthesize_espeak("--help -v xx", &style).expect("spoken");
        assert!(rms(&pcm) > 300.0);
    }

    #[test]
    fn wav_parsing_handles_streamed_sizes_and_rejects_garbage() {
        let mut wav = Vec::new();
        wav.extend_from_slice(b"RIFF");
        wav.extend_from_slice(&0x7fff_f000u32.to_le_bytes());
        wav.extend_from_slice(b"WAVEfmt ");
        wav.extend_from_slice(&16u32.to_le_bytes());
        wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
        wav.extend_from_slice(&1u16.to_le_bytes()); // mono
        wav.extend_from_slice(&22_050u32.to_le_bytes());
        wav.extend_from_slice(&44_100u32.to_le_bytes());
        wav.extend_from_slice(&2u16.to_le_bytes());
        wav.extend_from_slice(&16u16.to_le_bytes());
        wav.extend_from_slice(b"data");
        wav.extend_from_slice(&0x7fff_f000u32.to_le_bytes()); // placeholder, as from a pipe
        for s in [1i16, -2, 300, -400] {
            wav.extend_from_slice(&s.to_le_bytes());
        }
        wav.push(7); // a trailing odd byte is ignored
        assert_eq!(parse_wav(&wav), Some((22_050, vec![1, -2, 300, -400])));
        assert_eq!(parse_wav(b"RIFF"), None);
        assert_eq!(parse_wav(b"not a wav file at all"), None);
        assert_eq!(parse_wav(&wav[..30]), None);
    }

    #[test]
    fn resampling_keeps_duration_and_shape() {
        let input: Vec<i16> = (0..2205).map(|i| (i % 100) as i16 * 100).collect();
        let out = resample_linear(&input, 22_050, 48_000);
        assert_eq!(out.len(), 4800);
        assert_eq!(out[0], 0);
        // Halfway through, the value matches the input at the same time point.
        let expect = input[1102];
        assert!((i32::from(out[2400]) - i32::from(expect)).abs() <= 100);
        assert!(resample_linear(&[], 22_050, 48_000).is_empty());
        assert_eq!(resample_linear(&[5, 6], 48_000, 48_000), vec![5, 6]);
    }
}
