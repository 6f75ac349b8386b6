#!/usr/bin/env bash
# Runs every test of cointrail. Needs only the Rust toolchain (cargo-nextest is used when present).
set -euo pipefail
cd "$(dirname "$0")/.."
# Build outside the clone so that repeated runs (and CI on the same machine) reuse the cache.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cointrail/target}"

# Real programs the tests drive: a Core-family regtest node (Debian's litecoind, Litecoin Core 0.21).
if ! command -v litecoind >/dev/null 2>&1; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq litecoind >/dev/null
fi

# anvil (Foundry's EVM node) for crates/evm/tests/it/anvil.rs, installed from npm.
if ! command -v npm >/dev/null 2>&1; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq npm >/dev/null
fi
COINTRAIL_ANVIL="$(scripts/install-anvil.sh)"
export COINTRAIL_ANVIL

cargo test --workspace --doc --locked --quiet
cargo bench --workspace --no-run --locked --quiet
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
