// Type-level tests of the conversation inputs: tool calls, context, raw data messages, director
// notes, the persona config and agent audio.
import {
  AnamEvent,
  DIRECTOR_NOTE_CUE_TAGS,
  type AgentAudioInputStream,
  type AnamClient,
  type DirectorNoteCueTag,
  type ToolCallCompletedPayload,
  type ToolCallFailedPayload,
  type ToolCallStartedPayload,
} from "../../pkg/anam_wasm.js";

export function positive(client: AnamClient): void {
  const unregister: () => void = client.registerToolCallHandler("open_page", {
    onStart: async (p: ToolCallStartedPayload) => `opened ${String(p.arguments.url)}`,
    onComplete: (p: ToolCallCompletedPayload) => void p.executionTime,
    onFail: (p: ToolCallFailedPayload) => void p.errorMessage,
  });
  unregister();
  client.registerToolCallHandler("observe", { onStart: () => undefined });
  client.addListener(AnamEvent.TOOL_CALL_COMPLETED, (p) => p.result);
  client.addListener(AnamEvent.TOOL_CALL_FAILED, (p) => p.errorMessage.length);
  client.addListener(AnamEvent.CLIENT_TOOL_EVENT_RECEIVED, (e) => e.eventName);
  client.addListener(AnamEvent.DIRECTOR_NOTE_CUE_APPLIED, (e) => e.cueTag);
  client.addContext("The user is on the pricing page");
  client.sendDataMessage(JSON.stringify({ message_type: "custom" }));
  const tag: DirectorNoteCueTag = DIRECTOR_NOTE_CUE_TAGS[0] ?? "happy";
  client.sendDirectorNoteCue(tag);
  client.sendDirectorNoteCue("warm", { inSeconds: 1.5 });
  client.sendDirectorNoteCue("sad", { atSeconds: 3 });
  client.setPersonaConfig({ personaId: "p", directorNotes: { presetStyle: "warm", expressivity: 0.5 } });
  const name: string | undefined = client.getPersonaConfig()?.name;
  const audio: AgentAudioInputStream = client.createAgentAudioInputStream({
    encoding: "pcm_s16le",
    sampleRate: 24000,
    channels: 1,
  });
  audio.sendAudioChunk(new Int16Array(480));
  audio.sendAudioChunk(new ArrayBuffer(960));
  audio.sendAudioChunk("AAAA");
  audio.endSequence();
  const seq: number = audio.getSequenceNumber();
  void [name, seq];
}

export function negative(client: AnamClient): void {
  // @ts-expect-error: not a cue tag
  client.sendDirectorNoteCue("ecstatic");
  // @ts-expect-error: inSeconds and atSeconds exclude each other
  client.sendDirectorNoteCue("warm", { inSeconds: 1, atSeconds: 2 });
  // @ts-expect-error: a preset style and a custom prompt exclude each other
  client.setPersonaConfig({ directorNotes: { presetStyle: "warm", customStylePrompt: "x" } });
  // @ts-expect-error: only 16-bit PCM exists
  client.createAgentAudioInputStream({ encoding: "mp3", sampleRate: 24000, channels: 1 });
  // @ts-expect-error: onStart receives a started payload, not a completed one
  client.registerToolCallHandler("t", { onStart: (p: ToolCallCompletedPayload) => p.result });
}
