#!/usr/bin/env bash
# Start a local NSQ for development: nsqd on its default ports (TCP 4150, HTTP 4151) with its
# data in ./data/nsqd. Builds the release binaries first when they are missing or out of date.
# Ctrl-C (SIGINT) reaches nsqd directly, which then shuts down cleanly and persists its queues.
# Extra arguments are passed to nsqd, e.g. ./scripts/run-local.sh --mem-queue-size=0
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --bin nsqd
target_dir="${CARGO_TARGET_DIR:-target}"

mkdir -p ./data/nsqd
exec "$target_dir/release/nsqd" --data-path=./data/nsqd "$@"
