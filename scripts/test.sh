#!/usr/bin/env bash
# Run every test: unit, integration and the compatibility tests that drive the real pynsq and
# nsqjs clients against our nsqd. Extra arguments go to `cargo test`.
# NSQ_SKIP_COMPAT=1 skips installing (and running) the client compatibility tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${NSQ_SKIP_COMPAT:-0}" != 1 ]]; then
    ./scripts/setup-compat.sh
    export NSQ_PYTHON="$PWD/.venv/bin/python"
fi

# The integration tests spawn the binaries, which `cargo test` alone does not build.
cargo build --workspace --bins
cargo test --workspace --no-fail-fast "$@"
