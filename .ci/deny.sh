#!/usr/bin/env bash
# cargo-deny: licences, bans (incl. duplicate versions) and sources, per deny.toml. Offline:
# the advisory database is not fetched here. Where the network allows, also run
#     cargo deny --all-features check advisories
# cargo-deny is installed from crates.io into a cache directory when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${CARGO_DENY_VERSION:-}"
ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/mediawarm/cargo-deny"
if command -v cargo-deny >/dev/null 2>&1; then
  DENY=(cargo-deny)
elif [ -x "$ROOT/bin/cargo-deny" ]; then
  DENY=("$ROOT/bin/cargo-deny")
else
  echo "deny: installing cargo-deny into $ROOT"
  cargo install --locked --root "$ROOT" cargo-deny ${VERSION:+--version "$VERSION"}
  DENY=("$ROOT/bin/cargo-deny")
fi

"${DENY[@]}" --version
"${DENY[@]}" --all-features --locked check licenses bans sources
