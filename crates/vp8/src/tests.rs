use super::*;

const W: u32 = 640;
const H: u32 = 360;

/// A test picture that changes with `t`: a diagonal luma gradient that drifts, a moving bright
/// square, and a chroma tint, so inter frames have real motion to code.
fn picture(t: u32) -> Vec<u8> {
    let (w, h) = (W as usize, H as usize);
    let mut buf = vec![0u8; i420_len(W, H)];
    let (y, uv) = buf.split_at_mut(w * h);
    for row in 0..h {
        for col in 0..w {
            y[row * w + col] = ((col + row + t as usize * 3) % 200 + 16) as u8;
        }
    }
    let sq = (t as usize * 8) % (w - 64);
    for row in 100..164 {
        for col in sq..sq + 64 {
            y[row * w + col] = 235;
        }
    }
    let (u, v) = uv.split_at_mut(w / 2 * h / 2);
    u.fill(100);
    v.fill(160);
    buf
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    let total: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.len() as f64
}

#[test]
fn first_frame_and_forced_frames_are_keyframes_others_are_not() {
    let mut enc = Encoder::new(&EncoderConfig::realtime(W, H, 25, 800)).expect("encoder");
    let mut kinds = Vec::new();
    for t in 0..12 {
        let out = enc.encode(&picture(t), t == 7).expect("encode");
        assert_eq!(
            out.len(),
            1,
            "one packet per input with no lookahead (frame {t})"
        );
        let frame = &out[0];
        assert!(!frame.data.is_empty(), "frame {t} is empty");
        assert_eq!(frame.pts, i64::from(t));
        // The bitstream agrees with the flag libvpx reports.
        assert_eq!(frame.data[0] & 1 == 0, frame.keyframe, "frame {t}");
        kinds.push(frame.keyframe);
    }
    assert!(kinds[0], "the first frame must be a keyframe");
    assert!(kinds[7], "a forced keyframe must be a keyframe");
    let unforced_keys = kinds
        .iter()
        .enumerate()
        .filter(|(i, k)| **k && *i != 0 && *i != 7)
        .count();
    assert_eq!(
        unforced_keys, 0,
        "unforced frames should be inter frames: {kinds:?}"
    );
}

#[test]
fn keyframe_header_carries_start_code_and_size() {
    let mut enc = Encoder::new(&EncoderConfig::realtime(W, H, 25, 800)).expect("encoder");
    let out = enc.encode(&picture(0), true).expect("encode");
    let header = parse_keyframe_header(&out[0].data).expect("keyframe header");
    assert_eq!((header.width, header.height), (640, 360));
    assert_eq!(&out[0].data[3..6], &[0x9d, 0x01, 0x2a]);

    let inter = enc.encode(&picture(1), false).expect("encode");
    assert_eq!(parse_keyframe_header(&inter[0].data), None);
    assert_eq!(parse_keyframe_header(&[0x10, 0x02]), None);
}

#[test]
fn encoded_frames_decode_back_to_the_picture() {
    let mut enc = Encoder::new(&EncoderConfig::realtime(W, H, 25, 1500)).expect("encoder");
    let mut dec = Decoder::new().expect("decoder");
    let (w, h) = (W as usize, H as usize);
    for t in 0..5 {
        let input = picture(t);
        let out = enc.encode(&input, false).expect("encode");
        let pic = dec
            .decode(&out[0].data)
            .expect("decode")
            .expect("a picture");
        assert_eq!((pic.width, pic.height), (W, H));
        assert_eq!(pic.y.len(), w * h);
        assert_eq!(pic.u.len(), w / 2 * h / 2);
        let err = mean_abs_diff(&pic.y, &input[..w * h]);
        assert!(err < 12.0, "frame {t}: luma error {err:.1} is too large");
        // A different picture must be measurably farther away: the decode is not a constant.
        let other = mean_abs_diff(&pic.y, &picture(t + 40)[..w * h]);
        assert!(other > err * 2.0, "frame {t}: {other:.1} vs {err:.1}");
    }
}

#[test]
fn a_keyframe_decodes_on_a_fresh_decoder() {
    let mut enc = Encoder::new(&EncoderConfig::realtime(W, H, 25, 800)).expect("encoder");
    for t in 0..3 {
        enc.encode(&picture(t), false).expect("encode");
    }
    let key = enc.encode(&picture(3), true).expect("encode");
    let mut dec = Decoder::new().expect("decoder");
    assert!(dec.decode(&key[0].data).expect("decode").is_some());
}

#[test]
fn wrong_input_length_and_bad_configs_are_errors() {
    let mut enc = Encoder::new(&EncoderConfig::realtime(W, H, 25, 800)).expect("encoder");
    assert_eq!(
        enc.encode(&[0u8; 10], false),
        Err(Error::FrameSize {
            expected: i420_len(W, H),
            actual: 10
        })
    );
    for bad in [
        EncoderConfig::realtime(641, 360, 25, 800),
        EncoderConfig::realtime(0, 360, 25, 800),
        EncoderConfig::realtime(640, 360, 0, 800),
        EncoderConfig::realtime(640, 360, 25, 0),
        EncoderConfig {
            min_quantizer: 40,
            max_quantizer: 20,
            ..EncoderConfig::realtime(640, 360, 25, 800)
        },
    ] {
        assert!(
            matches!(Encoder::new(&bad), Err(Error::Config(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn garbage_does_not_decode() {
    let mut dec = Decoder::new().expect("decoder");
    assert!(dec.decode(&[0xff; 40]).is_err());
}

#[test]
fn i420_len_rounds_chroma_up() {
    assert_eq!(i420_len(640, 360), 640 * 360 * 3 / 2);
    assert_eq!(i420_len(3, 3), 9 + 2 * 4);
}
