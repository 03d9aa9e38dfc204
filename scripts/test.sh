#!/usr/bin/env bash
# Run every test: unit, integration and the compatibility tests that drive the real pynsq and
# nsqjs clients against our nsqd, then nsqadmin's UI tests (Vitest, and the Playwright browser
# tests in Debian's Chromium against a real cluster). Extra arguments go to `cargo test`.
# NSQ_SKIP_COMPAT=1 skips installing (and running) the client compatibility tests.
# NSQ_SKIP_BROWSER=1 skips the browser tests (they need /usr/bin/chromium: apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${NSQ_SKIP_COMPAT:-0}" != 1 ]]; then
    ./scripts/setup-compat.sh
    export NSQ_PYTHON="$PWD/.venv/bin/python"
fi

# The integration tests spawn the binaries, which `cargo test` alone does not build.
cargo build --workspace --bins
cargo test --workspace --no-fail-fast "$@"

echo "== nsqadmin-ui: unit tests"
ui=nsqadmin-ui
# npm ci records what it installed in node_modules/.package-lock.json.
if [[ ! -f $ui/node_modules/.package-lock.json ||
      $ui/package-lock.json -nt $ui/node_modules/.package-lock.json ]]; then
    (cd "$ui" && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd "$ui" && npm test)

if [[ "${NSQ_SKIP_BROWSER:-0}" == 1 ]]; then
    echo "== nsqadmin-ui: browser tests skipped (NSQ_SKIP_BROWSER=1)"
    exit 0
fi
if [[ ! -x ${CHROMIUM_PATH:-/usr/bin/chromium} ]]; then
    echo "test.sh: the browser tests need Chromium (apt-get install chromium), or set NSQ_SKIP_BROWSER=1" >&2
    exit 1
fi
echo "== nsqadmin-ui: browser tests (screenshots in ${NSQADMIN_SCREENSHOTS:-$ui/e2e/screenshots})"
(cd "$ui" && NSQ_BIN_DIR="$(cd .. && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug" npm run e2e)
