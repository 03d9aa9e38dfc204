#!/usr/bin/env bash
# Start a local NSQ for development: nsqlookupd (TCP 4160, HTTP 4161), nsqd (TCP 4150,
# HTTP 4151, data in ./data/nsqd) registered with it, and nsqadmin (http://127.0.0.1:4171)
# watching the cluster through that nsqlookupd. Both broadcast 127.0.0.1, so consumers on
# this machine can discover nsqd through nsqlookupd. Builds the release binaries first when they
# are missing or out of date.
# Ctrl-C (or SIGTERM) stops nsqadmin, then nsqd cleanly (it persists its queues), then nsqlookupd.
# Extra arguments are passed to nsqd, e.g. ./scripts/run-local.sh --mem-queue-size=0
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --bin nsqd --bin nsqlookupd --bin nsqadmin
bin="${CARGO_TARGET_DIR:-target}/release"

mkdir -p ./data/nsqd

lookupd_pid=""
nsqd_pid=""
admin_pid=""

# Each daemon runs in its own session, so a Ctrl-C reaches only this script, which then asks
# each daemon exactly once to stop (a second signal during shutdown would cut it short).
stop() {
    trap - INT TERM
    for pid in "$admin_pid" "$nsqd_pid" "$lookupd_pid"; do
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            wait "$pid" || true
        fi
    done
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

# An HTTP GET with bash alone (no curl needed): prints the response, fails if nothing answers.
http_get() {
    local port=$1 path=$2
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&3
    cat <&3
    exec 3<&-
}

# Waits up to 10 s for `check` to succeed while process `pid` lives.
wait_for() {
    local pid=$1 what=$2; shift 2
    for _ in $(seq 100); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "run-local: $what exited" >&2
            stop
            exit 1
        fi
        sleep 0.1
    done
    echo "run-local: timed out waiting for $what" >&2
    stop
    exit 1
}

registered() {
    http_get 4161 /nodes | grep -q '"producers":\[{'
}

setsid "$bin/nsqlookupd" --broadcast-address=127.0.0.1 &
lookupd_pid=$!
wait_for "$lookupd_pid" "nsqlookupd to listen" http_get 4161 /ping

setsid "$bin/nsqd" --data-path=./data/nsqd --lookupd-tcp-address=127.0.0.1:4160 \
    --broadcast-address=127.0.0.1 "$@" &
nsqd_pid=$!
wait_for "$nsqd_pid" "nsqd to register with nsqlookupd" registered

setsid "$bin/nsqadmin" --lookupd-http-address=127.0.0.1:4161 &
admin_pid=$!
wait_for "$admin_pid" "nsqadmin to listen" http_get 4171 /ping

cat <<EOF
run-local: NSQ is up (Ctrl-C stops it)
  nsqlookupd  TCP 127.0.0.1:4160  HTTP http://127.0.0.1:4161  (consumers: lookupd address)
  nsqd        TCP 127.0.0.1:4150  HTTP http://127.0.0.1:4151  registered with nsqlookupd
  nsqadmin    http://127.0.0.1:4171  (the web UI, through nsqlookupd)
EOF

# If any daemon exits on its own, stop the others.
status=0
wait -n "$admin_pid" "$nsqd_pid" "$lookupd_pid" || status=$?
stop
exit "$status"
