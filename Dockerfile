# Builds the mediawarm binaries; used by docker-compose.yml.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p mediawarm-api

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/mediawarm-api /usr/local/bin/
ENV BIND=0.0.0.0:8001
EXPOSE 8001
CMD ["mediawarm-api"]
