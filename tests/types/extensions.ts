// Type-level tests of the extensions beyond the official API (autoplay unlock, preflight, the
// state store): `tsc --strict` must accept the positive cases and reject every @ts-expect-error.
import {
  AnamEvent,
  preflight,
  type AnamClient,
  type ClientState,
  type ConnectionPhase,
  type PreflightReport,
} from "../../pkg/anam_wasm.js";

/** The React hook's contract, spelled out so that this test needs no React types. */
declare function useSyncExternalStore<T>(subscribe: (onChange: () => void) => () => void, getSnapshot: () => T): T;

export async function positive(client: AnamClient): Promise<void> {
  client.addListener(AnamEvent.AUTOPLAY_BLOCKED, (info) => {
    const muted: boolean = info.playingMuted;
    return muted;
  });
  await client.unlock();

  const state: ClientState = useSyncExternalStore(client.subscribe, client.getState);
  const phase: ConnectionPhase = state.phase;
  if (state.lastError) {
    const code: string = state.lastError.code;
    void code;
  }
  const unsubscribe: () => void = client.subscribe(() => undefined);
  unsubscribe();

  const report: PreflightReport = await preflight();
  const permission: "granted" | "denied" | "prompt" | "unknown" = report.microphone.permission;
  const ids: string[] = report.microphone.devices.map((d) => d.deviceId);
  const autoplay: boolean | "unknown" = report.autoplayWithSound;
  void [phase, permission, ids, autoplay, report.secureContext, report.webrtc, report.microphone.supported];
}

export function negative(client: AnamClient, state: ClientState): void {
  // @ts-expect-error: phases are exact strings
  const phase: ConnectionPhase = "live";
  // @ts-expect-error: snapshots are read-only
  state.muted = true;
  // @ts-expect-error: getState is a function property, not replaceable
  client.getState = () => state;
  // @ts-expect-error: the session id may be null
  const id: string = state.sessionId;
  // @ts-expect-error: AUTOPLAY_BLOCKED passes an info object
  client.addListener(AnamEvent.AUTOPLAY_BLOCKED, (muted: boolean) => muted);
  // @ts-expect-error: a subscriber takes no arguments from the store
  client.subscribe((s: ClientState) => s);
  void [phase, id];
}
