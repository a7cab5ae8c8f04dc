#!/usr/bin/env bash
# The whole test suite, in order. Every step runs even after a failure (so one run shows every
# problem); the last line is "N passed, N failed" over every test and check that ran, and the exit
# status is non-zero if anything failed. Logs: target/test-logs/<step>.log.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"   # npm's wasm-opt, never Debian's (it breaks the output)
LOGS=target/test-logs
mkdir -p "$LOGS"
passed=0 failed=0 failed_steps=()

# Counts the results a step printed: cargo/wasm-bindgen-test "test result:" lines, node --test
# TAP "# pass/# fail" lines. A step with no such line counts as one check.
count() {
  local log=$1 status=$2 p f
  p=$(grep -hoE '^test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
  f=$(grep -hoE '^test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$log" | awk '{s+=$6} END {print s+0}')
  if grep -qE '^# (pass|fail) [0-9]+' "$log"; then
    p=$((p + $(grep -hoE '^# pass [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')))
    f=$((f + $(grep -hoE '^# fail [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')))
  fi
  if [ $((p + f)) -eq 0 ]; then
    if [ "$status" -eq 0 ]; then p=1; else f=1; fi
  elif [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1 # the step failed outside any counted test (e.g. a build error after some tests ran)
  fi
  echo "$p $f"
}

step() {
  local name=$1; shift
  local log="$LOGS/$name.log" start=$SECONDS status
  printf '==> %-22s ' "$name"
  "$@" >"$log" 2>&1; status=$?
  read -r p f < <(count "$log" "$status")
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$status" -eq 0 ]; then
    printf 'ok   (%d passed, %ds)\n' "$p" $((SECONDS - start))
  else
    failed_steps+=("$name")
    printf 'FAIL (%d passed, %d failed, %ds) -- last lines of %s:\n' "$p" "$f" $((SECONDS - start)) "$log"
    tail -n 30 "$log" | sed 's/^/    /'
  fi
}

# Runs the browser end-to-end suites inside a private network namespace when the machine allows
# it, so nothing they do can leave loopback.
isolated() {
  if unshare -n true 2>/dev/null && command -v ip >/dev/null; then
    unshare -n -- sh -c 'ip link set lo up && exec "$@"' sh "$@"
  else
    "$@"
  fi
}

step fmt              cargo fmt --all --check
step clippy-native    cargo clippy --workspace --all-targets -- -D warnings
step clippy-wasm      cargo clippy -p anam-wasm --lib --target wasm32-unknown-unknown -- -D warnings
step core-deps        scripts/check-core-deps.sh
step build-servers    cargo build -p anam-emulator -p anam-backend
step cargo-test       env ANAM_EMULATOR_BIN="$PWD/target/debug/anam-emulator" cargo test --workspace
step long-fuzz-slice  env LONG_FUZZ_INPUTS=20000 LONG_FUZZ_SEED="$(date -u +%Y%m%d)" cargo test -p anam-core --test long_fuzz -- --ignored --nocapture
step wasm-pack-test   wasm-pack test --headless --chrome
step wasm-pack-test-firefox env GECKODRIVER="${GECKODRIVER:-$HOME/.cargo/bin/geckodriver}" wasm-pack test --headless --firefox
step wasm-pack-build  make --no-print-directory pkg
step types            make --no-print-directory types
step size-budget      node scripts/size-check.mjs
step bench-unit       node --test --test-reporter=tap bench/test/
step scripts-unit     node --test --test-reporter=tap scripts/test/
step bench-smoke      isolated node bench/run.mjs --smoke
# The end-to-end suites once per browser engine (tests/e2e/README.md), the two engines side by
# side: each suite starts its own servers and browser on free ports in its own network
# namespace, and spends most of its time waiting on sessions. The two suites that install the
# packed package into an app directory and build it there (pkg-vite, react-example) would race
# on that directory, so Firefox runs them once Chromium is done. pkg-ssr and pkg-first-call use
# no browser: they run once. Each engine's output: target/test-logs/e2e-<engine>.log.
e2e() { isolated env E2E_ENGINE="$1" node --test --test-concurrency=1 --test-reporter=tap "${@:2}"; }
e2e_engines() {
  local builds='/(pkg-vite|react-example)\.test\.mjs' once='/pkg-(ssr|first-call)\.test\.mjs'
  local chromium firefox later
  e2e chromium tests/e2e/ >"$LOGS/e2e-chromium.log" 2>&1 &
  chromium=$!
  # shellcheck disable=SC2046 # one argument per file
  e2e firefox $(ls tests/e2e/*.test.mjs | grep -vE "$builds|$once") >"$LOGS/e2e-firefox.log" 2>&1
  firefox=$?
  wait "$chromium"
  chromium=$?
  # shellcheck disable=SC2046
  e2e firefox $(ls tests/e2e/*.test.mjs | grep -E "$builds") >>"$LOGS/e2e-firefox.log" 2>&1
  later=$?
  cat "$LOGS/e2e-chromium.log" "$LOGS/e2e-firefox.log"
  [ "$chromium" -eq 0 ] && [ "$firefox" -eq 0 ] && [ "$later" -eq 0 ]
}
step e2e-engines      e2e_engines

echo
[ ${#failed_steps[@]} -eq 0 ] || echo "failed steps: ${failed_steps[*]} (logs in $LOGS/)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
