# syntax=docker/dockerfile:1
#
# The icash server (`examples/server.rs`, which runs the library's `icash::server` start-up) in a
# small runtime image.
#
#   docker build -t icash-server .
#   docker run --rm -p 8000:8000 icash-server                      # in-memory store
#   docker run --rm -p 8000:8000 -e DATABASE_URL=postgres://... icash-server
#
# Needs BuildKit (the default builder since Docker 23) for the cache mounts below.

# The workspace's rust-version (Cargo.toml): never build with anything older.
ARG RUST_VERSION=1.94

############################################################################################
# Builder
############################################################################################
FROM rust:${RUST_VERSION}-bookworm AS builder

WORKDIR /src

# The whole workspace: every member's Cargo.toml, the declared targets (tests/it, examples),
# and the files the sources embed at compile time (icash-postgres/migrations, which
# sqlx::migrate! embeds). .dockerignore keeps target/ and .git/ out.
COPY . .

# The registry, git checkouts and target/ live in cache mounts, so a rebuild after a source
# change recompiles only our crates, not the dependency tree. A cache mount is not part of
# the image, so the binary is copied out of it in the same RUN. The data files are staged
# here too, with their modes normalised so the non-root user of the runtime stage can read
# them whatever the modes on the build host.
RUN --mount=type=cache,id=icash-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=icash-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=icash-target,target=/src/target,sharing=locked \
    cargo build --release --locked --example server \
 && mkdir -p /out \
 && cp target/release/examples/server /out/icash-server \
 && cp -r data /out/data \
 && chmod -R u=rwX,go=rX /out/data

############################################################################################
# Runtime
############################################################################################
FROM debian:bookworm-slim AS runtime

# Same Debian release as the builder, so the binary's glibc matches. sqlx is built without
# TLS and the server makes no outbound calls, so neither OpenSSL nor CA certificates; curl is
# there for the HEALTHCHECK (the slim image has none).
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/*

# A fixed, numeric, unprivileged user: no shell, no home, and a numeric UID so that
# orchestrators enforcing runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 icash \
 && useradd --system --uid 10001 --gid icash --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin icash

WORKDIR /app

# Owned by root, read-only for icash: the server reads the CSV files, never writes them.
COPY --from=builder /out/icash-server /usr/local/bin/icash-server
COPY --from=builder /out/data /app/data

USER 10001:10001

# The server's default, 127.0.0.1:8000, would not be reachable from outside the container.
# Without DATABASE_URL the server uses an in-memory store.
ENV ICASH_ADDR=0.0.0.0:8000 \
    ICASH_DATA_DIR=/app/data

EXPOSE 8000

# /readyz answers 503 while the CSV files load and when the database is down; -f turns that
# into a failure. The start period covers loading the files into an empty database on the first
# start.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:8000/readyz"]

# The server shuts down gracefully on SIGTERM. The exec-form ENTRYPOINT makes it PID 1, with
# no shell in between to swallow the signal.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/icash-server"]
