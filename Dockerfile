# syntax=docker/dockerfile:1
# Build: a static binary, no cgo, reproducible paths.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/wxlogin .

# Run: distroless static has CA certificates (for api.weixin.qq.com),
# tzdata and a non-root user, and no shell; `wxlogin healthcheck` is the
# health probe for that reason.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/wxlogin /wxlogin
USER nonroot:nonroot
EXPOSE 8080
ENV WXLOGIN_ADDR=:8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/wxlogin", "healthcheck"]
ENTRYPOINT ["/wxlogin"]
CMD ["serve"]
