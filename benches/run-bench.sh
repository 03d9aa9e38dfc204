#!/usr/bin/env bash
# Builds release nsqd and nsq_bench, runs the standard scenarios against a fresh nsqd (temp
# data path, free ports) and prints a table. Figures are reported, not asserted.
#
# Usage: benches/run-bench.sh [runfor=10s]
#   NSQD=/path/to/nsqd   benchmark another nsqd binary (Go's, say) instead of building ours
#   WORKERS=n            connections per role (default 2, as in the reference figures)
#   SIZE=n BATCH=n       message size and MPUB batch size (default 200 / 200)
#   RATE=n               offered rate of the latency scenario (default 20000 msgs/s)
set -euo pipefail

runfor="${1:-10s}"
workers="${WORKERS:-2}"
size="${SIZE:-200}"
batch="${BATCH:-200}"
rate="${RATE:-20000}"
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"

echo "# building release nsqd and nsq_bench" >&2
(cd "$root" && cargo build --release -q -p nsq-benches --bin nsq_bench)
if [[ -z "${NSQD:-}" ]]; then
    (cd "$root" && cargo build --release -q -p nsqd --bin nsqd)
    NSQD="$target/release/nsqd"
fi
bench="$target/release/nsq_bench"

work="$(mktemp -d)"
nsqd_pid=""
stop_nsqd() {
    if [[ -n "$nsqd_pid" ]]; then
        kill -TERM "$nsqd_pid" 2>/dev/null || true
        wait "$nsqd_pid" 2>/dev/null || true
        nsqd_pid=""
    fi
}
cleanup() {
    stop_nsqd
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Starts nsqd on port-0 listeners with a fresh data path; sets $addr from its log.
start_nsqd() {
    stop_nsqd
    local data="$work/data-$RANDOM"
    mkdir -p "$data"
    "$NSQD" --tcp-address=127.0.0.1:0 --http-address=127.0.0.1:0 --data-path="$data" \
        "$@" >"$work/nsqd.log" 2>&1 &
    nsqd_pid=$!
    addr=""
    for _ in $(seq 100); do
        addr="$(sed -n 's/.*TCP: listening on \([0-9.:]*\).*/\1/p' "$work/nsqd.log" | head -n1)"
        [[ -n "$addr" ]] && return 0
        sleep 0.1
    done
    echo "nsqd did not start:" >&2
    cat "$work/nsqd.log" >&2
    exit 1
}

rows=()
# run <scenario> <nsq_bench args...>: runs and records each summary line.
run() {
    local name="$1"
    shift
    local out
    out="$("$bench" "$@" --nsqd-tcp-address="$addr" --workers="$workers" --size="$size" 2>&1)"
    echo "$out" >&2
    while IFS= read -r line; do
        case "$line" in
        *ops/s*)
            local tool ops mbs
            tool="$(sed -n 's/^\[\([a-z_]*\)\].*/\1/p' <<<"$line")"
            ops="$(sed -n 's/.* - \([0-9.]*\)ops\/s.*/\1/p' <<<"$line")"
            mbs="$(sed -n 's/.* - \([0-9.]*\)mb\/s.*/\1/p' <<<"$line")"
            rows+=("$(printf '%-28s %-20s %14.0f %10.2f' "$name" "$tool" "$ops" "$mbs")")
            ;;
        *p99.9*)
            local p50 p99 p999
            p50="$(sed -n 's/.*p50: \([^ ]*\).*/\1/p' <<<"$line")"
            p99="$(sed -n 's/.* p99: \([^ ]*\).*/\1/p' <<<"$line")"
            p999="$(sed -n 's/.*p99.9: \([^ ]*\).*/\1/p' <<<"$line")"
            rows+=("$(printf '%-28s %-20s p50 %s  p99 %s  p99.9 %s' "$name" "latency@${rate}/s" "$p50" "$p99" "$p999")")
            ;;
        esac
    done <<<"$out"
}

echo "# runfor=$runfor workers=$workers size=$size batch=$batch nsqd=$NSQD" >&2

start_nsqd --mem-queue-size=1000000
run "MPUB write (mem)" writer --topic=sub_bench --batch-size="$batch" --runfor="$runfor"
run "SUB+FIN read (mem)" reader --topic=sub_bench --channel=ch --runfor="$runfor"
run "single PUB" pub --topic=pub_bench --runfor="$runfor"
run "many topics (16) MPUB" writer --topic=many --topics=16 --batch-size="$batch" --runfor="$runfor"
run "fan-out 4 channels" fanout --topic=fanout --channels=4 --batch-size="$batch" --runfor="$runfor"
run "latency" latency --topic=latency --rate="$rate" --runfor="$runfor"

start_nsqd --mem-queue-size=0
run "MPUB write (disk only)" writer --topic=sub_bench --batch-size="$batch" --runfor="$runfor"
run "SUB+FIN read (disk only)" reader --topic=sub_bench --channel=ch --runfor="$runfor"
stop_nsqd

echo
printf '%-28s %-20s %14s %10s\n' "scenario" "tool" "msgs/s" "MiB/s"
printf '%s\n' "${rows[@]}"
