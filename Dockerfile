# syntax=docker/dockerfile:1
#
# relance production image: the relance binary plus the chDB engine
# (libchdb.so). See deploy/README.md for why libchdb.so is needed even when
# relance writes to a ClickHouse server.
#
#   docker build -t relance .
#   docker run --rm relance run --brokers … --registry … --clickhouse-addr …
#
# linux/amd64 only: the pinned chDB build (@chdb/lib-linux-x64-gnu) exists
# for Linux x86_64 only.

# --- libchdb: fetch and verify the pinned chDB engine (npm registry) -------
FROM --platform=linux/amd64 node:22-bookworm AS libchdb
WORKDIR /src
# The script needs npm (in this image), openssl, sha256sum, base64 and tar.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY scripts/install-libchdb.sh scripts/install-libchdb.sh
# Checks npm's sha512 integrity of the tarball and the sha256 of libchdb.so
# (pinned in the script); ~166 MB download, ~560 MB unpacked.
RUN scripts/install-libchdb.sh /opt/libchdb

# --- build: the relance binary ---------------------------------------------
FROM --platform=linux/amd64 golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO_ENABLED=0 works: chdb-go loads libchdb.so through purego (dlopen
# without cgo). The result is still dynamically linked against glibc
# (libc, libdl, libpthread), so the runtime image must be glibc-based.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/relance ./cmd/relance

# --- runtime ---------------------------------------------------------------
FROM --platform=linux/amd64 debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/relance --create-home relance
# The relance binary exits at start (status 2) when it cannot find
# libchdb.so; /usr/local/lib/libchdb.so is one of the places it looks, and
# CHDB_LIB_PATH makes it explicit.
COPY --from=libchdb /opt/libchdb/libchdb.so /usr/local/lib/libchdb.so
COPY --from=build /out/relance /usr/local/bin/relance
ENV CHDB_LIB_PATH=/usr/local/lib/libchdb.so
USER relance
WORKDIR /var/lib/relance
ENTRYPOINT ["relance"]
CMD ["help"]
