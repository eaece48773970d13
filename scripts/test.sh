#!/usr/bin/env bash
# The one test command (README: "Run the tests"). On a fresh Debian machine with Rust it installs
# what the tests need (Chromium, libopus, CJK fonts, the Node test driver), checks formatting and
# lints, builds, and runs every test: unit tests, real WebRTC peers on loopback, and real Chromium
# against the server. Where it can (root, `unshare`), tests run in a network namespace that has
# only loopback, so no packet leaves the machine.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
pkg-config --exists opus 2>/dev/null || need_apt+=(libopus-dev pkg-config)
# (grep without -q: with pipefail, -q's early exit would fail fc-list with SIGPIPE.)
fc-list 2>/dev/null | grep -i "noto sans cjk" >/dev/null || need_apt+=(fonts-noto-cjk)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
# The firewall and TURN-relay tests: nftables in the classroom's namespace, coturn with TLS.
command -v nft >/dev/null 2>&1 || need_apt+=(nftables)
command -v turnserver >/dev/null 2>&1 || need_apt+=(coturn)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# deploy/ is checked: nginx runs the reverse-proxy config, systemd-analyze verifies the unit.
command -v nginx >/dev/null 2>&1 || need_apt+=(nginx-light)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
# PDF courseware is rendered to images by poppler's pdftoppm (also needed by the server).
command -v pdftoppm >/dev/null 2>&1 || need_apt+=(poppler-utils)
# H.264 forwarding is checked by decoding what a subscriber received (ffprobe); the test clip in
# tests/media was made with ffmpeg's libx264.
command -v ffprobe >/dev/null 2>&1 || need_apt+=(ffmpeg)
# Recordings are muxed by libwebm (C++, built by the webm crate); ffprobe reads them back.
command -v c++ >/dev/null 2>&1 || need_apt+=(g++)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

echo "== browser test driver (playwright-core, using Debian's Chromium)"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== crate boundaries"
# The signaling protocol (and the load tool built on it) uses the schedule's domain types only:
# neither SQLite nor JWT may reach it again.
if cargo tree -p tongbu-load -e normal --prefix none | grep -E '^(rusqlite|jsonwebtoken) '; then
  echo "tongbu-load depends on storage or token crates; keep tongbu-schedule's store/tokens features off it" >&2
  exit 1
fi
cargo clippy -p tongbu-schedule --no-default-features --quiet -- -D warnings

echo "== build"
cargo build --workspace --all-targets --quiet
cargo test --workspace --no-run --quiet

run_tests() {
  cargo test --workspace --offline
  # The benches run once each in test mode: they build and their set-up assertions hold (every
  # subscriber gets the packet). Timing is for `cargo bench` on a quiet machine (BENCHMARKS.md).
  cargo test --offline --benches --quiet
  # The files by name: `node --test <dir>` reads a directory differently from Node 21 on.
  (cd tests/browser && node --test --test-concurrency=1 ./*.test.mjs)
}

# A short coverage-guided run of each fuzz target (fuzz/, libFuzzer: needs the nightly toolchain,
# which this machine's rustup has). A crash fails the run; a machine without nightly, or where
# cargo-fuzz cannot be installed, skips it and says so (the corpus is replayed on stable anyway).
fuzz_briefly() {
  if ! rustup toolchain list 2>/dev/null | grep '^nightly' >/dev/null; then
    echo "== fuzzing skipped: no nightly toolchain"
    return 0
  fi
  if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --quiet || { echo "== fuzzing skipped: cargo-fuzz did not install"; return 0; }
  fi
  echo "== fuzzing each target for ${FUZZ_SECONDS:-15} s"
  local log
  log=$(mktemp)
  (cd fuzz && for target in signaling media_datagram timetable sdp; do
    if ! cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
        -max_total_time="${FUZZ_SECONDS:-15}" -print_final_stats=1 >"$log" 2>&1; then
      tail -n 60 "$log"
      echo "fuzz target $target failed (its input is in fuzz/artifacts/$target/)"
      exit 1
    fi
    echo "$target: $(grep -o 'number_of_executed_units: [0-9]*' "$log" | tail -n 1)"
  done)
  rm -f "$log"
}
fuzz_briefly

if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
  echo "== tests (in a network namespace with only loopback)"
  export -f run_tests
  unshare -n bash -c 'set -euo pipefail; ip link set lo up; run_tests'
else
  echo "== tests (loopback; not root, so no private network namespace)"
  run_tests
fi
