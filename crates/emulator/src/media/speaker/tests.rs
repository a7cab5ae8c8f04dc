use super::*;

/// A steady 200 Hz tone, loud enough to open the mouth fully.
fn tone(samples: usize) -> Vec<i16> {
    (0..samples)
        .map(|i| {
            let t = i as f32 / AUDIO_RATE as f32;
            ((std::f32::consts::TAU * 200.0 * t).sin() * 8_000.0) as i16
        })
        .collect()
}

fn decoder() -> opus::Decoder {
    opus::Decoder::new(AUDIO_RATE, opus::Channels::Mono).expect("decoder")
}

fn decoded_rms(decoder: &mut opus::Decoder, packet: &[u8]) -> f64 {
    let mut out = vec![0i16; AUDIO_FRAME_SAMPLES * 6];
    let n = decoder.decode(packet, &mut out, false).expect("valid opus");
    assert_eq!(n, AUDIO_FRAME_SAMPLES, "20 ms per packet");
    let sum: f64 = out[..n].iter().map(|&s| f64::from(s).powi(2)).sum();
    (sum / n as f64).sqrt()
}

/// Ticks until idle (bounded), collecting every tick.
fn run(speaker: &mut Speaker, max_ticks: usize) -> Vec<AudioTick> {
    let mut ticks = Vec::new();
    for _ in 0..max_ticks {
        ticks.push(speaker.tick());
        if !speaker.is_speaking() {
            break;
        }
    }
    ticks
}

#[test]
fn idle_speaker_sends_decodable_silence_with_a_closed_mouth() {
    let mut speaker = Speaker::new().expect("speaker");
    let mut dec = decoder();
    assert!(!speaker.is_speaking());
    for _ in 0..10 {
        let tick = speaker.tick();
        assert!(!tick.opus.is_empty());
        assert_eq!(tick.openness, 0.0);
        assert!(tick.chunks.is_empty());
        assert!(decoded_rms(&mut dec, &tick.opus) < 5.0);
    }
}

#[test]
fn speech_is_audible_moves_the_mouth_and_lasts_as_long_as_the_pcm() {
    let mut speaker = Speaker::new().expect("speaker");
    let mut dec = decoder();
    let samples = AUDIO_FRAME_SAMPLES * 25 + 100; // 0.5 s + a partial frame
    speaker.enqueue("u1".into(), "one two three".into(), tone(samples));
    assert!(speaker.is_speaking());
    let ticks = run(&mut speaker, 100);
    // 25 full frames and one partial: 26 ticks with audio.
    assert_eq!(ticks.len(), 26);
    assert!(!speaker.is_speaking());
    let loud = ticks[1..25]
        .iter()
        .filter(|t| decoded_rms(&mut dec, &t.opus) > 1_000.0)
        .count();
    assert!(loud >= 20, "only {loud} loud packets");
    assert!(ticks.iter().take(25).all(|t| t.openness > 0.5));
    // Once idle, the mouth closes and the audio is silent again.
    let after = speaker.tick();
    assert_eq!(after.openness, 0.0);
}

#[test]
fn chunks_come_in_order_paced_with_the_audio_and_end_with_last() {
    let mut speaker = Speaker::new().expect("speaker");
    let text = "Hello there, how are you today?";
    let samples = AUDIO_FRAME_SAMPLES * 50; // one second
    speaker.enqueue("m-17".into(), text.into(), tone(samples));
    let ticks = run(&mut speaker, 200);
    let mut seen = Vec::new();
    for (n, tick) in ticks.iter().enumerate() {
        for chunk in &tick.chunks {
            seen.push((n, chunk.clone()));
        }
    }
    let texts: Vec<&str> = seen.iter().map(|(_, c)| c.text.as_str()).collect();
    assert_eq!(
        texts,
        ["Hello ", "there, ", "how ", "are ", "you ", "today?"]
    );
    assert_eq!(texts.concat(), text);
    for (i, (_, chunk)) in seen.iter().enumerate() {
        assert_eq!(chunk.index, i as u32);
        assert_eq!(chunk.utterance_id, "m-17");
        assert_eq!(chunk.last, i + 1 == seen.len());
    }
    // Paced: the first word is due after its share (6/31 of a second, ~10 ticks), the last at
    // the very end (tick 49), and the chunks spread over the second in between.
    let first_tick = seen[0].0;
    assert!(
        (8..=11).contains(&first_tick),
        "first chunk at tick {first_tick}"
    );
    assert_eq!(seen.last().map(|(n, _)| *n), Some(49));
    let ticks_used: std::collections::HashSet<usize> = seen.iter().map(|(n, _)| *n).collect();
    assert_eq!(ticks_used.len(), 6, "one chunk per tick here, not a burst");
}

#[test]
fn interrupt_stops_audio_and_chunks_and_reports_the_next_index() {
    let mut speaker = Speaker::new().expect("speaker");
    let mut dec = decoder();
    speaker.enqueue(
        "u1".into(),
        "a b c d e f g h".into(),
        tone(AUDIO_FRAME_SAMPLES * 80),
    );
    speaker.enqueue(
        "u2".into(),
        "never heard".into(),
        tone(AUDIO_FRAME_SAMPLES * 10),
    );
    let mut sent = 0;
    for _ in 0..32 {
        sent += speaker.tick().chunks.len();
    }
    assert_eq!(sent, 3, "32 of 80 ticks played: 3 of 8 equal words are due");
    let cut = speaker.interrupt().expect("something was playing");
    assert_eq!(
        cut,
        InterruptedUtterance {
            utterance_id: "u1".into(),
            next_index: 3
        }
    );
    assert!(!speaker.is_speaking());
    for n in 0..20 {
        let tick = speaker.tick();
        assert!(tick.chunks.is_empty(), "no chunk after an interrupt");
        assert_eq!(tick.openness, 0.0);
        let rms = decoded_rms(&mut dec, &tick.opus);
        // The codec's few milliseconds of overlap may carry into the first packet.
        if n >= 2 {
            assert!(rms < 50.0, "tick {n} after the interrupt: rms {rms:.0}");
        }
    }
    assert_eq!(speaker.interrupt(), None, "nothing left to interrupt");
}

#[test]
fn interrupt_before_any_chunk_reports_index_zero() {
    let mut speaker = Speaker::new().expect("speaker");
    speaker.enqueue("u1".into(), "word".into(), tone(AUDIO_FRAME_SAMPLES * 10));
    speaker.tick();
    assert_eq!(
        speaker.interrupt(),
        Some(InterruptedUtterance {
            utterance_id: "u1".into(),
            next_index: 0
        })
    );
}

#[test]
fn streamed_parts_continue_the_numbering_and_only_the_end_is_last() {
    let mut speaker = Speaker::new().expect("speaker");
    let pcm = || tone(AUDIO_FRAME_SAMPLES * 4);
    speaker.enqueue_part("s".into(), "Hello there ".into(), pcm(), false);
    speaker.enqueue_part("s".into(), "my friend ".into(), pcm(), false);
    let mut chunks: Vec<TranscriptChunk> = run(&mut speaker, 50)
        .into_iter()
        .flat_map(|t| t.chunks)
        .collect();
    // The stream is still open: an interrupt now reports it with the next index.
    assert!(!speaker.is_speaking());
    speaker.enqueue_part("s".into(), String::new(), Vec::new(), true);
    chunks.extend(run(&mut speaker, 5).into_iter().flat_map(|t| t.chunks));
    let summary: Vec<(u32, &str, bool)> = chunks
        .iter()
        .map(|c| (c.index, c.text.as_str(), c.last))
        .collect();
    assert_eq!(
        summary,
        [
            (0, "Hello ", false),
            (1, "there ", false),
            (2, "my ", false),
            (3, "friend ", false),
            (4, "", true)
        ]
    );
    // A new utterance afterwards numbers from zero again.
    speaker.enqueue("t".into(), "next".into(), pcm());
    let next: Vec<TranscriptChunk> = run(&mut speaker, 50)
        .into_iter()
        .flat_map(|t| t.chunks)
        .collect();
    assert_eq!(next.first().map(|c| (c.index, c.last)), Some((0, true)));
}

#[test]
fn an_open_stream_with_nothing_queued_can_still_be_interrupted() {
    let mut speaker = Speaker::new().expect("speaker");
    speaker.enqueue_part(
        "s".into(),
        "one two".into(),
        tone(AUDIO_FRAME_SAMPLES * 2),
        false,
    );
    run(&mut speaker, 10);
    assert!(!speaker.is_speaking());
    assert_eq!(
        speaker.interrupt(),
        Some(InterruptedUtterance {
            utterance_id: "s".into(),
            next_index: 2
        })
    );
}

#[test]
fn raw_pcm_moves_the_lips_without_transcript() {
    let mut speaker = Speaker::new().expect("speaker");
    speaker.push_pcm(&tone(AUDIO_FRAME_SAMPLES * 3));
    speaker.push_pcm(&tone(AUDIO_FRAME_SAMPLES * 2));
    let ticks = run(&mut speaker, 20);
    assert_eq!(ticks.len(), 5, "consecutive pushes play back to back");
    assert!(ticks
        .iter()
        .all(|t| t.openness > 0.5 && t.chunks.is_empty()));
    assert_eq!(speaker.interrupt(), None);
}

#[test]
fn utterances_play_back_to_back_within_a_frame() {
    let mut speaker = Speaker::new().expect("speaker");
    speaker.enqueue("a".into(), "x".into(), tone(AUDIO_FRAME_SAMPLES / 2));
    speaker.enqueue("b".into(), "y".into(), tone(AUDIO_FRAME_SAMPLES / 2));
    let tick = speaker.tick();
    let ids: Vec<(&str, bool)> = tick
        .chunks
        .iter()
        .map(|c| (c.utterance_id.as_str(), c.last))
        .collect();
    assert_eq!(ids, [("a", true), ("b", true)]);
    assert!(!speaker.is_speaking());
}

#[test]
fn empty_audio_still_delivers_the_transcript_and_the_queue_is_bounded() {
    let mut speaker = Speaker::new().expect("speaker");
    speaker.enqueue("e".into(), "silent words".into(), Vec::new());
    let chunks = speaker.tick().chunks;
    assert_eq!(chunks.len(), 2);
    assert!(chunks[1].last);

    speaker.push_pcm(&vec![1000; MAX_QUEUED_SAMPLES + 5_000]);
    speaker.enqueue("over".into(), "dropped audio".into(), tone(10_000));
    let ticks = MAX_QUEUED_SAMPLES / AUDIO_FRAME_SAMPLES;
    let played = run(&mut speaker, ticks + 10);
    assert_eq!(played.len(), ticks, "audio beyond the cap is dropped");
    let last = played.last().map(|t| t.chunks.clone()).unwrap_or_default();
    assert_eq!(
        last.len(),
        2,
        "the transcript of a truncated utterance still completes"
    );
}

#[test]
fn word_chunks_keep_all_text() {
    assert_eq!(word_chunks("a  b\nc "), ["a  ", "b\n", "c "]);
    assert_eq!(word_chunks("  lead"), ["  lead"]);
    assert!(word_chunks("").is_empty());
    let text = "Some, text. With punctuation!";
    assert_eq!(word_chunks(text).concat(), text);
}

/// Prints what one tick costs (Opus encode of 20 ms); run in release with `--nocapture`.
#[test]
fn report_tick_cost() {
    let mut speaker = Speaker::new().expect("speaker");
    speaker.push_pcm(&tone(AUDIO_FRAME_SAMPLES * 500));
    #[allow(clippy::disallowed_methods)] // a measurement in a test, not server logic
    let start = std::time::Instant::now();
    let mut bytes = 0;
    for _ in 0..500 {
        bytes += speaker.tick().opus.len();
    }
    let per_tick = start.elapsed() / 500;
    println!(
        "speaker tick: {per_tick:.2?} per 20 ms tick, {:.1} kbit/s",
        bytes as f64 * 8.0 / 10.0 / 1000.0
    );
    assert!(bytes > 0);
}
