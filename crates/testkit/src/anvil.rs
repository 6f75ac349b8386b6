//! A real `anvil` (Foundry's EVM node) for tests: started on a free port, driven over JSON-RPC,
//! killed when dropped; and hand-assembled contracts to deploy on it (an EIP-20 token, a
//! forwarder that makes internal transfers).
//!
//! The binary is `$COINTRAIL_ANVIL`, or what `scripts/install-anvil.sh` installs (npm
//! `@foundry-rs/anvil`). Anvil mines each transaction into its own block unless told otherwise.

#![allow(
    clippy::missing_panics_doc,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers panic on failure by design"
)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cointrail_types::{EvmAddress, U256};
use serde_json::{Value, json};

/// Anvil's first dev accounts (unlocked, funded with 10,000 ether each).
pub const DEV_ACCOUNTS: [&str; 5] = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
];

/// One ether in wei.
pub const ETHER: u128 = 1_000_000_000_000_000_000;

/// Returns the anvil binary: `$COINTRAIL_ANVIL`, or what `scripts/install-anvil.sh` installs.
pub fn anvil_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("COINTRAIL_ANVIL") {
        return PathBuf::from(path);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-anvil.sh");
    let output = Command::new("bash").arg(&script).output().unwrap();
    assert!(
        output.status.success(),
        "anvil could not be installed by {}: {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// A running anvil node, killed on drop (unless it was only connected to).
#[derive(Debug)]
pub struct Anvil {
    child: Option<Child>,
    /// Its JSON-RPC URL.
    pub url: String,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Anvil {
    /// Starts anvil on a free loopback port and waits until it answers.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// As [`Anvil::start`], with extra command-line arguments.
    pub fn start_with(args: &[&str]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(anvil_binary())
            .args(["--port", &port.to_string(), "--host", "127.0.0.1", "--silent"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let anvil = Self { child: Some(child), url: format!("http://127.0.0.1:{port}") };
        let started = Instant::now();
        while anvil.try_rpc("eth_chainId", &json!([])).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "anvil did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        anvil
    }

    /// Connects to a node already running at `url` (left running on drop).
    pub fn connect(url: &str) -> Self {
        Self { child: None, url: url.to_owned() }
    }

    /// Calls `method`; the node's error object as text on failure.
    ///
    /// # Errors
    ///
    /// The transport error or the node's error object, as text.
    pub fn try_rpc(&self, method: &str, params: &Value) -> Result<Value, String> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let response = cointrail_ingest::http::post(
            &self.url,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
            Duration::from_secs(30),
        )
        .map_err(|error| error.to_string())?;
        let answer: Value = serde_json::from_slice(&response.body).map_err(|e| e.to_string())?;
        match answer.get("error") {
            Some(error) => Err(error.to_string()),
            None => Ok(answer["result"].clone()),
        }
    }

    /// Calls `method`, panicking on failure.
    pub fn rpc(&self, method: &str, params: &Value) -> Value {
        self.try_rpc(method, params)
            .unwrap_or_else(|error| panic!("{method}({params}) failed: {error}"))
    }

    /// Sends a transaction from an unlocked dev account and returns its receipt once mined.
    pub fn send_tx(&self, tx: &Value) -> Value {
        let hash = self.rpc("eth_sendTransaction", &json!([tx]));
        let started = Instant::now();
        loop {
            let receipt = self.rpc("eth_getTransactionReceipt", &json!([hash]));
            if !receipt.is_null() {
                return receipt;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "{hash} was not mined");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `wei` from `from` to `to` and returns the transaction hash once mined.
    pub fn send(&self, from: &str, to: &str, wei: u128) -> String {
        let tx = json!({"from": from, "to": to, "value": format!("{wei:#x}")});
        let receipt = self.send_tx(&tx);
        receipt["transactionHash"].as_str().unwrap().to_owned()
    }

    /// Deploys `code` (creation code) from `from`; returns the contract address.
    pub fn deploy(&self, from: &str, code: &[u8]) -> EvmAddress {
        let receipt = self.send_tx(&json!({"from": from, "data": hex_data(code)}));
        assert_eq!(receipt["status"], "0x1", "deployment failed: {receipt}");
        address_of(&receipt["contractAddress"])
    }

    /// Calls `transfer(to, amount)` of `token` from `from`; returns the receipt.
    pub fn transfer_token(&self, from: &str, token: &EvmAddress, to: &str, amount: u64) -> Value {
        let to = EvmAddress::from_hex(to).unwrap();
        self.send_tx(
            &json!({"from": from, "to": token.to_string(), "data": transfer_data(&to, amount)}),
        )
    }

    /// Mines an empty block.
    pub fn mine(&self) {
        self.rpc("evm_mine", &json!([]));
    }

    /// Returns the latest block number.
    pub fn latest(&self) -> u64 {
        let text = self.rpc("eth_blockNumber", &json!([]));
        u64::from_str_radix(text.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }

    /// Returns block `number` (transaction hashes only).
    pub fn block(&self, number: u64) -> Value {
        self.rpc("eth_getBlockByNumber", &json!([format!("{number:#x}"), false]))
    }

    /// Returns the dev accounts.
    pub fn accounts(&self) -> Vec<EvmAddress> {
        self.rpc("eth_accounts", &json!([])).as_array().unwrap().iter().map(address_of).collect()
    }

    /// Returns the node's balance of `address`.
    pub fn balance(&self, address: &EvmAddress) -> U256 {
        quantity(&self.rpc("eth_getBalance", &json!([address.to_string(), "latest"])))
    }

    /// Returns `token.balanceOf(holder)`.
    pub fn token_balance(&self, token: &EvmAddress, holder: &EvmAddress) -> U256 {
        let data = format!("0x70a08231{:0>64}", &holder.to_string()[2..]);
        let answer =
            self.rpc("eth_call", &json!([{"to": token.to_string(), "data": data}, "latest"]));
        quantity(&answer)
    }
}

/// Parses a JSON quantity or 32-byte word.
pub fn quantity(value: &Value) -> U256 {
    U256::from_hex_quantity(value.as_str().unwrap()).unwrap()
}

/// Parses a JSON address.
pub fn address_of(value: &Value) -> EvmAddress {
    EvmAddress::from_hex(value.as_str().unwrap()).unwrap()
}

/// Call data of EIP-20 `transfer(to, amount)`.
pub fn transfer_data(to: &EvmAddress, amount: u64) -> String {
    format!("0xa9059cbb{:0>64}{amount:064x}", &to.to_string()[2..])
}

fn decode_hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
        .collect()
}

/// A tiny assembler: opcodes, pushes, and `PUSH1 label` / `JUMPDEST label`.
enum Op {
    Code(&'static [u8]),
    Push(Vec<u8>),
    PushLabel(&'static str),
    Label(&'static str),
}

fn assemble(ops: &[Op]) -> Vec<u8> {
    let mut labels = std::collections::HashMap::new();
    let mut offset = 0usize;
    for op in ops {
        match op {
            Op::Code(bytes) => offset += bytes.len(),
            Op::Push(bytes) => offset += 1 + bytes.len(),
            Op::PushLabel(_) => offset += 2,
            Op::Label(name) => {
                labels.insert(*name, offset);
                offset += 1;
            }
        }
    }
    let mut code = Vec::new();
    for op in ops {
        match op {
            Op::Code(bytes) => code.extend_from_slice(bytes),
            Op::Push(bytes) => {
                code.push(0x5f + u8::try_from(bytes.len()).unwrap()); // PUSH1..PUSH32
                code.extend_from_slice(bytes);
            }
            Op::PushLabel(name) => code.extend([0x60, u8::try_from(labels[name]).unwrap()]),
            Op::Label(_) => code.push(0x5b), // JUMPDEST
        }
    }
    code
}

fn push(value: u64) -> Op {
    let bytes = value.to_be_bytes();
    let start = bytes.iter().position(|byte| *byte != 0).unwrap_or(7);
    Op::Push(bytes[start..].to_vec())
}

/// Creation code that stores `runtime` as the contract's code after running `constructor`.
fn creation(constructor: &[Op], runtime: &[u8]) -> Vec<u8> {
    // constructor · PUSH2 len DUP1 PUSH2 init_len PUSH1 0 CODECOPY PUSH1 0 RETURN · runtime
    let head = assemble(constructor);
    let init_len = head.len() + 3 + 1 + 3 + 2 + 1 + 2 + 1;
    let len = u16::try_from(runtime.len()).unwrap().to_be_bytes();
    let offset = u16::try_from(init_len).unwrap().to_be_bytes();
    let mut code = head;
    code.extend([0x61, len[0], len[1], 0x80, 0x61, offset[0], offset[1], 0x60, 0, 0x39]);
    code.extend([0x60, 0, 0xf3]);
    assert_eq!(code.len(), init_len);
    code.extend_from_slice(runtime);
    code
}

/// `keccak256("Transfer(address,address,uint256)")`, the topic of EIP-20 and EIP-721 transfers.
pub const TRANSFER_TOPIC: &str = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

/// A minimal EIP-20 token: balances in storage slot = holder address; `transfer` (reverts on
/// insufficient balance), `balanceOf`, `symbol` ("TST"), `decimals` (18), `Transfer` events; the
/// constructor mints `supply` to the deployer (with a `Transfer` from the zero address).
pub fn token_code(supply: u64) -> Vec<u8> {
    use Op::{Code, Label, Push, PushLabel};
    let topic = Push(decode_hex(TRANSFER_TOPIC));
    let runtime = assemble(&[
        push(0),
        Code(&[0x35]),
        push(0xe0),
        Code(&[0x1c]), // selector
        Code(&[0x80]),
        Push(vec![0xa9, 0x05, 0x9c, 0xbb]),
        Code(&[0x14]),
        PushLabel("transfer"),
        Code(&[0x57]),
        Code(&[0x80]),
        Push(vec![0x70, 0xa0, 0x82, 0x31]),
        Code(&[0x14]),
        PushLabel("balanceOf"),
        Code(&[0x57]),
        Code(&[0x80]),
        Push(vec![0x95, 0xd8, 0x9b, 0x41]),
        Code(&[0x14]),
        PushLabel("symbol"),
        Code(&[0x57]),
        Code(&[0x80]),
        Push(vec![0x31, 0x3c, 0xe5, 0x67]),
        Code(&[0x14]),
        PushLabel("decimals"),
        Code(&[0x57]),
        PushLabel("fail"),
        Code(&[0x56]),
        Label("balanceOf"),
        push(4),
        Code(&[0x35, 0x54]),
        push(0),
        Code(&[0x52]),
        push(32),
        push(0),
        Code(&[0xf3]),
        Label("decimals"),
        push(18),
        push(0),
        Code(&[0x52]),
        push(32),
        push(0),
        Code(&[0xf3]),
        Label("symbol"),
        push(32),
        push(0),
        Code(&[0x52]),
        push(3),
        push(32),
        Code(&[0x52]),
        Push(vec![0x54, 0x53, 0x54]),
        push(0xe8),
        Code(&[0x1b]),
        push(64),
        Code(&[0x52]),
        push(96),
        push(0),
        Code(&[0xf3]),
        Label("transfer"),
        Code(&[0x33, 0x54]),
        push(36),
        Code(&[0x35]), // [bal, amt]
        Code(&[0x80, 0x82, 0x10]),
        PushLabel("fail"),
        Code(&[0x57]),                         // bal < amt: fail
        Code(&[0x80, 0x82, 0x03, 0x33, 0x55]), // balance[caller] = bal - amt
        push(4),
        Code(&[0x35, 0x80, 0x54, 0x82, 0x01, 0x81, 0x55]), // balance[to] += amt
        Code(&[0x81]),
        push(0),
        Code(&[0x52]), // mem[0] = amt
        Code(&[0x33]),
        topic,
        push(32),
        push(0),
        Code(&[0xa3]), // LOG3(Transfer, caller, to)
        push(1),
        push(0),
        Code(&[0x52]),
        push(32),
        push(0),
        Code(&[0xf3]),
        Label("fail"),
        push(0),
        Code(&[0x80, 0xfd]),
    ]);
    let topic = Push(decode_hex(TRANSFER_TOPIC));
    creation(
        &[
            push(supply),
            Code(&[0x80, 0x33, 0x55]),
            push(0),
            Code(&[0x52]),
            Code(&[0x33]),
            push(0),
            topic,
            push(32),
            push(0),
            Code(&[0xa3]),
        ],
        &runtime,
    )
}

/// A contract that forwards the value of every call to `target` (reverting if that fails).
pub fn forwarder_code(target: &EvmAddress) -> Vec<u8> {
    use Op::{Code, Label, Push, PushLabel};
    let runtime = assemble(&[
        push(0),
        push(0),
        push(0),
        push(0),
        Code(&[0x34]),
        Push(target.0.to_vec()),
        Code(&[0x5a, 0xf1]),
        PushLabel("ok"),
        Code(&[0x57]),
        push(0),
        Code(&[0x80, 0xfd]),
        Label("ok"),
        Code(&[0x00]),
    ]);
    creation(&[], &runtime)
}

/// Returns `0x` and the hex digits of `code`.
pub fn hex_data(code: &[u8]) -> String {
    let mut text = String::from("0x");
    for byte in code {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}
