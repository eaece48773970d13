#!/usr/bin/env bash
# Builds the release binary to deploy and splits its debug info off (binutils' objcopy):
#   dist/tongbu        the binary to install (no DWARF; symbols kept, so backtraces name functions)
#   dist/tongbu.debug  its line tables, kept beside it or in a symbol store; gdb and perf find it
#                      through the binary's .gnu_debuglink
# The web client is inside the binary (rust-embed): nothing else to install.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin tongbu
mkdir -p dist
objcopy --only-keep-debug target/release/tongbu dist/tongbu.debug
objcopy --strip-debug --add-gnu-debuglink=dist/tongbu.debug target/release/tongbu dist/tongbu
chmod 0644 dist/tongbu.debug
ls -l target/release/tongbu dist/tongbu dist/tongbu.debug
