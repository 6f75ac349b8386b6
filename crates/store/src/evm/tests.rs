//! Tests of the EVM chain layout: commit, reopen, recovery, unwind.

use std::collections::BTreeMap;
use std::path::Path;

use cointrail_types::{B256, EvmAddress, U256};

use super::*;

fn spec() -> EvmChainSpec {
    EvmChainSpec { name: "testchain".to_owned(), chain_id: 31337 }
}

fn hash(n: u64, branch: u8) -> B256 {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
    bytes[8] = branch;
    B256(bytes)
}

fn address(n: u64) -> EvmAddress {
    let mut bytes = [0u8; 20];
    bytes[..8].copy_from_slice(&n.to_le_bytes());
    bytes[19] = 0xAA;
    EvmAddress(bytes)
}

/// Writes blocks `from..from + count` of `branch` (branch 0 below `fork`): each block has two
/// txs with a native flow, a fee, a token flow and, every third block, a new token.
fn write_blocks(
    writer: &mut EvmStoreWriter,
    from: u64,
    count: u64,
    fork: u64,
    branch: u8,
    commit_every: u64,
) {
    for number in from..from + count {
        let branch_of = |n: u64| if n >= fork { branch } else { 0 };
        let parent =
            if number == 0 { B256::default() } else { hash(number - 1, branch_of(number - 1)) };
        writer
            .push_block(&EvmBlock {
                number,
                hash: hash(number, branch_of(number)),
                parent_hash: parent,
                timestamp: 1_000 + number,
                traced: number % 5 != 4,
            })
            .unwrap();
        let salt = u64::from(branch_of(number)) * 1000;
        for index in 0..2u64 {
            let mut tx = hash(number * 10 + index, branch_of(number));
            tx.0[31] = 0xEE;
            let txnum = writer.push_tx(&tx).unwrap();
            let from = address((number + index + salt) % 13);
            let to = address((number * 7 + index + salt) % 17 + 3);
            writer
                .push_flow(&NewFlow {
                    block: number,
                    tx: Some(txnum),
                    position: 0,
                    kind: FlowKind::Native,
                    from: Some(from),
                    to: Some(to),
                    asset: 0,
                    amount: U256::from_u64(1_000_000 + number),
                })
                .unwrap();
            writer
                .push_flow(&NewFlow {
                    block: number,
                    tx: Some(txnum),
                    position: 0,
                    kind: FlowKind::Burn,
                    from: Some(from),
                    to: None,
                    asset: 0,
                    amount: U256::from_u64(21),
                })
                .unwrap();
        }
        if number % 3 == 0 {
            let asset = writer
                .push_asset(&AssetInfo {
                    contract: address(500 + number + u64::from(branch_of(number))),
                    erc721: false,
                    symbol: Some(format!("T{number}")),
                    decimals: Some(18),
                })
                .unwrap();
            writer
                .push_flow(&NewFlow {
                    block: number,
                    tx: None,
                    position: 7,
                    kind: FlowKind::Erc20,
                    from: Some(address(1)),
                    to: Some(address(1)),
                    asset,
                    amount: U256::MAX,
                })
                .unwrap();
        }
        if (number + 1 - from).is_multiple_of(commit_every) {
            writer.commit().unwrap();
        }
    }
    writer.commit().unwrap();
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in fs_err::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != "LOCK" {
            files.insert(name, fs_err::read(entry.path()).unwrap());
        }
    }
    files
}

#[test]
fn row_layouts_are_stable() {
    let flow = NewFlow {
        block: 0x0102,
        tx: Some(3),
        position: 4,
        kind: FlowKind::Erc20,
        from: None,
        to: None,
        asset: 9,
        amount: U256::from_u64(0x0A0B),
    };
    let row = encode_flow(&flow, 5, NO_ACCOUNT);
    let mut expected = vec![2, 1, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0];
    expected.extend([5, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 9, 0, 0, 0]);
    expected.extend([0u8; 30]);
    expected.extend([0x0A, 0x0B]);
    assert_eq!(row.to_vec(), expected);
    let asset = AssetInfo {
        contract: EvmAddress([0x11; 20]),
        erc721: false,
        symbol: Some("USDT".to_owned()),
        decimals: Some(6),
    };
    let row = encode_asset(&asset);
    assert_eq!(&row[20..27], &[3, 6, 4, b'U', b'S', b'D', b'T']);
    assert_eq!(decode_asset(&row), asset);
    let block = EvmBlock {
        number: 7,
        hash: B256([1; 32]),
        parent_hash: B256([2; 32]),
        timestamp: 9,
        traced: false,
    };
    let first = EvmCounts { blocks: 0, txs: 1, flows: 2, addresses: 3, assets: 4 };
    let row = encode_block(&block, &first).unwrap();
    assert_eq!(
        &row[80..104],
        &[2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0]
    );
    assert_eq!(decode_block(&row), (block, first));
}

#[test]
fn committed_chain_reads_back_after_reopen() {
    let store = tempfile::tempdir().unwrap();
    let mut writer = EvmStoreWriter::open(store.path(), &spec()).unwrap();
    write_blocks(&mut writer, 100, 40, u64::MAX, 0, 7);
    writer.finish().unwrap();
    assert_eq!(evm_chains(store.path()).unwrap(), vec!["testchain".to_owned()]);
    let reader = EvmStore::open(store.path(), "testchain").unwrap();
    let view = reader.view();
    assert_eq!(view.first_block(), Some(100));
    assert_eq!(view.tip().unwrap().block.number, 139);
    assert_eq!(view.counts().txs, 80);
    assert_eq!(
        view.coverage_gaps(),
        vec![
            (104, 104),
            (109, 109),
            (114, 114),
            (119, 119),
            (124, 124),
            (129, 129),
            (134, 134),
            (139, 139)
        ]
    );
    let mut tx = hash(105 * 10 + 1, 0);
    tx.0[31] = 0xEE;
    let found = view.tx_by_hash(&tx).unwrap();
    assert_eq!((found.block, found.index, found.number), (105, 1, 11));
    assert!(view.tx_by_hash(&B256([7; 32])).is_none());
    // Every flow of an address is found, in order, both sides.
    for n in 0..20 {
        let who = address(n);
        let expected: Vec<u64> = (0..view.counts().flows)
            .filter(|id| {
                let flow = view.flow(*id).unwrap();
                flow.from == Some(who) || flow.to == Some(who)
            })
            .collect();
        let found: Vec<u64> = view.flows_of(&who).iter().map(|flow| flow.id).collect();
        assert_eq!(found, expected, "address {n}");
    }
    let balances = view.balances(&address(1));
    let token = balances.iter().find(|balance| balance.asset == 1).unwrap();
    assert_eq!(token.received, U256::MAX);
    assert_eq!(token.balance(), Some(U256::ZERO), "self-transfers cancel out");
    assert_eq!(view.asset(1).unwrap().symbol.as_deref(), Some("T102"));
    assert_eq!(view.asset_id(&address(602)), Some(1));
}

#[test]
fn wrong_format_version_and_chain_id_are_refused() {
    let store = tempfile::tempdir().unwrap();
    EvmStoreWriter::open(store.path(), &spec()).unwrap().finish().unwrap();
    let other = EvmChainSpec { chain_id: 1, ..spec() };
    assert!(matches!(
        EvmStoreWriter::open(store.path(), &other),
        Err(StoreError::WrongChain { .. })
    ));
    let bad = EvmChainSpec { name: "../x".to_owned(), chain_id: 1 };
    assert!(matches!(EvmStoreWriter::open(store.path(), &bad), Err(StoreError::WrongChain { .. })));
    let path = chain_dir(store.path(), "testchain").join(MANIFEST);
    let text = fs_err::read_to_string(&path)
        .unwrap()
        .replace("\"format_version\": 1", "\"format_version\": 9");
    fs_err::write(&path, text).unwrap();
    assert!(matches!(
        EvmStore::open(store.path(), "testchain"),
        Err(StoreError::UnsupportedFormat { found: 9, .. })
    ));
}

#[test]
fn interrupted_batch_is_recovered_to_identical_bytes() {
    let clean = tempfile::tempdir().unwrap();
    let mut writer = EvmStoreWriter::open(clean.path(), &spec()).unwrap();
    write_blocks(&mut writer, 0, 3000, u64::MAX, 0, 1000);
    writer.finish().unwrap();

    let crashed = tempfile::tempdir().unwrap();
    let mut writer = EvmStoreWriter::open(crashed.path(), &spec()).unwrap();
    write_blocks(&mut writer, 0, 3000, u64::MAX, 0, 1000);
    // An uncommitted batch that grows the indexes, then the process dies.
    write_blocks_uncommitted(&mut writer, 3000, 4000);
    drop(writer);
    let writer = EvmStoreWriter::open(crashed.path(), &spec()).unwrap();
    assert!(writer.recovered());
    writer.finish().unwrap();
    assert_eq!(
        snapshot(&chain_dir(crashed.path(), "testchain")),
        snapshot(&chain_dir(clean.path(), "testchain"))
    );
}

fn write_blocks_uncommitted(writer: &mut EvmStoreWriter, from: u64, count: u64) {
    for number in from..from + count {
        let parent = writer.view().tip().unwrap().block.hash;
        writer
            .push_block(&EvmBlock {
                number,
                hash: hash(number, 9),
                parent_hash: parent,
                timestamp: 0,
                traced: true,
            })
            .unwrap();
        let txnum = writer.push_tx(&hash(number, 8)).unwrap();
        writer
            .push_flow(&NewFlow {
                block: number,
                tx: Some(txnum),
                position: 0,
                kind: FlowKind::Native,
                from: Some(address(number % 13)),
                to: Some(address(10_000 + number)),
                asset: 0,
                amount: U256::from_u64(1),
            })
            .unwrap();
    }
}

#[test]
fn unwinding_a_reorg_gives_the_bytes_of_a_fresh_ingest_of_the_winning_branch() {
    // Fresh ingest of blocks 0..=2999 then the winning branch 2000..3499 (branch 1).
    let fresh = tempfile::tempdir().unwrap();
    let mut writer = EvmStoreWriter::open(fresh.path(), &spec()).unwrap();
    write_blocks(&mut writer, 0, 3500, 2000, 1, 700);
    writer.finish().unwrap();

    let reorged = tempfile::tempdir().unwrap();
    let mut writer = EvmStoreWriter::open(reorged.path(), &spec()).unwrap();
    write_blocks(&mut writer, 0, 4000, u64::MAX, 0, 900);
    writer.unwind_to(1999).unwrap();
    assert_eq!(writer.view().tip().unwrap().block.number, 1999);
    write_blocks(&mut writer, 2000, 1500, 2000, 1, 333);
    writer.finish().unwrap();
    assert_eq!(
        snapshot(&chain_dir(reorged.path(), "testchain")),
        snapshot(&chain_dir(fresh.path(), "testchain"))
    );

    // Unwinding below the first block empties the chain, which is then a fresh directory.
    let mut writer = EvmStoreWriter::open(reorged.path(), &spec()).unwrap();
    writer.unwind_to(0).unwrap();
    assert_eq!(writer.view().counts().blocks, 1);
    let mut writer2 = writer;
    let err = writer2.push_block(&EvmBlock {
        number: 5,
        hash: hash(5, 0),
        parent_hash: hash(4, 0),
        timestamp: 0,
        traced: true,
    });
    assert!(err.is_err(), "a block that does not extend the tip is refused");
    writer2.rollback().unwrap();
    writer2.finish().unwrap();
}
