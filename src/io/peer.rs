//! The peer connection with its data channel, transceivers and listeners (§8.1-§8.3).

use std::rc::Rc;

use anam_core::wire::signalling::IceCandidate;
use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, MediaStreamTrack, MessageEvent, RtcConfiguration, RtcDataChannel,
    RtcDataChannelInit, RtcIceCandidateInit, RtcOfferOptions, RtcPeerConnection,
    RtcPeerConnectionIceEvent, RtcRtpSender, RtcRtpTransceiverDirection, RtcRtpTransceiverInit,
    RtcSdpType, RtcSessionDescriptionInit, RtcSignalingState, RtcTrackEvent,
};

use crate::js::{get, set};
use gloo_events::EventListener;

/// What the peer connection reports.
pub enum PeerEvent {
    LocalCandidate(IceCandidate),
    IceState(String),
    ConnectionState(String),
    Track {
        kind: String,
        stream: Option<MediaStream>,
    },
    DataChannelOpen,
    DataChannelClosed,
    DataChannelMessage(String),
}

pub struct Peer {
    pub pc: RtcPeerConnection,
    dc: RtcDataChannel,
    audio_sender: RtcRtpSender,
    /// The receivers' tracks (video, audio), which exist before any media arrives.
    remote_stream: MediaStream,
    listeners: Vec<EventListener>,
}

impl Peer {
    /// Creates the connection: data channel `session` (ordered), then video recvonly, then audio
    /// sendrecv (recvonly when input audio is disabled), in the official order.
    pub fn create(
        config: &Object,
        send_audio: bool,
        on: Rc<dyn Fn(PeerEvent)>,
    ) -> Result<Peer, JsValue> {
        let pc =
            RtcPeerConnection::new_with_configuration(config.unchecked_ref::<RtcConfiguration>())?;
        let dc_init = RtcDataChannelInit::new();
        dc_init.set_ordered(true);
        let dc = pc.create_data_channel_with_data_channel_dict("session", &dc_init);
        let video = RtcRtpTransceiverInit::new();
        video.set_direction(RtcRtpTransceiverDirection::Recvonly);
        let video_receiver = pc
            .add_transceiver_with_str_and_init("video", &video)
            .receiver();
        let audio = RtcRtpTransceiverInit::new();
        audio.set_direction(if send_audio {
            RtcRtpTransceiverDirection::Sendrecv
        } else {
            RtcRtpTransceiverDirection::Recvonly
        });
        let audio_transceiver = pc.add_transceiver_with_str_and_init("audio", &audio);
        let tracks: js_sys::Array = [video_receiver.track(), audio_transceiver.receiver().track()]
            .iter()
            .collect();
        let remote_stream = MediaStream::new_with_tracks(&tracks)?;
        let audio_sender = audio_transceiver.sender();

        let pc_target: &web_sys::EventTarget = pc.as_ref();
        let dc_target: &web_sys::EventTarget = dc.as_ref();
        let (a, b, c, d, e, f, g) = (
            on.clone(),
            on.clone(),
            on.clone(),
            on.clone(),
            on.clone(),
            on.clone(),
            on,
        );
        let pc2 = pc.clone();
        let pc3 = pc.clone();
        let listeners = vec![
            EventListener::new(pc_target, "icecandidate", move |ev| {
                let candidate = ev
                    .dyn_ref::<RtcPeerConnectionIceEvent>()
                    .and_then(|e| e.candidate());
                // The final null candidate is not forwarded (§8.3 item 2).
                if let Some(c) = candidate.and_then(|c| candidate_from_js(&c.to_json())) {
                    a(PeerEvent::LocalCandidate(c));
                }
            }),
            EventListener::new(pc_target, "iceconnectionstatechange", move |_| {
                let state = get(&pc2, "iceConnectionState")
                    .as_string()
                    .unwrap_or_default();
                b(PeerEvent::IceState(state));
            }),
            EventListener::new(pc_target, "connectionstatechange", move |_| {
                let state = get(&pc3, "connectionState").as_string().unwrap_or_default();
                c(PeerEvent::ConnectionState(state));
            }),
            EventListener::new(pc_target, "track", move |ev| {
                if let Some(t) = ev.dyn_ref::<RtcTrackEvent>() {
                    let stream = t.streams().get(0).dyn_into::<MediaStream>().ok();
                    d(PeerEvent::Track {
                        kind: t.track().kind(),
                        stream,
                    });
                }
            }),
            EventListener::new(dc_target, "open", move |_| e(PeerEvent::DataChannelOpen)),
            EventListener::new(dc_target, "close", move |_| f(PeerEvent::DataChannelClosed)),
            EventListener::new(dc_target, "message", move |ev| {
                if let Some(text) = ev
                    .dyn_ref::<MessageEvent>()
                    .and_then(|m| m.data().as_string())
                {
                    g(PeerEvent::DataChannelMessage(text));
                }
            }),
        ];
        Ok(Peer {
            pc,
            dc,
            audio_sender,
            remote_stream,
            listeners,
        })
    }

    /// The sender of the audio transceiver, where input tracks go (by `replaceTrack`, so no
    /// renegotiation: the transceiver is already sendrecv).
    pub fn audio_sender(&self) -> RtcRtpSender {
        self.audio_sender.clone()
    }

    /// The persona's video and audio for a `<video>`, usable before they arrive.
    ///
    /// An element given this stream before the answer is ready when the first frame comes.
    /// Given the `track` event's stream instead (when the answer is applied, a few ms before
    /// media), Chromium was still setting the element up when that frame arrived, dropped it
    /// and painted the next, 40 ms later at 25 fps (make bench: the first painted frame's RTP
    /// timestamp).
    pub fn remote_stream(&self) -> &MediaStream {
        &self.remote_stream
    }

    /// `createOffer` (+ rollback of a pending offer first) and `setLocalDescription`.
    ///
    /// The offer is sent only once it is applied. Sent earlier, the answer can be applied right
    /// behind it, and Chromium then sometimes gathers no local candidate at all: in back-to-back
    /// sessions on loopback, about one in 30 never connected (tests/e2e/lifecycle.test.mjs checks
    /// the order itself; the rarer stall that remained came from the candidate pool, see
    /// [`configuration`]).
    pub fn create_offer(
        &self,
        ice_restart: bool,
    ) -> impl std::future::Future<Output = Result<String, JsValue>> {
        let pc = self.pc.clone();
        async move {
            if ice_restart && pc.signaling_state() != RtcSignalingState::Stable {
                let rollback = RtcSessionDescriptionInit::new(RtcSdpType::Rollback);
                JsFuture::from(pc.set_local_description(&rollback)).await?;
            }
            let options = RtcOfferOptions::new();
            if ice_restart {
                options.set_ice_restart(true);
            }
            let offer = JsFuture::from(pc.create_offer_with_rtc_offer_options(&options)).await?;
            let sdp = get(&offer, "sdp").as_string().unwrap_or_default();
            let desc = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
            desc.set_sdp(&sdp);
            JsFuture::from(pc.set_local_description(&desc)).await?;
            Ok(sdp)
        }
    }

    pub fn apply_answer(
        &self,
        sdp: &str,
    ) -> impl std::future::Future<Output = Result<(), JsValue>> {
        let pc = self.pc.clone();
        let desc = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
        desc.set_sdp(sdp);
        async move {
            JsFuture::from(pc.set_remote_description(&desc)).await?;
            Ok(())
        }
    }

    pub fn add_remote_candidate(
        &self,
        c: &IceCandidate,
    ) -> impl std::future::Future<Output = Result<(), JsValue>> {
        let pc = self.pc.clone();
        let init = RtcIceCandidateInit::new(&c.candidate);
        init.set_sdp_mid(c.sdp_mid.as_deref());
        init.set_sdp_m_line_index(c.sdp_m_line_index);
        if let Some(u) = &c.username_fragment {
            set(&init, "usernameFragment", &JsValue::from_str(u));
        }
        async move {
            JsFuture::from(pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init)))
                .await?;
            Ok(())
        }
    }

    /// The entries of a `getStats()` report, each a plain stats dictionary.
    pub fn stats(&self) -> impl std::future::Future<Output = Result<Vec<JsValue>, JsValue>> {
        let report = JsFuture::from(self.pc.get_stats());
        async move {
            let report = report.await?;
            let values = get(&report, "values")
                .dyn_into::<js_sys::Function>()?
                .call0(&report)?;
            Ok(js_sys::try_iter(&values)?
                .map(|it| it.filter_map(Result::ok).collect())
                .unwrap_or_default())
        }
    }

    /// Stops reporting the connection's events; it stays open until dropped.
    pub fn detach(&mut self) {
        self.listeners.clear();
    }

    /// Sends on the data channel when it is open (silently dropped otherwise, like the SDK).
    pub fn send_data(&self, text: &str) {
        if get(&self.dc, "readyState").as_string().as_deref() == Some("open") {
            if let Err(e) = self.dc.send_with_str(text) {
                web_sys::console::warn_2(&JsValue::from_str("data channel send failed"), &e);
            }
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Detach first so that closing on purpose is not reported as a failure (§11.1 item 9).
        self.listeners.clear();
        self.dc.close();
        self.pc.close();
    }
}

/// Reads an `RTCIceCandidateInit`-shaped JS object.
fn candidate_from_js(v: &JsValue) -> Option<IceCandidate> {
    let candidate = get(v, "candidate").as_string()?;
    if candidate.is_empty() {
        return None;
    }
    Some(IceCandidate {
        candidate,
        sdp_mid: get(v, "sdpMid").as_string(),
        sdp_m_line_index: get(v, "sdpMLineIndex").as_f64().map(|n| n as u16),
        username_fragment: get(v, "usernameFragment").as_string(),
    })
}

/// Builds the `RTCConfiguration` of §8.1: the app's `rtcConfiguration`, then the transport policy
/// (app's, else server's), then the ICE servers (app option, else app `rtcConfiguration`, else
/// server's).
///
/// Unlike the official client this sets no `iceCandidatePoolSize: 2` of its own (an app may still
/// set one): with the pool, Chromium left 1 to 6 of 1,000 back-to-back sessions gathering forever
/// with no local candidate, against 0 of 2,000 without it, with the cores kept busy
/// (docs/RELIABILITY.md, C1), and ICE restarts did not revive such a connection. The pool does
/// not make the first frame faster either (`make bench` times both).
pub fn configuration(
    app_rtc: Option<&Object>,
    app_ice_servers: Option<&JsValue>,
    server_ice_servers_json: &str,
    server_policy: Option<&str>,
) -> Object {
    let config = Object::new();
    if let Some(rtc) = app_rtc {
        let _ = Object::assign(&config, rtc);
    }
    let app_policy = app_rtc
        .map(|r| get(r, "iceTransportPolicy"))
        .filter(|v| !v.is_undefined());
    match (app_policy, server_policy) {
        (Some(p), _) => set(&config, "iceTransportPolicy", &p),
        (None, Some(p)) => set(&config, "iceTransportPolicy", &JsValue::from_str(p)),
        (None, None) => {
            let _ = Reflect::delete_property(&config, &JsValue::from_str("iceTransportPolicy"));
        }
    }
    let servers = app_ice_servers
        .cloned()
        .or_else(|| {
            app_rtc
                .map(|r| get(r, "iceServers"))
                .filter(|v| !v.is_undefined())
        })
        .unwrap_or_else(|| {
            js_sys::JSON::parse(server_ice_servers_json)
                .unwrap_or_else(|_| js_sys::Array::new().into())
        });
    set(&config, "iceServers", &servers);
    config
}

/// Puts `track` on `sender`.
pub async fn attach_input(sender: RtcRtpSender, track: MediaStreamTrack) -> Result<(), JsValue> {
    JsFuture::from(sender.replace_track(Some(&track))).await?;
    Ok(())
}
