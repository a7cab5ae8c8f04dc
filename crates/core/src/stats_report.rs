//! The peer-connection stats report printed at teardown when the app asks for it
//! (`metrics.showPeerConnectionStatsReport`, docs/PROTOCOL.md §8.7): the final inbound video and
//! audio, outbound audio, codecs and transport of a session, with simple quality warnings.
//!
//! Input is the browser's `getStats()` entries as JSON objects; every field is optional, since
//! browsers differ in what they report. Numbers stay in their JSON text, so the report prints
//! them as the browser gave them without float formatting.

use crate::decimal::fixed;
use crate::json::{Number, Object, Value};

/// Below this frame rate the video looks choppy (the persona streams at 25 fps).
const LOW_FPS: u32 = 23;
/// Above this jitter (milliseconds) audio starts to sound broken.
const HIGH_AUDIO_JITTER_MS: u32 = 100;

/// Final counters of one RTP stream (`inbound-rtp` or `outbound-rtp`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamStats {
    /// MIME type of the codec, e.g. `video/VP8`; absent when the browser linked none.
    pub codec: Option<String>,
    /// Packets received (inbound) or sent (outbound).
    pub packets: Option<Number>,
    /// Packets lost, as counted by the receiver; absent for outbound streams.
    pub packets_lost: Option<Number>,
    /// Bytes received (inbound) or sent (outbound).
    pub bytes: Option<Number>,
    /// Interarrival jitter in seconds.
    pub jitter_seconds: Option<Number>,
    /// Video frames decoded; absent for audio.
    pub frames_decoded: Option<Number>,
    /// Video frames dropped before display; absent for audio.
    pub frames_dropped: Option<Number>,
    /// Decoded video frame rate; absent for audio.
    pub frames_per_second: Option<Number>,
}

/// The selected ICE candidate pair.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TransportStats {
    /// Current round-trip time of the pair, in seconds.
    pub round_trip_time_seconds: Option<Number>,
    /// Type of the local candidate: `host`, `srflx`, `prflx` or `relay`.
    pub local_candidate_type: Option<String>,
    /// Type of the remote candidate: `host`, `srflx`, `prflx` or `relay`.
    pub remote_candidate_type: Option<String>,
}

/// The summary; [`StatsReport::to_value`] is the report's JSON format.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsReport {
    /// The persona's video; absent when none was received.
    pub inbound_video: Option<StreamStats>,
    /// The persona's audio; absent when none was received.
    pub inbound_audio: Option<StreamStats>,
    /// The microphone audio sent; absent without an input track.
    pub outbound_audio: Option<StreamStats>,
    /// The selected candidate pair; absent when ICE never succeeded.
    pub transport: Option<TransportStats>,
    /// Human-readable quality warnings (dropped frames, low frame rate, jitter, loss…).
    pub issues: Vec<String>,
}

fn text(stat: &Value, key: &str) -> Option<String> {
    stat.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn number(stat: &Value, key: &str) -> Option<Number> {
    stat.get(key).and_then(Value::as_number).cloned()
}

/// A number above (or below) a threshold, compared as JavaScript would.
fn over(n: &Option<Number>, limit: f64) -> Option<&Number> {
    n.as_ref().filter(|n| n.as_f64() > limit)
}

fn under(n: &Option<Number>, limit: f64) -> Option<&Number> {
    n.as_ref().filter(|n| n.as_f64() < limit)
}

fn find(stats: &[Value], pred: impl Fn(&Value) -> bool) -> Option<&Value> {
    stats.iter().find(|s| pred(s))
}

fn by_id<'a>(stats: &'a [Value], id: Option<&str>) -> Option<&'a Value> {
    let id = id?;
    find(stats, |s| s.get("id").and_then(Value::as_str) == Some(id))
}

fn is(stat: &Value, kind: &str, media: &str) -> bool {
    stat.get("type").and_then(Value::as_str) == Some(kind)
        && stat.get("kind").and_then(Value::as_str) == Some(media)
}

fn stream(stats: &[Value], stat: &Value, outbound: bool) -> StreamStats {
    let codec =
        by_id(stats, stat.get("codecId").and_then(Value::as_str)).and_then(|c| text(c, "mimeType"));
    let (packets, bytes) = if outbound {
        ("packetsSent", "bytesSent")
    } else {
        ("packetsReceived", "bytesReceived")
    };
    StreamStats {
        codec,
        packets: number(stat, packets),
        packets_lost: number(stat, "packetsLost"),
        bytes: number(stat, bytes),
        jitter_seconds: number(stat, "jitter"),
        frames_decoded: number(stat, "framesDecoded"),
        frames_dropped: number(stat, "framesDropped"),
        frames_per_second: number(stat, "framesPerSecond"),
    }
}

impl StatsReport {
    /// Summarises one `getStats()` result.
    pub fn from_stats(stats: &[Value]) -> StatsReport {
        let pick = |kind: &str, media: &str, outbound: bool| {
            find(stats, |s| is(s, kind, media)).map(|s| stream(stats, s, outbound))
        };
        let pair = find(stats, |s| {
            s.get("type").and_then(Value::as_str) == Some("candidate-pair")
                && (s.get("nominated").and_then(Value::as_bool) == Some(true)
                    || s.get("state").and_then(Value::as_str) == Some("succeeded"))
        });
        let candidate_type = |pair: &Value, key: &str| {
            by_id(stats, pair.get(key).and_then(Value::as_str))
                .and_then(|c| text(c, "candidateType"))
        };
        let mut report = StatsReport {
            inbound_video: pick("inbound-rtp", "video", false),
            inbound_audio: pick("inbound-rtp", "audio", false),
            outbound_audio: pick("outbound-rtp", "audio", true),
            transport: pair.map(|p| TransportStats {
                round_trip_time_seconds: number(p, "currentRoundTripTime"),
                local_candidate_type: candidate_type(p, "localCandidateId"),
                remote_candidate_type: candidate_type(p, "remoteCandidateId"),
            }),
            issues: Vec::new(),
        };
        report.issues = report.find_issues();
        report
    }

    fn find_issues(&self) -> Vec<String> {
        let mut issues = Vec::new();
        match &self.inbound_video {
            None => issues.push("no inbound video was received".to_owned()),
            Some(v) => {
                if let Some(dropped) = over(&v.frames_dropped, 0.0) {
                    issues.push(format!("{dropped} video frames were dropped"));
                }
                if let Some(fps) = under(&v.frames_per_second, f64::from(LOW_FPS)) {
                    issues.push(format!("video frame rate {fps} fps is below {LOW_FPS}"));
                }
            }
        }
        for (name, s) in [
            ("video", &self.inbound_video),
            ("audio", &self.inbound_audio),
        ] {
            if let Some(lost) = s.as_ref().and_then(|s| over(&s.packets_lost, 0.0)) {
                issues.push(format!("{lost} inbound {name} packets were lost"));
            }
        }
        let jitter_ms = self
            .inbound_audio
            .as_ref()
            .and_then(|a| a.jitter_seconds.as_ref())
            .map(|j| j.as_f64() * 1000.0)
            .filter(|ms| *ms > f64::from(HIGH_AUDIO_JITTER_MS));
        if let Some(ms) = jitter_ms {
            issues.push(format!(
                "audio jitter {} ms is above {HIGH_AUDIO_JITTER_MS} ms",
                fixed(ms, 0)
            ));
        }
        issues
    }

    /// Each section's JSON key, its title in the text form, and its value when measured.
    fn sections(&self) -> [(&'static str, &'static str, Option<Value>); 4] {
        [
            (
                "inboundVideo",
                "inbound video",
                self.inbound_video.as_ref().map(StreamStats::to_value),
            ),
            (
                "inboundAudio",
                "inbound audio",
                self.inbound_audio.as_ref().map(StreamStats::to_value),
            ),
            (
                "outboundAudio",
                "outbound audio",
                self.outbound_audio.as_ref().map(StreamStats::to_value),
            ),
            (
                "transport",
                "transport",
                self.transport.as_ref().map(TransportStats::to_value),
            ),
        ]
    }

    /// The report's JSON format: camelCase keys, absent values left out.
    pub fn to_value(&self) -> Value {
        let mut out = Object::new();
        for (key, _, value) in self.sections() {
            out.insert_some(key, value);
        }
        out.insert("issues", Value::from(self.issues.as_slice()));
        Value::Object(out)
    }

    /// The human-readable form printed with the `console` output format: one line per section
    /// (its fields as compact JSON), then the issues.
    pub fn to_text(&self) -> String {
        let mut out = String::from("Anam peer connection stats report\n");
        for (_, title, value) in self.sections() {
            let value = value.map_or_else(|| "none".to_owned(), |v| v.to_json());
            out.push_str(&format!("{title}: {value}\n"));
        }
        if self.issues.is_empty() {
            out.push_str("issues: none\n");
        }
        for issue in &self.issues {
            out.push_str(&format!("issue: {issue}\n"));
        }
        out
    }
}

impl StreamStats {
    fn to_value(&self) -> Value {
        let mut out = Object::new();
        out.insert_some("codec", self.codec.clone());
        for (key, n) in [
            ("packets", &self.packets),
            ("packetsLost", &self.packets_lost),
            ("bytes", &self.bytes),
            ("jitterSeconds", &self.jitter_seconds),
            ("framesDecoded", &self.frames_decoded),
            ("framesDropped", &self.frames_dropped),
            ("framesPerSecond", &self.frames_per_second),
        ] {
            out.insert_some(key, n.clone());
        }
        Value::Object(out)
    }
}

impl TransportStats {
    fn to_value(&self) -> Value {
        let mut out = Object::new();
        out.insert_some("roundTripTimeSeconds", self.round_trip_time_seconds.clone());
        out.insert_some("localCandidateType", self.local_candidate_type.clone());
        out.insert_some("remoteCandidateType", self.remote_candidate_type.clone());
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test fixtures are written with serde_json's macro and read with our parser.
    macro_rules! json {
        ($($t:tt)*) => {
            crate::json::parse(&serde_json::json!($($t)*).to_string()).unwrap()
        };
    }

    #[test]
    fn a_healthy_session_has_no_issues_and_names_its_codecs() {
        let stats = vec![
            json!({"id": "v", "type": "inbound-rtp", "kind": "video", "codecId": "c1",
                "packetsReceived": 900, "packetsLost": 0, "framesDecoded": 250,
                "framesDropped": 0, "framesPerSecond": 25}),
            json!({"id": "a", "type": "inbound-rtp", "kind": "audio", "codecId": "c2",
                "packetsReceived": 500, "packetsLost": 0, "jitter": 0.004}),
            json!({"id": "o", "type": "outbound-rtp", "kind": "audio", "packetsSent": 480}),
            json!({"id": "c1", "type": "codec", "mimeType": "video/VP8"}),
            json!({"id": "c2", "type": "codec", "mimeType": "audio/opus"}),
            json!({"id": "p", "type": "candidate-pair", "nominated": true,
                "currentRoundTripTime": 0.001, "localCandidateId": "l", "remoteCandidateId": "r"}),
            json!({"id": "l", "type": "local-candidate", "candidateType": "host"}),
            json!({"id": "r", "type": "remote-candidate", "candidateType": "prflx"}),
        ];
        let report = StatsReport::from_stats(&stats);
        assert!(report.issues.is_empty(), "{:?}", report.issues);
        let video = report.inbound_video.clone().unwrap_or_default();
        assert_eq!(video.codec.as_deref(), Some("video/VP8"));
        assert_eq!(video.frames_decoded.map(|n| n.as_f64()), Some(250.0));
        assert_eq!(
            report
                .outbound_audio
                .as_ref()
                .and_then(|o| o.packets.as_ref())
                .map(Number::as_str),
            Some("480")
        );
        let transport = report.transport.clone().unwrap_or_default();
        assert_eq!(transport.remote_candidate_type.as_deref(), Some("prflx"));
        let text = report.to_text();
        assert!(text.contains("issues: none"), "{text}");
        assert!(text.contains("audio/opus"), "{text}");
        assert!(text.contains(r#""jitterSeconds":0.004"#), "{text}");
        let json = report.to_value();
        let audio = json.get("inboundAudio").unwrap();
        assert_eq!(audio.get("packets").and_then(Value::as_u64), Some(500));
        assert_eq!(audio.get("bytes"), None);
        assert_eq!(json.get("issues"), Some(&Value::Array(vec![])));
    }

    #[test]
    fn quality_problems_are_named() {
        let stats = vec![
            json!({"type": "inbound-rtp", "kind": "video", "framesDropped": 12,
                "framesPerSecond": 14.5, "packetsLost": 3}),
            json!({"type": "inbound-rtp", "kind": "audio", "jitter": 0.25}),
        ];
        let issues = StatsReport::from_stats(&stats).issues;
        assert_eq!(issues.len(), 4, "{issues:?}");
        assert!(issues.iter().any(|i| i.contains("dropped")));
        assert!(issues.iter().any(|i| i.contains("14.5 fps")));
        assert!(issues.iter().any(|i| i.contains("video packets were lost")));
        assert!(
            issues
                .iter()
                .any(|i| i == "audio jitter 250 ms is above 100 ms"),
            "{issues:?}"
        );
        assert!(
            issues.iter().any(|i| i == "12 video frames were dropped"),
            "{issues:?}"
        );
        let empty = StatsReport::from_stats(&[]);
        assert_eq!(empty.issues, ["no inbound video was received"]);
    }
}
