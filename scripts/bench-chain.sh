#!/usr/bin/env bash
# Chain-scale benchmark (docs/performance.md, "Chain scale"): cointrail against bitcoin-block-parser
# 0.5 and blocks_iterator 3 on the same synthetic Bitcoin Core blocks directories.
#
#   scripts/bench-chain.sh            # 1, 2, 4 and 8 GB of blk files
#   scripts/bench-chain.sh 0.2        # a quick run: one chain of about 0.2 GB
#
# Sizes are in GB (10^9 bytes) of blk files. For each size it generates a chain with
# `cointrail synth` (2000 txs per block, seed 1, regtest, no xor.dat, recent activity), reads the blk files once so
# that every tool starts with the same warm page cache, then runs one tool at a time, each in its
# own process under /usr/bin/time (wall seconds, peak RSS):
#
#   raw parse    cointrail decode (scan_headers + best_chain + read_block + decode_into), 2 threads
#                bitcoin-block-parser BlockParser::parse, a pool of 2 threads
#   full ingest  cointrail ingest btc --network regtest (release binary: reader + writer thread)
#                bitcoin-block-parser UtxoParser: create_filter, then parse (2 threads)
#                blocks_iterator::iter with prevouts (its in-memory UTXO map)
#
# The reference tools are built from crates.io by benches/compare, a standalone Cargo project
# outside the main workspace (its own Cargo.lock), so they never enter the main build or CI.
# Environment: BENCH_DATA (where chains and stores go; default ~/.cache/cointrail/bench-chain),
# KEEP=1 keeps each chain after its size is done, TXS_PER_BLOCK (2000), SEED (1), ACTIVITY (recent,
# or uniform: the chains measured until 2026-12-07, in directories named chain-SIZE-uniform), TABLES_ONLY=1
# prints the tables of earlier runs of the given sizes without running anything, REPEAT=N runs
# each tool N times and keeps the fastest (for a shared, noisy machine),
# COMPARE_TARGET (cargo target dir for benches/compare; default /work/target-compare if /work
# exists, else BENCH_DATA/target), ONLY=cointrail (or bbp, blocks_iterator) re-runs only that
# tool's rows of the given sizes, keeping the other tools' rows of the earlier run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1 2 4 8)
data=${BENCH_DATA:-$HOME/.cache/cointrail/bench-chain}
txs_per_block=${TXS_PER_BLOCK:-2000}
seed=${SEED:-1}
activity=${ACTIVITY:-recent}
case $activity in recent) suffix="" ;; uniform) suffix=-uniform ;; *) echo "ACTIVITY must be recent or uniform" >&2; exit 2 ;; esac
keep=${KEEP:-0}
mkdir -p "$data"
if [ -n "${COMPARE_TARGET:-}" ]; then :; elif [ -d /work ]; then COMPARE_TARGET=/work/target-compare; else COMPARE_TARGET=$data/target; fi

for tool in /usr/bin/time jq awk; do
  command -v "$tool" >/dev/null || { echo "error: $tool is needed (apt-get install time jq gawk)" >&2; exit 1; }
done

echo "## building (release): cointrail, and benches/compare with the reference tools from crates.io" >&2
cargo build --release --locked --quiet -p cointrail-cli
ct_target=$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)
cointrail=$ct_target/release/cointrail
(cd benches/compare && CARGO_TARGET_DIR=$COMPARE_TARGET cargo build --release --locked --quiet)
compare=$COMPARE_TARGET/release/cointrail-compare


# Busy CPU jiffies of the whole machine so far (user, nice, system, irq, softirq, steal).
cpu_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# run SIZE TOOL PHASE CMD...: times CMD (REPEAT times, keeping the fastest run), appends one row
# to results-SIZE.tsv.
run() {
  if [ -n "${ONLY:-}" ] && [ "$2" != "$ONLY" ]; then return 0; fi
  local best="" row i
  for ((i = 0; i < ${REPEAT:-1}; i++)); do
    row=$(run_once "$@") || return 1
    if [ -z "$best" ] || awk -v a="$(cut -f4 <<<"$row")" -v b="$(cut -f4 <<<"$best")" 'BEGIN { exit !(a < b) }'; then
      best=$row
    fi
  done
  printf '%s\n' "$best" >>"$data/results-$1.tsv"
}

run_once() {
  local size=$1 tool=$2 phase=$3
  shift 3
  if [ "$1" = --fresh ]; then # a directory the tool writes: removed before each (timed) run
    rm -rf "$2"
    shift 2
  fi
  local load out tf
  load=$(awk '{print $1}' /proc/loadavg)
  tf=$(mktemp)
  # Peak RSS is split into anonymous memory (heap) and file-backed pages (cointrail's store is
  # memory-mapped, and mapped pages it touched count in its RSS) by sampling /proc every 0.2 s.
  local busy0
  busy0=$(cpu_busy)
  /usr/bin/time -f '%e %M %U %S' -o "$tf" "$@" >"$data/stdout.log" 2>"$data/stderr.log" &
  local tpid=$! child="" anon=0 file=0 key value
  while kill -0 "$tpid" 2>/dev/null; do
    [ -n "$child" ] || child=$(pgrep -P "$tpid" | head -1 || true)
    if [ -n "$child" ] && [ -r "/proc/$child/status" ]; then
      while read -r key value _; do
        case $key in
          RssAnon:) [ "$value" -gt "$anon" ] && anon=$value ;;
          RssFile:) [ "$value" -gt "$file" ] && file=$value ;;
        esac
      done <"/proc/$child/status" 2>/dev/null || true
    fi
    sleep 0.2
  done
  wait "$tpid" || {
    echo "error: $tool $phase failed:" >&2
    tail -5 "$data/stderr.log" >&2
    rm -f "$tf"
    return 1
  }
  out=$(cat "$data/stdout.log")
  local busy1 wall rss user sys cpu other
  busy1=$(cpu_busy)
  read -r wall rss user sys <"$tf"
  rm -f "$tf"
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  # CPU seconds used on the machine during the run by anything but this tool: other work on the
  # shared machine (and kernel writeback), the contention each figure was measured under.
  other=$(awk -v b0="$busy0" -v b1="$busy1" -v c="$cpu" -v hz="$(getconf CLK_TCK)" 'BEGIN { o = (b1 - b0) / hz - c; printf "%.1f", o < 0 ? 0 : o }')
  local txs blocks
  txs=$(printf '%s\n' "$out" | jq -rs 'map(select(type=="object")) | last | (.txs // .txs_added // 0)' 2>/dev/null || echo 0)
  blocks=$(printf '%s\n' "$out" | jq -rs 'map(select(type=="object")) | last | (.blocks // .blocks_added // 0)' 2>/dev/null || echo 0)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$tool" "$phase" "$wall" "$rss" "$load" "$blocks" "$txs" "$anon" "$file" "$cpu" "$other"
  printf '  %-16s %-7s %8.2f s wall %8.2f s cpu  peak RSS %8d KiB (sampled: anon %8d, file %8d)  load %s, other cpu %s s\n' "$tool" "$phase" "$wall" "$cpu" "$rss" "$anon" "$file" "$load" "$other" >&2
}

# Drops the files named on stdin (NUL-separated) from the page cache (POSIX_FADV_DONTNEED), where
# python3 is there to ask for it; a hint, for files nobody has dirty.
drop_from_cache() {
  command -v python3 >/dev/null || { cat >/dev/null; return 0; }
  python3 -c '
import os, sys
for path in filter(None, sys.stdin.buffer.read().split(b"\0")):
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
'
}

for size in "${sizes[@]}"; do
  [ "${TABLES_ONLY:-0}" = 1 ] && continue
  if [ -n "${ONLY:-}" ]; then # drop that tool's earlier rows, keep the others
    touch "$data/results-$size.tsv"
    awk -F'\t' -v t="$ONLY" '$2 != t' "$data/results-$size.tsv" >"$data/results-$size.tsv.keep"
    mv "$data/results-$size.tsv.keep" "$data/results-$size.tsv"
  else
    : >"$data/results-$size.tsv"
  fi
  blocks=$(awk -v s="$size" -v t="$txs_per_block" 'BEGIN { printf "%d", s * 1e9 / (t * 362) }')
  chain=$data/chain-$size$suffix
  if [ ! -f "$chain/summary.json" ]; then
    rm -rf "$chain"
    echo "## generating $size GB: $blocks blocks x $txs_per_block txs" >&2
    "$cointrail" synth --out "$chain" --blocks "$blocks" --txs-per-block "$txs_per_block" --seed "$seed" --activity "$activity" --format json >/dev/null
  fi
  bytes=$(jq .bytes "$chain/summary.json")
  txs=$(jq .txs "$chain/summary.json")
  outputs=$(jq .outputs "$chain/summary.json")
  inputs=$(jq .inputs "$chain/summary.json")
  utxos=$((outputs - inputs))
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$(jq .blocks "$chain/summary.json")" "$txs" "$inputs" "$outputs" "$bytes" >"$data/chain-$size.tsv"
  echo "## $size GB: $bytes bytes, $txs txs; $(uptime | sed 's/.*load/load/'); $(df -h --output=avail "$data" | tail -1 | tr -d ' ') free" >&2
  # The same page cache for every tool: the other chains of BENCH_DATA (kept by KEEP=1, or left by
  # an earlier run) are dropped from it, so that the ingest's writes do not first have to reclaim
  # their pages (on 2026-12-08 cointrail's 8 GB ingest took 30.4 s and 48.1 CPU s with the smaller
  # chains cached, 27.4 s and 44.5 CPU s without), and this chain's blk files are read into it. (Pages of files outside BENCH_DATA stay.)
  find "$data" -maxdepth 2 -type f -name 'blk*.dat' ! -path "$chain/*" -print0 | drop_from_cache
  cat "$chain"/blk*.dat >/dev/null

  run "$size" cointrail parse "$compare" ct-parse "$chain" regtest 2
  run "$size" bbp parse "$compare" bbp-parse "$chain" 2

  store=$data/store-$size
  run "$size" cointrail ingest --fresh "$store" "$cointrail" ingest btc --blocks-dir "$chain" --store "$store" --network regtest --format json
  if [ -d "$store" ]; then "$cointrail" status --store "$store" --format json >"$data/status-$size.json"; fi
  rm -rf "$store"

  filter=$data/filter-$size.bin
  run "$size" bbp filter "$compare" bbp-filter "$chain" "$filter" 2 "$utxos"
  run "$size" bbp utxo "$compare" bbp-utxo "$chain" "$filter" 2 "$utxos"
  rm -f "$filter"
  run "$size" blocks_iterator ingest "$compare" bi-iter "$chain" regtest

  if [ "$keep" != 1 ]; then rm -rf "$chain"; fi
done

echo
echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(rustc --version), $(date -u +%Y-%m-%d)"
echo "Chain: cointrail synth, $txs_per_block txs/block, seed $seed, $activity activity, regtest; warm page cache; load = 1-min load average before each run"
echo

# Tables from the per-size files (TABLES_ONLY=1 prints them again without running anything).
chains=$data/chains.tsv
results=$data/results.tsv
: >"$chains"
: >"$results"
for size in "${sizes[@]}"; do
  cat "$data/chain-$size.tsv" >>"$chains"
  cat "$data/results-$size.tsv" >>"$results"
done
awk -F'\t' -v statusdir="$data" '
  FNR == NR { blocks[$1] = $2; txs[$1] = $3; ins[$1] = $4; outs[$1] = $5; bytes[$1] = $6; order[++n] = $1; next }
  { key = $1 SUBSEP $2 SUBSEP $3; wall[key] = $4; rss[key] = $5; load[key] = $6 " / " $12; cpu[key] = $11; anon[key] = $9; fbk[key] = $10 }
  function w(s, t, p) { return wall[s, t, p] + 0 }
  function r(s, t, p) { return rss[s, t, p] + 0 }
  function split2(s, t, p) { return anon[s, t, p] == "" ? "" : sprintf("%.0f / %.0f", anon[s, t, p] / 1024, fbk[s, t, p] / 1024) }
  function mbs(s, secs) { return secs > 0 ? bytes[s] / 1e6 / secs : 0 }
  END {
    print "### Chains"
    print ""
    print "| size | blocks | txs | inputs | outputs | blk bytes |"
    print "|---|---:|---:|---:|---:|---:|"
    for (i = 1; i <= n; i++) { s = order[i]; printf "| %s GB | %.0f | %.0f | %.0f | %.0f | %.0f |\n", s, blocks[s], txs[s], ins[s], outs[s], bytes[s] }
    print ""
    print "### Raw parse (2 threads each)"
    print ""
    print "| size | tool | wall s | MB/s | blocks/s | txs/s | CPU s | peak RSS MiB | load / other CPU s | cointrail / bbp throughput |"
    print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= n; i++) {
      s = order[i]; ct = w(s, "cointrail", "parse"); bb = w(s, "bbp", "parse")
      printf "| %s GB | cointrail decode | %.2f | %.0f | %.0f | %.0f | %s | %.0f | %s | **%.2fx** (per CPU second %.2fx) |\n", s, ct, mbs(s, ct), blocks[s] / ct, txs[s] / ct, cpu[s, "cointrail", "parse"], r(s, "cointrail", "parse") / 1024, load[s, "cointrail", "parse"], bb / ct, cpu[s, "bbp", "parse"] / cpu[s, "cointrail", "parse"]
      printf "| %s GB | bitcoin-block-parser | %.2f | %.0f | %.0f | %.0f | %s | %.0f | %s | |\n", s, bb, mbs(s, bb), blocks[s] / bb, txs[s] / bb, cpu[s, "bbp", "parse"], r(s, "bbp", "parse") / 1024, load[s, "bbp", "parse"]
    }
    print ""
    print "### Full ingest (prevouts resolved)"
    print ""
    print "| size | tool | wall s | MB/s | txs/s | CPU s | peak RSS MiB | of which anon / file-backed MiB (sampled) | load / other CPU s |"
    print "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= n; i++) {
      s = order[i]; ct = w(s, "cointrail", "ingest"); f = w(s, "bbp", "filter"); u = w(s, "bbp", "utxo"); bi = w(s, "blocks_iterator", "ingest")
      bbrss = r(s, "bbp", "filter") > r(s, "bbp", "utxo") ? r(s, "bbp", "filter") : r(s, "bbp", "utxo")
      printf "| %s GB | cointrail ingest | %.2f | %.1f | %.0f | %s | %.0f | %s | %s |\n", s, ct, mbs(s, ct), txs[s] / ct, cpu[s, "cointrail", "ingest"], r(s, "cointrail", "ingest") / 1024, split2(s, "cointrail", "ingest"), load[s, "cointrail", "ingest"]
      printf "| %s GB | bbp UtxoParser: create_filter | %.2f | | | %s | %.0f | %s | %s |\n", s, f, cpu[s, "bbp", "filter"], r(s, "bbp", "filter") / 1024, split2(s, "bbp", "filter"), load[s, "bbp", "filter"]
      printf "| %s GB | bbp UtxoParser: parse | %.2f | | | %s | %.0f | %s | %s |\n", s, u, cpu[s, "bbp", "utxo"], r(s, "bbp", "utxo") / 1024, split2(s, "bbp", "utxo"), load[s, "bbp", "utxo"]
      printf "| %s GB | bbp UtxoParser, both passes | %.2f | %.1f | %.0f | %.2f | %.0f | | |\n", s, f + u, mbs(s, f + u), txs[s] / (f + u), cpu[s, "bbp", "filter"] + cpu[s, "bbp", "utxo"], bbrss / 1024
      printf "| %s GB | blocks_iterator (prevouts) | %.2f | %.1f | %.0f | %s | %.0f | %s | %s |\n", s, bi, mbs(s, bi), txs[s] / bi, cpu[s, "blocks_iterator", "ingest"], r(s, "blocks_iterator", "ingest") / 1024, split2(s, "blocks_iterator", "ingest"), load[s, "blocks_iterator", "ingest"]
    }
    print ""
    print "### Ingest ratios (cointrail / reference)"
    print ""
    print "| size | throughput vs bbp (2 passes) | throughput vs bbp parse pass only | peak RSS vs bbp | throughput vs blocks_iterator | peak RSS vs blocks_iterator | per CPU second: vs bbp (2 passes) | vs blocks_iterator |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= n; i++) {
      s = order[i]; ct = w(s, "cointrail", "ingest"); f = w(s, "bbp", "filter"); u = w(s, "bbp", "utxo"); bi = w(s, "blocks_iterator", "ingest")
      bbrss = r(s, "bbp", "filter") > r(s, "bbp", "utxo") ? r(s, "bbp", "filter") : r(s, "bbp", "utxo")
      cc = cpu[s, "cointrail", "ingest"]
      printf "| %s GB | %.2fx | %.2fx | %.2fx | %.2fx | %.2fx | %.2fx | %.2fx |\n", s, (f + u) / ct, u / ct, r(s, "cointrail", "ingest") / bbrss, bi / ct, r(s, "cointrail", "ingest") / r(s, "blocks_iterator", "ingest"), (cpu[s, "bbp", "filter"] + cpu[s, "bbp", "utxo"]) / cc, cpu[s, "blocks_iterator", "ingest"] / cc
    }
    print ""
    print "### cointrail store"
    print ""
    print "| size | store bytes | bytes / tx | store / blk bytes | addresses |"
    print "|---|---:|---:|---:|---:|"
    for (i = 1; i <= n; i++) {
      s = order[i]; file = statusdir "/status-" s ".json"
      cmd = "jq -r \"[.bytes_on_disk, .counts.addresses] | @tsv\" " file; cmd | getline line; close(cmd)
      split(line, st, "\t")
      printf "| %s GB | %.0f | %.1f | %.1f %% | %.0f |\n", s, st[1], st[1] / txs[s], 100 * st[1] / bytes[s], st[2]
    }
  }' "$chains" "$results"
