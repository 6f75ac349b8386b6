#!/usr/bin/env bash
# One `cointrail ingest btc` of a chain inside a memory control group, to see what an ingest does
# when its random working set outgrows memory, as a whole chain's does on a 24 GiB machine
# (docs/performance.md, "Chain scale").
#
#   scripts/bench-memlimit.sh BIN CHAIN_DIR LIMIT_MIB TIMEOUT_S    e.g. ./ct chain-4 1536 420
#
# Creates a child group of this shell's memory group (cgroup v1 `memory.limit_in_bytes`, or v2
# `memory.max`; needs the rights to write them, e.g. root), limits it to LIMIT_MIB, runs the
# ingest into a fresh store beside CHAIN_DIR (or $BENCH_STORE) under `timeout TIMEOUT_S`, and
# prints one line: the exit code (124 = not done in time), wall/user/system seconds, peak RSS,
# major page faults (faults that waited for a read from disk) and the MB read from the file
# system (512-byte blocks, read ahead or not; /usr/bin/time), the store's bytes on disk at the end, the txs committed (how far a run that
# timed out got) and the group's peak usage. Page cache the ingest reads or writes counts against
# the group, as it does on a machine of that size; pages already cached by another group do not
# (the script reads the blk files first, outside the group).
# The store is deleted afterwards, so an existing one is refused rather than lost.
# Exit codes: 0 the line was printed (whatever the ingest did), 2 usage, an existing store, or no
# group could be made.
set -uo pipefail

if [ $# -ne 4 ] || [ ! -d "$2" ] || ! [[ $3 =~ ^[1-9][0-9]*$ ]] || ! [[ $4 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/bench-memlimit.sh BIN CHAIN_DIR LIMIT_MIB TIMEOUT_S" >&2
  exit 2
fi
bin=$(realpath "$1") chain=$(realpath "$2") limit=$3 secs=$4
[ -x /usr/bin/time ] || { echo "bench-memlimit: needs /usr/bin/time (Debian package 'time')" >&2; exit 2; }
store=${BENCH_STORE:-$(dirname "$chain")/bench-memlimit-store}
if [ -e "$store" ]; then
  echo "bench-memlimit: $store exists; remove it or set BENCH_STORE to a new path" >&2
  exit 2
fi

if [ -d /sys/fs/cgroup/memory ]; then # cgroup v1
  parent=/sys/fs/cgroup/memory$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
  limit_file=memory.limit_in_bytes peak_file=memory.max_usage_in_bytes
else # cgroup v2
  parent=/sys/fs/cgroup$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
  limit_file=memory.max peak_file=memory.peak
fi
group=$parent/cointrail-memlimit-$$
if ! mkdir "$group" 2>/dev/null || ! echo $((limit * 1024 * 1024)) >"$group/$limit_file"; then
  echo "bench-memlimit: cannot make a memory group under $parent (root and a memory controller needed)" >&2
  rmdir "$group" 2>/dev/null
  exit 2
fi
timing=$(mktemp)
trap 'rm -f "$timing" "$timing.err"; rmdir "$group" 2>/dev/null' EXIT

# The blk files are read into the page cache first, outside the group, as bench-chain.sh does for
# every tool: otherwise the ingest's own reads of them count against the limit whenever other work
# has evicted them (a 4 GB ingest under 1,536 MiB then took 82 s instead of 39-48 s).
cat "$chain"/blk*.dat >/dev/null
sync
/usr/bin/time -f '%e %U %S %M %F %I' -o "$timing" timeout "$secs" sh -c \
  'echo $$ >"$1/cgroup.procs" && exec "$2" ingest btc --blocks-dir "$3" --store "$4" --network regtest --format json' \
  sh "$group" "$bin" "$chain" "$store" >/dev/null 2>"$timing.err"
code=$?
# GNU time writes "Command exited with non-zero status N" before the figures when the command
# fails (a timeout too): the figures are its last line.
read -r wall user sys rss major blocks < <(tail -1 "$timing")
peak=$(cat "$group/$peak_file" 2>/dev/null || echo 0)
# How far a run that timed out got: the txs of its last commit (the manifest's counts.txs).
txs=$(sed -n 's/.*"txs": *\([0-9]*\).*/\1/p' "$store/MANIFEST" 2>/dev/null | head -1)
printf '%s limit %d MiB: exit %d, %s s wall, %s s user, %s s sys, %s KiB peak RSS, %s major faults, %d MB read, store %s bytes, %s txs committed, group peak %d MiB, %s\n' \
  "$(basename "$bin")" "$limit" "$code" "$wall" "$user" "$sys" "$rss" "$major" "$((blocks * 512 / 1000000))" "$(du -sb "$store" | cut -f1)" \
  "${txs:-0}" "$((peak / 1048576))" "$(date -u +%H:%M:%S)"
[ "$code" = 0 ] || [ "$code" = 124 ] || tail -3 "$timing.err" >&2
rm -rf "$store"
exit 0
