#!/usr/bin/env bash
# The operator dashboard in a real browser: headless Chromium (Debian's `chromium`, driven by
# playwright-core pinned in tests/browser/package-lock.json) against the real
# `mediawarm-api` binary in embedded mode. See tests/browser/dashboard.test.mjs for what it
# checks. Every request goes to 127.0.0.1, apart from installing Chromium (apt) and
# playwright-core (npm) when they are missing.
#
# Environment: MEDIAWARM_API_BIN (a prebuilt binary; default: the debug one, built here from
# this checkout so it is never stale), CHROMIUM (default /usr/bin/chromium), SCREENSHOT
# (default target/browser/dashboard.png, under CARGO_TARGET_DIR when that is set).
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "browser: FATAL: $*" >&2; exit 1; }

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  [ "$CHROMIUM" = /usr/bin/chromium ] || fail "CHROMIUM=$CHROMIUM is not executable"
  echo "browser: installing chromium (apt)"
  command -v apt-get >/dev/null || fail "chromium is missing and apt-get is not available"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium \
    || fail "apt-get install chromium failed"
fi
"$CHROMIUM" --version 2>/dev/null || fail "$CHROMIUM does not run"

command -v node >/dev/null || fail "node (>= 20) is needed"
command -v npm >/dev/null || fail "npm is needed"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci in tests/browser failed"

TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
BIN="${MEDIAWARM_API_BIN:-}"
if [ -z "$BIN" ]; then
  # The whole workspace's binaries, so features unify as in `cargo test` and nothing is
  # rebuilt (the same build as .ci/schemathesis.sh).
  cargo build --locked --workspace --bins || fail "building the binaries failed"
  BIN="$TARGET_DIR/debug/mediawarm-api"
fi

export MEDIAWARM_API_BIN="$BIN" CHROMIUM
export SCREENSHOT="${SCREENSHOT:-$TARGET_DIR/browser/dashboard.png}"
if ! node tests/browser/dashboard.test.mjs; then
  fail "the dashboard browser test failed (see above)"
fi
echo "browser: dashboard test passed; screenshot: $SCREENSHOT"
