//! Base64 as the protocol meets it: JWT segments (base64url, no padding) and agent-audio PCM
//! (standard alphabet from `btoa`). One small codec for the client, the emulator and the tests,
//! so that no crate needs a base64 dependency.

const URL_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const STANDARD_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Value of one base64 character in either alphabet (standard `+/` or URL-safe `-_`).
fn sextet(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes base64 like the `buffer` polyfill the official SDK relies on: both alphabets, padding
/// optional, decoding stops at the first `=`, characters outside the alphabet are skipped, and a
/// lone trailing character (6 bits, not a whole byte) is dropped. Returns `None` when the input
/// holds no base64 character at all before the first `=`.
pub fn decode_lenient(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut count = 0u8;
    let mut seen = false;
    for &c in input.as_bytes() {
        if c == b'=' {
            break;
        }
        let Some(v) = sextet(c) else { continue };
        seen = true;
        acc = (acc << 6) | v;
        count += 1;
        if count == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            count = 0;
        }
    }
    match count {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => {}
    }
    seen.then_some(out)
}

/// Strict base64url without padding (RFC 7515 §2): any other character, or a length no encoder
/// produces, is `None`. For the emulator's own tokens, where anything else means tampering.
pub fn decode_url_strict(text: &str) -> Option<Vec<u8>> {
    let valid = text.len() % 4 != 1
        && text
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
    valid.then(|| decode_lenient(text).unwrap_or_default())
}

/// Base64url without padding (RFC 7515 §2).
pub fn encode_url(bytes: &[u8]) -> String {
    encode(bytes, URL_ALPHABET, false)
}

/// Standard base64 with padding, as `btoa` produces (agent-audio chunks).
pub fn encode_standard(bytes: &[u8]) -> String {
    encode(bytes, STANDARD_ALPHABET, true)
}

fn encode(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            let idx = ((n >> (18 - 6 * i)) & 0x3f) as usize;
            out.push(char::from(alphabet.get(idx).copied().unwrap_or(b'A')));
        }
        if pad {
            for _ in chunk.len()..3 {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_encoding_is_padded_and_round_trips() {
        assert_eq!(encode_standard(b""), "");
        assert_eq!(encode_standard(b"f"), "Zg==");
        assert_eq!(encode_standard(b"fo"), "Zm8=");
        assert_eq!(encode_standard(b"foo"), "Zm9v");
        assert_eq!(encode_standard(&[0xfb, 0xff]), "+/8=");
        for len in 0..40u8 {
            let data: Vec<u8> = (0..len).map(|i| i.wrapping_mul(91)).collect();
            assert_eq!(
                decode_lenient(&encode_standard(&data)).unwrap_or_default(),
                data
            );
        }
    }

    #[test]
    fn url_encoding_round_trips_every_length() {
        for len in 0..40u8 {
            let data: Vec<u8> = (0..len)
                .map(|i| i.wrapping_mul(37).wrapping_add(200))
                .collect();
            let enc = encode_url(&data);
            assert!(!enc.contains('=') && !enc.contains('+') && !enc.contains('/'));
            assert_eq!(decode_url_strict(&enc).unwrap(), data);
            assert_eq!(decode_lenient(&enc).unwrap_or_default(), data);
        }
        assert_eq!(encode_url(b"hello"), "aGVsbG8");
    }

    #[test]
    fn strict_decoding_refuses_what_no_encoder_writes() {
        assert!(decode_url_strict("a").is_none());
        assert!(decode_url_strict("ab+c").is_none());
        assert!(decode_url_strict("aGVsbG8=").is_none());
        assert_eq!(decode_url_strict("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn lenient_decoding_takes_both_alphabets_and_skips_noise() {
        assert_eq!(decode_lenient("AQD+/w==").unwrap(), vec![1, 0, 254, 255]);
        assert_eq!(decode_lenient("AQD-_w").unwrap(), vec![1, 0, 254, 255]);
        assert_eq!(decode_lenient("AQ\nD+ /w").unwrap(), vec![1, 0, 254, 255]);
        assert!(decode_lenient("***").is_none());
    }
}
