#!/usr/bin/env bash
# Property-based API testing against a live server: schemathesis (from PyPI) generates
# requests from /api/v1/openapi.json, valid and invalid, and fails the run on any 5xx, any
# response that violates the documented schema (status, content type, headers, body), and
# any request the API accepts although the schema says it is invalid.
# Check settings (and why `positive_data_acceptance` is off) are in .ci/schemathesis.toml.
#
# The server is `mediawarm-api` in embedded mode (SQLite + memory cache + in-process worker)
# on a free loopback port, with a temporary DATA_DIR and OPERATOR_TOKEN, seeded with a few
# articles so reads return data. Everything it starts is stopped on exit.
#
# Environment: SCHEMATHESIS_VERSION (pinned), SCHEMATHESIS_MAX_EXAMPLES (per operation),
# SCHEMATHESIS_MAX_SECONDS (whole run), MEDIAWARM_API_BIN (a prebuilt binary; default: the
# debug one, built from this checkout so it is never stale).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
MAX_SECONDS="${SCHEMATHESIS_MAX_SECONDS:-600}"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/mediawarm"
VENV="$CACHE_DIR/schemathesis-$VERSION"
CONFIG="$PWD/.ci/schemathesis.toml"

if [ ! -x "$VENV/bin/schemathesis" ]; then
  echo "schemathesis: installing schemathesis==$VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
fi

BIN="${MEDIAWARM_API_BIN:-}"
if [ -z "$BIN" ]; then
  TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  # The whole workspace, so features unify as in `cargo test` and nothing is rebuilt.
  cargo build --locked --workspace --bins
  BIN="$TARGET_DIR/debug/mediawarm-api"
fi

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
TOKEN="schemathesis-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
BASE="http://127.0.0.1:$PORT"

# A few articles, so reads have rows to page through.
python3 - "$WORK/seed.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(30):
        f.write(json.dumps({"source": ["gazette", "herald"][i % 2],
                            "url": f"https://news.example/a/{i}",
                            "title": f"Article {i}",
                            "published_at": f"2026-01-{1 + i % 28:02d}T08:00:00Z"}) + "\n")
PY
env -u DATABASE_URL -u REDIS_URL DATA_DIR="$WORK/data" "$BIN" import "$WORK/seed.jsonl"

env -u DATABASE_URL -u REDIS_URL DATA_DIR="$WORK/data" OPERATOR_TOKEN="$TOKEN" BIND="127.0.0.1:$PORT" \
  RUST_LOG="${RUST_LOG:-warn}" "$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  if curl -fsS "$BASE/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$WORK/server.log"; echo "schemathesis: the server died" >&2; exit 1; fi
  sleep 0.1
done
curl -fsS "$BASE/healthz" >/dev/null

status=0
# Run from the temporary directory: schemathesis leaves its replay files in the working one.
(cd "$WORK" && timeout --signal=INT --kill-after=30 "$MAX_SECONDS" \
  "$VENV/bin/schemathesis" --config-file "$CONFIG" run "$BASE/api/v1/openapi.json" \
    --url "$BASE" \
    --header "Authorization: Bearer $TOKEN" \
    --checks all \
    --exclude-checks positive_data_acceptance \
    --max-examples "$MAX_EXAMPLES" \
    --request-timeout 20 \
    --seed "${SCHEMATHESIS_SEED:-42}" \
    --no-color) \
    || status=$?

if grep -q "panicked" "$WORK/server.log"; then
  echo "schemathesis: the server panicked:" >&2
  grep -A5 "panicked" "$WORK/server.log" >&2
  status=1
fi
if grep -qF "$TOKEN" "$WORK/server.log"; then
  echo "schemathesis: the operator token appeared in the server log" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "schemathesis: FAILED (exit $status); last server log lines:" >&2
  tail -n 40 "$WORK/server.log" >&2
fi
exit "$status"
