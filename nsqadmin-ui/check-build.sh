#!/bin/sh
# CI guard: the committed nsqadmin/static must be exactly what this UI builds.
set -eu
cd "$(dirname "$0")"
npm ci
npm run build
cd ..
changes=$(git status --porcelain nsqadmin/static)
if [ -n "$changes" ]; then
    echo "nsqadmin/static is out of date with nsqadmin-ui; run 'npm run build' in nsqadmin-ui and commit:" >&2
    echo "$changes" >&2
    exit 1
fi
echo "nsqadmin/static matches the build"
