# syntax=docker/dockerfile:1
# privatelink-operator container image, for docker buildx (the release workflow builds linux/amd64 and
# linux/arm64 from one amd64 runner). The Rust stage runs on the build platform and cross-compiles, so
# no emulation is needed; the final stage only copies the binary onto distroless.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) -t IMAGE --push .
#
# `make image` builds the same image without a Docker daemon (tests/image/build.py: the packages of
# distroless/cc-debian12 from Debian bookworm, the same binary path, user, entrypoint, env and labels),
# and `make image-test` runs it from its own root filesystem. Keep the two in step.

ARG RUST_VERSION=1.95
# A Debian 12 (bookworm) builder: the binary links glibc 2.36, the base's glibc.
FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-bookworm AS build
ARG TARGETARCH
ARG VERSION=""
WORKDIR /src
# Target triple and, when it differs from the build machine, Debian's cross toolchain (ring has C code).
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    set -eu; \
    case "$TARGETARCH" in \
      amd64) triple=x86_64-unknown-linux-gnu gcc=gcc-x86-64-linux-gnu ;; \
      arm64) triple=aarch64-unknown-linux-gnu gcc=gcc-aarch64-linux-gnu ;; \
      *) echo "unsupported TARGETARCH $TARGETARCH" >&2; exit 1 ;; \
    esac; \
    echo "$triple" >/rust-target; \
    if [ "$(uname -m)" != "${triple%%-*}" ]; then \
      rm -f /etc/apt/apt.conf.d/docker-clean; \
      apt-get update && apt-get install -y --no-install-recommends "$gcc" "libc6-dev-$TARGETARCH-cross"; \
    fi; \
    rustup target add "$triple"
COPY . .
# A tag build passes VERSION; it must be the crate's version (the chart's appVersion and default tag).
RUN if [ -n "$VERSION" ] && ! grep -qx "version = \"$VERSION\"" Cargo.toml; then \
      echo "VERSION=$VERSION is not the version in Cargo.toml" >&2; exit 1; \
    fi
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,id=target-$TARGETARCH,sharing=locked \
    set -eu; \
    triple="$(cat /rust-target)"; \
    if [ "$(uname -m)" != "${triple%%-*}" ]; then \
      cc="${triple%%-*}-linux-gnu-gcc"; \
      TRIPLE="$(echo "$triple" | tr 'a-z-' 'A-Z_')"; \
      export "CARGO_TARGET_${TRIPLE}_LINKER=$cc" "CC_$(echo "$triple" | tr - _)=$cc"; \
    fi; \
    cargo build --release --locked --target "$triple" --bin privatelink-operator; \
    mkdir -p /out; \
    cp "target/$triple/release/privatelink-operator" /out/privatelink-operator

# glibc, libgcc_s, CA certificates, tzdata, /etc/passwd with nonroot (65532); no shell.
FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=""
ARG REVISION=""
ARG CREATED=""
LABEL org.opencontainers.image.title="privatelink-operator" \
      org.opencontainers.image.description="Kubernetes operator for Alibaba Cloud PrivateLink endpoint services" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/privatelink-operator/privatelink-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/privatelink-operator /usr/bin/privatelink-operator
# Numeric, so kubelet's runAsNonRoot check can verify it. The operator writes no files: it runs with
# readOnlyRootFilesystem (the chart's default securityContext).
USER 65532:65532
ENTRYPOINT ["/usr/bin/privatelink-operator"]
CMD ["run"]
