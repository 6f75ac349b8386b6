#!/usr/bin/env bash
# Installs anvil (Foundry's local EVM node) from npm into $HOME/.cache/cointrail/anvil if it is not
# there yet, and prints the path of its binary. The npm package @foundry-rs/anvil-linux-amd64 ships
# the binary itself, so nothing is downloaded outside the npm registry (its postinstall is skipped).
set -euo pipefail
prefix="${COINTRAIL_ANVIL_PREFIX:-$HOME/.cache/cointrail/anvil}"
binary="$prefix/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
if [ ! -x "$binary" ]; then
  command -v npm >/dev/null 2>&1 || { echo "error: npm is needed to install anvil" >&2; exit 1; }
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --ignore-scripts --loglevel=error \
    @foundry-rs/anvil @foundry-rs/anvil-linux-amd64 >&2
fi
[ -x "$binary" ] || { echo "error: anvil binary not found at $binary after npm install" >&2; exit 1; }
echo "$binary"
