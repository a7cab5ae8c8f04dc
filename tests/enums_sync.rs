//! Native test: the runtime enum objects in `js/enums.js` (appended to the package by
//! scripts/finish-pkg.mjs) list exactly the strings anam-core uses, so they cannot drift.
#![cfg(not(target_arch = "wasm32"))]

use anam_core::errors::{AudioPermissionState, ConnectionClosedCode, ErrorCode};
use anam_core::session::events::EVENT_NAMES;

/// `(key, value)` pairs of `export const <name> = Object.freeze({ KEY: "value", ... });`.
fn js_object(source: &str, name: &str) -> Vec<(String, String)> {
    let start = source
        .find(&format!("export const {name} = Object.freeze({{"))
        .unwrap_or_else(|| panic!("js/enums.js has no {name}"));
    let body = &source[start..];
    let end = body.find("});").expect("object is closed");
    body[..end]
        .lines()
        .skip(1)
        .filter_map(|line| {
            let (key, value) = line.trim().trim_end_matches(',').split_once(':')?;
            Some((
                key.trim().to_owned(),
                value.trim().trim_matches('"').to_owned(),
            ))
        })
        .collect()
}

fn values(pairs: &[(String, String)]) -> Vec<&str> {
    pairs.iter().map(|(_, v)| v.as_str()).collect()
}

fn source() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/js/enums.js");
    std::fs::read_to_string(path).expect("js/enums.js is readable")
}

#[test]
fn anam_event_matches_the_core_event_names() {
    let pairs = js_object(&source(), "AnamEvent");
    assert_eq!(values(&pairs), EVENT_NAMES);
    assert!(pairs.iter().all(|(k, v)| k == v), "keys equal values");
}

#[test]
fn error_codes_match_the_core() {
    let pairs = js_object(&source(), "ErrorCode");
    let core: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(values(&pairs), core);
    assert!(pairs.iter().all(|(k, v)| k == v), "keys equal values");
}

#[test]
fn close_codes_match_the_core() {
    let pairs = js_object(&source(), "ConnectionClosedCode");
    let core: Vec<&str> = ConnectionClosedCode::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(values(&pairs), core);
    for (k, v) in &pairs {
        assert_eq!(format!("CONNECTION_CLOSED_CODE_{k}"), *v);
    }
}

#[test]
fn audio_permission_states_match_the_core() {
    let pairs = js_object(&source(), "AudioPermissionState");
    let core: Vec<&str> = AudioPermissionState::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(values(&pairs), core);
    for (k, v) in &pairs {
        assert_eq!(k.to_lowercase(), *v);
    }
}

#[test]
fn director_note_cue_tags_match_the_core() {
    let source = source();
    let start = source
        .find("export const DIRECTOR_NOTE_CUE_TAGS = Object.freeze([")
        .expect("js/enums.js exports DIRECTOR_NOTE_CUE_TAGS");
    let body = &source[start..];
    let end = body.find("]);").expect("array is closed");
    let tags: Vec<&str> = body[..end]
        .lines()
        .skip(1)
        .map(|l| l.trim().trim_end_matches(',').trim_matches('"'))
        .collect();
    assert_eq!(tags, anam_core::wire::datachannel::DIRECTOR_NOTE_CUE_TAGS);
}
