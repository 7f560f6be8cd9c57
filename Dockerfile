# siteplane's image: built on Debian bookworm with the same install script and make target the
# README uses, run as a non-root user on bookworm-slim with only the shared libraries it links.
#   docker build -t siteplane .
# The chart (charts/siteplane) runs it with `serve --source kubernetes`.

FROM debian:bookworm AS build
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends make ca-certificates
WORKDIR /src
COPY . .
# `make build` runs scripts/install-deps build, then cmake: what a developer's machine does.
RUN make build BUILD_DIR=/build BUILD_TYPE=Release JOBS="$(nproc)"

FROM debian:bookworm-slim
# The runtime half of scripts/install-deps' build set (ldd of the binary), and CA roots for ACME
# servers and the Kubernetes API.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      ca-certificates libssl3 libyaml-cpp0.7 libprotobuf32 libuv1 libhttp-parser2.9 \
      libspdlog1.10 libfmt9 zlib1g libcurl4 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/siteplane /usr/bin/siteplane
# The chart's pod runs as 65532 with a read-only root filesystem: state and /tmp are emptyDirs.
RUN mkdir -p /var/lib/siteplane && chown 65532:65532 /var/lib/siteplane
USER 65532:65532
WORKDIR /var/lib/siteplane
EXPOSE 8080 8443 8081
ENTRYPOINT ["/usr/bin/siteplane"]
CMD ["serve", "--source=kubernetes", "--health-listen=:8081", "--state=/var/lib/siteplane"]
