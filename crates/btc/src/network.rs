//! Bitcoin networks: names, blk-file magic, genesis hashes and address text.

use std::fmt;
use std::str::FromStr;

use cointrail_types::{AddressKey, Hash32};

use crate::address::{self, AddressError};

/// A Bitcoin network whose blocks cointrail can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    /// Bitcoin mainnet.
    Mainnet,
    /// Testnet version 3 (Bitcoin Core's `-testnet`).
    Testnet3,
    /// Testnet version 4 (BIP-94, Bitcoin Core's `-testnet4`).
    Testnet4,
    /// The default signet (BIP-325).
    Signet,
    /// A local regression-test network.
    Regtest,
    /// Litecoin mainnet (same block format; its own magic, genesis and address prefixes).
    Litecoin,
    /// Litecoin testnet 4.
    LitecoinTestnet,
    /// Litecoin's regression-test network (`litecoind -regtest`).
    LitecoinRegtest,
}

impl Network {
    /// Every network, Bitcoin mainnet first.
    pub const ALL: [Self; 8] = [
        Self::Mainnet,
        Self::Testnet3,
        Self::Testnet4,
        Self::Signet,
        Self::Regtest,
        Self::Litecoin,
        Self::LitecoinTestnet,
        Self::LitecoinRegtest,
    ];

    /// Returns `true` for the Litecoin networks, whose blocks may carry a MimbleWimble extension
    /// block (MWEB) after their transactions.
    pub fn is_litecoin(self) -> bool {
        matches!(self, Self::Litecoin | Self::LitecoinTestnet | Self::LitecoinRegtest)
    }

    /// Returns the canonical lower-case name: `mainnet`, `testnet`, `testnet4`, `signet`, `regtest`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mainnet => "mainnet",
            Self::Testnet3 => "testnet",
            Self::Testnet4 => "testnet4",
            Self::Signet => "signet",
            Self::Regtest => "regtest",
            Self::Litecoin => "litecoin",
            Self::LitecoinTestnet => "litecoin-testnet",
            Self::LitecoinRegtest => "litecoin-regtest",
        }
    }

    /// Returns the 4 bytes that start every record of this network's blk files (and P2P messages).
    pub fn magic(self) -> [u8; 4] {
        match self {
            Self::Mainnet => [0xf9, 0xbe, 0xb4, 0xd9],
            Self::Testnet3 => [0x0b, 0x11, 0x09, 0x07],
            Self::Testnet4 => [0x1c, 0x16, 0x3f, 0x28],
            Self::Signet => [0x0a, 0x03, 0xcf, 0x40],
            Self::Regtest | Self::LitecoinRegtest => [0xfa, 0xbf, 0xb5, 0xda],
            Self::Litecoin => [0xfb, 0xc0, 0xb6, 0xdb],
            Self::LitecoinTestnet => [0xfd, 0xd2, 0xc8, 0xf1],
        }
    }

    /// Returns the network whose blk-file magic is `magic`, if any.
    pub(crate) fn from_magic(magic: [u8; 4]) -> Option<Self> {
        Self::ALL.into_iter().find(|network| network.magic() == magic)
    }

    /// Returns the hash of the network's genesis block (for signet: the default signet).
    pub fn genesis_hash(self) -> Hash32 {
        let text = match self {
            Self::Mainnet => "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
            Self::Testnet3 => "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
            Self::Testnet4 => "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",
            Self::Signet => "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
            Self::Regtest => "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
            Self::Litecoin => "12a765e31ffd4059bada1e25190f6e98c99d9714d334efa41a195a7e7e04bfe2",
            Self::LitecoinTestnet => {
                "4966625a4b2851d9fdee139e56211a0d88575f59ed816ff5e6a63deb4e3e29a0"
            }
            Self::LitecoinRegtest => {
                "530827f38f93b43ed12af0b3ad25a288dc02ed74d6d7857862df51fc56c416f9"
            }
        };
        Hash32::from_display_hex(text).expect("genesis hashes are 64-digit hex constants")
    }

    /// Returns the human-readable part of this network's segwit (bech32/bech32m) addresses.
    pub(crate) fn bech32_hrp(self) -> bech32::Hrp {
        match self {
            Self::Mainnet => bech32::hrp::BC,
            Self::Testnet3 | Self::Testnet4 | Self::Signet => bech32::hrp::TB,
            Self::Regtest => bech32::hrp::BCRT,
            Self::Litecoin => bech32::Hrp::parse_unchecked("ltc"),
            Self::LitecoinTestnet => bech32::Hrp::parse_unchecked("tltc"),
            Self::LitecoinRegtest => bech32::Hrp::parse_unchecked("rltc"),
        }
    }

    /// Returns the base58check version bytes of P2PKH and P2SH addresses.
    pub(crate) fn base58_versions(self) -> (u8, u8) {
        match self {
            Self::Mainnet => (0x00, 0x05),
            Self::Testnet3 | Self::Testnet4 | Self::Signet | Self::Regtest => (0x6f, 0xc4),
            Self::Litecoin => (0x30, 0x32),
            Self::LitecoinTestnet | Self::LitecoinRegtest => (0x6f, 0x3a),
        }
    }

    /// Returns the older P2SH version byte a network still accepts (Litecoin's `3...`/`2...`).
    pub(crate) fn legacy_p2sh_version(self) -> Option<u8> {
        match self {
            Self::Litecoin => Some(0x05),
            Self::LitecoinTestnet | Self::LitecoinRegtest => Some(0xc4),
            _ => None,
        }
    }

    /// Returns the address text of `key` on this network (see the [`crate::address`] module).
    pub fn encode_address(self, key: &AddressKey) -> String {
        address::encode(self, key)
    }

    /// Parses address text of this network back into its key; the exact inverse of
    /// [`Network::encode_address`]. Bech32 text is accepted in lower or upper case.
    ///
    /// # Errors
    ///
    /// Returns [`AddressError`] if the text is not a valid address, or is an address of another
    /// network.
    pub fn parse_address(self, text: &str) -> Result<AddressKey, AddressError> {
        address::parse(self, text)
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Network {
    type Err = ParseNetworkError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "mainnet" | "bitcoin" => Self::Mainnet,
            "testnet" | "testnet3" => Self::Testnet3,
            "testnet4" => Self::Testnet4,
            "signet" => Self::Signet,
            "regtest" => Self::Regtest,
            "litecoin" | "litecoin-mainnet" => Self::Litecoin,
            "litecoin-testnet" => Self::LitecoinTestnet,
            "litecoin-regtest" => Self::LitecoinRegtest,
            _ => return Err(ParseNetworkError { text: text.to_owned() }),
        })
    }
}

/// A network name that [`Network::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown network `{text}`: expected one of mainnet, testnet, testnet4, signet, regtest, \
     litecoin, litecoin-testnet, litecoin-regtest (aliases: bitcoin, testnet3)"
)]
#[non_exhaustive]
pub struct ParseNetworkError {
    /// The text that was not a network name.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases_parse() {
        for network in Network::ALL {
            assert_eq!(network.name().parse::<Network>().unwrap(), network);
            assert_eq!(network.to_string(), network.name());
            // Litecoin's regtest shares Bitcoin regtest's magic; from_magic names the first.
            let named = Network::from_magic(network.magic()).unwrap();
            assert_eq!(named.magic(), network.magic());
        }
        assert_eq!(Network::from_magic(Network::Litecoin.magic()), Some(Network::Litecoin));
        assert_eq!("bitcoin".parse::<Network>().unwrap(), Network::Mainnet);
        assert_eq!("testnet3".parse::<Network>().unwrap(), Network::Testnet3);
        let err = "mainet".parse::<Network>().unwrap_err().to_string();
        assert!(err.contains("`mainet`") && err.contains("testnet4"), "{err}");
        assert_eq!(Network::from_magic([0, 0, 0, 0]), None);
    }

    #[test]
    fn genesis_hashes_are_distinct_and_display_as_core() {
        assert_eq!(
            Network::Testnet4.genesis_hash().to_string(),
            "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043"
        );
        let mut all: Vec<_> = Network::ALL.iter().map(|n| n.genesis_hash()).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), Network::ALL.len());
    }

    /// Addresses written by a real `litecoind -regtest` (Litecoin Core 0.21.2) for known scripts.
    #[test]
    fn litecoin_regtest_addresses_match_litecoind() {
        let cases = [
            (
                "mrZ6F6veqsHSPqT1VDU3XXKEwGWiXdZMsJ",
                "76a9147910d9e41037632ccaf60633fb147a303a8d91ba88ac",
            ),
            (
                "QSbYxgWP1Q1pn17zh2ouoUfJmHtv6PnAt2",
                "a91441bbc3011a949005701fe6b76d5f8919bf70440087",
            ),
            (
                "rltc1qae0qjzfrqwff6zatfnazgvzpm787u5aywcztvm",
                "0014ee5e09092303929d0bab4cfa243041df8fee53a4",
            ),
        ];
        for (text, script) in cases {
            let script: Vec<u8> = (0..script.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&script[i..i + 2], 16).unwrap())
                .collect();
            let key = crate::script_to_address(&script).unwrap();
            assert_eq!(Network::LitecoinRegtest.encode_address(&key), text);
            assert_eq!(Network::LitecoinRegtest.parse_address(text).unwrap(), key);
        }
        assert!(
            Network::Regtest.parse_address("rltc1qae0qjzfrqwff6zatfnazgvzpm787u5aywcztvm").is_err()
        );
        assert_eq!("litecoin-regtest".parse::<Network>().unwrap(), Network::LitecoinRegtest);
    }
}
