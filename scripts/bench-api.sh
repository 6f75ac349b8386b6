#!/usr/bin/env bash
# Screening API benchmark (docs/performance.md, "Screening API"): `cointrail serve` on a store built
# from a synthetic chain, load-tested with Debian's wrk from loopback.
#
#   scripts/bench-api.sh            # short: address lookups and risk scores (k = 5), 30 s each
#   scripts/bench-api.sh --soak     # plus a 10-minute mixed soak: no error, RSS sampled every 30 s
#
# Steps: build the release binary; `cointrail synth` (BLOCKS x TXS_PER_BLOCK, default 300 x 1000,
# seed 11); ingest; cluster; import the scenario's exchange labels plus risk labels on a sample of
# addresses (every 400th `mixer`, every 600th `theft`, every 900th `sanctions`); start the server
# (no keys: loopback only; COINTRAIL_RATE_LIMIT high so that the limiter admits the load); run wrk
# with a Lua script that picks a random address of a 20,000-address sample per request.
# Environment: BENCH_DATA (default ~/.cache/cointrail/bench-api), BLOCKS, TXS_PER_BLOCK,
# DURATION (seconds per run, 30), CONNECTIONS (wrk connections, 16), PORT (18080), KEEP=1 keeps the
# store for a re-run (then only the server and wrk run).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
soak=0
[ "${1:-}" = "--soak" ] && soak=1
data=${BENCH_DATA:-$HOME/.cache/cointrail/bench-api}
blocks=${BLOCKS:-300}
txs=${TXS_PER_BLOCK:-1000}
duration=${DURATION:-30}
connections=${CONNECTIONS:-16}
port=${PORT:-18080}
target=${CARGO_TARGET_DIR:-$root/target}
command -v wrk >/dev/null || { echo "error: wrk is needed (apt-get install -y wrk)" >&2; exit 1; }

cargo build --release -p cointrail-cli >&2
bin=$target/release/cointrail
mkdir -p "$data"
chain=$data/chain-$blocks-$txs
store=$data/store-$blocks-$txs
if [ ! -f "$store/MANIFEST" ] || [ "${KEEP:-0}" != 1 ]; then
  rm -rf "$chain" "$store"
  echo "== synth $blocks x $txs" >&2
  "$bin" synth --out "$chain" --blocks "$blocks" --txs-per-block "$txs" --seed 11 --format json >/dev/null
  echo "== ingest, cluster, labels" >&2
  "$bin" ingest btc --blocks-dir "$chain" --store "$store" --network regtest --format json >/dev/null
  "$bin" cluster --store "$store" --format json >/dev/null
  awk -F'\t' 'NR > 1 {
      n++
      if (n % 900 == 0) print $1 ",Sanctioned " n ",sanctions";
      else if (n % 600 == 0) print $1 ",Theft " n ",theft";
      else if (n % 400 == 0) print $1 ",Mixer " n ",mixer";
    }' "$chain/truth_addresses.tsv" | { echo "address,label,category"; cat; } > "$data/risky.csv"
  "$bin" labels import --store "$store" --format csv "$chain/labels.csv" "$data/risky.csv" --format json >/dev/null
fi
awk -F'\t' 'NR > 1 && NR % 17 == 0 && n++ < 20000 { print $1 }' "$chain/truth_addresses.tsv" > "$data/addresses.txt"
"$bin" status --store "$store" | sed 's/^/   /' >&2

cat > "$data/pick.lua" <<LUA
local addresses = {}
for line in io.lines("$data/addresses.txt") do addresses[#addresses + 1] = line end
local prefix = os.getenv("WRK_PREFIX") or "/v1/address/"
local suffix = os.getenv("WRK_SUFFIX") or ""
local mix = os.getenv("WRK_MIX")
math.randomseed(os.time())
request = function()
  local address = addresses[math.random(#addresses)]
  if mix and math.random() < 0.2 then
    return wrk.format("GET", "/v1/risk/address/" .. address .. "?max_hops=5")
  end
  return wrk.format("GET", prefix .. address .. suffix)
end
LUA

COINTRAIL_RATE_LIMIT=10000000 "$bin" serve --store "$store" --listen "127.0.0.1:$port" > "$data/serve.log" 2>&1 &
server=$!
trap 'kill -INT $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
rss() { awk '/VmRSS/ { print $2 }' "/proc/$server/status"; }

run() { # name prefix suffix
  local name=$1 file
  file=$data/run-$(printf '%s' "$1" | tr -c 'a-z0-9' '_').txt
  echo "== $name: wrk -t1 -c$connections -d${duration}s" >&2
  WRK_PREFIX=$2 WRK_SUFFIX=$3 wrk -t1 -c"$connections" -d"${duration}s" --latency -s "$data/pick.lua" \
    "http://127.0.0.1:$port" > "$file"
  local p50 p99 rps errors
  p50=$(awk '/Latency Distribution/ { on = 1 } on && $1 == "50%" { print $2; exit }' "$file")
  p99=$(awk '/Latency Distribution/ { on = 1 } on && $1 == "99%" { print $2; exit }' "$file")
  rps=$(awk '/Requests\/sec/ { print $2 }' "$file")
  errors=$(awk '/Non-2xx/ { print $NF } /Socket errors/ { print }' "$file" | tr '\n' ' ')
  printf '| %s | %s | %s | %s | %s |\n' "$name" "$p50" "$p99" "$rps" "${errors:-none}"
}

echo
echo "| endpoint | p50 | p99 | requests/s | errors |"
echo "|---|---:|---:|---:|---|"
# Warm the page cache and the server's snapshot.
WRK_PREFIX=/v1/address/ wrk -t1 -c4 -d5s -s "$data/pick.lua" "http://127.0.0.1:$port" >/dev/null
run "GET /v1/address/{address}" /v1/address/ ""
run "GET /v1/risk/address/{address}?max_hops=5" /v1/risk/address/ "?max_hops=5"
echo
echo "server RSS after the runs: $(rss) kB"

if [ $soak = 1 ]; then
  echo "== soak: 10 minutes, 80 % lookups and 20 % risk (k = 5), RSS every 30 s" >&2
  WRK_MIX=1 WRK_PREFIX=/v1/address/ wrk -t1 -c"$connections" -d600s --latency -s "$data/pick.lua" \
    "http://127.0.0.1:$port" > "$data/soak.txt" &
  load=$!
  samples=""
  for _ in $(seq 20); do sleep 30; samples="$samples $(rss)"; done
  wait $load
  echo "soak RSS (kB, every 30 s):$samples"
  grep -E "Requests/sec|Non-2xx|Socket errors|requests in" "$data/soak.txt" || true
  awk '/Latency Distribution/ { on = 1 } on && ($1 == "50%" || $1 == "99%") { print "soak " $1 " " $2 }' "$data/soak.txt"
fi
