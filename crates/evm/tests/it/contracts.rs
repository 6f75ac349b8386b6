//! Hand-assembled contracts for anvil: a minimal EIP-20 token and a value forwarder. Shared by
//! the anvil test and by `examples/anvil_fill.rs` (the chain of `scripts/bench-evm.sh`), which
//! includes this file with `#[path]`.
#![allow(dead_code, reason = "each includer uses a part")]

use cointrail_types::EvmAddress;
use serde_json::Value;

/// A tiny assembler: opcodes, pushes, and `PUSH1 label` / `JUMPDEST label`.
pub(crate) enum Op {
    Code(&'static [u8]),
    Push(Vec<u8>),
    PushLabel(&'static str),
    Label(&'static str),
}

pub(crate) fn assemble(ops: &[Op]) -> Vec<u8> {
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
                code.push(0x5f + bytes.len() as u8); // PUSH1..PUSH32
                code.extend_from_slice(bytes);
            }
            Op::PushLabel(name) => code.extend([0x60, u8::try_from(labels[name]).unwrap()]),
            Op::Label(_) => code.push(0x5b), // JUMPDEST
        }
    }
    code
}

pub(crate) fn push(value: u64) -> Op {
    let bytes = value.to_be_bytes();
    let start = bytes.iter().position(|byte| *byte != 0).unwrap_or(7);
    Op::Push(bytes[start..].to_vec())
}

/// Creation code that stores `runtime` as the contract's code after running `constructor`.
pub(crate) fn creation(constructor: Vec<Op>, runtime: &[u8]) -> Vec<u8> {
    // constructor · PUSH2 len DUP1 PUSH2 init_len PUSH1 0 CODECOPY PUSH1 0 RETURN · runtime
    let head = assemble(&constructor);
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

pub(crate) const TRANSFER_TOPIC: &str =
    "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

/// A minimal EIP-20 token: balances in storage slot = holder address; `transfer` (reverts on
/// insufficient balance), `balanceOf`, `symbol` ("TST"), `decimals` (18), `Transfer` events; the
/// constructor mints `supply` to the deployer (with a `Transfer` from the zero address).
pub(crate) fn token_code(supply: u64) -> Vec<u8> {
    use Op::{Code, Label, Push, PushLabel};
    let topic = Push(cointrail_evm::transform::decode_hex(&format!("0x{TRANSFER_TOPIC}")).unwrap());
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
    let topic = Push(cointrail_evm::transform::decode_hex(&format!("0x{TRANSFER_TOPIC}")).unwrap());
    creation(
        vec![
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
pub(crate) fn forwarder_code(target: &EvmAddress) -> Vec<u8> {
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
    creation(Vec::new(), &runtime)
}

pub(crate) fn hex_data(code: &[u8]) -> String {
    let mut text = String::from("0x");
    for byte in code {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

pub(crate) fn address_of(value: &Value) -> EvmAddress {
    EvmAddress::from_hex(value.as_str().unwrap()).unwrap()
}

pub(crate) fn transfer_data(to: &EvmAddress, amount: u64) -> String {
    format!("0xa9059cbb{:0>64}{amount:064x}", &to.to_string()[2..])
}
