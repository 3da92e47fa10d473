# Builds both mediawarm binaries; used by docker-compose.yml (targets `api` and `worker`).
#   docker build -t mediawarm-api .                    # the last stage: the API
#   docker build --target worker -t mediawarm-worker .
# Works with BuildKit and with the legacy builder (no cache mounts needed).

# ---- build: dependencies first, in their own layer, then the workspace ----
FROM rust:1.95-bookworm AS build
WORKDIR /src

# 1. The manifests only, with stub sources: this layer compiles every dependency and is
#    reused until Cargo.toml or Cargo.lock changes (a source edit rebuilds only our crates).
#    Every workspace member's Cargo.toml is listed here (.ci/compose-check.py checks it).
COPY Cargo.toml Cargo.lock ./
COPY shared/Cargo.toml shared/
COPY extract/Cargo.toml extract/
COPY api/Cargo.toml api/
COPY worker/Cargo.toml worker/
COPY testkit/Cargo.toml testkit/
COPY bench/Cargo.toml bench/
RUN for crate in shared extract api worker testkit bench; do \
      mkdir -p "$crate/src" && echo '//! stub' > "$crate/src/lib.rs" && echo 'fn main() {}' > "$crate/src/main.rs"; \
    done \
 && cargo build --release --locked -p mediawarm-api -p mediawarm-worker \
 && rm -rf shared/src extract/src api/src worker/src testkit/src bench/src

# 2. The real sources (migrations are embedded into the binaries by sqlx::migrate!). COPY
#    keeps the files' own mtimes, which may be older than the stub build: touch them so
#    cargo rebuilds our crates instead of keeping the stubs.
COPY . .
RUN find shared extract api worker testkit bench migrations -type f -exec touch {} + \
 && cargo build --release --locked -p mediawarm-api -p mediawarm-worker \
 && mkdir -p /out \
 && cp target/release/mediawarm-api target/release/mediawarm-worker /out/

# ---- runtime: slim Debian, non-root, CA certificates (the scraper fetches HTTPS) and curl
#      for the health checks ----
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 mediawarm \
 && useradd --system --uid 10001 --gid mediawarm --home-dir /var/lib/mediawarm --create-home mediawarm
COPY --from=build /out/mediawarm-api /out/mediawarm-worker /usr/local/bin/
# The embedded mode's files (DATA_DIR) go here when DATABASE_URL / REDIS_URL are unset.
WORKDIR /var/lib/mediawarm
ENV DATA_DIR=/var/lib/mediawarm/data
USER mediawarm:mediawarm

# ---- worker: consumes jobs and runs the scheduler; its only port is the metrics listener ----
FROM runtime AS worker
ENV WORKER_METRICS_BIND=0.0.0.0:9101
EXPOSE 9101
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
  CMD curl -fsS -o /dev/null http://127.0.0.1:9101/metrics || exit 1
CMD ["mediawarm-worker"]

# ---- api (the default target): serves HTTP, applies migrations at start-up ----
FROM runtime AS api
ENV BIND=0.0.0.0:8001
EXPOSE 8001
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
  CMD curl -fsS -o /dev/null http://127.0.0.1:8001/readyz || exit 1
CMD ["mediawarm-api"]
