//! Address normalisation per asset.

use cointrail_btc::Network;

use crate::error::AddressProblem;

/// Assets whose addresses are always EVM addresses (`0x` + 40 hex digits).
const EVM_ONLY: &[&str] =
    &["ETH", "ETC", "ARB", "BSC", "MATIC", "POL", "OP", "BASE", "AVAX", "DAI"];

/// Returns the canonical asset code: upper case, OFAC's `XBT` written `BTC`.
///
/// # Errors
///
/// Returns [`AddressProblem::UnknownAsset`] unless the code is 2-10 ASCII letters or digits.
pub(crate) fn canonical_asset(asset: &str) -> Result<String, AddressProblem> {
    let asset = asset.trim();
    if !(2..=10).contains(&asset.len()) || !asset.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AddressProblem::UnknownAsset { asset: asset.to_owned() });
    }
    let upper = asset.to_ascii_uppercase();
    Ok(if upper == "XBT" { "BTC".to_owned() } else { upper })
}

/// Returns the canonical text of `address` on `asset`, the form labels are stored and matched in.
///
/// - `BTC` (or OFAC's `XBT`): must be a Bitcoin address of mainnet, a test network or regtest (checked with
///   [`cointrail_btc`], checksum included); returned as [`Network::encode_address`] writes it, so
///   bech32 comes out in lower case.
/// - `ETH`, `ETC`, `ARB`, `BSC`, `MATIC`, `POL`, `OP`, `BASE`, `AVAX`, `DAI`: must be `0x` and 40
///   hex digits; returned in lower case. For any other asset, text starting with `0x` must be such
///   an address too (so `USDT`, `USDC` or `BNB` on an EVM chain are checked and lower-cased).
/// - Any other asset (`LTC`, `BCH`, `XMR`, `TRX`, `SOL`, `XRP`, `USDT` on TRON, `BNB` beacon
///   chain, ...): the trimmed text is accepted as written if it is non-empty ASCII letters and
///   digits. Nothing more is checked (no checksum, no length).
///
/// Every address must be ASCII letters and digits only. The asset code is case-insensitive;
/// surrounding white space of the address is ignored.
///
/// # Errors
///
/// Returns an [`AddressProblem`] for an asset code that is not 2-10 ASCII letters or digits, an
/// empty address, or an address that breaks the rule of its asset.
pub fn normalize_address(asset: &str, address: &str) -> Result<String, AddressProblem> {
    let asset = canonical_asset(asset)?;
    let text = address.trim();
    if text.is_empty() {
        return Err(AddressProblem::Empty);
    }
    if !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AddressProblem::Characters);
    }
    if asset == "BTC" {
        // Mainnet first, then the test networks (testnet3, testnet4 and signet share their
        // encodings), then regtest (`bcrt1`), so that labels work on every network cointrail reads.
        let mut first_error = None;
        for network in [Network::Mainnet, Network::Testnet3, Network::Regtest] {
            match network.parse_address(text) {
                Ok(key) => return Ok(network.encode_address(&key)),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        return Err(AddressProblem::Bitcoin {
            reason: first_error.map_or_else(String::new, |error| error.to_string()),
        });
    }
    let looks_evm = text.starts_with("0x") || text.starts_with("0X");
    if looks_evm || EVM_ONLY.contains(&asset.as_str()) {
        evm_address(text)
    } else {
        Ok(text.to_owned())
    }
}

/// Returns `0x` + 40 lower-case hex digits, or [`AddressProblem::Evm`].
fn evm_address(text: &str) -> Result<String, AddressProblem> {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"));
    match digits {
        Some(digits) if digits.len() == 40 && digits.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(format!("0x{}", digits.to_ascii_lowercase()))
        }
        _ => Err(AddressProblem::Evm),
    }
}

/// Returns the asset an address of unknown asset most likely is on: `ETH` for `0x` + 40 hex
/// digits, `BTC` otherwise.
pub(crate) fn default_asset(address: &str) -> &'static str {
    if evm_address(address.trim()).is_ok() { "ETH" } else { "BTC" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_canonical() {
        assert_eq!(canonical_asset("xbt"), Ok("BTC".to_owned()));
        assert_eq!(canonical_asset(" usdt "), Ok("USDT".to_owned()));
        assert!(canonical_asset("B").is_err());
        assert!(canonical_asset("VERYLONGCODE").is_err());
        assert!(canonical_asset("US-DT").is_err());
    }

    #[test]
    fn default_asset_by_shape() {
        assert_eq!(default_asset("0x098B716B8Aaf21512996dC57EB0615e2383E2f96"), "ETH");
        assert_eq!(default_asset("0x098B"), "BTC");
        assert_eq!(default_asset("1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn"), "BTC");
    }
}
