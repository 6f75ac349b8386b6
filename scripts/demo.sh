#!/usr/bin/env bash
# The main job on bundled data: ingest real mainnet blocks 0-438 (Bitcoin Core blk format) into an
# embedded store, then follow the first person-to-person payment (Satoshi to Hal Finney, height 170).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cointrail/target}"
cargo build --release --locked --quiet -p cointrail-cli
cointrail="$CARGO_TARGET_DIR/release/cointrail"

work="${COINTRAIL_DEMO_DIR:-$(mktemp -d -t cointrail-demo.XXXXXX)}"
mkdir -p "$work/blocks"
cp data/btc/mainnet-0-438.blk "$work/blocks/blk00000.dat"
export COINTRAIL_STORE="$work/store"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step "$cointrail" ingest btc --blocks-dir "$work/blocks"
step "$cointrail" status
step "$cointrail" show tx f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16
step "$cointrail" show address 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S
step "$cointrail" show address 1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3 --format json
printf '\nstore kept in %s (COINTRAIL_STORE=%s)\n' "$work" "$COINTRAIL_STORE"
