#!/usr/bin/env bash
# Makes sure Debian's Chromium is at $CHROMIUM_PATH (default /usr/bin/chromium) for the
# browser tests: installs the `chromium` package with apt-get when it is missing
# (idempotent: a present binary is left alone). Prints the version.
set -euo pipefail
log() { printf '[chromium] %s\n' "$*" >&2; }
die() { printf '[chromium] ERROR: %s\n' "$*" >&2; exit 1; }

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  [ -z "${CHROMIUM_PATH:-}" ] || die "CHROMIUM_PATH=$CHROMIUM is not executable"
  if [ "$(id -u)" = 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    die "$CHROMIUM is missing and this user cannot apt-get install chromium"
  fi
  log "installing Debian's chromium (apt-get)"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium >/dev/null
  [ -x "$CHROMIUM" ] || die "apt-get installed chromium but $CHROMIUM is missing"
fi
log "$("$CHROMIUM" --version 2>/dev/null | tail -n 1)"
