//! The long "no panic on remote input" run (issue 8, item 2): every decoder of remote input gets
//! at least a million generated inputs. It is `#[ignore]`d because it takes minutes in a debug
//! build; `never_panics.rs` is the bounded run that is part of the normal suite. Run it with
//!
//! ```text
//! cargo test --release -p anam-core --test long_fuzz -- --ignored --nocapture
//! ```
//!
//! `LONG_FUZZ_INPUTS` overrides the per-decoder count and `LONG_FUZZ_SEED` the seed (decimal).
//! `scripts/test.sh` runs a bounded slice of it on every `make test`: 20,000 inputs per decoder
//! in the debug build, seeded with the day's date so that successive days cover new inputs
//! while a failure stays reproducible from the seed the run prints. Inputs are
//! mutations of the protocol fixtures (byte edits, splices between fixtures, JSON-aware value
//! swaps that reach the typed payload decoders) and random strings. A panic is caught, and the
//! input that caused it is printed so that it can become a regression test.
mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use anam_core::claims::{decode_base64_lenient, TokenClaims};
use anam_core::errors::{classify_network_failure, classify_session_token, classify_start_session};
use anam_core::wire::datachannel::{ClientDataMessage, ServerDataMessage};
use anam_core::wire::rest::ApiErrorBody;
use anam_core::wire::signalling;
use serde_json::{json, Value};

/// A small, fast, deterministic generator (SplitMix64): the run must be reproducible from its
/// seed, and the decoders, not the generator, should dominate the time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Characters that matter to JSON, base64, JWTs and SDP, plus awkward Unicode.
#[rustfmt::skip]
const SPICY: &[char] = &[
    '{', '}', '[', ']', '"', ':', ',', '\\', '.', '-', '+', '=', '_', '/', 'e', 'E', '0', '9', ' ',
    '\n', '\r', '\t', '\0', '\u{7f}', '\u{a0}', '\u{feff}', '\u{fffd}', '\u{10ffff}', 'é', '😀',
];

/// Whole tokens that push parsers into their corners.
const TOKENS: &[&str] = &[
    "null",
    "true",
    "false",
    "-0",
    "1e999",
    "-1e999",
    "1.5",
    "18446744073709551616",
    "-9223372036854775809",
    "\"\"",
    "\"\\ud800\"",
    "\"\\u0000\"",
    "[]",
    "{}",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}",
];

fn random_char(rng: &mut Rng) -> char {
    match rng.below(4) {
        0 => *rng.pick(SPICY),
        1 => char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('\u{fffd}'),
        _ => (b' ' + rng.below(95) as u8) as char,
    }
}

fn random_string(rng: &mut Rng, max_len: usize) -> String {
    let len = rng.below(max_len + 1);
    let mut s = String::with_capacity(len);
    for _ in 0..len {
        if rng.chance(12) {
            s.push_str(rng.pick::<&str>(TOKENS));
        } else {
            s.push(random_char(rng));
        }
    }
    s
}

/// One to eight character-level edits of `seed`: overwrite, insert, delete, duplicate or cut a
/// run, splice in a piece of `other`, or drop in a whole token.
fn mutate_text(rng: &mut Rng, seed: &str, other: &str) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    let edits = 1 + rng.below(8);
    for _ in 0..edits {
        if chars.is_empty() {
            chars.push(random_char(rng));
            continue;
        }
        let i = rng.below(chars.len());
        match rng.below(7) {
            0 => chars[i] = random_char(rng),
            1 => chars.insert(i, random_char(rng)),
            2 => {
                chars.remove(i);
            }
            3 => {
                let end = (i + 1 + rng.below(16)).min(chars.len());
                let run: Vec<char> = chars[i..end].to_vec();
                chars.splice(i..i, run);
            }
            4 => {
                let end = (i + 1 + rng.below(32)).min(chars.len());
                chars.drain(i..end);
            }
            5 => {
                let piece: Vec<char> = other.chars().collect();
                if !piece.is_empty() {
                    let a = rng.below(piece.len());
                    let b = (a + 1 + rng.below(64)).min(piece.len());
                    chars.splice(i..i, piece[a..b].iter().copied());
                }
            }
            _ => {
                let token: Vec<char> = rng.pick(TOKENS).chars().collect();
                chars.splice(i..i, token);
            }
        }
    }
    chars.into_iter().collect()
}

/// A JSON value of a random kind, to swap in where a decoder expects another kind.
fn random_value(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth == 0 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(2)),
        2 => json!(rng.next() as i64),
        3 => json!(f64::from_bits(rng.next())),
        4 => [
            json!(-1),
            json!(0),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(0.5),
            json!(1e300),
        ][rng.below(6)]
        .clone(),
        5 => Value::String(random_string(rng, 12)),
        6 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.below(4))
                .map(|_| (random_string(rng, 6), random_value(rng, depth - 1)))
                .collect(),
        ),
    }
}

/// Replaces, removes or adds one member somewhere in `value` (walking down a random path), so
/// that the JSON stays well-formed and the typed decoders behind the parser are exercised.
fn mutate_value(rng: &mut Rng, value: &mut Value, keys: &[&str]) {
    match value {
        Value::Object(map) if !map.is_empty() && !rng.chance(4) => {
            let key = map
                .keys()
                .nth(rng.below(map.len()))
                .cloned()
                .unwrap_or_default();
            match rng.below(4) {
                0 => {
                    map.remove(&key);
                }
                1 => {
                    map.insert(key, random_value(rng, 2));
                }
                _ => {
                    if let Some(inner) = map.get_mut(&key) {
                        mutate_value(rng, inner, keys);
                    }
                }
            }
        }
        Value::Object(map) => {
            let key = if rng.chance(2) {
                (*rng.pick(keys)).to_owned()
            } else {
                random_string(rng, 8)
            };
            map.insert(key, random_value(rng, 2));
        }
        Value::Array(items) if !items.is_empty() && !rng.chance(4) => {
            let i = rng.below(items.len());
            mutate_value(rng, &mut items[i], keys);
        }
        other => *other = random_value(rng, 2),
    }
}

/// The seeds of one decoder: fixture texts and their parsed JSON, plus the keys they use.
struct Seeds {
    texts: Vec<String>,
    values: Vec<Value>,
    keys: Vec<String>,
}

impl Seeds {
    fn from_fixtures(prefixes: &[&str]) -> Seeds {
        let texts: Vec<String> = prefixes
            .iter()
            .flat_map(|p| common::fixture_names(p))
            .map(|n| common::fixture(&n))
            .collect();
        assert!(!texts.is_empty(), "no fixtures for {prefixes:?}");
        Seeds::from_texts(texts)
    }

    fn from_texts(texts: Vec<String>) -> Seeds {
        let values: Vec<Value> = texts
            .iter()
            .filter_map(|t| serde_json::from_str(t).ok())
            .collect();
        let mut keys = Vec::new();
        for v in &values {
            collect_keys(v, &mut keys);
        }
        keys.sort();
        keys.dedup();
        Seeds {
            texts,
            values,
            keys,
        }
    }

    /// One generated input: mostly fixture mutations, some pure noise.
    fn generate(&self, rng: &mut Rng) -> String {
        match rng.below(10) {
            0 => random_string(rng, 256),
            1..=4 => {
                let seed = rng.pick(&self.texts);
                let other = rng.pick(&self.texts);
                mutate_text(rng, seed, other)
            }
            _ => {
                let mut value = rng.pick(&self.values).clone();
                let keys: Vec<&str> = self.keys.iter().map(String::as_str).collect();
                for _ in 0..1 + rng.below(4) {
                    mutate_value(rng, &mut value, &keys);
                }
                value.to_string()
            }
        }
    }
}

fn collect_keys(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                collect_keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_keys(v, out)),
        _ => {}
    }
}

/// What a run of one decoder did.
struct Report {
    name: &'static str,
    inputs: u64,
    decoded: u64,
    elapsed: Duration,
    panic: Option<(String, String)>,
}

/// Feeds `inputs` generated inputs to `decode` (which says whether the input decoded), catching
/// any panic together with its input.
fn run(
    name: &'static str,
    inputs: u64,
    seed: u64,
    mut generate: impl FnMut(&mut Rng) -> String,
    decode: impl Fn(&str) -> bool,
) -> Report {
    let mut rng = Rng(seed
        ^ name
            .bytes()
            .fold(0u64, |h, b| h.rotate_left(5) ^ u64::from(b)));
    // Lint-approved clock for a test's own duration: the result is only printed.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let mut decoded = 0;
    for _ in 0..inputs {
        let input = generate(&mut rng);
        match catch_unwind(AssertUnwindSafe(|| decode(&input))) {
            Ok(true) => decoded += 1,
            Ok(false) => {}
            Err(payload) => {
                let why = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                return Report {
                    name,
                    inputs,
                    decoded,
                    elapsed: started.elapsed(),
                    panic: Some((input, why)),
                };
            }
        }
    }
    Report {
        name,
        inputs,
        decoded,
        elapsed: started.elapsed(),
        panic: None,
    }
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 3);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Token inputs: JWT-shaped strings whose payload is a mutated claims object (encoded, so the
/// JSON decoder behind the base64 one is reached), or raw mutations of a whole token.
fn token_generator() -> impl FnMut(&mut Rng) -> String {
    let claims = Seeds::from_texts(vec![
        r#"{"type":"stateful","accountId":"acc-1","exp":1900000000,"iat":1800000000}"#.to_owned(),
        r#"{"type":"ephemeral","accountId":"acc-2","exp":1.9e9,"personaId":"persona-aria"}"#
            .to_owned(),
        r#"{"type":"legacy"}"#.to_owned(),
        r#"{"exp":"soon","iat":null,"accountId":7}"#.to_owned(),
    ]);
    let header = base64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    move |rng: &mut Rng| {
        let payload = claims.generate(rng);
        let token = format!("{header}.{}.c2ln", base64url(payload.as_bytes()));
        match rng.below(4) {
            0 => mutate_text(rng, &token, "=+/.-_"),
            1 => format!(
                "{}.{}.{}",
                random_string(rng, 8),
                random_string(rng, 64),
                random_string(rng, 8)
            ),
            _ => token,
        }
    }
}

fn decode_token(text: &str) -> bool {
    let _ = decode_base64_lenient(text);
    match TokenClaims::decode(text) {
        Ok(claims) => {
            let _ = claims.validate_for_client();
            for now in [i64::MIN, -1, 0, 1_800_000_000, i64::MAX] {
                for skew in [i64::MIN, 0, 30, i64::MAX] {
                    let _ = claims.is_expired(now, skew);
                }
            }
            true
        }
        Err(e) => {
            let _ = e.to_string();
            false
        }
    }
}

fn decode_signal(text: &str) -> bool {
    match signalling::decode(text) {
        Ok(msg) => {
            let _ = msg.action.action_type();
            common::assert_round_trip("signalling", text, &msg, |m| m.encode(), signalling::decode);
            true
        }
        Err(_) => false,
    }
}

fn decode_server_data(text: &str) -> bool {
    match ServerDataMessage::decode(text) {
        Ok(msg) => {
            let _ = msg.message_type();
            common::assert_round_trip(
                "server data",
                text,
                &msg,
                |m| m.encode(),
                ServerDataMessage::decode,
            );
            true
        }
        Err(_) => false,
    }
}

fn decode_client_data(text: &str) -> bool {
    match ClientDataMessage::decode(text) {
        Ok(msg) => {
            let _ = msg.message_type();
            common::assert_round_trip(
                "client data",
                text,
                &msg,
                |m| m.encode(),
                ClientDataMessage::decode,
            );
            true
        }
        Err(_) => false,
    }
}

/// Statuses a server might send, including ones no server should.
const STATUSES: &[u16] = &[
    0,
    100,
    200,
    201,
    204,
    299,
    301,
    400,
    401,
    402,
    403,
    404,
    429,
    499,
    500,
    502,
    503,
    599,
    600,
    999,
    u16::MAX,
];

fn classify_start(text: &str) -> bool {
    let mut ok = false;
    for &status in STATUSES {
        match classify_start_session(status, text) {
            Ok(info) => {
                let _ = info.signalling_url();
                let _ = info.talk_url();
                let _ = info.client_config.heartbeat_interval_ms();
                let _ = info.client_config.max_ws_reconnection_attempts();
                ok = true;
            }
            Err(failure) => {
                let _ = failure.to_string();
            }
        }
    }
    ok
}

fn decode_error_body(text: &str) -> bool {
    for &status in STATUSES {
        if let Err(failure) = classify_session_token(status, text) {
            let _ = failure.to_string();
        }
    }
    let _ = classify_network_failure(text).to_string();
    match anam_core::json::parse(text) {
        Ok(value) => {
            let body = ApiErrorBody::from_value(&value);
            body.error.is_some() || body.message.is_some() || body.solution.is_some()
        }
        Err(_) => false,
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore = "long run (minutes): cargo test --release -p anam-core --test long_fuzz -- --ignored --nocapture"]
fn every_decoder_survives_a_million_inputs() {
    let inputs = env_number("LONG_FUZZ_INPUTS", 1_000_000);
    let seed = env_number("LONG_FUZZ_SEED", 0x5EED_A11A);
    let signal = Seeds::from_fixtures(&["signal_"]);
    let server_data = Seeds::from_fixtures(&["dc_in_"]);
    let client_data = Seeds::from_fixtures(&["dc_out_"]);
    let start = Seeds::from_fixtures(&["rest_start_session_response", "rest_api_error"]);
    let errors = Seeds::from_fixtures(&["rest_api_error", "rest_session_token_response"]);

    let reports = [
        run(
            "token claims",
            inputs,
            seed,
            token_generator(),
            decode_token,
        ),
        run(
            "signalling",
            inputs,
            seed,
            |r| signal.generate(r),
            decode_signal,
        ),
        run(
            "data channel, server to client",
            inputs,
            seed,
            |r| server_data.generate(r),
            decode_server_data,
        ),
        run(
            "data channel, client to server",
            inputs,
            seed,
            |r| client_data.generate(r),
            decode_client_data,
        ),
        run(
            "start-session classify",
            inputs,
            seed,
            |r| start.generate(r),
            classify_start,
        ),
        run(
            "error bodies (backend / emulator)",
            inputs,
            seed,
            |r| errors.generate(r),
            decode_error_body,
        ),
    ];

    println!("long_fuzz seed {seed:#x}");
    println!("| decoder | inputs | decoded ok | seconds |");
    println!("|---|---|---|---|");
    for r in &reports {
        println!(
            "| {} | {} | {} | {:.1} |",
            r.name,
            r.inputs,
            r.decoded,
            r.elapsed.as_secs_f64()
        );
    }
    for r in &reports {
        if let Some((input, why)) = &r.panic {
            panic!("{} panicked ({why}) on input {input:?}", r.name);
        }
        // A run where nothing ever decodes would only have tested the first parser error path.
        assert!(
            r.decoded > 0,
            "{}: no generated input decoded; the generator is broken",
            r.name
        );
        assert!(
            r.decoded < r.inputs,
            "{}: every input decoded; the mutations do nothing",
            r.name
        );
    }
}
