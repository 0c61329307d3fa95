# syntax=docker/dockerfile:1
# The base images are pinned by digest, the tag beside it being for people:
# a rebuild gets the same bases until someone moves a pin on purpose. To
# update one, resolve the tag's current digest and paste it after the tag:
#   crane digest golang:1.26-bookworm
#   crane digest gcr.io/distroless/static-debian12:nonroot
# (or: docker buildx imagetools inspect <image> --format '{{.Manifest.Digest}}').
# Both are multi-platform indexes, so one pin covers amd64 and arm64.

# Build: a static binary (no cgo, -trimpath). The stage runs on the build
# machine's own platform and cross-compiles for the target, so
# `docker buildx build --platform linux/amd64,linux/arm64 .` needs no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm@sha256:b305420a68d0f229d91eb3b3ed9e519fcf2cf5461da4bef997bf927e8c0bfd2b AS build
WORKDIR /src
COPY go.mod go.sum ./
# The module and build caches outlive the layers: a change to go.sum, or
# to any source file, downloads and compiles only what changed.
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/wxlogin .

# Run: distroless static has CA certificates (for api.weixin.qq.com),
# tzdata and a non-root user, and no shell; `wxlogin healthcheck` is the
# health probe for that reason.
FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
COPY --from=build /out/wxlogin /wxlogin
# Numeric, so that Kubernetes' runAsNonRoot can tell without /etc/passwd:
# 65532 is distroless's "nonroot".
USER 65532:65532
EXPOSE 8080
ENV WXLOGIN_ADDR=:8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/wxlogin", "healthcheck"]
ENTRYPOINT ["/wxlogin"]
CMD ["serve"]
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="wxlogin" \
      org.opencontainers.image.description="Stateless login server for WeChat Mini Programs" \
      org.opencontainers.image.source="https://github.com/wxlogin/wxlogin" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
