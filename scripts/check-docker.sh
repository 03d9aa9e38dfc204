#!/usr/bin/env bash
# Build the Dockerfile for real, without Docker and without pulling any image, then check the
# result: the binaries present, the daemons' --version, a non-root user, and nsqd serving a
# publish and persisting it to /data on SIGTERM.
#
# Time: the first run debootstraps two root filesystems (~2 min each) and compiles the whole
# workspace in release mode inside the build container (~35 min on 2 cores shared with other
# builds); later runs take seconds to a few minutes, recompiling only what changed.
#
# How: buildah (daemonless, runs as root here with chroot isolation and the vfs storage driver,
# so it works inside a container or VM without overlayfs or user namespaces) builds the
# Dockerfile against two local base images made from Debian bookworm root filesystems
# (debootstrap, from the Debian mirror apt is configured with):
#   localhost/nsq-base/debian:bookworm-slim   the runtime stage (minbase, like bookworm-slim)
#   localhost/nsq-base/rust:bookworm          the build stage: minbase + gcc, libc6-dev and
#                                             ca-certificates, plus this machine's active Rust
#                                             toolchain copied into /usr/local
# They are handed to the Dockerfile through its RUST_IMAGE / RUNTIME_IMAGE build arguments,
# whose defaults stay the official names (rust:1.95-bookworm, debian:bookworm-slim). Local
# names were chosen over re-tagging local images with the official names so that a store which
# also holds the real images is never shadowed by these stand-ins, and --pull=never makes any
# attempt to fetch an image an error. crates.io must be reachable (the build fetches crates).
# The local Rust image points cargo (CARGO_HTTP_CAINFO) at a copy of this machine's CA bundle,
# so the build works behind a TLS-intercepting proxy this machine trusts; the image's own
# /etc/ssl/certs bundle, which the Dockerfile copies into the runtime image, stays Debian's.
#
# Idempotent: the root filesystems are cached under $BASE_DIR, the base images are made only
# when missing, and the Dockerfile's cargo cache mounts (kept by buildah under
# /var/tmp/buildah-cache*) make a second run recompile only what changed. No layer cache
# (--layers): with vfs every layer is a full copy of the Rust image (~1 GB each), and the
# cache mounts already give the speed. The previous result's image is removed at the end.
#
# Usage: scripts/check-docker.sh          (as root; installs buildah and debootstrap if needed)
# Env:   BASE_DIR (default /var/tmp/nsq-docker-base), IMAGE (default localhost/nsq-rust:check),
#        DEBIAN_MIRROR (default: the first Debian archive URI in apt's sources), CHECK_HTTP_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_DIR=${BASE_DIR:-/var/tmp/nsq-docker-base}
IMAGE=${IMAGE:-localhost/nsq-rust:check}
RUNTIME_BASE=localhost/nsq-base/debian:bookworm-slim
RUST_BASE=localhost/nsq-base/rust:bookworm
SUITE=bookworm
# Bumped whenever import_rootfs changes, so existing base images are made again.
RECIPE=2
HOST_CA=/etc/ssl/certs/ca-certificates.crt

# Every buildah call shares one store; vfs needs no kernel support, chroot no namespaces setup.
export STORAGE_DRIVER=vfs
export BUILDAH_ISOLATION=chroot
buildah() { command buildah --storage-driver vfs "$@"; }

start=$SECONDS
# Prints the time since the start in front of each step, so the log shows what took long.
step() { echo "== [+$((SECONDS - start))s] $*"; }

if [[ $(id -u) -ne 0 ]]; then
    echo "check-docker: must run as root (buildah chroot isolation, debootstrap)" >&2
    exit 1
fi

if ! command -v buildah >/dev/null || ! command -v debootstrap >/dev/null; then
    step "installing buildah and debootstrap"
    apt-get install -y buildah debootstrap
fi

mirror=${DEBIAN_MIRROR:-}
if [[ -z $mirror ]]; then
    # deb822 "URIs:" lines and one-line "deb URI suite" entries (not comments); the main
    # archive, not the security one.
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
        | grep -E '^(URIs:|deb )' | grep -Eo 'https?://[^ ]+' | grep -v security | grep debian \
        | head -n 1 || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

# A Debian root filesystem, made once: debootstrap into a temporary directory, renamed when
# complete so an interrupted run never leaves a half-made cache behind.
make_rootfs() {
    local dir=$1
    shift
    if [[ -d $dir ]]; then
        return
    fi
    step "debootstrap $SUITE into $dir from $mirror"
    rm -rf "$dir.tmp"
    debootstrap --variant=minbase "$@" "$SUITE" "$dir.tmp" "$mirror"
    # Package lists and caches are useless in an image.
    rm -rf "$dir.tmp"/var/cache/apt/archives/*.deb "$dir.tmp"/var/lib/apt/lists/*
    mv "$dir.tmp" "$dir"
}

have_image() {
    local recipe
    recipe=$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "nsq.base.recipe"}}' "$1" 2>/dev/null) || return 1
    [[ $recipe == "$RECIPE" ]]
}

# An image holding a root filesystem; extra arguments are `buildah config` options.
import_rootfs() {
    local name=$1 rootfs=$2
    shift 2
    local ctr mnt
    ctr=$(buildah from --pull=never scratch)
    mnt=$(buildah mount "$ctr")
    cp -a "$rootfs"/. "$mnt"/
    if [[ $name == "$RUST_BASE" ]]; then
        # The toolchain rustup is using now, installed the way Rust's standalone installer
        # lays it out under /usr/local (bin/, lib/ with rustlib, libexec/); docs are left out.
        local toolchain
        toolchain=$(rustc --print sysroot)
        cp -a "$toolchain"/bin/. "$mnt"/usr/local/bin/
        cp -a "$toolchain"/lib/. "$mnt"/usr/local/lib/
        if [[ -d $toolchain/libexec ]]; then
            mkdir -p "$mnt"/usr/local/libexec
            cp -a "$toolchain"/libexec/. "$mnt"/usr/local/libexec/
        fi
        mkdir -p "$mnt"/usr/local/cargo
        cp "$HOST_CA" "$mnt"/usr/local/share/host-ca-certificates.crt
    fi
    buildah umount "$ctr" >/dev/null
    buildah config --label nsq.base.recipe="$RECIPE" "$@" "$ctr"
    buildah commit --quiet "$ctr" "$name" >/dev/null
    buildah rm "$ctr" >/dev/null
}

mkdir -p "$BASE_DIR"
make_rootfs "$BASE_DIR/rootfs-runtime"
make_rootfs "$BASE_DIR/rootfs-rust" --include=gcc,libc6-dev,ca-certificates

if ! have_image "$RUNTIME_BASE"; then
    step "importing $RUNTIME_BASE"
    import_rootfs "$RUNTIME_BASE" "$BASE_DIR/rootfs-runtime" --cmd /bin/bash
fi
if ! have_image "$RUST_BASE"; then
    step "importing $RUST_BASE ($(rustc --version))"
    import_rootfs "$RUST_BASE" "$BASE_DIR/rootfs-rust" \
        --env CARGO_HOME=/usr/local/cargo \
        --env CARGO_HTTP_CAINFO=/usr/local/share/host-ca-certificates.crt \
        --env PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --cmd /bin/bash
fi

step "building $IMAGE from ./Dockerfile"
buildah bud --isolation chroot --pull=never \
    --build-arg RUST_IMAGE="$RUST_BASE" \
    --build-arg RUNTIME_IMAGE="$RUNTIME_BASE" \
    --tag "$IMAGE" --file Dockerfile .

step "checking $IMAGE"
ctr=$(buildah from --pull=never "$IMAGE")
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT

echo "binaries:"
buildah run "$ctr" -- ls /usr/local/bin
for bin in nsqd nsqlookupd nsqadmin; do
    out=$(buildah run "$ctr" -- "$bin" --version)
    echo "$bin --version: $out"
    if [[ $out != "$bin v"* ]]; then
        echo "check-docker: unexpected version line from $bin" >&2
        exit 1
    fi
done

user=$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$IMAGE")
uid=$(buildah run "$ctr" -- id -u)
echo "image user: $user (uid $uid)"
if [[ -z $user || $uid == 0 ]]; then
    echo "check-docker: the image runs as root" >&2
    exit 1
fi
# nsqd really serves from the image: start it as the image's user, publish one message over
# HTTP, stop it with SIGTERM and expect its queue files in /data. All inside the container
# (bash and its /dev/tcp; the image has no curl). chroot isolation shares the host's network,
# hence loopback ports that other runs are unlikely to use (CHECK_HTTP_PORT to change).
port=${CHECK_HTTP_PORT:-24751}
echo "smoke test: nsqd in the image on 127.0.0.1:$port"
buildah run "$ctr" -- bash -c '
    set -e
    port=$1
    nsqd --data-path=/data --tcp-address=127.0.0.1:0 --http-address=127.0.0.1:$port 2>/tmp/nsqd.log &
    pid=$!
    for _ in $(seq 100); do
        if exec 3<>/dev/tcp/127.0.0.1/$port; then break; fi 2>/dev/null
        sleep 0.1
    done
    printf "POST /pub?topic=check HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello" >&3
    reply=$(cat <&3)
    kill -TERM $pid
    wait $pid
    case $reply in
        HTTP/1.?" 200 "*OK) echo "  /pub answered 200 OK" ;;
        *) echo "unexpected /pub reply: $reply"; cat /tmp/nsqd.log; exit 1 ;;
    esac
    test -s /data/nsqd.dat && test -s /data/check.diskqueue.meta.dat
    echo "  after SIGTERM /data holds: $(ls /data | tr "\n" " ")"
' smoke "$port"
echo "ports: $(buildah inspect --type image --format '{{.OCIv1.Config.ExposedPorts}}' "$IMAGE")"
echo "volumes: $(buildah inspect --type image --format '{{.OCIv1.Config.Volumes}}' "$IMAGE")"
echo "size: $(buildah images --format '{{.Size}}' "$IMAGE")"

# An earlier image of the same tag is left untagged by the new build; drop such leftovers
# (vfs images are full copies, so they add up quickly).
buildah rmi --prune >/dev/null 2>&1 || true

step "done: $IMAGE checked in $((SECONDS - start))s"
