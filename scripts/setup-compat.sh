#!/usr/bin/env bash
# Install the real NSQ clients that the compatibility tests drive:
#   pynsq and python-snappy (pinned in tests/compat/python/requirements.txt) into ./.venv
#   nsqjs (pinned in tests/compat/node/package-lock.json) into tests/compat/node/node_modules
# Idempotent: does nothing when the pinned versions are already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"
requirements=tests/compat/python/requirements.txt
node_dir=tests/compat/node

# True when every `name==version` line of the requirements file is installed in .venv.
venv_is_current() {
    [[ -x .venv/bin/python ]] || return 1
    .venv/bin/python - "$requirements" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, want = line.split("==")
        if version(name) != want:
            sys.exit(1)
PY
}

if ! venv_is_current; then
    echo "setup-compat: installing Python clients into .venv"
    "$python" -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
fi

# npm ci records what it installed in node_modules/.package-lock.json.
if [[ ! -f $node_dir/node_modules/.package-lock.json ||
      $node_dir/package-lock.json -nt $node_dir/node_modules/.package-lock.json ]]; then
    echo "setup-compat: installing Node clients into $node_dir/node_modules"
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
