# The loadplan image for distributed runs (deploy/kubernetes/). Build: docker build -t loadplan .
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY templates templates
# The dist profile: fat LTO and one codegen unit (the release profile is built for quick builds).
RUN cargo build --profile dist --locked && strip target/dist/loadplan

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 loadplan
COPY --from=build /src/target/dist/loadplan /usr/local/bin/loadplan
USER 10001
ENTRYPOINT ["loadplan"]
