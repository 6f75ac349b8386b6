#!/usr/bin/env bash
# Re-runs the figures in docs/performance.md: decode and ingest throughput on the largest real
# mainnet blocks (bench harness), and the end-to-end CLI ingest of mainnet 0-438 with peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cointrail/target}"

echo "## machine"
echo "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(rustc --version)"
echo
echo "## cargo bench -p cointrail-ingest --bench ingest"
cargo bench --locked --quiet -p cointrail-ingest --bench ingest 2>/dev/null

echo
echo "## cointrail ingest btc: mainnet 0-438 end to end (best of 5)"
cargo build --release --locked --quiet -p cointrail-cli
cointrail="$CARGO_TARGET_DIR/release/cointrail"
work=$(mktemp -d -t cointrail-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/blocks"
cp data/btc/mainnet-0-438.blk "$work/blocks/blk00000.dat"
for run in 1 2 3 4 5; do
  rm -rf "$work/store"
  /usr/bin/time -f "run $run: %e s wall, %M KiB peak RSS" \
    "$cointrail" ingest btc --blocks-dir "$work/blocks" --store "$work/store" --format json >"$work/out.json"
done 2>&1
"$cointrail" status --store "$work/store"
