# The loadplan image for distributed runs (deploy/kubernetes/). Build: docker build -t loadplan .
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY templates templates
RUN cargo build --release --locked && strip target/release/loadplan

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 loadplan
COPY --from=build /src/target/release/loadplan /usr/local/bin/loadplan
USER 10001
ENTRYPOINT ["loadplan"]
