#!/usr/bin/env bash
# Fetches the pinned SQLite amalgamation (3.53.2, shipped inside the npm
# package better-sqlite3@12.11.1), verifies its sha256 and caches it outside
# the source tree. Prints the cache directory on stdout.
#
# Nothing fetched is ever committed: the cache lives in
# ${CAIRN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn} (HOME unset: /tmp/.cache).
set -euo pipefail

readonly PKG="better-sqlite3@12.11.1"
readonly VERSION="3.53.2"
readonly SHA_C="60d2f39a3726cd6b9021da6f4e868608d66fbb6528a9f513dc8ffcc640493422"
readonly SHA_H="9e69a1353a4288450b0d5239ede11fc7f1f4c8e5eb07491fc8317eacb5b7de7e"

cache="${CAIRN_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/cairn}/sqlite-$VERSION"

verify() {
  local dir="$1"
  echo "$SHA_C  $dir/sqlite3.c" | sha256sum --check --status &&
    echo "$SHA_H  $dir/sqlite3.h" | sha256sum --check --status &&
    [ -f "$dir/sqlite3ext.h" ]
}

if [ -d "$cache" ] && verify "$cache"; then
  echo "$cache"
  exit 0
fi

command -v npm >/dev/null || { echo "fetch-sqlite: npm is required" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PKG" >/dev/null 2>&1) || {
  echo "fetch-sqlite: 'npm pack $PKG' failed" >&2; exit 1; }
tar -xzf "$tmp"/better-sqlite3-*.tgz -C "$tmp"
src="$tmp/package/deps/sqlite3"
if ! verify "$src"; then
  echo "fetch-sqlite: SHA-256 MISMATCH for the SQLite $VERSION amalgamation from $PKG" >&2
  sha256sum "$src/sqlite3.c" "$src/sqlite3.h" >&2 || true
  echo "fetch-sqlite: expected sqlite3.c $SHA_C, sqlite3.h $SHA_H; refusing to build" >&2
  exit 1
fi
mkdir -p "$cache.partial"
cp "$src/sqlite3.c" "$src/sqlite3.h" "$src/sqlite3ext.h" "$cache.partial/"
rm -rf "$cache"
mv "$cache.partial" "$cache"
echo "$cache"
