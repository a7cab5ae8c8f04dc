//! A scripted WebRTC client for tests and the capacity tool: plays the official client's part
//! (§1) with str0m as the offerer, over a real WebSocket and loopback UDP.
#![allow(dead_code)] // each user takes the parts it needs

use std::net::SocketAddr;
use std::time::{Duration, Instant as StdInstant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Minimal HTTP/1.1 request over a raw socket: (status, JSON body or Null).
pub async fn http(
    host: &str,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let mut s = TcpStream::connect(host).await.expect("connect");
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let auth = auth
        .map(|a| format!("authorization: Bearer {a}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n{auth}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Mints a token for `persona` and starts a session: returns the session id.
pub async fn start_session(host: &str, api_key: &str, persona: Value) -> Result<String, String> {
    let (status, body) = http(
        host,
        "POST",
        "/v1/auth/session-token",
        Some(api_key),
        &json!({"personaConfig": persona}),
    )
    .await;
    if status != 200 {
        return Err(format!("token: {status} {body}"));
    }
    let token = body["sessionToken"].as_str().unwrap_or_default().to_owned();
    let (status, body) = http(host, "POST", "/v1/engine/session", Some(&token), &json!({})).await;
    if status != 200 {
        return Err(format!("start: {status} {body}"));
    }
    Ok(body["sessionId"].as_str().unwrap_or_default().to_owned())
}

pub struct TestClient {
    pub session_id: String,
    ws: Ws,
    rtc: Rtc,
    sock: UdpSocket,
    local: SocketAddr,
    pending: Option<SdpPendingOffer>,
    video_mid: Mid,
    audio_mid: Mid,
    channel: Option<ChannelId>,
    wake: Instant,
    pub connected: bool,
    pub ready: bool,
    pub ws_closed: bool,
    pub video_frames: u64,
    pub audio_packets: u64,
    /// Every `data` of a `speechText` received, in order.
    pub speech: Vec<Value>,
    /// Every data-channel message received (all types), in order.
    pub data: Vec<Value>,
    /// Every signalling message other than answer/icecandidate/sessionready.
    pub signals: Vec<Value>,
}

impl TestClient {
    /// Opens the WebSocket and sends an offer (video recvonly, audio sendrecv, channel `session`).
    pub async fn connect(host: &str, session_id: &str) -> Result<TestClient, String> {
        let url = format!("ws://{host}/ws?session_id={session_id}");
        let (mut ws, _) = connect_async(url).await.map_err(|e| e.to_string())?;
        let sock = UdpSocket::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let local = sock.local_addr().map_err(|e| e.to_string())?;
        let now = Instant::now();
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_vp8(true)
            .enable_opus(true, false)
            .build(now.into_std());
        rtc.add_local_candidate(Candidate::host(local, "udp").map_err(|e| e.to_string())?);
        let mut api = rtc.sdp_api();
        let _channel = api.add_channel("session".to_owned());
        let video_mid = api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        let audio_mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = api.apply().ok_or("nothing to offer")?;
        let msg = json!({
            "actionType": "offer",
            "sessionId": session_id,
            "payload": {"connectionDescription": {"type": "offer", "sdp": offer.to_sdp_string()}, "userUid": session_id},
        });
        ws.send(Message::Text(msg.to_string().into()))
            .await
            .map_err(|e| e.to_string())?;
        Ok(TestClient {
            session_id: session_id.to_owned(),
            ws,
            rtc,
            sock,
            local,
            pending: Some(pending),
            video_mid,
            audio_mid,
            channel: None,
            wake: now,
            connected: false,
            ready: false,
            ws_closed: false,
            video_frames: 0,
            audio_packets: 0,
            speech: Vec::new(),
            data: Vec::new(),
            signals: Vec::new(),
        })
    }

    /// Sends a data-channel text message; `false` if the channel is not open.
    pub fn send_data(&mut self, text: &str) -> bool {
        let Some(id) = self.channel else { return false };
        match self.rtc.channel(id) {
            Some(mut ch) => ch.write(false, text.as_bytes()).unwrap_or(false),
            None => false,
        }
    }

    /// Sends one Opus packet on the microphone track; `sample_pos` counts 48 kHz samples.
    /// `false` until the audio sender is ready.
    pub fn send_opus(&mut self, packet: &[u8], sample_pos: u64) -> bool {
        let Some(writer) = self.rtc.writer(self.audio_mid) else {
            return false;
        };
        let Some(pt) = writer
            .payload_params()
            .find(|p| p.spec().codec == str0m::format::Codec::Opus)
            .map(|p| p.pt())
        else {
            return false;
        };
        let time =
            str0m::media::MediaTime::new(sample_pos, str0m::media::Frequency::FORTY_EIGHT_KHZ);
        writer
            .write(pt, Instant::now().into_std(), time, packet.to_vec())
            .is_ok()
    }

    /// Sends a second offer with new ICE credentials (what the official client does after a
    /// network loss, §8.5).
    pub async fn restart_ice(&mut self) -> Result<(), String> {
        let mut api = self.rtc.sdp_api();
        api.ice_restart(true);
        let (offer, pending) = api.apply().ok_or("nothing to offer")?;
        self.pending = Some(pending);
        let payload = json!({"connectionDescription": {"type": "offer", "sdp": offer.to_sdp_string()}, "userUid": self.session_id});
        self.send_signal("offer", payload).await;
        Ok(())
    }

    /// Whether the last offer has been answered.
    pub fn answered(&self) -> bool {
        self.pending.is_none()
    }

    pub async fn send_signal(&mut self, action: &str, payload: Value) {
        let msg = json!({"actionType": action, "sessionId": self.session_id, "payload": payload});
        let _ = self.ws.send(Message::Text(msg.to_string().into())).await;
    }

    /// Runs the client until `done(self)` holds or `timeout` passes; returns whether it held.
    pub async fn run_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&TestClient) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 2048];
        loop {
            self.drain();
            if done(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            let wake = self.wake.min(deadline);
            tokio::select! {
                msg = self.ws.next(), if !self.ws_closed => match msg {
                    Some(Ok(Message::Text(t))) => self.on_signal(t.as_str()),
                    Some(Ok(_)) => {}
                    _ => self.ws_closed = true,
                },
                r = self.sock.recv_from(&mut buf) => {
                    if let Ok((n, from)) = r {
                        if let Ok(contents) = buf[..n].try_into() {
                            let input = Input::Receive(Instant::now().into_std(), Receive {
                                proto: Protocol::Udp, source: from, destination: self.local, contents,
                            });
                            let _ = self.rtc.handle_input(input);
                        }
                    }
                }
                _ = tokio::time::sleep_until(wake) => {
                    let _ = self.rtc.handle_input(Input::Timeout(Instant::now().into_std()));
                }
            }
        }
    }

    fn on_signal(&mut self, text: &str) {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return;
        };
        match v["actionType"].as_str() {
            Some("answer") => {
                let sdp = v["payload"]["sdp"].as_str().unwrap_or_default();
                if let (Some(pending), Ok(answer)) =
                    (self.pending.take(), SdpAnswer::from_sdp_string(sdp))
                {
                    let _ = self.rtc.sdp_api().accept_answer(pending, answer);
                }
            }
            Some("icecandidate") => {
                if let Some(c) = v["payload"]["candidate"]
                    .as_str()
                    .and_then(|c| Candidate::from_sdp_string(c).ok())
                {
                    self.rtc.add_remote_candidate(c);
                }
            }
            Some("sessionready") => self.ready = true,
            _ => self.signals.push(v),
        }
    }

    fn drain(&mut self) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.wake = Instant::from_std(t);
                    return;
                }
                Ok(Output::Transmit(t)) => {
                    let _ = self.sock.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(e)) => match e {
                    Event::Connected => self.connected = true,
                    Event::ChannelOpen(id, _) => self.channel = Some(id),
                    Event::ChannelData(d) => {
                        if let Ok(v) = serde_json::from_slice::<Value>(&d.data) {
                            if v["messageType"] == "speechText" {
                                self.speech.push(v["data"].clone());
                            }
                            self.data.push(v);
                        }
                    }
                    Event::MediaData(m) => {
                        if m.mid == self.video_mid {
                            self.video_frames += 1;
                        } else {
                            self.audio_packets += 1;
                        }
                    }
                    _ => {}
                },
                Err(_) => {
                    self.wake = Instant::now() + Duration::from_secs(3600);
                    return;
                }
            }
        }
    }
}

/// Wall-clock helper for measurements (the workspace bans `std::time::Instant::now`).
pub fn std_now() -> StdInstant {
    Instant::now().into_std()
}
