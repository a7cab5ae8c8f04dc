#!/usr/bin/env bash
# Runs the local stack: anam-emulator (a stand-in for Anam's cloud) on 127.0.0.1:8787 and
# anam-backend (the token server, also serving www/ and pkg/) on 127.0.0.1:8080.
# With ANAM_API_KEY set in the environment, the backend talks to the real service instead
# (ANAM_API_BASE_URL, default https://api.anam.ai) and no emulator is started.
# Ctrl-C stops both; nothing is left running.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p anam-emulator -p anam-backend

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "demo stopped"
}
trap cleanup INT TERM EXIT

if [ -z "${ANAM_API_KEY:-}" ]; then
  key=anam-emulator-dev-key
  log=$(mktemp)
  target/release/anam-emulator --listen 127.0.0.1:8787 --api-key "$key" > >(tee "$log") 2>&1 &
  pids+=($!)
  # The backend asks the emulator for persona names at start-up: wait until it is listening
  # (it first renders and encodes each persona's frames, a few seconds).
  for _ in $(seq 1 600); do
    grep -q '^anam-emulator listening on' "$log" && break
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "anam-emulator exited" >&2; exit 1; }
    sleep 0.1
  done
  rm -f "$log"
  export ANAM_API_KEY=$key ANAM_API_BASE_URL=http://127.0.0.1:8787
  [ -n "${ANAM_PERSONA_CONFIG:-}" ] || export ANAM_PERSONA_ID="${ANAM_PERSONA_ID:-persona-aria,persona-milo}"
fi

LISTEN=127.0.0.1:8080 target/release/anam-backend &
pids+=($!)
echo
echo "  anam-wasm demo: open http://127.0.0.1:8080/   (Ctrl-C to stop)"
echo
wait -n "${pids[@]}"
