//! Fuzz-shaped robustness tests: the decoder must never panic, whatever the bytes.

use cointrail_btc::{DecodedBlock, script_to_address};

use crate::{Rng, blk_records, data, mainnet_0_438};

/// The fuzz target: decode arbitrary bytes; on success, the records must be consistent.
fn do_test(data: &[u8]) {
    let _ = script_to_address(data);
    match DecodedBlock::decode(data) {
        Ok(block) => {
            let _ = block.merkle_root();
            for tx in &block.txs {
                assert_eq!(block.inputs_of(tx).len(), tx.input_count as usize);
                assert_eq!(block.outputs_of(tx).len(), tx.output_count as usize);
            }
        }
        Err(err) => {
            assert!(err.offset <= data.len(), "{err} beyond {} bytes", data.len());
            assert!(err.to_string().ends_with(&format!("at byte {}", err.offset)));
        }
    }
}

const SEGWIT_BLOCK: &str =
    "mainnet_block_000000000000000000c238240ef6dcb26c37e75e16514e6ffc0aef7eee73e747.raw";

#[test]
fn every_prefix_of_real_blocks_is_an_error_not_a_panic() {
    let bytes = mainnet_0_438();
    let block_170 = blk_records(&bytes)[170].to_vec();
    for raw in [block_170, data(SEGWIT_BLOCK)] {
        for len in 0..raw.len() {
            do_test(&raw[..len]);
            assert!(DecodedBlock::decode(&raw[..len]).is_err(), "prefix of {len} bytes decoded");
        }
        do_test(&raw);
    }
}

#[test]
fn random_byte_flips_never_panic() {
    let raw = data(SEGWIT_BLOCK);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let mut mutated = raw.clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(mutated.len());
            mutated[at] = match rng.below(4) {
                0 => 0,
                1 => 0xff,
                2 => 0xfd + rng.byte() % 3,
                _ => rng.byte(),
            };
        }
        do_test(&mutated);
        let cut = rng.below(mutated.len());
        do_test(&mutated[..cut]);
    }
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng(42);
    for _ in 0..2000 {
        let len = rng.below(400);
        let garbage: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        do_test(&garbage);
    }
}
