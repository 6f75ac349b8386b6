//! Attribution labels: who an address belongs to, according to whom.

/// One claim about one address, from one source.
///
/// Labels are keyed by address text, not by store id, so that an address with no activity on chain
/// can carry a label (screening needs that).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Label {
    /// The address as text: Bitcoin-family addresses as encoded (bech32 in lower case), EVM
    /// addresses as `0x` plus 40 lower-case hex digits.
    pub address: String,
    /// The asset or chain the address is on, upper case (`BTC`, `ETH`, `USDT`, `LTC`...). OFAC's
    /// `XBT` is written `BTC`.
    pub asset: String,
    /// The label itself: an entity or service name, e.g. `Lazarus Group`, `Binance`.
    pub name: String,
    /// Lower-case category: `exchange`, `service`, `sanctions`, `theft`, `mixer`, `ransomware`,
    /// `scam`, ...
    pub category: String,
    /// The actor behind it, when the source names one (e.g. `lazarusgroup`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub actor: Option<String>,
    /// Where the claim comes from: a list and its issue, a URL, a file name.
    pub source: String,
    /// Confidence 0-100, when the source gives one.
    #[cfg_attr(feature = "serde", serde(default))]
    pub confidence: Option<u8>,
    /// Sanctions programmes (OFAC: `DPRK3`, `CYBER2`, ...), sorted.
    #[cfg_attr(feature = "serde", serde(default))]
    pub programs: Vec<String>,
    /// Date of import, `YYYY-MM-DD`.
    pub imported: String,
}
