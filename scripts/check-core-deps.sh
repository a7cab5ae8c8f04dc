#!/usr/bin/env bash
# anam-core must stay sans-IO and portable: no browser bindings and no async runtime, directly
# or through any dependency. cargo tree sees the whole normal-dependency graph.
set -euo pipefail
cd "$(dirname "$0")/.."
banned='^(wasm-bindgen|web-sys|js-sys|gloo[a-z-]*|tokio) '
found=$(cargo tree -p anam-core -e normal --prefix none --format '{p}' | grep -E "$banned" || true)
if [ -n "$found" ]; then
  echo "anam-core depends on banned crates:"; echo "$found"; exit 1
fi
echo "anam-core dependency graph is free of wasm-bindgen, web-sys, js-sys, gloo and tokio"
