# One image with every NSQ binary of this workspace; as with NSQ's own image, the command
# picks the program:
#
#   docker build -t nsq-rust .
#   docker run --rm -p 4160:4160 -p 4161:4161 nsq-rust nsqlookupd
#   docker run --rm -p 4150:4150 -p 4151:4151 -v nsqd-data:/data nsq-rust \
#       nsqd --data-path=/data --lookupd-tcp-address=<lookupd>:4160
#   docker run --rm -p 4171:4171 nsq-rust nsqadmin --lookupd-http-address=<lookupd>:4161
#   docker run --rm nsq-rust nsq_tail --topic=test --lookupd-http-address=<lookupd>:4161
#
# See docker-compose.yml for a small cluster and docs/deployment.md for more.
#
# The base images are build arguments so that an offline build can use local copies
# (scripts/check-docker.sh builds with images made by debootstrap, nothing is pulled).
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- build ----------------------------------------------------------------------
FROM ${RUST_IMAGE} AS build

# The workspace's release profile (fat LTO, one codegen unit) gives the fastest binaries but
# takes a long time to build on a small machine. The image uses thin LTO and 16 codegen units
# by default (Cargo reads these variables as profile overrides); pass
# `--build-arg CARGO_PROFILE_RELEASE_LTO=fat --build-arg CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1`
# to get exactly the binaries `cargo build --release` makes.
ARG CARGO_PROFILE_RELEASE_LTO=thin
ARG CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16

WORKDIR /src
COPY . .
# Every binary target of the workspace except the test and benchmark helpers, so binaries added
# later (another tool, ...) land in the image without changing this file. The crate registry
# (the rust image's CARGO_HOME is /usr/local/cargo) and target/ are cache mounts: a rebuild
# after a source change recompiles only what changed. As target/ is a mount, the binaries are
# copied out within the same step. The copies lose their line tables (`strip --strip-debug`),
# which make up most of their size; backtraces still name the functions.
RUN --mount=type=cache,id=nsq-rust-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=nsq-rust-target,target=/src/target \
    cargo build --release --locked --workspace --bins \
        --exclude nsq-tests --exclude nsq-benches \
    && mkdir -p /out/bin \
    && find target/release -maxdepth 1 -type f -executable -exec cp {} /out/bin/ \; \
    && strip --strip-debug /out/bin/* \
    && ls -l /out/bin

# ---- runtime --------------------------------------------------------------------
FROM ${RUNTIME_IMAGE}

# A fixed uid/gid, so a host directory mounted on /data can be given to it (chown 65532).
RUN groupadd --gid 65532 nsq \
    && useradd --uid 65532 --gid nsq --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin nsq \
    && mkdir /data \
    && chown nsq:nsq /data

# nsqd trusts the system's CA certificates when it calls an HTTPS auth server; the slim image
# has none, the build image has the Debian bundle.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/bin/ /usr/local/bin/

USER nsq:nsq
# nsqd's default data path is its working directory.
WORKDIR /data
VOLUME ["/data"]
# nsqd TCP, HTTP, HTTPS; nsqlookupd TCP, HTTP; nsqadmin HTTP.
EXPOSE 4150 4151 4152 4160 4161 4171
CMD ["nsqd", "--data-path=/data"]
