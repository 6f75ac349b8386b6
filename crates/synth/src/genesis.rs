//! The genesis blocks: mainnet's (285 bytes) and regtest's (the same transaction with regtest's
//! time, bits and nonce).

use cointrail_btc::Network;

/// The mainnet genesis block, as serialized (285 bytes).
const MAINNET_GENESIS_HEX: &str = "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c0101000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000";

/// Value of the genesis coinbase output (50 BTC).
pub(crate) const GENESIS_VALUE: u64 = 5_000_000_000;

/// Returns the genesis block of `network` (Mainnet, or Regtest for anything else).
pub(crate) fn genesis_block(network: Network) -> Vec<u8> {
    let hex = MAINNET_GENESIS_HEX.as_bytes();
    let mut block: Vec<u8> =
        hex.chunks_exact(2).map(|pair| (nibble(pair[0]) << 4) | nibble(pair[1])).collect();
    if network != Network::Mainnet {
        block[68..72].copy_from_slice(&1_296_688_602u32.to_le_bytes());
        block[72..76].copy_from_slice(&0x207f_ffffu32.to_le_bytes());
        block[76..80].copy_from_slice(&2u32.to_le_bytes());
    }
    block
}

/// Returns the header time of the genesis block of `network`.
pub(crate) fn genesis_time(network: Network) -> u32 {
    if network == Network::Mainnet { 1_231_006_505 } else { 1_296_688_602 }
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cointrail_btc::BlockHeader;

    #[test]
    fn genesis_hashes_match_the_networks() {
        for network in [Network::Mainnet, Network::Regtest] {
            let block = genesis_block(network);
            assert_eq!(block.len(), 285);
            let mut header = [0u8; 80];
            header.copy_from_slice(&block[..80]);
            assert_eq!(BlockHeader::block_hash(&header), network.genesis_hash());
        }
    }
}
