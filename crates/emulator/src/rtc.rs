//! One WebRTC peer per session, built on str0m: answers the browser's offer (and later offers as
//! ICE restarts), sends VP8 + Opus on one media stream, and carries the `session` data channel.
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant as StdInstant;

use str0m::change::SdpOffer;
use str0m::channel::ChannelId;
use str0m::config::DtlsCert;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;

/// Largest UDP datagram we read (SRTP/DTLS packets stay under the ~1200-byte MTU str0m uses).
pub const MAX_DATAGRAM: usize = 2048;

/// A process-wide DTLS certificate: generating one costs ~100 ms, reusing it costs nothing.
pub fn generate_certificate() -> Option<DtlsCert> {
    str0m::crypto::from_feature_flags()
        .dtls_provider
        .generate_certificate()
}

/// What happened while draining str0m's outputs.
#[derive(Debug, Default)]
pub struct Drained {
    pub events: Vec<Event>,
}

pub struct Peer {
    rtc: Rtc,
    socket: Arc<UdpSocket>,
    local_addr: SocketAddr,
    video: Option<(Mid, Pt)>,
    audio: Option<(Mid, Pt)>,
    channel: Option<ChannelId>,
}

impl Peer {
    /// Binds a loopback UDP socket and builds the `Rtc` (VP8 and Opus only).
    pub async fn new(cert: Option<&DtlsCert>, now: StdInstant) -> std::io::Result<Peer> {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let local_addr = socket.local_addr()?;
        let mut builder = Rtc::builder()
            .clear_codecs()
            .enable_vp8(true)
            .enable_opus(true, false);
        if let Some(cert) = cert {
            builder = builder.set_dtls_cert(cert.clone());
        }
        let mut rtc = builder.build(now);
        let candidate = Candidate::host(local_addr, "udp")
            .map_err(|e| std::io::Error::other(format!("host candidate: {e}")))?;
        rtc.add_local_candidate(candidate);
        Ok(Peer {
            rtc,
            socket: Arc::new(socket),
            local_addr,
            video: None,
            audio: None,
            channel: None,
        })
    }

    pub fn socket(&self) -> Arc<UdpSocket> {
        self.socket.clone()
    }

    /// The host candidate to trickle to the browser.
    pub fn local_candidate(&self) -> String {
        Candidate::host(self.local_addr, "udp")
            .map(|c| c.to_sdp_string())
            .unwrap_or_default()
    }

    /// Applies an offer (the first one, or a later one that restarts ICE) and returns the answer
    /// SDP with one shared media stream id.
    pub fn accept_offer(&mut self, sdp: &str) -> Result<String, String> {
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| format!("bad offer SDP: {e}"))?;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| format!("offer refused: {e}"))?;
        Ok(unify_stream_ids(&answer.to_sdp_string()))
    }

    /// Adds a browser candidate. Only loopback candidates are used: the emulator never sends
    /// media off this machine. Returns whether the candidate was taken.
    pub fn add_remote_candidate(&mut self, candidate: &str) -> bool {
        let Ok(c) = Candidate::from_sdp_string(candidate) else {
            return false;
        };
        if !is_loopback(c.addr().ip()) {
            return false;
        }
        self.rtc.add_remote_candidate(c);
        true
    }

    /// Feeds one received datagram.
    pub fn receive(&mut self, now: StdInstant, source: SocketAddr, data: &[u8]) {
        let Ok(contents) = data.try_into() else {
            return; // not STUN/DTLS/RTP: ignore
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination: self.local_addr,
                contents,
            },
        );
        if self.rtc.accepts(&input) {
            let _ = self.rtc.handle_input(input);
        }
    }

    pub fn timeout(&mut self, now: StdInstant) {
        let _ = self.rtc.handle_input(Input::Timeout(now));
    }

    /// Sends every pending datagram and collects events until str0m asks to be woken at some
    /// later time, which is returned. An error means the peer is dead.
    pub fn drain(&mut self, out: &mut Drained) -> Result<StdInstant, String> {
        // str0m yields a timeout after a bounded amount of work; the cap is a second guard.
        for _ in 0..10_000 {
            match self.rtc.poll_output().map_err(|e| e.to_string())? {
                Output::Timeout(t) => return Ok(t),
                Output::Transmit(t) => {
                    // Loopback UDP does not block in practice; a full buffer just drops the
                    // datagram, which SRTP/SCTP tolerate.
                    let _ = self.socket.try_send_to(&t.contents, t.destination);
                }
                Output::Event(e) => {
                    self.note(&e);
                    out.events.push(e);
                }
            }
        }
        Err("str0m produced output without end".to_owned())
    }

    /// Remembers what later writes need: the mid and payload type per kind, the channel id.
    fn note(&mut self, event: &Event) {
        match event {
            Event::MediaAdded(m) => {
                let wanted = match m.kind {
                    MediaKind::Video => Codec::Vp8,
                    MediaKind::Audio => Codec::Opus,
                };
                let pt = self.rtc.writer(m.mid).and_then(|w| {
                    w.payload_params()
                        .find(|p| p.spec().codec == wanted)
                        .map(|p| p.pt())
                });
                if let Some(pt) = pt {
                    match m.kind {
                        MediaKind::Video => self.video = Some((m.mid, pt)),
                        MediaKind::Audio => self.audio = Some((m.mid, pt)),
                    }
                }
            }
            Event::ChannelOpen(id, label)
                if label == anam_core::wire::datachannel::CHANNEL_LABEL =>
            {
                self.channel = Some(*id);
            }
            Event::ChannelClose(id) if self.channel == Some(*id) => self.channel = None,
            _ => {}
        }
    }

    pub fn channel_open(&self) -> bool {
        self.channel.is_some()
    }

    pub fn has_media(&self) -> bool {
        self.video.is_some() || self.audio.is_some()
    }

    /// Writes one encoded VP8 frame; `frame_no` counts frames at `fps`.
    pub fn write_video(&mut self, now: StdInstant, frame_no: u64, fps: u32, data: &[u8]) -> bool {
        let Some((mid, pt)) = self.video else {
            return false;
        };
        let ts = MediaTime::new(
            frame_no * 90_000 / u64::from(fps.max(1)),
            Frequency::NINETY_KHZ,
        );
        match self.rtc.writer(mid) {
            Some(w) => w.write(pt, now, ts, data.to_vec()).is_ok(),
            None => false,
        }
    }

    /// Writes one Opus packet; `sample_pos` counts 48 kHz samples.
    pub fn write_audio(&mut self, now: StdInstant, sample_pos: u64, data: &[u8]) -> bool {
        let Some((mid, pt)) = self.audio else {
            return false;
        };
        let ts = MediaTime::new(sample_pos, Frequency::FORTY_EIGHT_KHZ);
        match self.rtc.writer(mid) {
            Some(w) => w.write(pt, now, ts, data.to_vec()).is_ok(),
            None => false,
        }
    }

    /// Sends one text message on the `session` channel. `false` if it is not open or full.
    pub fn send_text(&mut self, text: &str) -> bool {
        let Some(id) = self.channel else {
            return false;
        };
        match self.rtc.channel(id) {
            Some(mut ch) => ch.write(false, text.as_bytes()).unwrap_or(false),
            None => false,
        }
    }

    pub fn is_alive(&self) -> bool {
        self.rtc.is_alive()
    }

    pub fn close(&mut self) {
        self.rtc.disconnect();
    }
}

/// A readable name for an ICE state (control API).
pub fn ice_state_name(s: IceConnectionState) -> &'static str {
    match s {
        IceConnectionState::New => "new",
        IceConnectionState::Checking => "checking",
        IceConnectionState::Connected => "connected",
        IceConnectionState::Completed => "completed",
        IceConnectionState::Disconnected => "disconnected",
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v| v.is_loopback()),
    }
}

/// Rewrites an SDP so that every `a=msid:` and `a=ssrc:… msid:` line uses the stream id of the
/// first one. str0m picks a random stream id per track and has no setter; the official client
/// hands only the video track's stream to the `<video>` element, so without one shared stream
/// the persona would be silent (docs/PROTOCOL.md §16 item 7).
pub fn unify_stream_ids(sdp: &str) -> String {
    let first_stream = sdp.lines().find_map(|l| {
        l.strip_prefix("a=msid:")
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_owned)
    });
    let Some(stream) = first_stream else {
        return sdp.to_owned();
    };
    let mut out = String::with_capacity(sdp.len() + 64);
    for line in sdp.split_inclusive('\n') {
        let (body, ending) = match line.strip_suffix("\r\n") {
            Some(b) => (b, "\r\n"),
            None => match line.strip_suffix('\n') {
                Some(b) => (b, "\n"),
                None => (line, ""),
            },
        };
        if let Some(rest) = body.strip_prefix("a=msid:") {
            let track = rest.split_whitespace().nth(1);
            out.push_str("a=msid:");
            out.push_str(&stream);
            if let Some(track) = track {
                out.push(' ');
                out.push_str(track);
            }
        } else if let Some(rewritten) = rewrite_ssrc_msid(body, &stream) {
            out.push_str(&rewritten);
        } else {
            out.push_str(body);
        }
        out.push_str(ending);
    }
    out
}

/// `a=ssrc:123 msid:STREAM TRACK` → the same with `stream` as STREAM.
fn rewrite_ssrc_msid(line: &str, stream: &str) -> Option<String> {
    let rest = line.strip_prefix("a=ssrc:")?;
    let (ssrc, attr) = rest.split_once(' ')?;
    let msid = attr.strip_prefix("msid:")?;
    let track = msid.split_whitespace().nth(1);
    Some(match track {
        Some(t) => format!("a=ssrc:{ssrc} msid:{stream} {t}"),
        None => format!("a=ssrc:{ssrc} msid:{stream}"),
    })
}

/// The `a=mid:` of the first media section, for trickled candidates' `sdpMid`.
pub fn first_mid(sdp: &str) -> Option<String> {
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix("a=mid:").map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=msid:sv tv\r\n\
a=ssrc:1 cname:x\r\na=ssrc:1 msid:sv tv\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\n\
a=msid:sa ta\r\na=ssrc:2 msid:sa ta\r\n";

    #[test]
    fn audio_and_video_end_up_in_one_stream() {
        let out = unify_stream_ids(ANSWER);
        assert!(out.contains("a=msid:sv tv\r\n"));
        assert!(out.contains("a=msid:sv ta\r\n"));
        assert!(out.contains("a=ssrc:2 msid:sv ta\r\n"));
        assert!(out.contains("a=ssrc:1 cname:x\r\n"));
        assert!(!out.contains("sa "));
        assert_eq!(out.lines().count(), ANSWER.lines().count());
    }

    #[test]
    fn sdp_without_msid_is_unchanged() {
        assert_eq!(
            unify_stream_ids("v=0\r\nm=audio 9\r\n"),
            "v=0\r\nm=audio 9\r\n"
        );
        assert_eq!(first_mid(ANSWER).as_deref(), Some("0"));
    }

    #[test]
    fn only_loopback_is_used() {
        assert!(is_loopback("127.0.0.1".parse().unwrap()));
        assert!(is_loopback("::1".parse().unwrap()));
        assert!(!is_loopback("192.168.1.4".parse().unwrap()));
    }
}
