use proptest::prelude::*;

use super::*;

fn n(text: &str) -> Value {
    Value::Number(Number::from_json_text(text).expect("test number"))
}

fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

#[test]
fn parses_every_kind_of_value() {
    let v = parse(r#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "d"}, "e": ""} "#).unwrap();
    let expected = obj(&[
        (
            "a",
            Value::Array(vec![
                n("1"),
                n("-2.5e3"),
                true.into(),
                false.into(),
                Value::Null,
            ]),
        ),
        ("b", obj(&[("c", "d".into())])),
        ("e", "".into()),
    ]);
    assert_eq!(v, expected);
    assert_eq!(parse("[]").unwrap(), Value::Array(vec![]));
    assert_eq!(parse("{}").unwrap(), Value::Object(Object::new()));
    assert_eq!(parse("\"x\"").unwrap(), Value::from("x"));
}

#[test]
fn decodes_string_escapes_and_surrogate_pairs() {
    let v = parse(r#""q\" b\\ s\/ \b\f\n\r\t \u00e9 \u20AC \ud83d\ude00 é""#).unwrap();
    assert_eq!(v.as_str(), Some("q\" b\\ s/ \u{8}\u{c}\n\r\t é € 😀 é"));
}

#[test]
fn rejects_lone_surrogates() {
    for text in [
        r#""\ud83d""#,
        r#""\ud83dx""#,
        r#""\ude00""#,
        r#""\ud83d\u0041""#,
    ] {
        assert_eq!(
            parse(text).unwrap_err().reason,
            "lone surrogate in string",
            "{text}"
        );
    }
}

#[test]
fn rejects_what_json_does_not_allow() {
    let cases = [
        ("", "unexpected end of input", 0),
        ("{} x", "trailing characters", 3),
        ("01", "trailing characters", 1),
        ("NaN", "expected a value", 0),
        ("-Infinity", "expected a value", 0),
        ("[1,]", "expected a value", 3),
        ("{\"a\" 1}", "expected `:`", 5),
        ("{'a': 1}", "expected a string key", 1),
        ("{\"a\":1,}", "expected a string key", 7),
        ("[1 2]", "expected `,` or `]`", 3),
        ("\"a\u{1}\"", "control character in string", 2),
        ("\"abc", "unterminated string", 4),
        ("\"\\x\"", "invalid escape", 2),
        ("\"\\u12g4\"", "invalid \\u escape", 5),
        ("tru", "expected a value", 0),
        ("1.", "expected a value", 0),
    ];
    for (text, reason, offset) in cases {
        assert_eq!(parse(text), Err(ParseError { reason, offset }), "{text:?}");
    }
    assert_eq!(
        parse("[1 2]").unwrap_err().to_string(),
        "expected `,` or `]` at byte 3"
    );
}

#[test]
fn nesting_is_bounded() {
    let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert!(parse(&ok).is_ok());
    let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
    assert_eq!(parse(&deep).unwrap_err().reason, "nesting too deep");
    // Far deeper than any stack could recurse: still a plain error.
    assert!(parse(&"{\"a\":".repeat(100_000)).is_err());
}

#[test]
fn duplicate_keys_read_as_the_last_one() {
    let v = parse(r#"{"k": 1, "k": 2}"#).unwrap();
    assert_eq!(v.get("k"), Some(&n("2")));
}

#[test]
fn numbers_keep_their_text() {
    let text = r#"[0.10000000000000000001,1E400,-0,12345678901234567890123]"#;
    assert_eq!(parse(text).unwrap().to_json(), text);
}

#[test]
fn writes_compact_escaped_json() {
    let v = obj(&[
        ("s", "a\"b\\c\n\u{1}\u{1f}\u{7f}é😀".into()),
        ("n", Value::from(7u64)),
        ("l", Value::Array(vec![Value::Null, true.into()])),
    ]);
    assert_eq!(
        v.to_json(),
        // DEL (0x7f) is not a control character to JSON: it stays verbatim.
        "{\"s\":\"a\\\"b\\\\c\\n\\u0001\\u001f\u{7f}é😀\",\"n\":7,\"l\":[null,true]}"
    );
}

fn arb_value() -> impl Strategy<Value = Value> {
    let number = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (any::<i32>(), 0u32..1000, -30i32..30).prop_map(|(i, f, e)| n(&format!("{i}.{f}e{e}"))),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number,
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn parsing_arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse(&text);
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn parsing_json_like_text_never_panics(text in r#"[\[\]{}",:0-9eE.+\-a-z\\ ]{0,64}"#) {
        let _ = parse(&text);
    }

    #[test]
    fn written_values_parse_back_equal(value in arb_value()) {
        let text = value.to_json();
        prop_assert_eq!(parse(&text), Ok(value));
        // What we write is JSON by serde_json's reading too.
        prop_assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
    }

    #[test]
    fn strings_are_written_like_serde_json_writes_them(s in any::<String>()) {
        let mut out = String::new();
        write_string(&mut out, &s);
        prop_assert_eq!(&out, &serde_json::to_string(&s).unwrap());
        prop_assert_eq!(parse(&out), Ok(Value::String(s)));
    }

    #[test]
    fn serde_json_output_parses_to_the_same_strings(s in any::<String>(), k in any::<String>()) {
        let text = serde_json::json!({ k.clone(): [s.clone()] }).to_string();
        let v = parse(&text).unwrap();
        prop_assert_eq!(v.get(&k).and_then(|a| a.as_array()).and_then(|a| a.first()).and_then(Value::as_str), Some(s.as_str()));
    }
}
