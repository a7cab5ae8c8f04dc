// Public types of anam-wasm, appended to pkg/anam_wasm.d.ts by scripts/finish-pkg.mjs.
// The names and shapes follow the official @anam-ai/js-sdk so that app code ports unchanged.

export declare const AnamEvent: {
  readonly MESSAGE_HISTORY_UPDATED: "MESSAGE_HISTORY_UPDATED";
  readonly MESSAGE_STREAM_EVENT_RECEIVED: "MESSAGE_STREAM_EVENT_RECEIVED";
  readonly CONNECTION_ESTABLISHED: "CONNECTION_ESTABLISHED";
  readonly DATA_CHANNEL_OPEN: "DATA_CHANNEL_OPEN";
  readonly CONNECTION_CLOSED: "CONNECTION_CLOSED";
  readonly INPUT_AUDIO_STREAM_STARTED: "INPUT_AUDIO_STREAM_STARTED";
  readonly VIDEO_STREAM_STARTED: "VIDEO_STREAM_STARTED";
  readonly VIDEO_PLAY_STARTED: "VIDEO_PLAY_STARTED";
  readonly AUDIO_STREAM_STARTED: "AUDIO_STREAM_STARTED";
  readonly TALK_STREAM_INTERRUPTED: "TALK_STREAM_INTERRUPTED";
  readonly SESSION_READY: "SESSION_READY";
  readonly SERVER_WARNING: "SERVER_WARNING";
  readonly MIC_PERMISSION_PENDING: "MIC_PERMISSION_PENDING";
  readonly MIC_PERMISSION_GRANTED: "MIC_PERMISSION_GRANTED";
  readonly MIC_PERMISSION_DENIED: "MIC_PERMISSION_DENIED";
  readonly INPUT_AUDIO_DEVICE_CHANGED: "INPUT_AUDIO_DEVICE_CHANGED";
  readonly CLIENT_TOOL_EVENT_RECEIVED: "CLIENT_TOOL_EVENT_RECEIVED";
  readonly TOOL_CALL_STARTED: "TOOL_CALL_STARTED";
  readonly TOOL_CALL_COMPLETED: "TOOL_CALL_COMPLETED";
  readonly TOOL_CALL_FAILED: "TOOL_CALL_FAILED";
  readonly REASONING_HISTORY_UPDATED: "REASONING_HISTORY_UPDATED";
  readonly REASONING_STREAM_EVENT_RECEIVED: "REASONING_STREAM_EVENT_RECEIVED";
  readonly USER_SPEECH_STARTED: "USER_SPEECH_STARTED";
  readonly USER_SPEECH_ENDED: "USER_SPEECH_ENDED";
  readonly DIRECTOR_NOTE_CUE_APPLIED: "DIRECTOR_NOTE_CUE_APPLIED";
  readonly PERSONA_CONFIG_UPDATE_APPLIED: "PERSONA_CONFIG_UPDATE_APPLIED";
  // Extensions beyond the official API.
  readonly AUTOPLAY_BLOCKED: "AUTOPLAY_BLOCKED";
  /** Extension: a lost session is being replaced (`autoResume`). */
  readonly RECONNECTING: "RECONNECTING";
  /** Extension: the replacement session delivers media (`autoResume`). */
  readonly RECONNECTED: "RECONNECTED";
};
export type AnamEvent = (typeof AnamEvent)[keyof typeof AnamEvent];

export declare const ConnectionClosedCode: {
  readonly NORMAL: "CONNECTION_CLOSED_CODE_NORMAL";
  readonly MICROPHONE_PERMISSION_DENIED: "CONNECTION_CLOSED_CODE_MICROPHONE_PERMISSION_DENIED";
  readonly SIGNALLING_CLIENT_CONNECTION_FAILURE: "CONNECTION_CLOSED_CODE_SIGNALLING_CLIENT_CONNECTION_FAILURE";
  readonly WEBRTC_FAILURE: "CONNECTION_CLOSED_CODE_WEBRTC_FAILURE";
  readonly SERVER_CLOSED_CONNECTION: "CONNECTION_CLOSED_CODE_SERVER_CLOSED_CONNECTION";
};
export type ConnectionClosedCode = (typeof ConnectionClosedCode)[keyof typeof ConnectionClosedCode];

export declare const ErrorCode: {
  readonly CLIENT_ERROR_CODE_USAGE_LIMIT_REACHED: "CLIENT_ERROR_CODE_USAGE_LIMIT_REACHED";
  readonly CLIENT_ERROR_CODE_SPEND_CAP_REACHED: "CLIENT_ERROR_CODE_SPEND_CAP_REACHED";
  readonly CLIENT_ERROR_CODE_VALIDATION_ERROR: "CLIENT_ERROR_CODE_VALIDATION_ERROR";
  readonly CLIENT_ERROR_CODE_AUTHENTICATION_ERROR: "CLIENT_ERROR_CODE_AUTHENTICATION_ERROR";
  readonly CLIENT_ERROR_CODE_SERVER_ERROR: "CLIENT_ERROR_CODE_SERVER_ERROR";
  readonly CLIENT_ERROR_CODE_MAX_CONCURRENT_SESSIONS_REACHED: "CLIENT_ERROR_CODE_MAX_CONCURRENT_SESSIONS_REACHED";
  readonly CLIENT_ERROR_CODE_SERVICE_BUSY: "CLIENT_ERROR_CODE_SERVICE_BUSY";
  readonly CLIENT_ERROR_CODE_NO_PLAN_FOUND: "CLIENT_ERROR_CODE_NO_PLAN_FOUND";
  readonly CLIENT_ERROR_CODE_UNKNOWN_ERROR: "CLIENT_ERROR_CODE_UNKNOWN_ERROR";
  readonly CLIENT_ERROR_CODE_CONFIGURATION_ERROR: "CLIENT_ERROR_CODE_CONFIGURATION_ERROR";
};
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export declare const AudioPermissionState: {
  readonly PENDING: "pending";
  readonly GRANTED: "granted";
  readonly DENIED: "denied";
  readonly NOT_REQUESTED: "not_requested";
};
export type AudioPermissionState = (typeof AudioPermissionState)[keyof typeof AudioPermissionState];

export declare const MessageRole: { readonly USER: "user"; readonly PERSONA: "persona" };
export type MessageRole = (typeof MessageRole)[keyof typeof MessageRole];

/** Every error the client raises about the service or its configuration. */
export interface ClientError extends Error {
  readonly name: "ClientError";
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details?: {
    cause?: string;
    /** From a backend's error JSON (fetchSessionToken). */
    error?: string;
    message?: string;
    solution?: string;
    responseBody?: string;
    [key: string]: unknown;
  };
}

export interface Message {
  id: string;
  content: string;
  role: MessageRole;
  interrupted?: boolean;
  /** A persona message's parts by utterance id, when the server sends utterance ids. */
  utterances?: { id: string; content: string }[];
}

export interface MessageStreamEvent {
  id: string;
  content: string;
  role: MessageRole;
  endOfSpeech: boolean;
  interrupted: boolean;
  contentIndex?: number;
  correlationId?: string;
  cueTag?: string;
  utteranceId?: string;
}

export interface ReasoningMessage {
  id: string;
  content: string;
  role: string;
}

export interface ReasoningStreamEvent {
  id: string;
  content: string;
  endOfThought: boolean;
  role: string;
}

export interface InputAudioState {
  isMuted: boolean;
  permissionState: AudioPermissionState;
}

/** The legacy client-tool message. */
export interface ClientToolEvent {
  eventUid: string;
  sessionId: string;
  eventName: string;
  eventData: Record<string, unknown>;
  timestamp: string;
  timestampUserAction: string;
  userActionCorrelationId: string;
}

export interface ToolCallStartedPayload {
  eventUid: string;
  sessionId: string;
  toolCallId: string;
  toolName: string;
  /** `"client"`, `"server"`, … */
  toolType: string;
  /** `"webhook"`, `"rag"`, … */
  toolSubtype?: string;
  arguments: Record<string, unknown>;
  timestamp: string;
  timestampUserAction: string;
  userActionCorrelationId: string;
}

export interface ToolCallCompletedPayload extends ToolCallStartedPayload {
  result: unknown;
  /** Milliseconds from start to completion; 0 when unknown. */
  executionTime: number;
  documentsAccessed?: string[];
}

export interface ToolCallFailedPayload extends ToolCallStartedPayload {
  errorMessage: string;
  /** Milliseconds from start to failure; 0 when unknown. */
  executionTime: number;
}

/** Handlers of one tool; `onStart` of a client tool may return (or resolve with) its result. */
export interface ToolCallHandler {
  onStart?: (payload: ToolCallStartedPayload) => string | void | Promise<string | void>;
  onComplete?: (payload: ToolCallCompletedPayload) => void | Promise<void>;
  onFail?: (payload: ToolCallFailedPayload) => void | Promise<void>;
}

export type DirectorNoteCueTag =
  | "happy" | "warm" | "playful" | "laughter" | "curious" | "supportive"
  | "concerned" | "sad" | "surprised" | "angry" | "distressed";
export declare const DIRECTOR_NOTE_CUE_TAGS: readonly DirectorNoteCueTag[];

/** When a cue applies: from now (`inSeconds`) or into the current speech (`atSeconds`). */
export type DirectorNoteCueTiming = { inSeconds: number; atSeconds?: never } | { atSeconds: number; inSeconds?: never };

export type PresetStyle = "happy" | "warm" | "playful" | "supportive" | "sad" | "angry" | "distressed";
export type DirectorNotes =
  | { presetStyle: PresetStyle; customStylePrompt?: never; expressivity?: number }
  | { customStylePrompt: string; presetStyle?: never; expressivity?: number }
  | { expressivity: number; presetStyle?: never; customStylePrompt?: never };

/** Sent with the next start-session after `setPersonaConfig`. */
export interface PersonaConfig {
  personaId?: string;
  name?: string;
  avatarId?: string;
  voiceId?: string;
  llmId?: string;
  systemPrompt?: string;
  maxSessionLengthSeconds?: number;
  languageCode?: string;
  directorNotes?: DirectorNotes;
  [key: string]: unknown;
}

export interface AgentAudioInputConfig {
  encoding: "pcm_s16le";
  sampleRate: number;
  channels: number;
}

/** Audio passthrough: PCM the persona speaks instead of its own voice. */
export declare class AgentAudioInputStream {
  private constructor();
  free(): void;
  /** Bytes of 16-bit little-endian PCM, or the same as base64 text. */
  sendAudioChunk(chunk: ArrayBuffer | ArrayBufferView | string): void;
  /** Ends the current sequence; numbering starts again at 0. */
  endSequence(): void;
  getSequenceNumber(): number;
  getConfig(): AgentAudioInputConfig;
}

/** Callback signature of every event, for `addListener` / `removeListener`. */
export interface AnamEventCallbacks {
  MESSAGE_HISTORY_UPDATED: (messages: Message[]) => void;
  MESSAGE_STREAM_EVENT_RECEIVED: (event: MessageStreamEvent) => void;
  CONNECTION_ESTABLISHED: () => void;
  DATA_CHANNEL_OPEN: () => void;
  /** `error`: when the page's Content Security Policy refused the signalling socket (README). */
  CONNECTION_CLOSED: (code: ConnectionClosedCode, details?: string, error?: ClientError) => void;
  INPUT_AUDIO_STREAM_STARTED: (stream: MediaStream) => void;
  VIDEO_STREAM_STARTED: (stream: MediaStream) => void;
  VIDEO_PLAY_STARTED: () => void;
  AUDIO_STREAM_STARTED: (stream: MediaStream) => void;
  TALK_STREAM_INTERRUPTED: (correlationId: string) => void;
  SESSION_READY: (sessionId: string) => void;
  SERVER_WARNING: (message: string) => void;
  MIC_PERMISSION_PENDING: () => void;
  MIC_PERMISSION_GRANTED: () => void;
  MIC_PERMISSION_DENIED: (error: string) => void;
  INPUT_AUDIO_DEVICE_CHANGED: (deviceId: string) => void;
  CLIENT_TOOL_EVENT_RECEIVED: (event: ClientToolEvent) => void;
  TOOL_CALL_STARTED: (payload: ToolCallStartedPayload) => void;
  /** Fires once per call (the official client can fire it twice for a client tool). */
  TOOL_CALL_COMPLETED: (payload: ToolCallCompletedPayload) => void;
  TOOL_CALL_FAILED: (payload: ToolCallFailedPayload) => void;
  REASONING_HISTORY_UPDATED: (messages: ReasoningMessage[]) => void;
  REASONING_STREAM_EVENT_RECEIVED: (event: ReasoningStreamEvent) => void;
  USER_SPEECH_STARTED: (correlationId: string) => void;
  USER_SPEECH_ENDED: (correlationId: string) => void;
  DIRECTOR_NOTE_CUE_APPLIED: (payload: { cueTag: string; correlationId: string }) => void;
  PERSONA_CONFIG_UPDATE_APPLIED: (payload: { changedFields: Record<string, { before?: unknown; after?: unknown }> }) => void;
  /**
   * Extension: the browser refused to play the persona's video with sound (autoplay policy).
   * `playingMuted`: the client muted the element and it plays; call `unlock()` from a user
   * gesture to unmute.
   */
  AUTOPLAY_BLOCKED: (info: { playingMuted: boolean }) => void;
  /** Extension (`autoResume`): try `attempt` (from 1) to replace a session lost with `reason`. */
  RECONNECTING: (info: ReconnectingInfo) => void;
  /** Extension (`autoResume`): the new session's id, once its media arrived. */
  RECONNECTED: (sessionId: string) => void;
}

/** Argument of `RECONNECTING`. */
export interface ReconnectingInfo {
  attempt: number;
  /** How the lost session ended. */
  reason: ConnectionClosedCode;
}

/**
 * Extension: the connection phase of `getState()`.
 * `idle` (no session started yet) -> `starting` (token, start-session request) -> `connecting`
 * (session accepted; signalling and WebRTC) -> `connected` (media flowing) -> `closed` (ended,
 * stopped or failed to start). `reconnecting` while a lost session is being resumed, then
 * `connected` again or `closed`. A new `stream…()` call goes from `closed` to `starting`.
 */
export type ConnectionPhase = "idle" | "starting" | "connecting" | "connected" | "reconnecting" | "closed";

/** Extension: one frozen snapshot of the client's state (`getState()`). */
export interface ClientState {
  readonly phase: ConnectionPhase;
  /** The live session's id (as `getActiveSessionId()`), null outside a live session. */
  readonly sessionId: string | null;
  /** Whether the input audio is muted (as `getInputAudioState().isMuted`). */
  readonly muted: boolean;
  readonly permissionState: AudioPermissionState;
  /**
   * Why the last session failed: an `ErrorCode` when it could not start, a
   * `ConnectionClosedCode` when it ended abnormally. Null after a normal stop; cleared when a
   * new session starts.
   */
  readonly lastError: { readonly code: ErrorCode | ConnectionClosedCode; readonly message: string } | null;
}

/** Extension: what `preflight()` found, without starting a session or prompting. */
export interface PreflightReport {
  /** `window.isSecureContext`: https, or http on localhost/127.0.0.1. Capture needs it. */
  secureContext: boolean;
  /** `RTCPeerConnection` exists. */
  webrtc: boolean;
  microphone: {
    /** `navigator.mediaDevices.getUserMedia` exists (browsers hide it outside secure contexts). */
    supported: boolean;
    /** From the Permissions API; `unknown` where the browser does not answer for the microphone. */
    permission: "granted" | "denied" | "prompt" | "unknown";
    /**
     * Audio inputs. Until the page has permission, browsers list at most one placeholder with
     * an empty `deviceId` and `label` (it still tells that a microphone exists).
     */
    devices: { deviceId: string; label: string }[];
  };
  /** Whether media may play with sound right now (else `AUTOPLAY_BLOCKED` will fire). */
  autoplayWithSound: boolean | "unknown";
}

export interface AnamClientOptions {
  api?: {
    /** Core API origin, `http:` or `https:`; default `https://api.anam.ai`. */
    baseUrl?: string;
    /** Path prefix with a leading slash; default `/v1`. */
    apiVersion?: string;
    retry?: { maxAttempts?: number; initialBackoffMs?: number; maxBackoffMs?: number };
    /** Per start-session attempt; `0` disables the timeout. Default 10000. */
    requestTimeoutMs?: number;
  };
  voiceDetection?: { endOfSpeechSensitivity?: number };
  audioDeviceId?: string;
  disableInputAudio?: boolean;
  iceServers?: RTCIceServer[];
  rtcConfiguration?: RTCConfiguration;
  metrics?: {
    /** Print a summary of the final peer-connection stats when a session ends. */
    showPeerConnectionStatsReport?: boolean;
    peerConnectionStatsReportOutputFormat?: "console" | "json";
  };
  /**
   * Extension: when a session is lost beyond what reconnection and ICE restarts save, or the
   * server ends it, start a new one (fresh token, same video element, mute state, microphone
   * and message history kept), firing `RECONNECTING` then `RECONNECTED`. `true` means 3 tries;
   * `maxAttempts` may be 1 to 10. Needs a token provider function (a fixed token is a
   * `CONFIGURATION_ERROR`).
   */
  autoResume?: boolean | { maxAttempts?: number };
}

/** Extension: the last argument of `stream` / `streamToVideoElement` instead of a `MediaStream`. */
export interface StreamOptions {
  /** Aborting cancels the start (the promise rejects with an `AbortError` `DOMException`) or ends the session. */
  signal?: AbortSignal;
  /** Input audio to send instead of the microphone, as the official `MediaStream` argument. */
  userAudio?: MediaStream;
}

/** A token, or a function the client calls for a fresh one (each session, and once on expiry). */
export type SessionTokenSource = string | (() => Promise<string>);

/** States of a talk stream: 0 UNSTARTED, 1 STREAMING, 2 INTERRUPTED, 3 ENDED. */
export type TalkStreamState = 0 | 1 | 2 | 3;

export declare class TalkMessageStream {
  private constructor();
  free(): void;
  /** Throws when the stream has ended or was interrupted, or on a bad `utteranceId`. */
  streamMessageChunk(content: string, endOfSpeech: boolean, utteranceId?: string): void;
  endMessage(): void;
  isActive(): boolean;
  getCorrelationId(): string;
  getState(): TalkStreamState;
}

export declare class AnamClient {
  private constructor();
  free(): void;
  /** Resolves with the remote streams once video and audio arrived; rejects if the session cannot start. */
  stream(userAudio?: MediaStream): Promise<MediaStream[]>;
  /** Extension: `{signal, userAudio}`; a call while a session starts or runs shares it. */
  stream(options: StreamOptions): Promise<MediaStream[]>;
  /** Resolves once the session is started (`talk()` works from then on); rejects on failure. */
  streamToVideoElement(videoElementId: string, userAudio?: MediaStream): Promise<void>;
  /** Extension: `{signal, userAudio}`; a call while a session starts or runs shares it. */
  streamToVideoElement(videoElementId: string, options: StreamOptions): Promise<void>;
  talk(content: string): Promise<void>;
  createTalkMessageStream(correlationId?: string): TalkMessageStream;
  sendUserMessage(content: string): void;
  interruptPersona(): void;
  /** Silent context for the persona (dropped while the data channel is not open). */
  addContext(content: string): void;
  /** Sends `raw` on the data channel as given. */
  sendDataMessage(raw: string): void;
  /** Throws on an unknown tag, a bad timing, or a closed data channel. */
  sendDirectorNoteCue(tag: DirectorNoteCueTag, timing?: DirectorNoteCueTiming): void;
  setPersonaConfig(config: PersonaConfig | undefined): void;
  getPersonaConfig(): PersonaConfig | undefined;
  /** Returns the function that unregisters these handlers. */
  registerToolCallHandler(toolName: string, handler: ToolCallHandler): () => void;
  createAgentAudioInputStream(config: AgentAudioInputConfig): AgentAudioInputStream;
  muteInputAudio(): InputAudioState;
  unmuteInputAudio(): InputAudioState;
  getInputAudioState(): InputAudioState;
  changeAudioInputDevice(deviceId: string): Promise<void>;
  /** Works in every state: no-op when idle, cancels a start (AbortError) or a resume. */
  stopStreaming(): Promise<void>;
  isStreaming(): boolean;
  getActiveSessionId(): string | null;
  getActiveSessionRegion(): string | null;
  addListener<K extends keyof AnamEventCallbacks>(event: K, callback: AnamEventCallbacks[K]): void;
  removeListener<K extends keyof AnamEventCallbacks>(event: K, callback: AnamEventCallbacks[K]): void;
  /**
   * Extension: unmutes the persona's video and plays it with sound; call it from a user gesture
   * after `AUTOPLAY_BLOCKED`. Rejects with the browser's `NotAllowedError` if it still refuses
   * (the video keeps playing muted). Resolves at once when the client shows no video.
   */
  unlock(): Promise<void>;
  /**
   * Extension: the current state; the same frozen object until something changes. Bound to the
   * client: `useSyncExternalStore(client.subscribe, client.getState)` works as is.
   */
  readonly getState: () => ClientState;
  /**
   * Extension: calls `onChange` after each state change (once per batch of changes); returns
   * the function that unsubscribes it. Bound to the client, like `getState`.
   */
  readonly subscribe: (onChange: () => void) => () => void;
}

/**
 * Works before the WebAssembly module has loaded (no `init()` needed): the client's calls wait
 * for it. A malformed token or options throw a `ClientError`
 * (`CLIENT_ERROR_CODE_CONFIGURATION_ERROR`) here once the module is loaded, and reject the first
 * `stream…()` call while it is still loading.
 */
export declare function createClient(sessionToken: SessionTokenSource, options?: AnamClientOptions): AnamClient;

/** Extension: checks the browser before a session (no prompt, no capture). Never rejects. */
export declare function preflight(): Promise<PreflightReport>;

/** POSTs (by default) to the app's backend and resolves with `sessionToken`; rejects with a `ClientError`. */
export declare function fetchSessionToken(url: string | URL, init?: RequestInit): Promise<string>;
