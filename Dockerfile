# Keepalive: a static, pure-Go binary (SQLite needs no cgo) on a
# distroless base, running as a non-root user. The build step is the same
# as `make build`.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Same as `make build`: static assets, templates and migrations are
# embedded in the binary.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/keepalive . \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/keepalive /usr/local/bin/keepalive
# SQLite lives here unless DATABASE_URL names PostgreSQL; mount a volume.
COPY --from=build --chown=nonroot:nonroot /out/data /data
WORKDIR /data
ENV KEEPALIVE_ADDR=0.0.0.0:8080 \
    DATABASE_URL=/data/keepalive.db
EXPOSE 8080
USER nonroot:nonroot
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/keepalive"]
CMD ["serve"]
