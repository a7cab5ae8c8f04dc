#!/usr/bin/env bash
# Idempotent fresh-machine setup for anam-wasm. Installs only what is missing, so a second run
# does nothing but checks. Called by `make demo`, `make test` and friends (see Makefile).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

# 1. Debian packages: browsers for tests, C libraries for the emulator's media, tools for benches.
APT_PACKAGES=(chromium chromium-driver firefox-esr sqlite3 libvpx-dev libopus-dev espeak-ng pkg-config wrk redis-server)
APT_PACKAGES+=(iproute2) # ip and tc: the network namespace of the browser tests and the bench's tbf shaping
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  say "apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. Rust: the wasm target.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# 3. wasm-pack from crates.io (the npm package downloads from GitHub, which is unreachable).
if ! command -v wasm-pack >/dev/null 2>&1; then
  say "cargo install wasm-pack"
  cargo install wasm-pack --locked
fi

# 3b. geckodriver, for `wasm-pack test --firefox`, from crates.io (its GitHub downloads are
#     unreachable). The e2e suites drive Firefox over WebDriver BiDi and do not need it.
if ! command -v geckodriver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/geckodriver" ]; then
  say "cargo install geckodriver"
  cargo install geckodriver --locked
fi

# 4. wasm-bindgen-cli at exactly the version Cargo.lock pins; a mismatch makes wasm-pack build
#    its own copy on every run. `--locked` fails for this crate (a yanked dependency).
want=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ -n "$want" ] && [ "$want" != "$have" ]; then
  say "cargo install wasm-bindgen-cli $want (had: ${have:-none})"
  cargo install wasm-bindgen-cli --version "$want" --force
fi

# 5. Node packages from the committed lock file (binaryen's wasm-opt, playwright-core, the
#    official SDK for conformance tests). Reinstall only when the lock file changed.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.setup-lock-stamp; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.setup-lock-stamp
fi

# 6. The Vite fixture app (tests/vite-app): vite 7 only, from its committed lock file.
if [ ! -f tests/vite-app/node_modules/.setup-lock-stamp ] || ! cmp -s tests/vite-app/package-lock.json tests/vite-app/node_modules/.setup-lock-stamp; then
  say "npm ci --prefix tests/vite-app"
  npm ci --prefix tests/vite-app --no-audit --no-fund --loglevel=error
  cp tests/vite-app/package-lock.json tests/vite-app/node_modules/.setup-lock-stamp
fi

# 7. The React example (www/examples/react): react, react-dom and vite, from its lock file.
if [ ! -f www/examples/react/node_modules/.setup-lock-stamp ] || ! cmp -s www/examples/react/package-lock.json www/examples/react/node_modules/.setup-lock-stamp; then
  say "npm ci --prefix www/examples/react"
  npm ci --prefix www/examples/react --no-audit --no-fund --loglevel=error
  cp www/examples/react/package-lock.json www/examples/react/node_modules/.setup-lock-stamp
fi

# Debian's binaryen (wasm-opt 108) silently breaks wasm-bindgen output; the Makefile puts
# node_modules/.bin first on PATH so wasm-pack finds npm's wasm-opt. Refuse to go on otherwise.
[ -x node_modules/.bin/wasm-opt ] || { echo "[setup] node_modules/.bin/wasm-opt missing" >&2; exit 1; }
