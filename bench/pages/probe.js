// Instrumentation shared by every bench page, loaded as the first classic script so that it
// sees everything a client does. It never changes behaviour: it subclasses WebSocket and
// RTCPeerConnection only to add listeners of its own, and records the first time each
// milestone happens (performance.now(), ms since navigation start).
(() => {
  const params = new URLSearchParams(location.hash.slice(1));
  const marks = {};
  const B = {
    params,
    marks,
    api: params.get("api"),
    errors: [],
    peers: [],
    /** Records `name` once (the first occurrence is the milestone). */
    mark(name) {
      if (!(name in marks)) marks[name] = performance.now();
    },
    /** The session token: given in the URL hash, or fetched from the app backend (timed). */
    async token() {
      if (params.get("token")) return params.get("token");
      B.mark("token requested");
      const res = await fetch(params.get("tokenUrl"), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ personaId: params.get("persona") || "persona-aria" }),
      });
      if (!res.ok) throw new Error(`token request failed: ${res.status}`);
      const { sessionToken } = await res.json();
      B.mark("token");
      return sessionToken;
    },
    /** Marks the first frame presented by `video` (requestVideoFrameCallback). */
    watchVideo(video) {
      const arm = () =>
        video.requestVideoFrameCallback((_now, meta) => {
          // Which frame was painted first: the emulator's RTP timestamps start at 0, so 0 means
          // none was dropped before it.
          if (!("first frame" in marks)) B.firstFrameRtp = meta?.rtpTimestamp ?? null;
          B.mark("first frame");
          B.framePresented?.();
        });
      arm();
      video.addEventListener("loadedmetadata", arm);
    },
    /** Resolves at the next frame `video` presents, or rejects after `ms`. */
    nextFrame(video, ms = 15000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no video frame within ${ms} ms`)), ms);
        video.requestVideoFrameCallback(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    /** Inbound video counters of every peer connection (for diagnostics). */
    async videoStats() {
      const out = [];
      for (const ref of B.peers) {
        const pc = ref.deref();
        if (!pc || pc.connectionState === "closed") continue;
        const stats = await pc.getStats();
        stats.forEach((r) => {
          if (r.type === "inbound-rtp" && r.kind === "video") {
            const { packetsReceived, framesReceived, framesDecoded, keyFramesDecoded, pliCount, firCount, nackCount, framesDropped } = r;
            out.push({ packetsReceived, framesReceived, framesDecoded, keyFramesDecoded, pliCount, firCount, nackCount, framesDropped });
          }
        });
      }
      return out;
    },
    /** Marks every public event of an SDK client (ours or the official one) when it fires. */
    watchClient(client) {
      const events = ["CONNECTION_ESTABLISHED", "VIDEO_STREAM_STARTED", "VIDEO_PLAY_STARTED", "SESSION_READY"];
      for (const name of events) client.addListener(name, () => B.mark(name));
      B.client = client;
      return client;
    },
    /** The page's own request: navigation start → the end of its HTML. */
    navigation() {
      const [e] = performance.getEntriesByType("navigation");
      return e ? { start: 0, end: e.responseEnd, transfer: e.transferSize } : null;
    },
    /** Start/end of the requests the breakdown needs, from the Resource Timing buffer. */
    resources() {
      return performance.getEntriesByType("resource").map((e) => ({
        name: e.name,
        start: e.startTime,
        end: e.responseEnd,
        transfer: e.transferSize,
        // Served from the HTTP cache: no bytes moved, no round trip (same-origin entries only;
        // a cross-origin one reports 0 bytes either way).
        cached: e.transferSize === 0 && e.encodedBodySize > 0,
        encoded: e.encodedBodySize,
      }));
    },
  };
  performance.setResourceTimingBufferSize(10000);
  window.addEventListener("error", (e) => B.errors.push(String(e.message)));
  window.addEventListener("unhandledrejection", (e) => B.errors.push(String(e.reason?.message ?? e.reason)));

  const NativeWebSocket = window.WebSocket;
  // #wsRelay=host:port (throttled profiles): a socket to the emulator goes through the bench's
  // relay instead, which delays its frames like the profile's link (bench/lib/relay.mjs). The
  // client sees the same server: the relay passes every byte on unchanged.
  const relayed = (url) => {
    const relay = params.get("wsRelay");
    if (!relay || !B.api) return url;
    const u = new URL(url, location.href);
    if (u.host !== new URL(B.api).host) return url;
    u.host = relay;
    return u.href;
  };
  class ProbedWebSocket extends NativeWebSocket {
    constructor(url, ...rest) {
      super(relayed(String(url)), ...rest);
      B.mark("socket created");
      this.addEventListener("open", () => B.mark("socket open"));
      this.addEventListener("message", (e) => {
        // Cheap pre-filter: only frames that can be an answer are parsed.
        if (typeof e.data === "string" && e.data.includes('"answer"')) {
          try {
            if (JSON.parse(e.data).actionType === "answer") B.mark("answer received");
          } catch {
            // Not JSON: the client under test will deal with it.
          }
        }
      });
    }
    send(data) {
      if (typeof data === "string" && data.includes('"offer"')) B.mark("offer sent");
      return super.send(data);
    }
  }
  window.WebSocket = ProbedWebSocket;

  const NativePeerConnection = window.RTCPeerConnection;
  class ProbedPeerConnection extends NativePeerConnection {
    constructor(...args) {
      super(...args);
      B.mark("peer connection created");
      // Weakly held: the probe must not keep a closed connection (and its listeners) alive,
      // or the memory measurement would see the probe's leak instead of the client's.
      B.peers.push(new WeakRef(this));
      this.addEventListener("signalingstatechange", () => {
        if (this.signalingState === "have-local-offer") B.mark("offer set");
        if (this.signalingState === "stable" && "offer set" in marks) B.mark("answer applied");
      });
      this.addEventListener("iceconnectionstatechange", () => {
        if (this.iceConnectionState === "connected" || this.iceConnectionState === "completed") {
          B.mark("ICE connected");
        }
      });
      this.addEventListener("connectionstatechange", () => {
        if (this.connectionState === "connected") B.mark("DTLS connected");
      });
      this.addEventListener("track", (e) => B.mark(`${e.track.kind} track`));
      this.addEventListener("icecandidate", (e) => e.candidate && B.mark("first local candidate"));
    }
    setLocalDescription(...args) {
      B.mark("offer being set");
      return super.setLocalDescription(...args);
    }
    setRemoteDescription(...args) {
      B.mark("answer being set");
      return super.setRemoteDescription(...args);
    }
    addIceCandidate(...args) {
      B.mark("first remote candidate added");
      return super.addIceCandidate(...args);
    }
  }
  window.RTCPeerConnection = ProbedPeerConnection;

  // The microphone request, whoever makes it (both SDKs ask by default, the floor with #mic=1).
  const md = navigator.mediaDevices;
  if (md?.getUserMedia) {
    const native = md.getUserMedia.bind(md);
    md.getUserMedia = (constraints) => {
      B.mark("microphone requested");
      return native(constraints).then((stream) => {
        B.mark("microphone granted");
        return stream;
      });
    };
  }
  window.__bench = B;
})();
