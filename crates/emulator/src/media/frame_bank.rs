//! Pre-encoded video for one persona: every frame the persona can show, as VP8 keyframes.
//!
//! Encoding costs milliseconds per frame, so encoding per session would cap how many sessions
//! one machine holds. The picture only depends on two things, the moment of the idle loop and
//! how open the mouth is, so the bank encodes each combination once. Every frame is a keyframe:
//! a session may jump between mouth levels on any tick, and a newly joined viewer (or one whose
//! decoder asked for a keyframe) gets a decodable picture on the very next tick.

use bytes::Bytes;

use super::face::{Canvas, Pose};
use super::style::PersonaStyle;
use super::{MediaError, FPS, HEIGHT, WIDTH};

/// Length of the idle loop (head sway and one blink): three seconds.
pub const IDLE_LOOP_FRAMES: usize = 3 * FPS as usize;
/// Mouth openness is quantised to this many levels (0 = closed).
pub const MOUTH_LEVELS: usize = 5;
/// A fixed quantizer keeps every keyframe at the same quality, so switching between frames
/// never flickers (rate control would vary it frame by frame). 24 keeps a flat-shaded face
/// sharp at a few kilobytes per frame.
const QUANTIZER: u32 = 24;

/// Every frame of one persona, encoded once and shared (behind an `Arc`) by all its sessions.
pub struct FrameBank {
    /// `frames[level * IDLE_LOOP_FRAMES + loop_frame]`.
    frames: Vec<Bytes>,
}

impl std::fmt::Debug for FrameBank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameBank")
            .field("frames", &self.frames.len())
            .field("bytes", &self.total_bytes())
            .finish()
    }
}

/// The mouth level shown for `openness` (clamped to 0..=1; NaN counts as closed).
pub fn mouth_level(openness: f32) -> usize {
    if openness.is_nan() {
        return 0;
    }
    let scaled = openness.clamp(0.0, 1.0) * (MOUTH_LEVELS - 1) as f32;
    (scaled.round() as usize).min(MOUTH_LEVELS - 1)
}

impl FrameBank {
    /// Draws and encodes all `IDLE_LOOP_FRAMES x MOUTH_LEVELS` frames. Blocking and CPU-bound
    /// (about a second in release builds): call it from `spawn_blocking` or a thread.
    pub fn build(style: &PersonaStyle) -> Result<FrameBank, MediaError> {
        let config = anam_vp8::EncoderConfig {
            min_quantizer: QUANTIZER,
            max_quantizer: QUANTIZER,
            ..anam_vp8::EncoderConfig::realtime(WIDTH, HEIGHT, FPS, 2_000)
        };
        let mut encoder =
            anam_vp8::Encoder::new(&config).map_err(|e| MediaError::Video(e.to_string()))?;
        let (w, h) = (WIDTH as usize, HEIGHT as usize);
        let background = Canvas::background(w, h, style.background_top, style.background_bottom);
        let mut slots: Vec<Option<Bytes>> = vec![None; IDLE_LOOP_FRAMES * MOUTH_LEVELS];
        for loop_frame in 0..IDLE_LOOP_FRAMES {
            let pose = Pose::idle(loop_frame, IDLE_LOOP_FRAMES);
            let mut face = background.clone();
            face.draw_face(style, pose);
            // Convert the face once; per mouth level only the mouth's box changes.
            let face_i420 = face.to_i420();
            let mouth_box = face.mouth_box(pose);
            let mut i420 = face_i420.clone();
            for level in 0..MOUTH_LEVELS {
                let mut picture = face.clone();
                let openness = level as f32 / (MOUTH_LEVELS - 1) as f32;
                picture.draw_mouth(style, pose, openness);
                i420.copy_from_slice(&face_i420);
                picture.write_i420(&mut i420, mouth_box);
                let encoded = encoder
                    .encode(&i420, true)
                    .map_err(|e| MediaError::Video(e.to_string()))?;
                let frame = encoded
                    .into_iter()
                    .find(|f| f.keyframe && !f.data.is_empty())
                    .ok_or_else(|| MediaError::Video("encoder produced no keyframe".to_owned()))?;
                if let Some(slot) = slots.get_mut(level * IDLE_LOOP_FRAMES + loop_frame) {
                    *slot = Some(Bytes::from(frame.data));
                }
            }
        }
        let frames = slots
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| MediaError::Video("frame bank has a hole".to_owned()))?;
        Ok(FrameBank { frames })
    }

    /// The VP8 keyframe for video tick `tick` (counting from any start; the idle loop repeats)
    /// with the mouth at `openness` (0..=1). A cheap reference-counted clone.
    pub fn frame(&self, tick: u64, openness: f32) -> Bytes {
        let loop_frame = (tick % IDLE_LOOP_FRAMES as u64) as usize;
        let index = mouth_level(openness) * IDLE_LOOP_FRAMES + loop_frame;
        self.frames.get(index).cloned().unwrap_or_default()
    }

    /// Number of encoded frames (`IDLE_LOOP_FRAMES * MOUTH_LEVELS`).
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether the bank holds no frame (never true for a built bank).
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Total encoded size in bytes.
    pub fn total_bytes(&self) -> usize {
        self.frames.iter().map(Bytes::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    static BUILD_TIME: OnceLock<std::time::Duration> = OnceLock::new();

    /// Building takes seconds in a debug build: build each persona once for all tests.
    fn bank(persona: &'static str) -> &'static FrameBank {
        static ARIA: OnceLock<FrameBank> = OnceLock::new();
        static MILO: OnceLock<FrameBank> = OnceLock::new();
        let cell = if persona == "persona-aria" {
            &ARIA
        } else {
            &MILO
        };
        cell.get_or_init(|| {
            #[allow(clippy::disallowed_methods)] // a measurement in a test, not server logic
            let start = std::time::Instant::now();
            let bank = FrameBank::build(&PersonaStyle::for_persona(persona));
            let _ = BUILD_TIME.set(start.elapsed());
            bank.expect("frame bank builds")
        })
    }

    #[test]
    fn every_frame_is_a_640x360_keyframe() {
        let bank = bank("persona-aria");
        assert_eq!(bank.len(), IDLE_LOOP_FRAMES * MOUTH_LEVELS);
        for tick in 0..IDLE_LOOP_FRAMES as u64 {
            for level in 0..MOUTH_LEVELS {
                let frame = bank.frame(tick, level as f32 / (MOUTH_LEVELS - 1) as f32);
                assert!(
                    frame.len() > 100,
                    "tick {tick} level {level}: {} bytes",
                    frame.len()
                );
                assert_eq!(frame[0] & 1, 0, "frame type bit says keyframe");
                assert_eq!(&frame[3..6], &[0x9d, 0x01, 0x2a], "keyframe start code");
                let header = anam_vp8::parse_keyframe_header(&frame).expect("keyframe header");
                assert_eq!(
                    (u32::from(header.width), u32::from(header.height)),
                    (WIDTH, HEIGHT)
                );
            }
        }
    }

    #[test]
    fn frames_decode_on_a_fresh_decoder_and_the_mouth_region_follows_openness() {
        let bank = bank("persona-aria");
        let decode = |bytes: &Bytes| {
            // A new decoder per frame: each frame must stand on its own.
            let mut decoder = anam_vp8::Decoder::new().expect("decoder");
            decoder.decode(bytes).expect("decodes").expect("a picture")
        };
        let closed = decode(&bank.frame(0, 0.0));
        let open = decode(&bank.frame(0, 1.0));
        assert_eq!((closed.width, closed.height), (WIDTH, HEIGHT));
        // Mean luma of the mouth box drops as the dark mouth opens; far from it, nothing changes.
        let mean = |y: &[u8], x0: usize, y0: usize, x1: usize, y1: usize| {
            let mut sum = 0u64;
            for row in y0..y1 {
                for col in x0..x1 {
                    sum += u64::from(y[row * WIDTH as usize + col]);
                }
            }
            sum as f64 / ((x1 - x0) * (y1 - y0)) as f64
        };
        let mouth_closed = mean(&closed.y, 300, 215, 340, 245);
        let mouth_open = mean(&open.y, 300, 215, 340, 245);
        assert!(
            mouth_open + 20.0 < mouth_closed,
            "{mouth_open:.1} vs {mouth_closed:.1}"
        );
        let corner_closed = mean(&closed.y, 0, 0, 60, 60);
        let corner_open = mean(&open.y, 0, 0, 60, 60);
        assert!((corner_closed - corner_open).abs() < 2.0);
    }

    #[test]
    fn openness_levels_ticks_and_personas_give_different_frames() {
        let aria = bank("persona-aria");
        let milo = bank("persona-milo");
        let levels: std::collections::HashSet<Bytes> = (0..MOUTH_LEVELS)
            .map(|l| aria.frame(5, l as f32 / 4.0))
            .collect();
        assert_eq!(levels.len(), MOUTH_LEVELS);
        assert_ne!(
            aria.frame(0, 0.0),
            aria.frame(10, 0.0),
            "the idle loop moves"
        );
        assert_eq!(
            aria.frame(3, 0.0),
            aria.frame(3 + IDLE_LOOP_FRAMES as u64, 0.0)
        );
        assert_ne!(aria.frame(0, 0.0), milo.frame(0, 0.0));
    }

    #[test]
    fn openness_is_quantised_and_out_of_range_values_are_safe() {
        assert_eq!(mouth_level(0.0), 0);
        assert_eq!(mouth_level(0.1), 0);
        assert_eq!(mouth_level(0.5), 2);
        assert_eq!(mouth_level(1.0), MOUTH_LEVELS - 1);
        assert_eq!(mouth_level(7.0), MOUTH_LEVELS - 1);
        assert_eq!(mouth_level(-3.0), 0);
        assert_eq!(mouth_level(f32::NAN), 0);
        let bank = bank("persona-milo");
        assert!(!bank.frame(u64::MAX, f32::INFINITY).is_empty());
    }

    /// Prints the build time and bank size (run in release with `--nocapture` for real numbers).
    #[test]
    fn report_build_cost() {
        let bank = bank("persona-aria");
        let elapsed = BUILD_TIME.get().copied().unwrap_or_default();
        println!(
            "frame bank: {} frames, {} KiB total, {:.1} KiB/frame avg, built in {:.2?}",
            bank.len(),
            bank.total_bytes() / 1024,
            bank.total_bytes() as f64 / bank.len() as f64 / 1024.0,
            elapsed
        );
        // Every frame is a keyframe sent 25 times a second: keep it light enough for a browser.
        let kbps = bank.total_bytes() as f64 * 8.0 / bank.len() as f64 * f64::from(FPS) / 1000.0;
        assert!(kbps < 4_000.0, "{kbps:.0} kbit/s of video per session");
    }
}
