//! Session-token payload decoding (§2.2) and the construction-time rule (§2.3).
mod common;

use anam_core::claims::{
    decode_base64_lenient, ClaimsError, TokenClaims, TokenRejection, TokenType,
};

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (the test's own reference encoder).
fn b64_std(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(STD[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// base64url without padding, as JWTs use.
fn b64_url(bytes: &[u8]) -> String {
    b64_std(bytes)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

fn token(payload_json: &str) -> String {
    format!(
        "{}.{}.c2ln",
        b64_url(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64_url(payload_json.as_bytes())
    )
}

#[test]
fn reads_the_token_from_the_rest_fixture() {
    let body = common::parse(&common::fixture("rest_session_token_response"));
    let token = body["sessionToken"].as_str().expect("token");
    let claims = TokenClaims::decode(token).expect("decode");
    assert_eq!(claims.token_type, TokenType::Ephemeral);
    assert_eq!(claims.account_id.as_deref(), Some("acc-1"));
    assert_eq!(claims.validate_for_client(), Ok(()));
}

#[test]
fn reads_type_account_times_and_keeps_the_rest() {
    let claims = TokenClaims::decode(&token(
        r#"{"type":"Stateful","accountId":"org-7","exp":1800000000,"iat":1799996400,"personaId":"persona-aria","jti":"t-1"}"#,
    ))
    .expect("decode");
    assert_eq!(
        claims.token_type,
        TokenType::Stateful,
        "type is case-insensitive"
    );
    assert_eq!(claims.account_id.as_deref(), Some("org-7"));
    assert_eq!(
        (claims.exp, claims.iat),
        (Some(1_800_000_000), Some(1_799_996_400))
    );
    let mut keys: Vec<&str> = claims.rest.iter().map(|(k, _)| k).collect();
    keys.sort_unstable();
    assert_eq!(keys, vec!["jti", "personaId"]);
}

#[test]
fn other_and_missing_types_are_accepted() {
    let other = TokenClaims::decode(&token(r#"{"type":"trial"}"#)).expect("decode");
    assert_eq!(other.token_type, TokenType::Other("trial".into()));
    assert_eq!(other.validate_for_client(), Ok(()));
    let missing = TokenClaims::decode(&token(r#"{"accountId":"a"}"#)).expect("decode");
    assert_eq!(missing.token_type, TokenType::Missing);
    assert_eq!(missing.validate_for_client(), Ok(()));
    let not_a_string = TokenClaims::decode(&token(r#"{"type":3}"#)).expect("decode");
    assert_eq!(not_a_string.token_type, TokenType::Missing);
}

#[test]
fn legacy_tokens_are_rejected_for_clients() {
    for t in ["legacy", "LEGACY", "Legacy"] {
        let claims = TokenClaims::decode(&token(&format!(r#"{{"type":"{t}"}}"#))).expect("decode");
        assert_eq!(claims.token_type, TokenType::Legacy);
        assert_eq!(
            claims.validate_for_client(),
            Err(TokenRejection::LegacyToken)
        );
    }
}

#[test]
fn wrong_part_counts_are_typed_errors() {
    let payload = b64_url(br#"{"type":"ephemeral"}"#);
    for (t, parts) in [
        (String::new(), 1),
        ("onlyonepart".to_owned(), 1),
        (format!("h.{payload}"), 2),
        (format!("h.{payload}.s.extra"), 4),
        ("h..s".to_owned(), 3),
    ] {
        assert_eq!(
            TokenClaims::decode(&t),
            Err(ClaimsError::NotThreeParts { parts }),
            "token {t:?}"
        );
    }
}

#[test]
fn bad_base64_bad_json_and_non_objects_are_typed_errors() {
    assert_eq!(TokenClaims::decode("h.!!!*.s"), Err(ClaimsError::BadBase64));
    // Stops at the first '=': nothing before it.
    assert_eq!(
        TokenClaims::decode("h.=eyJ9.s"),
        Err(ClaimsError::BadBase64)
    );
    assert!(matches!(
        TokenClaims::decode(&format!("h.{}.s", b64_url(b"not json"))),
        Err(ClaimsError::BadJson(_))
    ));
    assert!(matches!(
        TokenClaims::decode(&format!("h.{}.s", b64_url(&[0xff, 0xfe, 0x7b]))),
        Err(ClaimsError::BadJson(_))
    ));
    for json in ["[1,2]", "\"ephemeral\"", "42", "null"] {
        assert_eq!(
            TokenClaims::decode(&format!("h.{}.s", b64_url(json.as_bytes()))),
            Err(ClaimsError::NotAnObject),
            "{json}"
        );
    }
}

#[test]
fn base64_decoder_is_as_lenient_as_the_sdk() {
    // Bytes chosen so that the encodings contain '+'/'/' (standard) vs '-'/'_' (URL-safe).
    let bytes: Vec<u8> = (0u8..=255).chain([0xfb, 0xff, 0xbf]).collect();
    let std = b64_std(&bytes);
    let url = b64_url(&bytes);
    assert!(std.contains('+') && std.contains('/') && url.contains('-') && url.contains('_'));
    assert_eq!(decode_base64_lenient(&std).as_deref(), Some(&bytes[..]));
    assert_eq!(decode_base64_lenient(&url).as_deref(), Some(&bytes[..]));
    for len in 0..6 {
        let part = &bytes[..len];
        let encoded = b64_url(part);
        if !encoded.is_empty() {
            assert_eq!(
                decode_base64_lenient(&encoded).as_deref(),
                Some(part),
                "len {len}"
            );
        }
    }
    // Characters outside the alphabet are skipped; decoding stops at the first '='.
    assert_eq!(
        decode_base64_lenient("aGV s\nbG8*").as_deref(),
        Some(&b"hello"[..])
    );
    assert_eq!(
        decode_base64_lenient("aGk=aGVsbG8").as_deref(),
        Some(&b"hi"[..])
    );
    // A lone trailing character is dropped, as the polyfill does.
    assert_eq!(
        decode_base64_lenient("aGVsbG8hZ").as_deref(),
        Some(&b"hello!"[..])
    );
    assert_eq!(decode_base64_lenient("***"), None);
}

#[test]
fn expiry_honours_skew_and_missing_exp() {
    let claims = TokenClaims::decode(&token(r#"{"type":"ephemeral","exp":1000}"#)).expect("ok");
    assert!(!claims.is_expired(999, 0));
    assert!(claims.is_expired(1000, 0));
    assert!(!claims.is_expired(1029, 30), "within skew");
    assert!(claims.is_expired(1030, 30));
    let no_exp = TokenClaims::decode(&token(r#"{"type":"ephemeral"}"#)).expect("ok");
    assert!(!no_exp.is_expired(i64::MAX, 0));
    // Extreme inputs saturate instead of overflowing (an overflow would panic in tests).
    assert!(!claims.is_expired(i64::MIN, i64::MAX));
    assert!(claims.is_expired(i64::MAX, i64::MIN));
    let float_exp = TokenClaims::decode(&token(r#"{"exp":1000.9}"#)).expect("ok");
    assert_eq!(float_exp.exp, Some(1000));
    let string_exp = TokenClaims::decode(&token(r#"{"exp":"soon"}"#)).expect("ok");
    assert_eq!(string_exp.exp, None);
    assert_eq!(
        string_exp.rest.get("exp"),
        Some(&anam_core::json::Value::from("soon"))
    );
}
