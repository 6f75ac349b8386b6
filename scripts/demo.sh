#!/usr/bin/env bash
# The main job, on bundled data only:
#  1. real Bitcoin: ingest mainnet blocks 0-438 (Core blk format) and show the first payment
#     between two people (Satoshi to Hal Finney, height 170);
#  2. an investigation: a synthetic chain with planted thefts laundered through peel chains,
#     CoinJoins and exchange deposits; ingest, cluster, import labels (the scenario's exchanges,
#     the bundled OFAC lists and SDN XML), record the thefts, trace them, and write HTML reports;
#  3. Ethereum on a real node: a theft played on anvil (installed from npm), ingested over
#     JSON-RPC, labeled (the case and Etherscan's label dump), clustered by deposit address,
#     traced in ether and tokens, and screened as an exchange would screen a deposit.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cointrail/target}"
cargo build --release --locked --quiet -p cointrail-cli
cointrail="$CARGO_TARGET_DIR/release/cointrail"

work="${COINTRAIL_DEMO_DIR:-$(mktemp -d -t cointrail-demo.XXXXXX)}"
mkdir -p "$work/mainnet-blocks"
cp data/btc/mainnet-0-438.blk "$work/mainnet-blocks/blk00000.dat"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

printf '\n\033[1m== 1. Real mainnet blocks 0-438 ==\033[0m\n'
step "$cointrail" ingest btc --blocks-dir "$work/mainnet-blocks" --store "$work/mainnet"
step "$cointrail" show tx f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16 --store "$work/mainnet"
step "$cointrail" show address 1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3 --store "$work/mainnet"

printf '\n\033[1m== 2. Investigation: planted thefts on a synthetic chain ==\033[0m\n'
export COINTRAIL_STORE="$work/case"
step "$cointrail" synth --out "$work/chain" --blocks 300 --txs-per-block 600 --seed 7 --xor
step "$cointrail" ingest btc --blocks-dir "$work/chain" --network regtest
step "$cointrail" cluster --heuristics multi-input,change:type
step "$cointrail" labels import --format csv "$work/chain/labels.csv"
step "$cointrail" labels import --format ofac-list data/labels/ofac-2025-11-19/sanctioned_addresses_XBT.txt data/labels/ofac-2025-11-19/sanctioned_addresses_ETH.txt
step "$cointrail" labels import --format ofac-xml data/labels/sdn_advanced_2025-11-19_excerpt.xml
first_seeds=""
while IFS=$'\t' read -r name actor seeds amount; do
  [ "$name" = name ] && continue
  [ -z "$first_seeds" ] && first_seeds="$seeds"
  step "$cointrail" incident add --name "$name" --actor "$actor" --seed "$seeds"
done < "$work/chain/thefts.tsv"
step "$cointrail" trace --from "$first_seeds" --policy haircut --deposit-forwarding
step "$cointrail" trace --from "$first_seeds" --policy haircut --deposit-forwarding --format html --output "$work/theft-1.html"
step "$cointrail" actor report "Lazarus Group" --policy haircut --deposit-forwarding --prices data/prices/btc-usd-demo.csv
step "$cointrail" actor report "Lazarus Group" --policy haircut --deposit-forwarding --format html --output "$work/lazarus-group.html"

printf '\n\033[1m== 3. Ethereum: a theft on a real node (anvil) ==\033[0m\n'
if ! command -v npm >/dev/null 2>&1; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq npm >/dev/null
fi
anvil="$(scripts/install-anvil.sh)"
port=$((20000 + RANDOM % 20000))
"$anvil" --port "$port" --host 127.0.0.1 --auto-impersonate --silent >/dev/null 2>&1 &
anvil_pid=$!
trap 'kill "$anvil_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
cargo build --release --locked --quiet -p cointrail-testkit --example evm_laundering
"$CARGO_TARGET_DIR/release/examples/evm_laundering" "http://127.0.0.1:$port" "$work/eth-case.csv" | tee "$work/eth-case.txt"
screen_tx="$(awk '/^screen tx/ {print $3}' "$work/eth-case.txt")"
export COINTRAIL_STORE="$work/eth"
step "$cointrail" ingest evm --rpc "http://127.0.0.1:$port" --chain anvil
step "$cointrail" labels import --format csv "$work/eth-case.csv"
step "$cointrail" labels import --format etherscan data/labels/etherscan/combinedAccountLabels_excerpt.json
step "$cointrail" cluster --chain anvil
step "$cointrail" explain 0x000000000000000000000000000000000000b001 0x000000000000000000000000000000000000b003
step "$cointrail" trace --from 0x000000000000000000000000000000000000a001 --policy haircut
step "$cointrail" trace --from 0x000000000000000000000000000000000000a001 --policy fifo --asset TST
step "$cointrail" risk "$screen_tx"
step "$cointrail" trace --from 0x000000000000000000000000000000000000a001 --format html --output "$work/eth-theft.html"

printf '\nreports: %s/theft-1.html, %s/lazarus-group.html and %s/eth-theft.html\n' "$work" "$work" "$work"
printf 'stores: %s/mainnet, %s/case (ground truth of the planted thefts: %s/chain/truth.json) and %s/eth\n' "$work" "$work" "$work" "$work"
