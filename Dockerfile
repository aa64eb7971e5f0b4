# syntax=docker/dockerfile:1
#
# OWP Pool: `owp serve` in a small Debian image, running as an unprivileged user, with the SQLite
# database on the /data volume.
#
#   docker build -t owp-pool .
#   docker run -p 8787:8787 -v owp-data:/data -e OWP_ADMIN_TOKEN=change-me owp-pool
#   docker run --rm -v owp-data:/data --entrypoint owp owp-pool admin --help   # other subcommands

ARG RUST_VERSION=1.95

# ---- build ---------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src

# Dependencies first, in their own layer: it is rebuilt only when Cargo.toml, Cargo.lock or the
# workspace's own crates change (crates/, the floors below `owp`; sql/, the statements two of
# them compile; migrations/, which the store's crate embeds; app-manifest.yml, which the GitHub
# App's crate embeds). The placeholder sources of `owp` are replaced by the real ones below.
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY sql sql
COPY migrations migrations
COPY app-manifest.yml ./
RUN mkdir -p src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src target/release/deps/owp-* target/release/deps/libowp-* \
              target/release/.fingerprint/owp-* target/release/owp

# Everything else the build reads (sources, migrations, files embedded with include_str!); the
# .dockerignore keeps build output, databases and secrets out of the context.
COPY . .
# The repository the source comes from (`https://github.com/OWNER/REPO`): the pool's `/join` page
# links its latest release where the operator names no download address (see build.rs).
ARG OWP_SOURCE_REPOSITORY=
RUN cargo build --release --locked --bin owp \
    && install -m 0755 target/release/owp /usr/local/bin/owp

# ---- run -----------------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

# The MCP Registry lists `owp mcp` from this image (server.json) only when the image names the
# server it belongs to; the release sets it to `io.github.OWNER/REPO` of the repository it builds.
ARG MCP_SERVER_NAME=io.github.OWNER/REPO
LABEL io.modelcontextprotocol.server.name="${MCP_SERVER_NAME}"

# CA certificates for calls to the GitHub API (rustls reads the system store). Not pinned: the
# security updates of the Debian release are wanted.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 owp \
    && useradd --system --uid 10001 --gid owp --home-dir /data --shell /usr/sbin/nologin owp \
    && mkdir -p /data \
    && chown owp:owp /data

COPY --from=build /usr/local/bin/owp /usr/local/bin/owp

# The working directory is the volume, so a token generated on a first run without
# OWP_ADMIN_TOKEN (saved to ./env.local) survives restarts.
WORKDIR /data
VOLUME ["/data"]

ENV OWP_DB=/data/owp.db \
    OWP_HOST=0.0.0.0 \
    OWP_PORT=8787 \
    OWP_LOG=info

USER 10001:10001
EXPOSE 8787

# `owp healthcheck` asks /readyz: healthy while the database answers (see README, "Health").
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/owp", "healthcheck"]

# `docker stop` sends SIGTERM: the service stops accepting, finishes in-flight requests and
# closes the database before it exits. Flags given to `docker run` are passed to `owp serve`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/owp", "serve"]
