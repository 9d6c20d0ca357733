# syntax=docker/dockerfile:1
#
# tollgate's container image: a static binary (CGO_ENABLED=0) on
# distroless/static, run as the non-root user 65532. There is no shell in
# the image: the HEALTHCHECK is `tollgate healthcheck`, and everything
# tollgate writes goes to stderr or to mounted volumes, so the root
# filesystem can be read-only.
#
#   docker build -t tollgate --build-arg VERSION=$(git describe --always) .
#   docker run --rm -p 8080:8080 -v "$PWD/config:/config:ro" -v "$PWD/keys:/keys:ro" tollgate serve --keys /keys
#
# Pin both base images by digest in production (FROM image@sha256:...).

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/tollgate ./cmd/tollgate
# The default policies ship in the image; declarations never do (the
# example config holds demo clients). Empty, writable mount points for the
# volumes a fleet uses: Docker gives a new named volume the owner of the
# folder it is mounted on.
RUN mkdir -p /out/policies /out/config /out/keys /out/bundles /out/cache \
 && find policies -maxdepth 1 -name "*.rego" ! -name "*_test.rego" -exec cp {} /out/policies/ \; \
 && chmod 0700 /out/keys

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tollgate /tollgate
COPY --from=build --chown=65532:65532 /out/policies /policies
COPY --from=build --chown=65532:65532 /out/config /config
COPY --from=build --chown=65532:65532 /out/keys /keys
COPY --from=build --chown=65532:65532 /out/bundles /bundles
COPY --from=build --chown=65532:65532 /out/cache /cache
USER 65532:65532
ENV TOLLGATE_ADDR=0.0.0.0:8080 \
    TOLLGATE_CONFIG=/config \
    TOLLGATE_POLICIES=/policies
EXPOSE 8080
# GET http://127.0.0.1:8080/readyz; serving elsewhere, set TOLLGATE_URL
# (and TOLLGATE_INSECURE=true for a certificate that names another host).
HEALTHCHECK --interval=10s --timeout=4s --start-period=20s --retries=3 \
  CMD ["/tollgate", "healthcheck"]
ENTRYPOINT ["/tollgate"]
CMD ["serve"]
