#!/usr/bin/env bash
# Alternating fresh ingests of one chain by two or more cointrail builds, for before/after figures
# on a machine whose speed drifts between runs (docs/performance.md, "Chain scale").
#
#   scripts/bench-ab.sh CHAIN_DIR RUNS BIN...       e.g. scripts/bench-ab.sh chain-8 3 ./old ./new
#
# Each run ingests CHAIN_DIR (a regtest blocks directory, e.g. from `cointrail synth`) into a fresh
# store under $BENCH_STORE (default: a directory beside CHAIN_DIR), after a `sync`, and prints one
# line: wall, user and system seconds, peak RSS KiB and minor faults (/usr/bin/time), the MiB
# written to the store's disk during the run and the final `sync` (/proc/diskstats), the store's
# bytes. A BIN may be a wrapper script that adds options (e.g. `exec ./new "$@" --batch-txs 6000000`).
# Exit codes: 0 done, 1 an ingest failed, 2 usage (or BENCH_STORE already exists).
set -euo pipefail

if [ $# -lt 3 ] || ! [[ $2 =~ ^[1-9][0-9]*$ ]] || [ ! -d "$1" ]; then
  echo "usage: scripts/bench-ab.sh CHAIN_DIR RUNS BIN... (CHAIN_DIR must exist, RUNS >= 1)" >&2
  exit 2
fi
chain=$1 runs=$2
shift 2
[ -x /usr/bin/time ] || { echo "bench-ab: needs /usr/bin/time (Debian package 'time')" >&2; exit 2; }
store=${BENCH_STORE:-$(dirname "$chain")/bench-ab-store}
# Each run deletes and rewrites the store, so an existing directory is refused rather than lost.
if [ -e "$store" ]; then
  echo "bench-ab: $store exists; remove it or set BENCH_STORE to a new path" >&2
  exit 2
fi
mkdir -p "$(dirname "$store")"
# The block device that holds the store (for its written sectors), e.g. vda or nvme0n1.
# A partition (vda1, nvme0n1p2) counts its own sectors too, so its own line is used as it is.
device=$(basename "$(df --output=source "$(dirname "$store")" | tail -1)")
written() { awk -v d="$device" '$3 == d { print $10 }' /proc/diskstats; }
timing=$(mktemp) && trap 'rm -rf "$timing" "$timing.err" "$store"' EXIT

for run in $(seq "$runs"); do
  for bin in "$@"; do
    rm -rf "$store"
    sync
    sleep 2
    before=$(written)
    if ! /usr/bin/time -f '%e %U %S %M %R' -o "$timing" "$bin" ingest btc --blocks-dir "$chain" \
      --store "$store" --network regtest --format json >/dev/null 2>"$timing.err"; then
      echo "bench-ab: $bin failed on $chain:" >&2
      tail -3 "$timing.err" >&2
      exit 1
    fi
    sync
    after=$(written)
    read -r wall user sys rss faults <"$timing"
    printf '%s run %d: %s s wall, %s s user, %s s sys, %s KiB peak RSS, %s minor faults, %s MiB written, store %s bytes, %s\n' \
      "$(basename "$bin")" "$run" "$wall" "$user" "$sys" "$rss" "$faults" \
      "$(( (${after:-0} - ${before:-0}) / 2048 ))" "$(du -sb "$store" | cut -f1)" "$(date -u +%H:%M:%S)"
  done
done
