# syntax=docker/dockerfile:1
# Convene in a container: built with the toolchain of rust-toolchain.toml, run on Debian
# slim as an unprivileged user with its data in /data.
#
#   docker build -t convene .
#   docker run -d -p 127.0.0.1:8080:8080 -p 7882:7882/udp -v convene-data:/data \
#       -e CONVENE_PUBLIC_URL=https://chat.example.com -e CONVENE_MEDIA_PUBLIC_IP=203.0.113.10 convene
#
# docker-compose.yml runs it with PostgreSQL, Redis and coturn; docs/OPERATIONS.md has the
# rest (TLS, firewall, backups). The UDP media port must be published on the same port
# number: browsers are told the port the server binds.

# The builder is bookworm like the runtime image, so the binary finds the same glibc.
# Its version is the one in rust-toolchain.toml (tests/api/operations/deployment.rs checks).
FROM rust:1.95.0-bookworm AS builder
WORKDIR /src
# rust-toolchain.toml is left out on purpose: the image's toolchain is that version, and
# the file would make rustup fetch clippy and rustfmt, which a build does not need.
COPY Cargo.toml Cargo.lock ./
COPY server server
COPY bench bench
COPY migrations migrations
COPY web web
COPY tests/api tests/api
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p convene --bin convene \
    && install -D -m 0755 target/release/convene /out/convene

FROM debian:bookworm-slim
# curl is there for the health check (and for people debugging inside the container).
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin convene \
    && install -d -o convene -g convene -m 0750 /data
COPY --from=builder /out/convene /usr/local/bin/convene
USER convene
WORKDIR /data
ENV CONVENE_DATA_DIR=/data \
    CONVENE_LISTEN=0.0.0.0:8080 \
    CONVENE_MEDIA_PORT=7882
VOLUME ["/data"]
EXPOSE 8080/tcp 7882/udp
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["convene"]
CMD ["serve"]
