//! Etherscan label dumps, as scraped by <https://github.com/brianleect/etherscan-labels> (MIT): the
//! combined file (`combinedAccountLabels.json`: address → `{"name", "labels": [tags]}`) or one
//! tag's file (`accounts/<tag>.json`: address → name).

use std::path::Path;

use cointrail_types::Label;

use crate::{ImportContext, LabelError, Parsed, file_name, normalize_address};

/// Etherscan tags of centralised exchanges (the tag is the exchange's name).
const EXCHANGES: [&str; 28] = [
    "binance",
    "bitfinex",
    "bitflyer",
    "bithumb",
    "bitmex",
    "bitstamp",
    "bittrex",
    "bitvavo",
    "bybit",
    "coinbase",
    "coinone",
    "crypto-com",
    "deribit",
    "ftx",
    "gate-io",
    "gemini",
    "hitbtc",
    "huobi",
    "korbit",
    "kraken",
    "kucoin",
    "mexc",
    "okx",
    "okex",
    "poloniex",
    "upbit",
    "wazirx",
    "yobit",
];

/// Tags of services that hold or move users' funds (bridges, exchanges' contracts, DeFi).
const SERVICES: [&str; 8] =
    ["bridge", "dex", "defi", "layer-2", "lending", "yield-farming", "staking", "wallet-app"];

/// Returns the cointrail category of an address with Etherscan `tags` and `name`, and whether
/// the tags say it (rather than the name): the first rule that matches, in this order:
///
/// | tags or name | category |
/// |---|---|
/// | `ofac-sanctions-lists` | `sanctions` |
/// | `heist`, `exploit`; or `blocked` with a name saying `exploit`, `hack`, `heist`, `attacker`, `drainer` | `theft` |
/// | `phish-hack`, `scam`, `fake-phishing` | `scam` |
/// | `tornado-cash`, `ethereum-mixer`, `mixer` | `mixer` |
/// | `gambling` | `gambling` |
/// | an exchange's tag ([`EXCHANGES`]) or a tag containing `exchange` | `exchange` |
/// | `bridge`, `dex`, `defi`, ... ([`SERVICES`]) | `service` |
/// | `blocked` (frozen by a token issuer) | `blocked` |
/// | anything else | `other` |
pub fn etherscan_category(tags: &[String], name: &str) -> &'static str {
    let has = |wanted: &[&str]| tags.iter().any(|tag| wanted.contains(&tag.as_str()));
    let lower = name.to_ascii_lowercase();
    let named_theft =
        ["exploit", "hack", "heist", "attacker", "drainer"].iter().any(|word| lower.contains(word));
    if has(&["ofac-sanctions-lists"]) {
        "sanctions"
    } else if has(&["heist", "exploit"]) || (has(&["blocked"]) && named_theft) {
        "theft"
    } else if has(&["phish-hack", "scam", "fake-phishing"]) {
        "scam"
    } else if has(&["tornado-cash", "ethereum-mixer", "mixer"]) {
        "mixer"
    } else if has(&["gambling"]) {
        "gambling"
    } else if has(&EXCHANGES) || tags.iter().any(|tag| tag.contains("exchange")) {
        "exchange"
    } else if has(&SERVICES) {
        "service"
    } else if has(&["blocked"]) {
        "blocked"
    } else {
        "other"
    }
}

/// Parses an Etherscan label dump: the combined shape (address → `{"name": ..., "labels":
/// [...]}`) or one tag's file (address → name; the tag is the file's stem). Each address becomes
/// one label (asset `ETH`): named by Etherscan's name tag, or `Etherscan: <tags>` without one; the
/// category from [`etherscan_category`]; the source `etherscan <tags> (<file>)` unless
/// [`ImportContext::source`] is set.
///
/// # Errors
///
/// [`LabelError::Json`] (with the line) for malformed JSON or another shape,
/// [`LabelError::Address`] (with the line of the entry) for a key that is not an EVM address, and
/// [`LabelError::ImportDate`] for a bad import date.
pub fn parse_etherscan(
    text: &str,
    file: &Path,
    context: &ImportContext,
) -> Result<Parsed, LabelError> {
    context.check()?;
    let value: serde_json::Value = serde_json::from_str(text).map_err(|error| {
        LabelError::Json { file: file.to_owned(), line: error.line(), message: error.to_string() }
    })?;
    let shape = |message: String| LabelError::Json { file: file.to_owned(), line: 1, message };
    let serde_json::Value::Object(entries) = value else {
        return Err(shape("expected an object of addresses".to_owned()));
    };
    let name = file_name(file);
    let stem = file.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
    let line_of = |key: &str| {
        text.find(&format!("\"{key}\""))
            .map_or(1, |at| text[..at].bytes().filter(|byte| *byte == b'\n').count() + 1)
    };
    let mut labels = Vec::with_capacity(entries.len());
    for (key, entry) in &entries {
        let (title, tags) = match entry {
            // One tag's file: address → name.
            serde_json::Value::String(title) => (title.clone(), vec![stem.clone()]),
            serde_json::Value::Object(fields) => {
                let title = fields.get("name").and_then(|name| name.as_str()).unwrap_or_default();
                let tags = match fields.get("labels") {
                    Some(serde_json::Value::Array(tags)) => tags
                        .iter()
                        .filter_map(|tag| tag.as_str())
                        .map(|tag| tag.trim().to_ascii_lowercase())
                        .filter(|tag| !tag.is_empty())
                        .collect(),
                    None => Vec::new(),
                    Some(_) => {
                        return Err(LabelError::Json {
                            file: file.to_owned(),
                            line: line_of(key),
                            message: format!("`labels` of {key} is not a list of tags"),
                        });
                    }
                };
                (title.to_owned(), tags)
            }
            _ => {
                return Err(LabelError::Json {
                    file: file.to_owned(),
                    line: line_of(key),
                    message: format!("entry {key} is neither a name nor {{name, labels}}"),
                });
            }
        };
        let address = normalize_address("ETH", key).map_err(|problem| LabelError::Address {
            file: file.to_owned(),
            line: line_of(key),
            asset: "ETH".to_owned(),
            address: key.clone(),
            problem,
        })?;
        let title = title.trim();
        let tag_text = tags.join(", ");
        labels.push(Label {
            address,
            asset: "ETH".to_owned(),
            name: if title.is_empty() {
                format!("Etherscan: {tag_text}")
            } else {
                title.to_owned()
            },
            category: etherscan_category(&tags, title).to_owned(),
            actor: None,
            source: context.source_or(|| format!("etherscan {tag_text} ({name})")),
            confidence: None,
            programs: Vec::new(),
            imported: context.imported.clone(),
        });
    }
    Ok(Parsed::new(labels, Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|tag| (*tag).to_owned()).collect()
    }

    #[test]
    fn categories_follow_the_documented_order() {
        assert_eq!(
            etherscan_category(&tags(&["blocked", "ofac-sanctions-lists"]), ""),
            "sanctions"
        );
        assert_eq!(etherscan_category(&tags(&["blocked"]), "bZx PrivKey Exploiter 2"), "theft");
        assert_eq!(etherscan_category(&tags(&["blocked"]), "Some Wallet"), "blocked");
        assert_eq!(etherscan_category(&tags(&["tornado-cash"]), "Tornado.Cash: Router"), "mixer");
        assert_eq!(etherscan_category(&tags(&["kucoin"]), "KuCoin 2"), "exchange");
        assert_eq!(etherscan_category(&tags(&["axie-infinity", "bridge"]), "Ronin"), "service");
        assert_eq!(etherscan_category(&tags(&["sushiswap"]), "SushiSwap"), "other");
    }

    #[test]
    fn both_shapes_parse() {
        let context = ImportContext::new("2026-11-23");
        let combined = r#"{
  "0x689C56AEf474Df92D44A1B70850f808488F9769C": {"name": "KuCoin 2", "labels": ["kucoin"]},
  "0x9f4cda013e354b8fc285bf4b9a60460cee7f7ea9": {"name": "", "labels": ["blocked", "ofac-sanctions-lists"]}
}"#;
        let parsed =
            parse_etherscan(combined, Path::new("combinedAccountLabels.json"), &context).unwrap();
        assert_eq!(parsed.labels.len(), 2);
        let kucoin = parsed.labels.iter().find(|label| label.name == "KuCoin 2").unwrap();
        assert_eq!(kucoin.address, "0x689c56aef474df92d44a1b70850f808488f9769c");
        assert_eq!(kucoin.category, "exchange");
        assert_eq!(kucoin.source, "etherscan kucoin (combinedAccountLabels.json)");
        let sanctioned = parsed.labels.iter().find(|label| label.category == "sanctions").unwrap();
        assert_eq!(sanctioned.name, "Etherscan: blocked, ofac-sanctions-lists");

        let one_tag = r#"{"0x3f5ce5fbfe3e9af3971dd833d26ba9b5c936f0be": "Binance"}"#;
        let parsed =
            parse_etherscan(one_tag, Path::new("accounts/binance.json"), &context).unwrap();
        assert_eq!(parsed.labels[0].category, "exchange");
        assert_eq!(parsed.labels[0].name, "Binance");
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let context = ImportContext::new("2026-11-23");
        let bad = "{\n  \"0x1\": \"Short\"\n}";
        let error = parse_etherscan(bad, Path::new("x.json"), &context).unwrap_err().to_string();
        assert!(error.starts_with("x.json:2: bad ETH address `0x1`"), "{error}");
        let error =
            parse_etherscan("[1, 2", Path::new("y.json"), &context).unwrap_err().to_string();
        assert!(error.starts_with("y.json:1: malformed json"), "{error}");
        let error = parse_etherscan(
            "{\n\"0x3f5ce5fbfe3e9af3971dd833d26ba9b5c936f0be\": 7}",
            Path::new("z.json"),
            &context,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("z.json:2:"), "{error}");
    }
}
