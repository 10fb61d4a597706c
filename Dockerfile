# syntax=docker/dockerfile:1
#
# backchannel's image: one static binary on distroless, run as non-root.
# The same image runs every role (--role all|ingest|fanout).
#
#   docker build -t backchannel .
#   docker run -p 8080:8080 backchannel serve --tag Leaders4Leeds --rehearse

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so a change to the code does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# CGO off: a static binary that needs no libc, so distroless/static (no
# shell, no package manager) can run it.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/backchannel ./cmd/backchannel \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/backchannel /usr/local/bin/backchannel
# The embedded log's directory (all-in-one role only; ingest and fan-out
# keep everything in Redis). Owned by the nonroot user (65532).
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
ENV BACKCHANNEL_LISTEN=:8080 \
    BACKCHANNEL_DATA=/data \
    BACKCHANNEL_LOG_FORMAT=json
EXPOSE 8080
# No curl in distroless: the binary checks itself. /healthz answers while
# the process serves HTTP; readiness (/readyz, Redis reachable) is the
# orchestrator's business, not a reason to restart the container.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/backchannel", "healthcheck", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/backchannel"]
CMD ["serve"]
