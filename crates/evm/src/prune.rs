//! Parsing of block answers into JSON values without the fields the transform never reads
//! (blooms, call input and output, gas limits, signatures, roots, ...): they are skipped in the
//! text instead of being allocated, kept and freed, which was most of the ingest's CPU time.

use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Object keys skipped at any depth. None of them is read by `transform.rs` or by the checks in
/// `source.rs` (keep this list in step with them; `transactionIndex`, `gasUsed`, `type`, `data`,
/// `hash`, `blockHash`, `value`, ... stay).
const PRUNED: &[&str] = &[
    "accessList",
    "authorizationList",
    "blobVersionedHashes",
    "blockNumber",
    "blockTimestamp",
    "chainId",
    "cumulativeGasUsed",
    "difficulty",
    "excessBlobGas",
    "extraData",
    "gas",
    "gasLimit",
    "input",
    "logsBloom",
    "maxFeePerBlobGas",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "mixHash",
    "nonce",
    "output",
    "parentBeaconBlockRoot",
    "r",
    "receiptsRoot",
    "requestsHash",
    "s",
    "sha3Uncles",
    "size",
    "stateRoot",
    "subtraces",
    "totalDifficulty",
    "transactionLogIndex",
    "transactionsRoot",
    "uncles",
    "v",
    "withdrawalsRoot",
    "yParity",
];

/// Parses a JSON document, leaving out the [`PRUNED`] keys of every object.
///
/// # Errors
///
/// The parse error of malformed JSON (or trailing characters).
pub(crate) fn from_slice(bytes: &[u8]) -> serde_json::Result<Value> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = Pruned.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

struct Pruned;

impl<'de> DeserializeSeed<'de> for Pruned {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Pruned {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Value, E> {
        Number::from_f64(value).map(Value::Number).ok_or_else(|| E::custom("not a finite number"))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(Self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key_seed(Key)? {
            match key {
                Some(key) => {
                    let value = map.next_value_seed(Self)?;
                    object.insert(key, value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(object))
    }
}

/// An object key: `None` for a pruned one (not allocated).
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Option<String>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for Key {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Option<String>, E> {
        if PRUNED.contains(&key) { Ok(None) } else { Ok(Some(key.to_owned())) }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn pruned_keys_are_left_out_at_any_depth_and_the_rest_is_kept() {
        let text = br#"[{"id": 0, "result": {"number": "0x1", "logsBloom": "0x00",
            "transactions": [{"hash": "0xab", "input": "0x1234", "value": "0x0", "v": "0x1"}],
            "nested": {"gas": {"deep": [1, 2]}, "gasUsed": "0x5208", "n": -1, "f": 1.5,
            "ok": true, "none": null, "esc\u0061ped": "x\"y"}}}]"#;
        let value = super::from_slice(text).unwrap();
        assert_eq!(
            value,
            json!([{"id": 0, "result": {"number": "0x1",
                "transactions": [{"hash": "0xab", "value": "0x0"}],
                "nested": {"gasUsed": "0x5208", "n": -1, "f": 1.5, "ok": true, "none": null,
                    "escaped": "x\"y"}}}])
        );
        assert!(super::from_slice(b"[1] x").is_err());
        assert!(super::from_slice(b"{\"a\": ").is_err());
    }
}
