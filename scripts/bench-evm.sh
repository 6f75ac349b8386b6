#!/usr/bin/env bash
# EVM ingest benchmark (docs/performance.md, "EVM ingest: side by side with ethereum-etl"):
# `cointrail ingest evm` against ethereum-etl (PyPI) on the same anvil chain, same block range,
# same concurrency. A benchmark, not a test: CI does not run it.
#
#   scripts/bench-evm.sh            # 5000 blocks of transfers, each tool run twice, interleaved
#   scripts/bench-evm.sh 1000       # a quicker run
#
# What it does:
#   1. installs anvil (scripts/install-anvil.sh, from npm) and ethereum-etl $ETL_VERSION into a
#      venv under ~/.cache/cointrail/ (pip, from PyPI; see install_etl below for the one pin that
#      Python >= 3.11 needs);
#   2. builds cointrail (release) and the chain filler (crates/evm/examples/anvil_fill.rs);
#   3. starts anvil (--no-mining, 40 dev accounts) and fills BLOCKS blocks, each with 4 ether
#      transfers, 4 transfers of an EIP-20 token (4 Transfer logs) and 2 payments through a
#      forwarding contract (2 internal transfers): 10 txs per block (TXS="4 4 2" to change);
#   4. runs, REPEAT times interleaved, over the same block range:
#        cointrail   cointrail ingest evm --rpc URL --store DIR --from F --to L (a fresh store)
#        ethereum-etl export_blocks_and_transactions, extract_csv_column (the tx hashes),
#                    export_receipts_and_logs, extract_token_transfers, export_traces
#      ethereum-etl gets the same concurrency as cointrail's ingest: WORKERS threads (cointrail's
#      SourceOptions::concurrency, 8) and batches of BATCH blocks (cointrail's blocks_per_request,
#      10); receipts go BATCH * txs-per-block hashes to a batch, i.e. the same blocks' worth.
#   5. prints a markdown table: wall seconds, CPU seconds (user + system) of the tool and of
#      anvil during the run, peak RSS, blocks/s, and rows/s of each tool's own output rows.
#
# Environment: BENCH_DATA (stores and CSVs; default ~/.cache/cointrail/bench-evm), REPEAT (2),
# WORKERS (8), BATCH (10), TXS ("4 4 2": ether, token, forwarder txs per block), PORT (18645),
# ETL_TRACES (export_traces: parity trace_block; or export_geth_traces: debug_traceBlockByNumber
# with the call tracer, then extract_geth_traces).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
# A failing step stops the script; say which (the tools' own logs are under $BENCH_DATA/runs).
trap 'echo "error: bench-evm.sh line $LINENO failed (exit $?); logs under ${data:-BENCH_DATA}/runs" >&2' ERR

blocks=${1:-5000}
data=${BENCH_DATA:-$HOME/.cache/cointrail/bench-evm}
repeat=${REPEAT:-2}
workers=${WORKERS:-8}
batch=${BATCH:-10}
read -r tx_ether tx_token tx_forward <<<"${TXS:-4 4 2}"
port=${PORT:-18645}
etl_traces=${ETL_TRACES:-export_traces}
ETL_VERSION=2.4.2
etl_venv=$HOME/.cache/cointrail/ethereum-etl-$ETL_VERSION

for tool in /usr/bin/time jq awk python3 curl; do
  command -v "$tool" >/dev/null || { echo "error: $tool is needed (apt-get install time jq gawk python3 python3-venv curl)" >&2; exit 1; }
done

install_etl() {
  [ -x "$etl_venv/bin/ethereumetl" ] && "$etl_venv/bin/ethereumetl" --version >/dev/null 2>&1 && return
  echo "## installing ethereum-etl $ETL_VERSION into $etl_venv" >&2
  rm -rf "$etl_venv"
  python3 -m venv "$etl_venv"
  "$etl_venv/bin/pip" install --quiet --disable-pip-version-check "ethereum-etl==$ETL_VERSION"
  # ethereum-etl 2.4.2 pins web3 5 -> eth-abi 2.2 -> parsimonious < 0.9, whose 0.8.1 imports
  # inspect.getargspec (removed in Python 3.11). parsimonious 0.9.0 has the same API without it:
  # installed over the pin (pip warns about the pin; eth-abi 2.2 works with it).
  if ! "$etl_venv/bin/ethereumetl" --version >/dev/null 2>&1; then
    "$etl_venv/bin/pip" install --quiet --disable-pip-version-check 'regex>=2022.3.15'
    "$etl_venv/bin/pip" install --quiet --disable-pip-version-check --no-deps parsimonious==0.9.0 2>/dev/null
  fi
  "$etl_venv/bin/ethereumetl" --version >&2
}

anvil=$(scripts/install-anvil.sh)
install_etl
etl=$etl_venv/bin/ethereumetl

echo "## building (release): cointrail and the chain filler" >&2
cargo build --release --locked --quiet -p cointrail-cli
cargo build --release --locked --quiet -p cointrail-evm --example anvil_fill
target=$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)
cointrail=$target/release/cointrail
fill=$target/release/examples/anvil_fill

mkdir -p "$data"
rm -rf "$data/runs"
mkdir -p "$data/runs"
url=http://127.0.0.1:$port
"$anvil" --host 127.0.0.1 --port "$port" --accounts 40 --no-mining --silent >"$data/anvil.log" 2>&1 &
anvil_pid=$!
trap 'kill "$anvil_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -s -o /dev/null -H 'Content-Type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$url" && break
  sleep 0.1
done

echo "## filling $blocks blocks ($tx_ether ether, $tx_token token, $tx_forward forwarder txs each)" >&2
read -r first last < <("$fill" "$url" "$blocks" "$tx_ether" "$tx_token" "$tx_forward")
range_blocks=$((last - first + 1))
echo "## chain: blocks $first..=$last ($range_blocks blocks)" >&2

# CPU seconds (user + system) of a process so far.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
# Lines of a file less its header.
rows() { local n; n=$(wc -l <"$1"); echo $((n > 0 ? n - 1 : 0)); }

# timed OUT CMD...: runs CMD under /usr/bin/time, appends "wall cpu rss_kb" to OUT.
timed() {
  local out=$1
  shift
  /usr/bin/time -f '%e %U %S %M' -o "$out.time" "$@"
  awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$out.time" >>"$out"
}

run_cointrail() {
  local dir=$data/runs/cointrail-$1 load
  load=$(cut -d' ' -f1 /proc/loadavg)
  rm -rf "$dir"
  mkdir -p "$dir"
  local a0 a1
  a0=$(cpu_of "$anvil_pid")
  timed "$dir/times" "$cointrail" ingest evm --rpc "$url" --store "$dir/store" \
    --from "$first" --to "$last" --format json >"$dir/summary.json"
  a1=$(cpu_of "$anvil_pid")
  local status
  status=$("$cointrail" status --store "$dir/store" --format json)
  local b t f
  b=$(jq '.evm_chains[0].counts.blocks' <<<"$status")
  t=$(jq '.evm_chains[0].counts.txs' <<<"$status")
  f=$(jq '.evm_chains[0].counts.flows' <<<"$status")
  read -r wall cpu rss < <(awk '{ w += $1; c += $2; if ($3 > r) r = $3 } END { print w, c, r }' "$dir/times")
  printf 'cointrail\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t-\t-\t-\t%s\n' "$1" "$wall" "$cpu" \
    "$(awk -v a="$a0" -v b="$a1" 'BEGIN { printf "%.2f", b - a }')" "$rss" "$b" "$t" "$f" \
    "$(jq -r '.traces // ""' "$dir/summary.json")" "$load" >>"$data/results.tsv"
}

run_etl() {
  local dir=$data/runs/etl-$1 load
  load=$(cut -d' ' -f1 /proc/loadavg)
  rm -rf "$dir"
  mkdir -p "$dir"
  local a0 a1
  a0=$(cpu_of "$anvil_pid")
  local txs_per_block=$((tx_ether + tx_token + tx_forward))
  (
    cd "$dir"
    timed times "$etl" export_blocks_and_transactions -s "$first" -e "$last" -b "$batch" -w "$workers" \
      -p "$url" --blocks-output blocks.csv --transactions-output transactions.csv
    timed times "$etl" extract_csv_column -i transactions.csv -c hash -o tx_hashes.txt
    timed times "$etl" export_receipts_and_logs --transaction-hashes tx_hashes.txt \
      -b $((batch * txs_per_block)) -w "$workers" -p "$url" --receipts-output receipts.csv --logs-output logs.csv
    timed times "$etl" extract_token_transfers --logs logs.csv -o token_transfers.csv -w "$workers"
    if [ "$etl_traces" = export_geth_traces ]; then
      timed times "$etl" export_geth_traces -s "$first" -e "$last" -b "$batch" -w "$workers" -p "$url" -o geth_traces.json
      timed times "$etl" extract_geth_traces -i geth_traces.json -o traces.csv -w "$workers"
    else
      timed times "$etl" export_traces -s "$first" -e "$last" -b "$batch" -w "$workers" -p "$url" -o traces.csv
    fi
  ) 2>"$dir/log"
  a1=$(cpu_of "$anvil_pid")
  read -r wall cpu rss < <(awk '{ w += $1; c += $2; if ($3 > r) r = $3 } END { print w, c, r }' "$dir/times")
  printf 'ethereum-etl\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$wall" "$cpu" \
    "$(awk -v a="$a0" -v b="$a1" 'BEGIN { printf "%.2f", b - a }')" "$rss" \
    "$(rows "$dir/blocks.csv")" "$(rows "$dir/transactions.csv")" "$(rows "$dir/receipts.csv")" \
    "$(rows "$dir/logs.csv")" "$(rows "$dir/token_transfers.csv")" "$(rows "$dir/traces.csv")" \
    "$etl_traces" "$load" >>"$data/results.tsv"
}

: >"$data/results.tsv"
for ((r = 1; r <= repeat; r++)); do
  echo "## run $r/$repeat: cointrail" >&2
  run_cointrail "$r"
  echo "## run $r/$repeat: ethereum-etl" >&2
  run_etl "$r"
done

# The table: each run, then the medians and the ratio of the medians.
echo
echo "Chain: anvil $("$anvil" --version | head -1 | awk '{ print $3 }'), blocks $first..=$last ($range_blocks blocks," \
  "$((tx_ether + tx_token + tx_forward)) txs each after 2 setup blocks); ethereum-etl $ETL_VERSION," \
  "$workers workers, $batch blocks a batch; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
awk -F'\t' -v blocks="$range_blocks" '
  function median(list, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (list[j] < list[i]) { t = list[i]; list[i] = list[j]; list[j] = t }
    return n % 2 ? list[(n + 1) / 2] : (list[n / 2] + list[n / 2 + 1]) / 2
  }
  {
    tool = $1
    if (tool == "cointrail") { out = $7 + $8 + $9; what = sprintf("%d blocks + %d txs + %d flows (traces: %s)", $7, $8, $9, $10) }
    else { out = $7 + $8 + $9 + $10 + $11 + $12; what = sprintf("%d blocks + %d txs + %d receipts + %d logs + %d token transfers + %d traces (%s)", $7, $8, $9, $10, $11, $12, $13) }
    n[tool]++
    wall[tool, n[tool]] = $3; cpu[tool, n[tool]] = $4; acpu[tool, n[tool]] = $5; rss[tool, n[tool]] = $6
    rowcount[tool] = out; desc[tool] = what
    printf "| %s | run %s | %.2f | %.2f | %.2f | %.0f | %.0f | %.0f | %s |\n", tool, $2, $3, $4, $5, $6 / 1024, blocks / $3, out / $3, $14 > "/dev/stderr"
  }
  END {
    print "| tool | wall s | CPU s (tool) | CPU s (anvil) | peak RSS MiB | blocks/s | rows/s | rows |"
    print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    split("cointrail ethereum-etl", tools, " ")
    for (k = 1; k <= 2; k++) {
      tool = tools[k]
      for (i = 1; i <= n[tool]; i++) { w[i] = wall[tool, i]; c[i] = cpu[tool, i]; a[i] = acpu[tool, i]; m[i] = rss[tool, i] }
      mw[tool] = median(w, n[tool])
      printf "| %s (median of %d) | %.2f | %.2f | %.2f | %.0f | %.0f | %.0f | %s |\n", tool, n[tool], mw[tool], median(c, n[tool]), median(a, n[tool]), median(m, n[tool]) / 1024, blocks / mw[tool], rowcount[tool] / mw[tool], desc[tool]
    }
    printf "\nRatio (ethereum-etl median wall / cointrail median wall, same blocks): %.1fx\n", mw["ethereum-etl"] / mw["cointrail"]
  }' "$data/results.tsv" 2>"$data/runs.md" | tee "$data/table.md"
echo
echo "Each run (tool, run, wall s, CPU s, anvil CPU s, RSS MiB, blocks/s, rows/s, load average at its start):"
cat "$data/runs.md"
echo
echo "ethereum-etl per command (wall s, CPU s, peak RSS KiB), run 1:"
etl_commands="export_blocks_and_transactions extract_csv_column export_receipts_and_logs extract_token_transfers"
if [ "$etl_traces" = export_geth_traces ]; then
  etl_commands="$etl_commands export_geth_traces extract_geth_traces"
else
  etl_commands="$etl_commands export_traces"
fi
# shellcheck disable=SC2086 # one word per command
paste <(printf '%s\n' $etl_commands) "$data/runs/etl-1/times"
