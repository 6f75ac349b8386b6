//! Regtest blocks mined here (regtest proof of work is trivial): network parameters, regtest
//! address text, and the error for an input whose prevout is unknown.

use cointrail_btc::{DecodedBlock, Network, meets_target};
use cointrail_types::{AddressKey, AddressKind, Hash32};

use super::{ingest, json, mainnet_blocks, path, write_blocks_dir};

pub(crate) const REGTEST_MAGIC: [u8; 4] = [0xfa, 0xbf, 0xb5, 0xda];
const REGTEST_GENESIS: &str = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206";
const REGTEST_BITS: u32 = 0x207f_ffff;

/// The regtest genesis block: mainnet's genesis transaction with regtest's time, bits and nonce.
pub(crate) fn regtest_genesis() -> Vec<u8> {
    let mut block = mainnet_blocks()[0].clone();
    block[68..72].copy_from_slice(&1_296_688_602u32.to_le_bytes());
    block[72..76].copy_from_slice(&REGTEST_BITS.to_le_bytes());
    block[76..80].copy_from_slice(&2u32.to_le_bytes());
    block
}

fn varint(n: usize) -> Vec<u8> {
    assert!(n < 0xfd);
    vec![n as u8]
}

pub(crate) fn tx(inputs: &[([u8; 32], u32, Vec<u8>)], outputs: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut bytes = 2u32.to_le_bytes().to_vec();
    bytes.extend(varint(inputs.len()));
    for (txid, vout, script_sig) in inputs {
        bytes.extend_from_slice(txid);
        bytes.extend_from_slice(&vout.to_le_bytes());
        bytes.extend(varint(script_sig.len()));
        bytes.extend_from_slice(script_sig);
        bytes.extend_from_slice(&0xffff_fffeu32.to_le_bytes());
    }
    bytes.extend(varint(outputs.len()));
    for (value, script) in outputs {
        bytes.extend_from_slice(&value.to_le_bytes());
        bytes.extend(varint(script.len()));
        bytes.extend_from_slice(script);
    }
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes
}

/// Mines a regtest block on `prev` holding `txs` (the first is the coinbase).
pub(crate) fn mine(prev: &[u8; 32], time: u32, txs: &[Vec<u8>]) -> Vec<u8> {
    let mut block = vec![0u8; 80];
    block[..4].copy_from_slice(&0x2000_0000u32.to_le_bytes());
    block[4..36].copy_from_slice(prev);
    block[68..72].copy_from_slice(&time.to_le_bytes());
    block[72..76].copy_from_slice(&REGTEST_BITS.to_le_bytes());
    block.extend(varint(txs.len()));
    for tx in txs {
        block.extend_from_slice(tx);
    }
    let merkle = DecodedBlock::decode(&block).unwrap().merkle_root();
    block[36..68].copy_from_slice(&merkle.0);
    for nonce in 0u32.. {
        block[76..80].copy_from_slice(&nonce.to_le_bytes());
        let decoded = DecodedBlock::decode(&block).unwrap();
        if meets_target(&decoded.hash, REGTEST_BITS) {
            return block;
        }
    }
    unreachable!("regtest proof of work is found within a few tries")
}

pub(crate) fn coinbase(height: u8, script: Vec<u8>) -> Vec<u8> {
    tx(&[([0u8; 32], u32::MAX, vec![0x01, height, 0x00])], &[(50 * 100_000_000, script)])
}

pub(crate) fn p2wpkh(byte: u8) -> Vec<u8> {
    [vec![0x00, 0x14], vec![byte; 20]].concat()
}

#[test]
fn regtest_chain_with_regtest_addresses() {
    let genesis = regtest_genesis();
    let genesis_hash = DecodedBlock::decode(&genesis).unwrap().hash;
    assert_eq!(genesis_hash.to_string(), REGTEST_GENESIS);
    let block1 = mine(&genesis_hash.0, 1_296_689_000, &[coinbase(1, p2wpkh(0x11))]);
    let coinbase_txid = DecodedBlock::decode(&block1).unwrap().txs[0].txid;
    let hash1 = DecodedBlock::decode(&block1).unwrap().hash;
    let spend = tx(&[(coinbase_txid.0, 0, vec![])], &[(49 * 100_000_000, p2wpkh(0x22))]);
    let block2 = mine(&hash1.0, 1_296_689_600, &[coinbase(2, p2wpkh(0x11)), spend]);

    let temp = tempfile::tempdir().unwrap();
    let blocks = temp.path().join("blocks");
    write_blocks_dir(&blocks, &[genesis, block2, block1], 1, REGTEST_MAGIC, None);
    let store = temp.path().join("store");
    let report = ingest(&blocks, &store, &["--network", "regtest"]);
    assert_eq!(report["tip_height"], 2);

    // Encoding itself is tested against BIP-173 vectors in cointrail-btc.
    let miner = Network::Regtest.encode_address(&AddressKey::new(AddressKind::P2wpkh, &[0x11; 20]));
    assert!(miner.starts_with("bcrt1q"), "{miner}");
    let miner_summary = json(&["show", "address", &miner, "--store", path(&store)]);
    assert_eq!(miner_summary["received"], 100 * 100_000_000u64);
    assert_eq!(miner_summary["sent"], 50 * 100_000_000u64);
    assert_eq!(miner_summary["tx_count"], 3);

    let spent = json(&["show", "tx", &coinbase_txid.to_string(), "--store", path(&store)]);
    assert_eq!(spent["height"], 1);
    assert!(spent["outputs"][0]["spent_by"].as_str().unwrap().ends_with(":0"));
}

#[test]
fn unknown_prevout_names_outpoint_and_height() {
    let genesis = regtest_genesis();
    let genesis_hash = DecodedBlock::decode(&genesis).unwrap().hash;
    let missing = [0xabu8; 32];
    let spend = tx(&[(missing, 3, vec![])], &[(1000, p2wpkh(0x33))]);
    let block1 = mine(&genesis_hash.0, 1_296_689_000, &[coinbase(1, p2wpkh(0x11)), spend]);

    let temp = tempfile::tempdir().unwrap();
    let blocks = temp.path().join("blocks");
    write_blocks_dir(&blocks, &[genesis, block1], 1, REGTEST_MAGIC, None);
    let store = temp.path().join("store");
    let output = super::cointrail(&[
        "ingest",
        "btc",
        "--blocks-dir",
        path(&blocks),
        "--store",
        path(&store),
        "--network",
        "regtest",
    ]);
    assert!(!output.status.success());
    let error = String::from_utf8(output.stderr).unwrap();
    let outpoint = format!("{}:3", cointrail_types::Hash32(missing));
    assert!(error.contains(&outpoint), "{error}");
    assert!(error.contains("height 1"), "{error}");
}

/// The P2WPKH regtest address of twenty `byte`s.
pub(crate) fn wpkh(byte: u8) -> String {
    Network::Regtest.encode_address(&AddressKey::new(AddressKind::P2wpkh, &[byte; 20]))
}

/// Mines regtest blocks on top of the regtest genesis, one after the other.
pub(crate) struct Miner {
    pub(crate) blocks: Vec<Vec<u8>>,
    prev: Hash32,
    time: u32,
    height: u8,
}

impl Miner {
    pub(crate) fn new() -> Self {
        let genesis = regtest_genesis();
        let prev = DecodedBlock::decode(&genesis).unwrap().hash;
        Self { blocks: vec![genesis], prev, time: 1_296_689_000, height: 0 }
    }

    /// Mines a block whose coinbase pays `reward_to`, holding `txs`; returns the txids.
    pub(crate) fn block(&mut self, reward_to: u8, txs: Vec<Vec<u8>>) -> Vec<Hash32> {
        self.time += 600;
        self.height += 1;
        let mut all = vec![coinbase(self.height, p2wpkh(reward_to))];
        all.extend(txs);
        let block = mine(&self.prev.0, self.time, &all);
        let decoded = DecodedBlock::decode(&block).unwrap();
        self.prev = decoded.hash;
        self.blocks.push(block);
        decoded.txs.iter().map(|tx| tx.txid).collect()
    }
}
