# One image with every NSQ binary of this workspace; the command picks the daemon:
#
#   docker build -t nsq-rust .
#   docker run --rm -p 4160:4160 -p 4161:4161 nsq-rust nsqlookupd
#   docker run --rm -p 4150:4150 -p 4151:4151 -v nsqd-data:/data nsq-rust \
#       nsqd --data-path=/data --lookupd-tcp-address=<lookupd>:4160
#
# See docker-compose.yml for a small cluster.

# ---- build ----------------------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# Every binary target except the test and benchmark helpers; new tools (nsqadmin, ...)
# are picked up without changing this file.
RUN cargo build --release --locked --workspace --bins \
        --exclude nsq-tests --exclude nsq-benches \
    && mkdir -p /out/bin /out/data \
    && find target/release -maxdepth 1 -type f -executable -exec cp {} /out/bin/ \; \
    && ls -l /out/bin

# ---- runtime --------------------------------------------------------------------
# glibc and libgcc only, no shell; runs as the image's "nonroot" user (65532).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/bin/ /usr/local/bin/
# An empty /data owned by the runtime user, so a fresh named volume is writable.
COPY --from=build --chown=nonroot:nonroot /out/data /data
USER nonroot
WORKDIR /data
VOLUME ["/data"]
# nsqd TCP, HTTP, HTTPS; nsqlookupd TCP, HTTP; nsqadmin HTTP.
EXPOSE 4150 4151 4152 4160 4161 4171
CMD ["nsqd", "--data-path=/data"]
