//! Decoding real blocks: hashes, merkle roots, transaction counts, txids, segwit.

use cointrail_btc::{
    BlockHeader, DecodeErrorKind, DecodedBlock, Network, meets_target, script_to_address,
};
use cointrail_types::Hash32;

use crate::{blk_records, data, mainnet_0_438};

/// Every single-block mainnet fixture: file name and transaction count (from the source MANIFEST).
const MAINNET_BLOCKS: &[(&str, usize)] = &[
    ("mainnet_block_0000000000000756935f1ee9d5987857b604046f846d3df56d024cdb5f368665.raw", 14),
    ("mainnet_block_00000000000001aa077d7aa84c532a4d69bdbff519609d1da0835261b7a74eb6.raw", 122),
    ("mainnet_block_00000000000000d0dfd4c9d588d325dce4f32c1b31b7c0064cba7025a9b9adcc.raw", 100),
    ("mainnet_block_0000000000000000054a714e580b16c583701712ab91060e92dbde6eb1e052a8.blk", 213),
    ("mainnet_block_0000000000000000821c4e0acc40f88bedbce3b73ba2358b5ade58a9022cc78c.raw", 461),
    ("mainnet_block_0000000000000000011b2a4cb91b63886ffe0d2263fd17ac5a9b902a219e0a14.raw", 587),
    ("mainnet_block_00000000000000001416a613602d73bbe5c79170fd8f39d509896b829cf9021e.raw", 708),
    ("mainnet_block_00000000000000000aab6a2b34e979b09ca185584bd1aecf204f24d150ff55e9.raw", 1731),
    ("mainnet_block_0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069.raw", 1557),
    ("mainnet_block_00000000000000000431d0ead6e0bd9f90ff0d469e9b05d51e3d04971f472973.raw", 409),
    ("mainnet_block_000000000000000000893c019d81f2d48ee33892c12428f3121bbd16ed6db926.raw", 2097),
    ("mainnet_block_000000000000000000917cba69f69b758fe396c8e30ae97bbcf08c4eb975e726.raw", 2020),
    ("mainnet_block_000000000000000000c238240ef6dcb26c37e75e16514e6ffc0aef7eee73e747.raw", 12),
    ("mainnet_block_00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab.raw", 230),
    ("mainnet_block_0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2.raw", 3315),
    ("mainnet_block_000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae.raw", 2500),
];

/// Testnet3 fixtures: file name and transaction count.
const TESTNET_BLOCKS: &[(&str, usize)] = &[
    ("testnet3_block_0000000004053156021d8e42459d284220a7f6e087bf78f30179c3703ca4eefa.raw", 2),
    ("testnet3_block_000000000000406178b12a4dea3b27e13b3c4fe4510994fd667d7c1e6a3f4dc1.raw", 4),
    ("testnet3_block_000000000000045e0b1660b6445b5e5c5ab63c9a4f956be7e1e69be04fa4497b.raw", 15),
];

/// Returns the block bytes of a fixture (stripping the record prefix of `.blk` files).
fn block_bytes(name: &str) -> Vec<u8> {
    let bytes = data(name);
    if name.ends_with(".blk") {
        let records = blk_records(&bytes);
        assert_eq!(records.len(), 1);
        records[0].to_vec()
    } else {
        bytes
    }
}

fn compact_size_len(n: usize) -> usize {
    match n {
        0..0xfd => 1,
        0xfd..=0xffff => 3,
        _ => 5,
    }
}

/// Checks what every decoded block must satisfy.
fn check_block(name: &str, raw: &[u8], block: &DecodedBlock, tx_count: usize) {
    let expected_hash = name.split('_').nth(2).unwrap().split('.').next().unwrap();
    assert_eq!(block.hash.to_string(), expected_hash, "{name}");
    assert_eq!(block.hash, BlockHeader::block_hash(raw[..80].try_into().unwrap()));
    assert_eq!(block.merkle_root(), block.header.merkle_root, "{name}: merkle root");
    assert!(meets_target(&block.hash, block.header.bits), "{name}: proof of work");
    assert_eq!(block.txs.len(), tx_count, "{name}: tx count");
    assert!(block.txs[0].is_coinbase, "{name}");
    assert_eq!(block.txs[0].input_count, 0, "{name}");
    assert!(block.txs[1..].iter().all(|tx| !tx.is_coinbase && tx.input_count > 0), "{name}");
    let sizes: usize = block.txs.iter().map(|tx| tx.size as usize).sum();
    assert_eq!(80 + compact_size_len(tx_count) + sizes, raw.len(), "{name}: sizes");
    let inputs: u32 = block.txs.iter().map(|tx| tx.input_count).sum();
    let outputs: u32 = block.txs.iter().map(|tx| tx.output_count).sum();
    assert_eq!(inputs as usize, block.inputs.len());
    assert_eq!(outputs as usize, block.outputs.len());
    let mut next_input = 0;
    let mut next_output = 0;
    for tx in &block.txs {
        assert_eq!(tx.input_start, next_input);
        assert_eq!(tx.output_start, next_output);
        next_input += tx.input_count;
        next_output += tx.output_count;
        assert_eq!(block.inputs_of(tx).len(), tx.input_count as usize);
        assert_eq!(block.outputs_of(tx).len(), tx.output_count as usize);
    }
}

#[test]
fn every_mainnet_fixture_decodes_with_matching_hash_merkle_root_and_tx_count() {
    let mut reused = DecodedBlock::default();
    for &(name, tx_count) in MAINNET_BLOCKS {
        let raw = block_bytes(name);
        let block = DecodedBlock::decode(&raw).unwrap_or_else(|err| panic!("{name}: {err}"));
        check_block(name, &raw, &block, tx_count);
        // Decoding into a reused block gives the same result.
        reused.decode_into(&raw).unwrap();
        assert_eq!(reused.txs, block.txs, "{name}");
        assert_eq!(reused.inputs, block.inputs, "{name}");
        assert_eq!(reused.outputs, block.outputs, "{name}");
        assert_eq!(reused.header, block.header, "{name}");
    }
}

#[test]
fn testnet_fixtures_decode() {
    for &(name, tx_count) in TESTNET_BLOCKS {
        let raw = block_bytes(name);
        let block = DecodedBlock::decode(&raw).unwrap_or_else(|err| panic!("{name}: {err}"));
        check_block(name, &raw, &block, tx_count);
    }
}

#[test]
fn all_439_blocks_of_the_shared_fixture_decode() {
    let bytes = mainnet_0_438();
    let records = blk_records(&bytes);
    assert_eq!(records.len(), 439);
    let mut block = DecodedBlock::default();
    let mut prev = Hash32::default();
    let mut txs = 0;
    for raw in records {
        block.decode_into(raw).unwrap();
        assert_eq!(block.header.prev_blockhash, prev);
        assert_eq!(block.merkle_root(), block.header.merkle_root);
        prev = block.hash;
        txs += block.txs.len();
    }
    assert_eq!(
        prev.to_string(),
        "0000000025c6b644f8add734be7e666fa4afa43ca0204d623a0c0b1fd2104c7a"
    );
    assert_eq!(txs, 446);
}

fn hash(text: &str) -> Hash32 {
    Hash32::from_display_hex(text).unwrap()
}

#[test]
fn block_170_satoshi_pays_hal_finney() {
    let bytes = mainnet_0_438();
    let records = blk_records(&bytes);
    let block = DecodedBlock::decode(records[170]).unwrap();
    let block9 = DecodedBlock::decode(records[9]).unwrap();
    assert_eq!(block.txs.len(), 2);
    let tx = block.txs[1];
    assert_eq!(tx.txid, hash("f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"));
    assert!(!tx.is_coinbase);
    let inputs = block.inputs_of(&tx);
    assert_eq!(inputs.len(), 1);
    assert_eq!(inputs[0].prev_txid, block9.txs[0].txid);
    assert_eq!(
        inputs[0].prev_txid,
        hash("0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9")
    );
    assert_eq!(inputs[0].prev_vout, 0);
    let outputs = block.outputs_of(&tx);
    let paid: Vec<(u64, String)> = outputs
        .iter()
        .map(|out| (out.value, Network::Mainnet.encode_address(&out.address.unwrap())))
        .collect();
    assert_eq!(
        paid,
        [
            (1_000_000_000, "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3".to_owned()),
            (4_000_000_000, "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S".to_owned()),
        ]
    );
    // The change goes back to the key block 9's coinbase paid: same address key.
    assert_eq!(outputs[1].address, block9.outputs[0].address);
}

#[test]
fn segwit_txids_exclude_the_witness() {
    // (file, tx index, txid from an independent Python decoder).
    let cases = [
        (
            "mainnet_block_000000000000000000c238240ef6dcb26c37e75e16514e6ffc0aef7eee73e747.raw",
            10,
            "dcb0287611afbbd267db95e975fcd75cc09363a8375fd4991a37c1b6a7eed466",
        ),
        (
            "mainnet_block_000000000000000000917cba69f69b758fe396c8e30ae97bbcf08c4eb975e726.raw",
            0,
            "9c1ab453283035800c43eb6461eb46682b81be110a0cb89ee923882a5fd9daa4",
        ),
        (
            "mainnet_block_000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae.raw",
            1,
            "7bf717689b9033eafb2f3272719989b304bb7db616c2bfb5ded2e1b76d50a4f0",
        ),
        (
            "mainnet_block_0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2.raw",
            1,
            "a80bb6aea647e2ba69d0c5189b0976734d3918d4e9d6e0cb5bef07549706c8d1",
        ),
        (
            "mainnet_block_00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab.raw",
            9,
            "acc7aa28895c9656f3c11535753435e31309b2131760a46b0ceb6699e3ee2bb0",
        ),
    ];
    for (name, index, txid) in cases {
        let block = DecodedBlock::decode(&block_bytes(name)).unwrap();
        assert_eq!(block.txs[index].txid, hash(txid), "{name} tx {index}");
    }
}

#[test]
fn output_addresses_match_the_script_rules() {
    let name = "mainnet_block_000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae.raw";
    let block = DecodedBlock::decode(&block_bytes(name)).unwrap();
    let coinbase_outputs = block.outputs_of(&block.txs[0]);
    assert_eq!(coinbase_outputs[0].value, 629_948_405);
    assert_eq!(
        Network::Mainnet.encode_address(&coinbase_outputs[0].address.unwrap()),
        "bc1qx9t2l3pyny2spqpqlye8svce70nppwtaxwdrp4"
    );
    // The witness commitment is an OP_RETURN output.
    assert_eq!(coinbase_outputs[1].address, None);
    let script =
        hex::decode("6a24aa21a9ed71bfcc287cd6271682f35f5fba3963861571e0f186899eb0a41a5ebc360a3faa")
            .unwrap();
    assert_eq!(script_to_address(&script), None);
}

#[test]
fn corrupt_blocks_report_the_byte_offset() {
    let name = "mainnet_block_000000000000000000c238240ef6dcb26c37e75e16514e6ffc0aef7eee73e747.raw";
    let raw = block_bytes(name);
    let block = DecodedBlock::decode(&raw).unwrap();

    // The coinbase is a segwit tx: its flag byte is at 80 + 1 (tx count) + 4 (version) + 1.
    let mut bad_flag = raw.clone();
    assert_eq!(bad_flag[85..87], [0, 1]);
    bad_flag[86] = 2;
    let err = DecodedBlock::decode(&bad_flag).unwrap_err();
    assert_eq!(err.offset, 86);
    assert_eq!(err.kind, DecodeErrorKind::BadSegwitFlag { flag: 2 });
    assert_eq!(err.to_string(), "unknown segwit flag 0x02 at byte 86");

    // Cut inside the last transaction.
    let err = DecodedBlock::decode(&raw[..raw.len() - 2]).unwrap_err();
    assert_eq!(err.offset, raw.len() - 4);
    assert_eq!(err.kind, DecodeErrorKind::Truncated { what: "transaction lock time" });

    // Claim one transaction more than there is.
    let mut extra_tx = raw.clone();
    extra_tx[80] += 1;
    let err = DecodedBlock::decode(&extra_tx).unwrap_err();
    assert_eq!(err.offset, raw.len());
    assert!(matches!(err.kind, DecodeErrorKind::Truncated { .. }), "{err}");

    // A huge input count in the second transaction.
    let second_tx = 81 + block.txs[0].size as usize;
    let mut huge_count = raw;
    let count_at = second_tx + 4 + if huge_count[second_tx + 4] == 0 { 2 } else { 0 };
    huge_count[count_at] = 0xfe;
    let err = DecodedBlock::decode(&huge_count).unwrap_err();
    assert_eq!(err.offset, count_at);
    assert!(
        matches!(err.kind, DecodeErrorKind::CountTooLarge { what: "input count", .. }),
        "{err}"
    );
}
