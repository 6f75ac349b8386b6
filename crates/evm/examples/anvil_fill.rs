//! Fills a running anvil (started with `--no-mining`, or with automine, which this switches off)
//! with a chain of transfers for `scripts/bench-evm.sh`:
//!
//! ```text
//! anvil_fill URL BLOCKS [ETHER TOKEN FORWARD]
//! ```
//!
//! Two setup blocks deploy the hand-assembled EIP-20 token of the anvil test (and give every dev
//! account some of it) and one forwarding contract per dev account (each forwards the value it
//! receives to the next account: an internal transfer). Then each of `BLOCKS` blocks holds
//! `ETHER` ether transfers between dev accounts (default 4), `TOKEN` token transfers (default 4,
//! one `Transfer` log each) and `FORWARD` payments to a forwarder (default 2, one internal
//! transfer each), sent as one JSON-RPC batch of `eth_sendTransaction` (explicit nonces and gas, no
//! estimation) and mined with `evm_mine`. Prints the range of the filled blocks as `FIRST LAST`.
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_possible_truncation,
    clippy::needless_pass_by_value,
    reason = "a benchmark driver (any failure ends it)"
)]

use std::time::{Duration, Instant};

use cointrail_types::EvmAddress;
use serde_json::{Value, json};

use cointrail_testkit::anvil::{address_of, forwarder_code, hex_data, token_code, transfer_data};

struct Node {
    url: String,
}

impl Node {
    fn post(&self, body: &Value) -> Value {
        let response = cointrail_ingest::http::post(
            &self.url,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
            Duration::from_secs(120),
        )
        .unwrap();
        assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
        serde_json::from_slice(&response.body).unwrap()
    }

    fn rpc(&self, method: &str, params: Value) -> Value {
        let answer =
            self.post(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// Sends the transactions as one batch and returns their hashes.
    fn send_all(&self, txs: &[Value]) -> Vec<Value> {
        if txs.is_empty() {
            return Vec::new();
        }
        let body: Vec<Value> = txs
            .iter()
            .enumerate()
            .map(|(id, tx)| {
                json!({"jsonrpc": "2.0", "id": id, "method": "eth_sendTransaction", "params": [tx]})
            })
            .collect();
        let answer = self.post(&Value::Array(body));
        let mut hashes = vec![Value::Null; txs.len()];
        for entry in answer.as_array().unwrap() {
            assert!(entry.get("error").is_none(), "eth_sendTransaction: {entry}");
            hashes[usize::try_from(entry["id"].as_u64().unwrap()).unwrap()] =
                entry["result"].clone();
        }
        hashes
    }

    fn mine(&self) {
        self.rpc("evm_mine", json!([]));
    }
}

/// Dev accounts with the nonces of the transactions sent so far.
struct Senders {
    accounts: Vec<EvmAddress>,
    nonces: Vec<u64>,
    next: usize,
}

impl Senders {
    /// The next sender in turn, and its nonce for a new transaction.
    fn take(&mut self) -> (usize, u64) {
        let index = self.next;
        self.next = (self.next + 1) % self.accounts.len();
        let nonce = self.nonces[index];
        self.nonces[index] += 1;
        (index, nonce)
    }

    fn tx(&mut self, to: Option<&EvmAddress>, value: u64, data: &str, gas: u64) -> Value {
        let (index, nonce) = self.take();
        let mut tx = json!({
            "from": self.accounts[index].to_string(),
            "nonce": format!("0x{nonce:x}"),
            "gas": format!("0x{gas:x}"),
            "value": format!("0x{value:x}"),
        });
        if let Some(to) = to {
            tx["to"] = json!(to.to_string());
        }
        if !data.is_empty() {
            tx["input"] = json!(data);
        }
        tx
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 && args.len() != 6 {
        eprintln!("usage: anvil_fill URL BLOCKS [ETHER TOKEN FORWARD]");
        std::process::exit(2);
    }
    let node = Node { url: args[1].clone() };
    let blocks: u64 = args[2].parse().unwrap();
    let (ether, token_txs, forward) = if args.len() == 6 {
        (args[3].parse().unwrap(), args[4].parse().unwrap(), args[5].parse().unwrap())
    } else {
        (4usize, 4usize, 2usize)
    };
    node.rpc("evm_setAutomine", json!([false]));
    let accounts: Vec<EvmAddress> =
        node.rpc("eth_accounts", json!([])).as_array().unwrap().iter().map(address_of).collect();
    let count = accounts.len();
    assert!(count >= 2, "anvil needs at least 2 dev accounts");
    let mut nonces = Vec::with_capacity(count);
    for account in &accounts {
        let nonce = node.rpc("eth_getTransactionCount", json!([account.to_string(), "pending"]));
        nonces.push(
            u64::from_str_radix(nonce.as_str().unwrap().trim_start_matches("0x"), 16).unwrap(),
        );
    }
    let mut senders = Senders { accounts: accounts.clone(), nonces, next: 0 };
    let started = Instant::now();

    // Setup: the token (all of it to account 0) and one forwarder per account.
    let supply = 1_000_000_000_000u64;
    senders.next = 0;
    let mut setup = vec![senders.tx(None, 0, &hex_data(&token_code(supply)), 1_000_000)];
    for index in 0..count {
        senders.next = index;
        let target = &accounts[(index + 1) % count];
        setup.push(senders.tx(None, 0, &hex_data(&forwarder_code(target)), 500_000));
    }
    let hashes = node.send_all(&setup);
    node.mine();
    let first_setup = block_number(&node);
    let contract = |hash: &Value| {
        let receipt = node.rpc("eth_getTransactionReceipt", json!([hash]));
        assert_eq!(receipt["status"], "0x1", "deployment {hash}");
        address_of(&receipt["contractAddress"])
    };
    let token = contract(&hashes[0]);
    let forwarders: Vec<EvmAddress> = hashes[1..].iter().map(contract).collect();
    // Every account gets a share of the token.
    let share = supply / (count as u64 * 2);
    let mut grants = Vec::new();
    for to in &accounts[1..] {
        senders.next = 0;
        grants.push(senders.tx(Some(&token), 0, &transfer_data(to, share), 100_000));
    }
    node.send_all(&grants);
    node.mine();

    // The transfer blocks.
    senders.next = 0;
    let wei = 1_000_000_000_000_000u64; // 0.001 ether
    let mut round = 0usize;
    for block in 0..blocks {
        let mut txs = Vec::with_capacity(ether + token_txs + forward);
        for _ in 0..ether {
            round += 1;
            let to = accounts[(round * 7 + 3) % count];
            txs.push(senders.tx(Some(&to), wei + round as u64, "", 21_000));
        }
        for _ in 0..token_txs {
            round += 1;
            let to = accounts[(round * 11 + 5) % count];
            let data = transfer_data(&to, 1 + (round as u64 % 1000));
            txs.push(senders.tx(Some(&token), 0, &data, 100_000));
        }
        for _ in 0..forward {
            round += 1;
            let forwarder = forwarders[(round * 13 + 1) % count];
            txs.push(senders.tx(Some(&forwarder), wei + round as u64, "", 100_000));
        }
        node.send_all(&txs);
        node.mine();
        if (block + 1) % 1000 == 0 {
            eprintln!(
                "anvil_fill: {} blocks in {:.1} s",
                block + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let last = block_number(&node);
    // Spot check: the last block holds every transaction sent for it, all successful.
    let receipts = node.rpc("eth_getBlockReceipts", json!([format!("0x{last:x}")]));
    let receipts = receipts.as_array().unwrap();
    assert_eq!(receipts.len(), ether + token_txs + forward, "transactions in block {last}");
    assert!(receipts.iter().all(|receipt| receipt["status"] == "0x1"), "a transfer failed");
    eprintln!(
        "anvil_fill: blocks {first_setup}..={last} in {:.1} s (token {token})",
        started.elapsed().as_secs_f64()
    );
    println!("{first_setup} {last}");
}

fn block_number(node: &Node) -> u64 {
    let number = node.rpc("eth_blockNumber", json!([]));
    u64::from_str_radix(number.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}
