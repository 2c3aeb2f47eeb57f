#!/usr/bin/env bash
# The contract's CI (issue 17): build SentinelTrust with forge through the
# solc-js wrapper, run the Foundry tests with a gas report, and check that the
# checked-in artifact (ABI + bytecode) equals a fresh, reproducible build.
#
#   bash contracts/ci.sh            # build, test, check (exit 1 on any failure)
#   bash contracts/ci.sh --update   # rewrite artifacts/SentinelTrust.json, then test
#
# Needs node and the root package's npm packages (`npm ci` in the repository
# root: @foundry-rs/forge and solc). Offline: forge gets solc-js 0.8.37 via
# tools/solc and never downloads anything.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$here"

fail() {
  printf 'contracts/ci.sh: %s\n' "$1" >&2
  exit 1
}

mode=--check
case "${1:-}" in
  "") ;;
  --update) mode=--write ;;
  *) fail "unknown argument '$1' (use --update to rewrite the artifact)" ;;
esac

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-amd64 ;;
  Linux-aarch64 | Linux-arm64) platform=linux-arm64 ;;
  Darwin-arm64) platform=darwin-arm64 ;;
  Darwin-x86_64) platform=darwin-amd64 ;;
  *) fail "unsupported platform $(uname -s)-$(uname -m)" ;;
esac
forge="${FORGE:-$root/node_modules/@foundry-rs/forge-$platform/bin/forge}"
command -v node >/dev/null 2>&1 || fail "node not found (needed for the solc-js wrapper)"
[ -x "$forge" ] || fail "forge not found at $forge: run 'npm ci' in $root"
node -e "require('$root/node_modules/solc')" 2>/dev/null || fail "solc-js not found: run 'npm ci' in $root"

export FOUNDRY_SOLC="$here/tools/solc"
export FOUNDRY_OFFLINE=true
"$FOUNDRY_SOLC" --version | sed -n 2p

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "==> forge fmt --check"
"$forge" fmt --check

# The artifact: a clean build of the contract alone (so the tests' sources
# cannot influence it), compared with (or written to) the checked-in file.
echo "==> forge build src/SentinelTrust.sol (clean, for the artifact)"
"$forge" build src/SentinelTrust.sol --out "$tmp/out" --cache-path "$tmp/cache"
artifact_rc=0
node tools/artifact.js "$tmp/out" artifacts/SentinelTrust.json "$mode" || artifact_rc=$?

echo "==> forge test --offline --gas-report"
"$forge" test --offline --gas-report

if [ "$artifact_rc" -ne 0 ]; then
  fail "artifacts/SentinelTrust.json is stale (see above)"
fi
echo "contracts: build, tests and artifact ok"
