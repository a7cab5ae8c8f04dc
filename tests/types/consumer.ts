// Type-level tests of pkg/anam_wasm.d.ts: `tsc --strict --noEmit -p tests/types` must accept
// every positive case and reject every line marked @ts-expect-error.
import init, {
  AnamEvent,
  AudioPermissionState,
  ConnectionClosedCode,
  ErrorCode,
  createClient,
  fetchSessionToken,
  type AnamClient,
  type ClientError,
  type InputAudioState,
  type Message,
  type MessageStreamEvent,
  type ReconnectingInfo,
  type TalkMessageStream,
} from "../../pkg/anam_wasm.js";

export async function positive(): Promise<void> {
  await init();
  const client: AnamClient = createClient(() => fetchSessionToken("/api/session-token"), {
    api: { baseUrl: "http://127.0.0.1:8787", apiVersion: "/v1", retry: { maxAttempts: 2 } },
    iceServers: [{ urls: "stun:127.0.0.1:3478" }],
    voiceDetection: { endOfSpeechSensitivity: 0.5 },
  });
  createClient("a.b.c");
  client.addListener(AnamEvent.SESSION_READY, (sessionId: string) => sessionId.length);
  client.addListener("MESSAGE_HISTORY_UPDATED", (messages: Message[]) => messages[0]?.content);
  client.addListener(AnamEvent.MESSAGE_STREAM_EVENT_RECEIVED, (e: MessageStreamEvent) => e.endOfSpeech);
  client.addListener(AnamEvent.CONNECTION_CLOSED, (code, details) => {
    const c: ConnectionClosedCode = code;
    const d: string | undefined = details;
    return [c, d];
  });
  client.addListener(AnamEvent.VIDEO_STREAM_STARTED, (s: MediaStream) => s.id);
  client.addListener(AnamEvent.VIDEO_PLAY_STARTED, () => undefined);
  await client.streamToVideoElement("v");
  const streams: MediaStream[] = await client.stream();
  await client.talk("hello");
  const ts: TalkMessageStream = client.createTalkMessageStream("corr");
  ts.streamMessageChunk("a", false);
  ts.endMessage();
  const state: 0 | 1 | 2 | 3 = ts.getState();
  const audio: InputAudioState = client.muteInputAudio();
  const perm: AudioPermissionState = audio.permissionState;
  const sid: string | null = client.getActiveSessionId();
  await client.stopStreaming();

  // Extensions: autoResume, RECONNECTING/RECONNECTED, {signal, userAudio}.
  const resuming = createClient(async () => "token", { autoResume: { maxAttempts: 2 } });
  createClient(async () => "token", { autoResume: true });
  resuming.addListener(AnamEvent.RECONNECTING, (info: ReconnectingInfo) => {
    const reason: ConnectionClosedCode = info.reason;
    return [info.attempt + 1, reason];
  });
  resuming.addListener("RECONNECTED", (sessionId: string) => sessionId.length);
  const controller = new AbortController();
  await resuming.streamToVideoElement("v", { signal: controller.signal });
  const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
  await resuming.streamToVideoElement("v", mic);
  const more: MediaStream[] = await resuming.stream({ signal: controller.signal, userAudio: mic });
  await resuming.stream(mic);
  void more;
  try {
    await fetchSessionToken("/api/session-token", { method: "POST" });
  } catch (e) {
    const err = e as ClientError;
    const code: ErrorCode = err.code;
    const status: number = err.statusCode;
    const solution: string | undefined = err.details?.solution;
    if (code === ErrorCode.CLIENT_ERROR_CODE_AUTHENTICATION_ERROR) return;
    void [status, solution];
  }
  void [streams, state, perm, sid];
}

export function negative(client: AnamClient): void {
  // @ts-expect-error: unknown event name
  client.addListener("SESSION_STARTED", () => undefined);
  // @ts-expect-error: SESSION_READY passes a string, not a number
  client.addListener(AnamEvent.SESSION_READY, (id: number) => id);
  // @ts-expect-error: history is a Message[]
  client.addListener(AnamEvent.MESSAGE_HISTORY_UPDATED, (m: string) => m);
  // @ts-expect-error: talk takes text
  void client.talk(42);
  // @ts-expect-error: no API-key factory exists
  void createClient({ apiKey: "k" });
  // @ts-expect-error: baseUrl is a string
  createClient("t", { api: { baseUrl: 1 } });
  // @ts-expect-error: the enum values are exact strings
  const code: ConnectionClosedCode = "NORMAL";
  // @ts-expect-error: streamMessageChunk needs endOfSpeech
  client.createTalkMessageStream().streamMessageChunk("x");
  // @ts-expect-error: getActiveSessionId may be null
  const sid: string = client.getActiveSessionId();
  // @ts-expect-error: autoResume is a boolean or {maxAttempts}
  createClient(async () => "t", { autoResume: 3 });
  // @ts-expect-error: signal must be an AbortSignal
  void client.stream({ signal: "stop" });
  // @ts-expect-error: RECONNECTED passes the new session id
  client.addListener(AnamEvent.RECONNECTED, (info: ReconnectingInfo) => info);
  void [code, sid];
}
