// The raw-JS floor: the least a page must do to show the persona, written straight from the
// protocol (start-session, signalling socket, one peer connection with the SDK's data channel
// and transceivers, offer, trickle, answer), with no SDK. The <video> gets the receivers' tracks
// when the peer connection is created. Two orders:
//  - "parallel" (default): the peer connection, offer and ICE gathering start while the
//    start-session request is in flight; the offer goes out the moment the socket opens.
//  - "sdk" (#order=sdk): the official SDK's order, the peer connection created on socket open.
// With #mic=1 it also asks for the microphone in parallel, as both SDKs do by default.
const B = window.__bench;

/** One session; resolves with {sessionId, stop()} once the answer is applied. */
export async function openSession(token, { video = null, order = "parallel", mic = false, onFrame } = {}) {
  let ws = null;
  let sessionId = null;
  let offerSent = false;
  let answered = false;
  let heartbeat = null;
  const localCandidates = [];
  const remoteCandidates = [];
  let pc = null;
  let offerReady = null;

  const send = (actionType, payload) => ws.send(JSON.stringify({ actionType, sessionId, payload }));
  const sendCandidate = (c) => send("icecandidate", c.toJSON());

  function createPeer(iceServers) {
    pc = new RTCPeerConnection({ iceServers });
    pc.createDataChannel("session", { ordered: true });
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "sendrecv" });
    pc.addEventListener("icecandidate", (e) => {
      if (!e.candidate) return;
      if (offerSent) sendCandidate(e.candidate);
      else localCandidates.push(e.candidate);
    });
    if (video) {
      // The receivers' tracks exist before any media: an element given them now is ready for
      // the first frame (given the track event's stream, Chromium drops that frame).
      video.srcObject = new MediaStream(pc.getReceivers().map((r) => r.track));
      video.requestVideoFrameCallback(() => onFrame?.());
    }
    offerReady = pc.createOffer().then((offer) => pc.setLocalDescription(offer));
    if (mic) {
      // As both SDKs do by default: ask for the microphone in parallel, never waiting for it,
      // and put the track on the existing audio sender (no renegotiation).
      navigator.mediaDevices
        .getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true } })
        .then((stream) => {
          const sender = pc.getTransceivers().find((t) => t.receiver.track.kind === "audio")?.sender;
          return sender?.replaceTrack(stream.getAudioTracks()[0]);
        })
        .catch((e) => B.errors.push(`microphone: ${e.message}`));
    }
  }

  async function sendOffer() {
    await offerReady;
    const { type, sdp } = pc.localDescription;
    send("offer", { connectionDescription: { type, sdp }, userUid: sessionId });
    offerSent = true;
    for (const c of localCandidates.splice(0)) sendCandidate(c);
  }

  async function onMessage(event) {
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch {
      return;
    }
    if (msg.actionType === "answer" && pc.signalingState === "have-local-offer") {
      await pc.setRemoteDescription(msg.payload);
      answered = true;
      for (const c of remoteCandidates.splice(0)) await pc.addIceCandidate(c).catch(() => {});
    } else if (msg.actionType === "icecandidate") {
      if (answered) await pc.addIceCandidate(msg.payload).catch(() => {});
      else remoteCandidates.push(msg.payload);
    } else if (msg.actionType === "sessionready") {
      B.mark("SESSION_READY");
    }
  }

  if (order === "parallel") createPeer([]);
  B.mark("start-session requested");
  const res = await fetch(`${B.api}/v1/engine/session`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ clientMetadata: { client: "bench-floor", version: "0" } }),
  });
  const session = await res.json();
  if (!res.ok) throw new Error(`start-session failed: ${res.status} ${session?.message ?? ""}`);
  B.mark("start-session");
  sessionId = session.sessionId;
  const scheme = session.engineProtocol === "http" ? "ws" : "wss";
  const url = new URL(`${scheme}://${session.engineHost}`);
  url.pathname = session.signallingEndpoint || "/ws";
  url.search = `session_id=${encodeURIComponent(sessionId)}`;
  ws = new WebSocket(url);
  ws.addEventListener("message", (e) => {
    onMessage(e).catch((err) => B.errors.push(String(err?.message ?? err)));
  });
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("close", () => reject(new Error("signalling socket closed")), { once: true });
  });
  if (order !== "parallel") createPeer(session.clientConfig?.iceServers ?? []);
  await sendOffer();
  const every = (session.clientConfig?.heartbeatIntervalSeconds || 5) * 1000;
  heartbeat = setInterval(() => ws.readyState === WebSocket.OPEN && send("heartbeat", ""), every);
  return {
    sessionId,
    stop() {
      clearInterval(heartbeat);
      ws.close();
      pc.close();
    },
  };
}

/** The time-to-first-frame page: one session into the <video>, marks on the way. */
export async function runFloor() {
  const video = document.getElementById("persona");
  B.watchVideo(video);
  const token = await B.token();
  B.mark("createClient");
  const order = B.params.get("order") || "parallel";
  B.session = await openSession(token, { video, order, mic: B.params.get("mic") === "1" });
}

/**
 * The capacity page: opens one session per token without rendering video (only a muted,
 * detached element per session so that the stream is consumed as an app would), so that the
 * browser's own load stays small next to the emulator's.
 */
export async function openMany(tokens, { render = false } = {}) {
  const sessions = await Promise.all(
    tokens.map((t) => {
      const video = render ? Object.assign(document.createElement("video"), { muted: true, autoplay: true }) : null;
      if (video) document.body.append(video);
      return openSession(t, { video });
    }),
  );
  B.sessions = (B.sessions ?? []).concat(sessions);
  return sessions.map((s) => s.sessionId);
}
