# shellcheck shell=bash
# Source me: the one staleness scheme of the build scripts (build-worker.sh,
# build-pkg.sh, build-www.sh). A build is skipped when the content hash of everything
# that feeds it (its input files, its script, the versions of its tools, its knobs) is
# the one recorded by its last successful build and its outputs exist. Content, not
# modification times: a checkout, a `git stash` round trip or a copied tree does not
# trigger a rebuild, and an edit reverted by hand does not keep a stale build.
#
#   stamp_hash "<knobs and tool versions>" PATH...   prints the hash
#   stamp_fresh NAME HASH OUTPUT...                  true when NAME's recorded hash is
#                                                    HASH and every OUTPUT exists
#   stamp_record NAME HASH                           records HASH for NAME
#
# Stamps live in target/stamps/ (so `cargo clean` forces a rebuild as well); FORCE=1
# makes stamp_fresh false.

TG_STAMP_DIR="${TG_STAMP_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/stamps}"

stamp_hash() {
  local extra="$1"
  shift
  {
    printf '%s\n' "$extra"
    find "$@" \( -name build -o -name dist -o -name node_modules -o -name target \) -prune \
      -o -type f -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -d' ' -f1
}

stamp_fresh() {
  local name="$1" hash="$2" out
  shift 2
  [ "${FORCE:-0}" != 1 ] || return 1
  [ -f "$TG_STAMP_DIR/$name" ] && [ "$(cat "$TG_STAMP_DIR/$name")" = "$hash" ] || return 1
  for out in "$@"; do
    [ -e "$out" ] || return 1
  done
}

stamp_record() {
  mkdir -p "$TG_STAMP_DIR"
  printf '%s\n' "$2" > "$TG_STAMP_DIR/$1"
}

stamp_clear() {
  rm -f "$TG_STAMP_DIR/$1"
}
