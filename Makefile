# anam-wasm: `make demo` runs everything locally, `make test` tests everything.
# Both start with scripts/setup.sh, which installs whatever a fresh machine lacks (idempotent).
SHELL := bash
.DEFAULT_GOAL := help
# npm's wasm-opt first on PATH: Debian's (binaryen 108) silently breaks wasm-bindgen output.
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

# The wasm is built for size; the servers keep the default release profile (see Cargo.toml).
WASM_RELEASE := --config 'profile.release.opt-level="z"' --config profile.release.lto=true \
	--config profile.release.codegen-units=1 --config 'profile.release.panic="abort"'

.PHONY: help setup demo test pkg types bench clean

help:
	@echo "make demo   build everything and run emulator + backend + demo page at http://127.0.0.1:8080/"
	@echo "make test   fmt, clippy, unit, browser and end-to-end tests; ends with 'N passed, N failed'"
	@echo "make pkg    build the npm package into pkg/"
	@echo "make bench  measure size, time to first frame, memory and load against the official SDK"

setup:
	@scripts/setup.sh

demo: setup pkg
	@scripts/demo.sh

test: setup
	@scripts/test.sh

# The npm package: wasm-pack's output, finished with the hand-written JS parts (see js/).
pkg: setup
	wasm-pack build --target web --release --out-dir pkg . -- $(WASM_RELEASE)
	node scripts/finish-pkg.mjs pkg
	node scripts/package-pkg.mjs pkg

# The published types must type-check a consumer under --strict.
types:
	tsc -p tests/types/tsconfig.json

# Our client vs @anam-ai/js-sdk and a raw-JS floor: writes docs/BENCHMARKS.md and
# target/bench/results.json. Runs in a private network namespace when the machine allows it.
bench: setup pkg
	cargo build --release -p anam-emulator -p anam-backend
	@if unshare -n true 2>/dev/null && command -v ip >/dev/null; then \
		unshare -n -- sh -c 'ip link set lo up && exec node bench/run.mjs'; \
	else node bench/run.mjs; fi

clean:
	cargo clean
	rm -rf pkg
