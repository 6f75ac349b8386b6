//! Tests of `cointrail-evm` on recorded mainnet answers, malformed answers and a scripted node.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::needless_pass_by_value,
    reason = "test code"
)]

mod anvil;
mod contracts;
mod golden;
mod node;
mod robust;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Returns the path of a recorded answer.
fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// Reads the `result` of a recorded JSON-RPC answer.
fn result(name: &str) -> Value {
    let text = fs_err::read_to_string(data(name)).unwrap();
    let answer: Value = serde_json::from_str(&text).unwrap();
    answer["result"].clone()
}

/// Reads every `prefix*.json` answer's result, ordered by `transactionIndex`.
fn receipts(prefix: &str) -> Value {
    let mut receipts: Vec<Value> = fs_err::read_dir(data(""))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(prefix))
        .map(|name| result(&name))
        .collect();
    receipts.sort_by_key(|receipt| {
        u64::from_str_radix(
            receipt["transactionIndex"].as_str().unwrap().trim_start_matches("0x"),
            16,
        )
        .unwrap()
    });
    Value::Array(receipts)
}

/// Parses a CSV file without quoted commas into rows of (header -> value).
fn csv(name: &str) -> Vec<std::collections::HashMap<String, String>> {
    let text = fs_err::read_to_string(data(name)).unwrap();
    let mut lines = text.lines();
    let Some(header) = lines.next() else { return Vec::new() };
    let header: Vec<&str> = header.split(',').collect();
    lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            header.iter().map(|h| (*h).to_owned()).zip(line.split(',').map(str::to_owned)).collect()
        })
        .collect()
}

/// Reads a JSON-lines file.
fn jsonl(name: &str) -> Vec<Value> {
    fs_err::read_to_string(data(name))
        .unwrap()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}
