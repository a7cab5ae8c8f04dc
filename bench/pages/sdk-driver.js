// Drives a client with the official SDK's public API (ours and @anam-ai/js-sdk expose the same
// one), the way an app would: token, createClient, streamToVideoElement. Every public event is
// marked the moment it fires. With `#mode=manual` the page only loads and waits for the bench
// to call window.__bench.cycle() (memory) or .talk() (talk latency).
const B = window.__bench;
const EVENTS = [
  "CONNECTION_ESTABLISHED",
  "DATA_CHANNEL_OPEN",
  "VIDEO_STREAM_STARTED",
  "AUDIO_STREAM_STARTED",
  "VIDEO_PLAY_STARTED",
  "SESSION_READY",
  "CONNECTION_CLOSED",
];

/** `adapter`: {load(): Promise<{wasmMemory?}>, createClient(token, options)}. */
export async function drive(adapter) {
  const video = document.getElementById("persona");
  B.watchVideo(video);
  const [loaded, token] = await Promise.all([
    adapter.load().then((x) => {
      B.mark("client loaded");
      return x ?? {};
    }),
    B.token(),
  ]);
  B.wasmMemory = loaded.wasmMemory ?? null;
  const options = { api: { baseUrl: B.api } };
  // #mic=0: no microphone (both SDKs ask for it by default), to compare with the raw-JS floor.
  if (B.params.get("mic") === "0") options.disableInputAudio = true;
  // #pool=N: an iceCandidatePoolSize through rtcConfiguration, as an app may pass one.
  if (B.params.get("pool")) options.rtcConfiguration = { iceCandidatePoolSize: Number(B.params.get("pool")) };

  B.mark("createClient");
  const client = adapter.createClient(token, options);
  B.client = client;
  for (const name of EVENTS) client.addListener(name, () => B.mark(name));

  /** Starts a session and resolves once the server says it is ready and a frame is painted. */
  B.begin = async () => {
    const ready = new Promise((resolve) => {
      const onReady = () => {
        client.removeListener("SESSION_READY", onReady);
        resolve();
      };
      client.addListener("SESSION_READY", onReady);
    });
    await client.streamToVideoElement("persona");
    // The timeout is cleared: a pending timer per cycle would count as growth in the memory
    // measurement (its callback and promise stay alive for 15 s).
    let timer;
    await Promise.race([
      ready,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("no SESSION_READY in 15 s")), 15000))),
    ]).finally(() => clearTimeout(timer));
    await B.nextFrame(video);
  };
  /** One stream → ready → painted → stop cycle (the memory measurement repeats it). */
  B.cycle = async () => {
    await B.begin();
    await client.stopStreaming();
  };
  /** talk() duration in ms plus its start on the epoch clock (to match the emulator's view). */
  B.talk = async (text) => {
    const start = performance.now();
    await client.talk(text);
    const end = performance.now();
    return { startEpoch: performance.timeOrigin + start, ms: end - start };
  };

  if (B.params.get("mode") === "manual") {
    B.mark("manual ready");
    return;
  }
  await client.streamToVideoElement("persona");
  B.mark("streamToVideoElement resolved");
}

/** Runs `drive` and records a failure where the bench can read it. */
export function start(adapter) {
  drive(adapter).catch((e) => {
    B.errors.push(`${e?.name ?? "Error"}: ${e?.message ?? e}`);
  });
}
