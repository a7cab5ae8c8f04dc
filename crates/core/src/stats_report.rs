//! The peer-connection stats report printed at teardown when the app asks for it
//! (`metrics.showPeerConnectionStatsReport`, ANAM_PROTOCOL.md §8.7): the final inbound video and
//! audio, outbound audio, codecs and transport of a session, with simple quality warnings.
//!
//! Input is the browser's `getStats()` entries as JSON objects; every field is optional, since
//! browsers differ in what they report.

use serde::Serialize;
use serde_json::Value;

/// Below this frame rate the video looks choppy (the persona streams at 25 fps).
const LOW_FPS: f64 = 23.0;
/// Above this jitter (seconds) audio starts to sound broken.
const HIGH_AUDIO_JITTER_S: f64 = 0.1;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamStats {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packets: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packets_lost: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames_decoded: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames_dropped: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames_per_second: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransportStats {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round_trip_time_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_candidate_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_candidate_type: Option<String>,
}

/// The summary, serialized as the report's JSON format.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inbound_video: Option<StreamStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inbound_audio: Option<StreamStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbound_audio: Option<StreamStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<TransportStats>,
    pub issues: Vec<String>,
}

fn text(stat: &Value, key: &str) -> Option<String> {
    stat.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn number(stat: &Value, key: &str) -> Option<f64> {
    stat.get(key).and_then(Value::as_f64)
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
                if let Some(dropped) = v.frames_dropped.filter(|d| *d > 0.0) {
                    issues.push(format!("{dropped} video frames were dropped"));
                }
                if let Some(fps) = v.frames_per_second.filter(|f| *f < LOW_FPS) {
                    issues.push(format!("video frame rate {fps} fps is below {LOW_FPS}"));
                }
            }
        }
        for (name, s) in [
            ("video", &self.inbound_video),
            ("audio", &self.inbound_audio),
        ] {
            if let Some(lost) = s.as_ref().and_then(|s| s.packets_lost).filter(|l| *l > 0.0) {
                issues.push(format!("{lost} inbound {name} packets were lost"));
            }
        }
        if let Some(j) = self
            .inbound_audio
            .as_ref()
            .and_then(|a| a.jitter_seconds)
            .filter(|j| *j > HIGH_AUDIO_JITTER_S)
        {
            issues.push(format!(
                "audio jitter {} ms is above {} ms",
                (j * 1000.0).round(),
                HIGH_AUDIO_JITTER_S * 1000.0
            ));
        }
        issues
    }

    /// The human-readable form printed with the `console` output format: one line per section
    /// (its fields as compact JSON), then the issues.
    pub fn to_text(&self) -> String {
        let mut out = String::from("Anam peer connection stats report\n");
        for (title, value) in [
            ("inbound video", describe(&self.inbound_video)),
            ("inbound audio", describe(&self.inbound_audio)),
            ("outbound audio", describe(&self.outbound_audio)),
            ("transport", describe(&self.transport)),
        ] {
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

fn describe<T: Serialize>(section: &Option<T>) -> String {
    match section {
        Some(v) => serde_json::to_string(v).unwrap_or_default(),
        None => "none".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        assert_eq!(video.frames_decoded, Some(250.0));
        assert_eq!(
            report.outbound_audio.as_ref().and_then(|o| o.packets),
            Some(480.0)
        );
        let transport = report.transport.clone().unwrap_or_default();
        assert_eq!(transport.remote_candidate_type.as_deref(), Some("prflx"));
        let text = report.to_text();
        assert!(text.contains("issues: none"), "{text}");
        assert!(text.contains("audio/opus"), "{text}");
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
        assert!(issues.iter().any(|i| i.contains("250 ms")));
        let empty = StatsReport::from_stats(&[]);
        assert_eq!(empty.issues, ["no inbound video was received"]);
    }
}
