//! A scripted JSON-RPC node for tests: a thread on a loopback socket that answers each call (or
//! batch of calls) with a handler, can refuse the first requests with HTTP 503, and can send
//! broken bodies.

#![allow(clippy::unwrap_used, reason = "test helpers panic on failure by design")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

/// Answers one JSON-RPC call: `Ok(result)`, or `Err((code, message))` for a node error. A result
/// `"RAW:text"` makes the whole HTTP body `text` (a broken answer).
pub type Handler = dyn Fn(&str, &Value) -> Result<Value, (i64, String)> + Send + Sync;

/// A JSON-RPC node on a loopback socket answering single calls and batches with a handler.
#[derive(Debug)]
pub struct ScriptedNode {
    /// Its URL.
    pub url: String,
    /// HTTP requests received so far.
    pub requests: Arc<AtomicUsize>,
}

/// Starts a node answering with `handler`; the first `fail_first` requests get HTTP 503.
pub fn start(handler: Arc<Handler>, fail_first: usize) -> ScriptedNode {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let line = line.trim_end().to_ascii_lowercase();
                if line.is_empty() {
                    break;
                }
                if let Some(value) = line.strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let seen = counter.fetch_add(1, Ordering::SeqCst);
            let (status, answer) = if seen < fail_first {
                (503, "busy".to_owned())
            } else {
                let request: Value = serde_json::from_slice(&body).unwrap();
                let answer = |call: &Value| {
                    let method = call["method"].as_str().unwrap();
                    match handler(method, &call["params"]) {
                        Ok(Value::String(raw)) if raw.starts_with("RAW:") => json!(raw),
                        Ok(result) => json!({"jsonrpc": "2.0", "id": call["id"], "result": result}),
                        Err((code, message)) => {
                            json!({"jsonrpc": "2.0", "id": call["id"], "error": {"code": code, "message": message}})
                        }
                    }
                };
                let text = match &request {
                    Value::Array(calls) => {
                        Value::Array(calls.iter().map(answer).collect()).to_string()
                    }
                    call => answer(call).to_string(),
                };
                // A handler may ask for a raw (broken) body.
                let text = match text.find("RAW:") {
                    Some(at) => text[at + 4..].split('"').next().unwrap().to_owned(),
                    None => text,
                };
                (200, text)
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    ScriptedNode { url, requests }
}
