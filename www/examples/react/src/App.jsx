import { useEffect, useState, useSyncExternalStore } from "react";
import { AnamEvent } from "anam-wasm";

const VIDEO_ID = "persona-video";
/** Phases in which a session exists (or is being set up), so Stop makes sense. */
const ACTIVE = new Set(["starting", "connecting", "connected", "reconnecting"]);

export function App({ client }) {
  // getState and subscribe are bound to the client, so they can be passed as they are. The
  // snapshot is the same object until something changes: React re-renders only on changes.
  const state = useSyncExternalStore(client.subscribe, client.getState);
  const [soundBlocked, setSoundBlocked] = useState(false);

  useEffect(() => {
    const onBlocked = () => setSoundBlocked(true);
    client.addListener(AnamEvent.AUTOPLAY_BLOCKED, onBlocked);
    return () => client.removeListener(AnamEvent.AUTOPLAY_BLOCKED, onBlocked);
  }, [client]);

  const active = ACTIVE.has(state.phase);

  // Failures also land in state.lastError, which is what the page shows; the rejection is
  // handled here only so that it is not reported as unhandled.
  const connect = () => client.streamToVideoElement(VIDEO_ID).catch(() => {});
  const stop = () => client.stopStreaming();
  const toggleMute = () => (state.muted ? client.unmuteInputAudio() : client.muteInputAudio());
  const unlock = () => client.unlock().then(() => setSoundBlocked(false), () => {});

  return (
    <main>
      <h1>anam-wasm + React</h1>
      <video id={VIDEO_ID} autoPlay playsInline width="480" height="270" />
      <div>
        <button data-testid="connect" onClick={connect} disabled={active}>
          Connect
        </button>
        <button data-testid="stop" onClick={stop} disabled={!active}>
          Stop
        </button>
        <button data-testid="mute" onClick={toggleMute} aria-pressed={state.muted}>
          {state.muted ? "Unmute microphone" : "Mute microphone"}
        </button>
        {soundBlocked && (
          <button data-testid="unlock" onClick={unlock}>
            Turn sound on
          </button>
        )}
      </div>
      <dl>
        <dt>Phase</dt>
        <dd data-testid="phase">{state.phase}</dd>
        <dt>Session</dt>
        <dd data-testid="session">{state.sessionId ?? "none"}</dd>
        <dt>Microphone</dt>
        <dd data-testid="mic">
          {state.permissionState}
          {state.muted ? ", muted" : ""}
        </dd>
        <dt>Last error</dt>
        <dd data-testid="error">{state.lastError ? `${state.lastError.code}: ${state.lastError.message}` : "none"}</dd>
      </dl>
    </main>
  );
}
