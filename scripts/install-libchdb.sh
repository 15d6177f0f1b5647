#!/usr/bin/env bash
# install-libchdb.sh — fetch the pinned chDB engine (libchdb.so) from the npm
# registry, verify it, and unpack it into a git-ignored cache directory.
#
# The library is ~560 MB unpacked and is never committed. Idempotent: a
# second run with the library already in place only re-checks its hash.
#
#   scripts/install-libchdb.sh [DEST_DIR]     (default: .cache/libchdb)
#
# After it: export CHDB_LIB_PATH="$DEST_DIR/libchdb.so" (make does this).
set -euo pipefail

PKG="@chdb/lib-linux-x64-gnu"
VERSION="26.5.3"
# npm's own integrity string for the tarball (sha512, as `npm view` prints it).
INTEGRITY="sha512-fPrLmRt5Moor9yGz4mazbrNje4t7X9KB2mTGkXFWRxRBs2iKy8yh6jx11xsa0Qr3iDFMU/yHqd+bVdYJXu3QaQ=="
# sha256 of libchdb.so itself, checked on every run (cheap insurance against a
# truncated unpack or a swapped file in the cache).
LIB_SHA256="4330da79405733f7572f27c1442f46c03a08301f00859dce0368645731b1e1dc"

root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-"$root/.cache/libchdb"}
lib="$dest/libchdb.so"

check_lib() {
  [ -f "$lib" ] || return 1
  [ "$LIB_SHA256" = "__LIB_SHA256__" ] && return 0
  echo "$LIB_SHA256  $lib" | sha256sum --check --status
}

if check_lib; then
  echo "libchdb: $lib is in place (chDB $VERSION, sha256 verified)"
  exit 0
fi

case "$(uname -sm)" in
  "Linux x86_64") ;;
  *) echo "libchdb: $PKG is built for Linux x86_64 only; this machine is $(uname -sm)" >&2; exit 1 ;;
esac
command -v npm >/dev/null || { echo "libchdb: npm is needed to fetch $PKG@$VERSION (apt-get install npm)" >&2; exit 1; }

mkdir -p "$dest"
work=$(mktemp -d "$dest/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "libchdb: fetching $PKG@$VERSION from the npm registry (166 MB)…"
(cd "$work" && npm pack --silent "$PKG@$VERSION" >/dev/null)
tgz=$(ls "$work"/*.tgz)

got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$got" != "$INTEGRITY" ]; then
  echo "libchdb: integrity mismatch for $tgz" >&2
  echo "  want $INTEGRITY" >&2
  echo "  got  $got" >&2
  exit 1
fi

tar -xzf "$tgz" -C "$work" package/libchdb.so
mv "$work/package/libchdb.so" "$lib.tmp"
mv "$lib.tmp" "$lib"
if ! check_lib; then
  echo "libchdb: sha256 of the unpacked $lib does not match the pinned one" >&2
  rm -f "$lib"
  exit 1
fi
echo "libchdb: installed $lib (chDB $VERSION, integrity verified)"
