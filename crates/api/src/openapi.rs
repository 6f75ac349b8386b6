//! The OpenAPI 3 document served at `/openapi.json`, written by hand.

use serde_json::{Value, json};

fn error_responses(extra: &[(&str, &str)]) -> Value {
    let mut responses = serde_json::Map::new();
    let error = json!({ "$ref": "#/components/schemas/Error" });
    let mut add = |code: &str, description: &str| {
        responses.insert(
            code.to_owned(),
            json!({ "description": description, "content": { "application/json": { "schema": error } } }),
        );
    };
    add("401", "Missing or unknown API key");
    add("403", "No API keys configured and the client is not on loopback");
    add("429", "Rate limit exceeded (see the Retry-After header)");
    add("500", "Internal error (logged on the server)");
    for (code, description) in extra {
        add(code, description);
    }
    Value::Object(responses)
}

fn ok(schema: &str, description: &str, extra: &[(&str, &str)]) -> Value {
    ok_schema(&json!({ "$ref": format!("#/components/schemas/{schema}") }), description, extra)
}

/// The screenings: a Bitcoin `Risk` or an `EvmRisk` document, by the target.
fn ok_risk(description: &str, extra: &[(&str, &str)]) -> Value {
    let either = json!({ "oneOf": [
        { "$ref": "#/components/schemas/Risk" },
        { "$ref": "#/components/schemas/EvmRisk" }
    ] });
    ok_schema(&either, description, extra)
}

fn ok_schema(schema: &Value, description: &str, extra: &[(&str, &str)]) -> Value {
    let mut responses = error_responses(extra);
    if let Value::Object(map) = &mut responses {
        map.insert(
            "200".to_owned(),
            json!({ "description": description, "content": { "application/json": { "schema": schema } } }),
        );
    }
    responses
}

fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string", "maxLength": 128 } })
}

fn query_param(name: &str, description: &str, schema: &Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

/// Returns the document.
pub(crate) fn document() -> Value {
    let bad =
        [("400", "A parameter is malformed (the message names it)"), ("404", "Not in the store")];
    let body_errors = [
        ("400", "Malformed JSON or parameter (the message names it)"),
        ("404", "Not in the store"),
        ("413", "Body larger than the limit (64 KiB by default)"),
        ("415", "Body is not JSON"),
        ("422", "JSON of the wrong shape: unknown field, wrong type"),
        ("503", "Too many traces and screenings at once"),
    ];
    let u64_schema = json!({ "type": "integer", "format": "int64", "minimum": 0 });
    let hops = json!({ "type": "integer", "minimum": 1, "maximum": 10, "default": 5 });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "cointrail screening API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Lookups, traces and explained risk scores over a cointrail store, for Bitcoin-family chains and EVM chains (0x addresses and hashes). Amounts are integer base units (satoshis; wei or token units on EVM chains, JSON integers of any size in screenings and traces). See docs/api.md for limits and docs/risk.md for scoring.",
            "license": { "name": "MIT OR Apache-2.0" }
        },
        "security": [ { "bearer": [] }, { "apiKey": [] } ],
        "paths": {
            "/healthz": { "get": { "summary": "Liveness and the tip of the snapshot in service (no key needed)", "security": [], "responses": { "200": { "description": "ok" } } } },
            "/metrics": { "get": { "summary": "Prometheus metrics: requests and latency per route and status", "responses": { "200": { "description": "Prometheus text format", "content": { "text/plain": { "schema": { "type": "string" } } } } } } },
            "/openapi.json": { "get": { "summary": "This document", "responses": { "200": { "description": "OpenAPI 3 document" } } } },
            "/v1/status": { "get": { "summary": "The store: tip, counts, files, EVM chains (as `cointrail status`)", "responses": ok("Status", "The store", &[]) } },
            "/v1/address/{address}": { "get": {
                "summary": "An address: totals, cluster, labels and conflicts; for an EVM address (0x and 40 hex digits), balances per asset, labels and the latest flows of the store's EVM chain (as `cointrail show address`)",
                "parameters": [ path_param("address", "An address of the store's network, or an EVM address"), query_param("chain", "EVM chain name (default: the store's only EVM chain)", &json!({ "type": "string" })) ],
                "responses": ok("Address", "The address", &bad)
            } },
            "/v1/tx/{txid}": { "get": {
                "summary": "A transaction with its inputs and spenders; for an EVM hash (0x and 64 hex digits) its value flows (as `cointrail show tx`)",
                "parameters": [ path_param("txid", "64 hex digits, or 0x and 64 for an EVM transaction"), query_param("chain", "EVM chain name (default: the store's only EVM chain)", &json!({ "type": "string" })) ],
                "responses": ok("Tx", "The transaction", &bad)
            } },
            "/v1/cluster/{id}": { "get": {
                "summary": "A cluster: size, labels, conflicts, held merges, members; for an EVM address its deposit-address cluster and role (as `cointrail show cluster`)",
                "parameters": [
                    path_param("id", "A cluster id or any address in it, or an EVM address"),
                    query_param("chain", "EVM chain name (default: the store's only EVM chain)", &json!({ "type": "string" })),
                    query_param("limit", "Members listed (default 100, at most 1000)", &json!({ "type": "integer", "minimum": 0 }))
                ],
                "responses": ok("Cluster", "The cluster", &bad)
            } },
            "/v1/trace": { "post": {
                "summary": "Trace from seeds (as `cointrail trace --format json`)",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/TraceRequest" } } } },
                "responses": ok("TraceDocument", "The trace document; `x-cointrail-clamped` lists limits lowered to the server's caps", &body_errors)
            } },
            "/v1/risk/address/{address}": { "get": {
                "summary": "Screen everything an address received (an EVM address: of one asset, by the haircut make-up of the senders' balances)",
                "parameters": [
                    path_param("address", "An address of the store's network, or an EVM address"),
                    query_param("max_hops", "Hops searched for indirect exposure", &hops),
                    query_param("chain", "EVM only: chain name (default: the store's only EVM chain)", &json!({ "type": "string" })),
                    query_param("asset", "EVM only: native (default), the native symbol, a token contract or symbol", &json!({ "type": "string" }))
                ],
                "responses": ok_risk("The screening (EvmRisk for an EVM address)", &[("400", "A parameter is malformed"), ("404", "No such EVM chain or asset"), ("503", "Too many screenings at once")])
            } },
            "/v1/risk/transfer": { "post": {
                "summary": "Screen an incoming transfer: a transaction's outputs or one output; an EVM transaction's transfers or one token transfer (log)",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/TransferRequest" } } } },
                "responses": ok_risk("The screening (EvmRisk for an EVM transaction)", &body_errors)
            } },
            "/v1/labels": { "get": {
                "summary": "Search labels by address, name or actor (case-insensitive substring)",
                "parameters": [
                    { "name": "query", "in": "query", "required": true, "schema": { "type": "string", "minLength": 2, "maxLength": 128 } },
                    query_param("limit", "Results (default 20, at most 100)", &json!({ "type": "integer", "minimum": 0 }))
                ],
                "responses": ok("LabelSearch", "Matching labels", &[("400", "A parameter is malformed")])
            } }
        },
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
                "apiKey": { "type": "apiKey", "in": "header", "name": "X-Api-Key" }
            },
            "schemas": {
                "Error": { "type": "object", "required": ["error", "status"], "properties": { "error": { "type": "string" }, "status": { "type": "integer" } } },
                "Status": { "type": "object", "properties": { "tip_height": { "type": "integer", "nullable": true }, "tip_hash": { "type": "string", "nullable": true }, "counts": { "type": "object" }, "bytes_on_disk": u64_schema, "files": { "type": "array", "items": { "type": "object" } } } },
                "Address": { "type": "object", "properties": {
                    "address": { "type": "string" }, "kind": { "type": "string" }, "received": u64_schema, "sent": u64_schema, "balance": u64_schema,
                    "tx_count": u64_schema, "outputs": u64_schema, "unspent_outputs": u64_schema,
                    "first_height": { "type": "integer", "nullable": true }, "last_height": { "type": "integer", "nullable": true },
                    "cluster": { "type": "object", "nullable": true, "properties": { "id": { "type": "integer" }, "size": { "type": "integer" } } },
                    "labels": { "type": "array", "items": { "$ref": "#/components/schemas/Label" } },
                    "conflicts": { "type": "array", "items": { "type": "object", "properties": { "kind": { "type": "string" }, "values": { "type": "array", "items": { "type": "string" } } } } }
                } },
                "Label": { "type": "object", "properties": {
                    "address": { "type": "string" }, "asset": { "type": "string" }, "name": { "type": "string" }, "category": { "type": "string" },
                    "actor": { "type": "string", "nullable": true }, "source": { "type": "string" }, "confidence": { "type": "integer", "nullable": true },
                    "programs": { "type": "array", "items": { "type": "string" } }, "imported": { "type": "string" },
                    "inherited": { "type": "boolean" }, "via": { "type": "string" }
                } },
                "Tx": { "type": "object", "properties": {
                    "txid": { "type": "string" }, "height": { "type": "integer" }, "block_hash": { "type": "string" }, "time": { "type": "integer" },
                    "coinbase": { "type": "boolean" }, "fee": { "type": "integer", "nullable": true },
                    "inputs": { "type": "array", "items": { "type": "object", "properties": { "prevout": { "type": "string" }, "address": { "type": "string", "nullable": true }, "value": u64_schema } } },
                    "outputs": { "type": "array", "items": { "type": "object", "properties": { "n": { "type": "integer" }, "address": { "type": "string", "nullable": true }, "value": u64_schema, "spent_by": { "type": "string", "nullable": true } } } }
                } },
                "Cluster": { "type": "object", "properties": {
                    "id": { "type": "integer" }, "size": { "type": "integer" }, "labels": { "type": "array", "items": { "$ref": "#/components/schemas/Label" } },
                    "conflicts": { "type": "array", "items": { "type": "object" } }, "held_merges": { "type": "array", "items": { "type": "object" } },
                    "addresses": { "type": "array", "items": { "type": "string" } }, "addresses_truncated": { "type": "boolean" }
                } },
                "TraceRequest": { "type": "object", "additionalProperties": false, "required": ["seeds"], "properties": {
                    "seeds": { "type": "array", "items": { "type": "string" }, "maxItems": 100, "description": "txid:vout, txid or address (alias: from)" },
                    "direction": { "type": "string", "enum": ["forward", "backward"], "default": "forward" },
                    "policy": { "type": "string", "enum": ["poison", "haircut", "fifo", "lifo"], "default": "haircut" },
                    "max_hops": { "type": "integer", "minimum": 1, "default": 100, "description": "lowered to the server's cap (20)" },
                    "max_txs": { "type": "integer", "minimum": 0, "default": 200000, "description": "lowered to the server's cap (50,000)" },
                    "max_seconds": { "type": "integer", "minimum": 0, "description": "lowered to the server's budget (2 s)" },
                    "min_amount": u64_schema,
                    "stop_category": { "type": "array", "items": { "type": "string" }, "default": ["exchange", "service"] },
                    "deposit_forwarding": { "type": "boolean", "default": false },
                    "chain": { "type": "string", "description": "EVM seed only: chain name" },
                    "asset": { "type": "string", "description": "EVM seed only: native (default), the native symbol, a token contract or symbol" }
                } },
                "TraceDocument": { "type": "object", "description": "As `cointrail trace --format json` (README: policy, direction, seed_amount, reached, unspent, fees, cut-offs, conserved, nodes, edges, patterns, sources, reproduce)" },
                "TransferRequest": { "type": "object", "additionalProperties": false, "required": ["txid"], "properties": {
                    "txid": { "type": "string", "minLength": 64, "maxLength": 66, "description": "64 hex digits, or 0x and 64 for an EVM transaction" },
                    "vout": { "type": "integer", "minimum": 0, "description": "Bitcoin: one output; all outputs without it" },
                    "log_index": { "type": "integer", "minimum": 0, "description": "EVM: the log index of one EIP-20 transfer; the transaction's transfers to final recipients without it" },
                    "chain": { "type": "string", "description": "EVM: chain name (default: the store's only EVM chain)" },
                    "asset": { "type": "string", "description": "EVM: asset of a transaction screening (default: native if it moves any, else its first token)" },
                    "max_hops": hops
                } },
                "EvmRisk": { "type": "object", "required": ["score", "level", "exposures", "explanation"], "properties": {
                    "chain": { "type": "string" }, "target": { "type": "string" }, "kind": { "type": "string", "enum": ["address", "tx", "log"] },
                    "asset": { "type": "object", "properties": { "id": { "type": "integer" }, "kind": { "type": "string" }, "contract": { "type": "string", "nullable": true }, "symbol": { "type": "string", "nullable": true }, "decimals": { "type": "integer", "nullable": true } } },
                    "score": { "type": "number", "minimum": 0, "maximum": 10 },
                    "level": { "type": "string", "enum": ["severe", "high", "medium", "low"] },
                    "exposures": { "type": "array", "items": { "type": "object", "required": ["label", "category", "amount", "share", "direct", "hops"], "properties": {
                        "label": { "type": "string" }, "category": { "type": "string" }, "amount": { "type": "integer", "minimum": 0, "description": "base units, any size" },
                        "share": { "type": "number" }, "direct": { "type": "boolean" }, "hops": { "type": "integer" }, "score": { "type": "number" }, "sources": { "type": "integer" },
                        "paths": { "type": "array", "items": { "type": "object", "properties": {
                            "amount": { "type": "integer", "minimum": 0 }, "txs": { "type": "array", "items": { "type": "string" } }, "flows": { "type": "array", "items": { "type": "integer" } },
                            "labeled_address": { "type": "string", "nullable": true }, "label_source": { "type": "string", "nullable": true }
                        } } }
                    } } },
                    "explanation": { "type": "array", "items": { "type": "string" } },
                    "screened_amount": { "type": "integer", "minimum": 0 }, "screened_flows": { "type": "integer" }, "flows_truncated": { "type": "boolean" },
                    "screened": { "type": "array", "items": { "type": "object" } },
                    "max_hops": { "type": "integer" }, "truncated": { "type": "string", "nullable": true, "enum": ["transactions", "time"] },
                    "flows_visited": { "type": "integer" }, "unattributed": { "type": "integer", "minimum": 0 }, "beyond_limits": { "type": "integer", "minimum": 0 },
                    "risk_categories": { "type": "array", "items": { "type": "string" } }, "tip_block": { "type": "integer", "nullable": true }
                } },
                "Risk": { "type": "object", "required": ["score", "level", "exposures", "explanation"], "properties": {
                    "target": { "type": "string" }, "kind": { "type": "string", "enum": ["address", "tx", "output"] },
                    "score": { "type": "number", "minimum": 0, "maximum": 10 },
                    "level": { "type": "string", "enum": ["severe", "high", "medium", "low"] },
                    "exposures": { "type": "array", "items": { "$ref": "#/components/schemas/Exposure" } },
                    "explanation": { "type": "array", "items": { "type": "string" } },
                    "screened_amount": u64_schema, "screened_outputs": { "type": "integer" }, "outputs_truncated": { "type": "boolean" },
                    "max_hops": { "type": "integer" }, "truncated": { "type": "string", "nullable": true, "enum": ["transactions", "time"] },
                    "txs_visited": u64_schema, "beyond_limits": u64_schema, "risk_categories": { "type": "array", "items": { "type": "string" } },
                    "tip_height": { "type": "integer", "nullable": true }
                } },
                "Exposure": { "type": "object", "required": ["label", "category", "amount", "share", "direct", "hops"], "properties": {
                    "label": { "type": "string" }, "category": { "type": "string" }, "amount": u64_schema,
                    "share": { "type": "number" }, "direct": { "type": "boolean" }, "hops": { "type": "integer" },
                    "score": { "type": "number" }, "sources": { "type": "integer" },
                    "paths": { "type": "array", "items": { "type": "object", "properties": {
                        "amount": u64_schema, "txids": { "type": "array", "items": { "type": "string" } },
                        "from_output": { "type": "string", "nullable": true }, "from_address": { "type": "string", "nullable": true },
                        "labeled_address": { "type": "string", "nullable": true }, "label_source": { "type": "string", "nullable": true }
                    } } }
                } },
                "LabelSearch": { "type": "object", "properties": { "query": { "type": "string" }, "labels": { "type": "array", "items": { "$ref": "#/components/schemas/Label" } }, "truncated": { "type": "boolean" } } }
            }
        }
    })
}
