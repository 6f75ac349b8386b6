//! Best-chain selection on real headers and btcd's synthetic fork.

use cointrail_btc::{
    BestChain, BlockHeader, BlocksDir, ChainError, HeaderEntry, Network, best_chain, block_work,
};

use crate::{Rng, data_path, mainnet_0_438};

/// Scans the 0-438 fixture from a temporary blocks directory.
fn headers_0_438() -> Vec<HeaderEntry> {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("blk00000.dat"), mainnet_0_438()).unwrap();
    BlocksDir::open(dir.path()).unwrap().scan_headers(Network::Mainnet.magic(), |_, _| {}).unwrap()
}

fn tip(headers: &[HeaderEntry], chain: &BestChain) -> String {
    headers[*chain.blocks.last().unwrap()].hash.to_string()
}

#[test]
fn known_block_work() {
    assert_eq!(block_work(0x1d00_ffff), 4_295_032_833);
    assert_eq!(block_work(0x207f_ffff), 2);
}

#[test]
fn duplicates_are_ignored_and_the_first_copy_kept() {
    let headers = headers_0_438();
    let mut doubled = headers.clone();
    doubled.extend_from_slice(&headers);
    let chain = best_chain(&doubled, Network::Mainnet.genesis_hash()).unwrap();
    assert_eq!(chain.blocks, (0..439).collect::<Vec<_>>());
    assert_eq!((chain.ignored, chain.failed_pow), (439, 0));
}

#[test]
fn shuffled_headers_give_the_same_chain() {
    let headers = headers_0_438();
    let mut shuffled = headers.clone();
    Rng(7).shuffle(&mut shuffled);
    let chain = best_chain(&shuffled, Network::Mainnet.genesis_hash()).unwrap();
    let hashes: Vec<_> = chain.blocks.iter().map(|&i| shuffled[i].hash).collect();
    let expected: Vec<_> = headers.iter().map(|entry| entry.hash).collect();
    assert_eq!(hashes, expected);
}

#[test]
fn a_header_failing_proof_of_work_cuts_the_chain() {
    let mut headers = headers_0_438();
    let entry = &mut headers[400];
    entry.header[76] ^= 0x55; // nonce
    entry.hash = BlockHeader::block_hash(&entry.header);
    let chain = best_chain(&headers, Network::Mainnet.genesis_hash()).unwrap();
    assert_eq!(chain.blocks, (0..400).collect::<Vec<_>>());
    assert_eq!(chain.failed_pow, 1);
    assert_eq!(chain.ignored, 38, "orphaned descendants");
}

#[test]
fn missing_genesis_is_an_error() {
    let headers = headers_0_438();
    let genesis = Network::Testnet3.genesis_hash();
    let err = best_chain(&headers, genesis).unwrap_err();
    assert_eq!(err, ChainError::GenesisNotFound { genesis });
    assert!(err.to_string().contains(&genesis.to_string()), "{err}");
    assert!(best_chain(&headers[1..], Network::Mainnet.genesis_hash()).is_err());
}

/// Copies btcd's synthetic blocks into a blocks directory, one fixture per blk file.
fn btcd_fork_dir(files: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (i, name) in files.iter().enumerate() {
        fs_err::copy(data_path(name), dir.path().join(format!("blk{i:05}.dat"))).unwrap();
    }
    dir
}

const MAIN_4: &str = "000000002f264d6504013e73b9c913de9098d4d771c1bb219af475d2a01b128e";
const FORK_5A: &str = "00000000195f85184e77c18914bd0febd11278d950f5e4731a38f71ed79f044e";

#[test]
fn btcd_fork_picks_the_most_work_branch() {
    // Main branch: genesis, 1, 2, 3, 4. Fork from 2: 3A, 4A, 5A (one block more work).
    for files in [
        &[
            "btcd_synthetic_blk_0_to_4.dat",
            "btcd_synthetic_blk_3A.dat",
            "btcd_synthetic_blk_4A.dat",
            "btcd_synthetic_blk_5A.dat",
        ],
        // Children stored before their parents.
        &[
            "btcd_synthetic_blk_5A.dat",
            "btcd_synthetic_blk_4A.dat",
            "btcd_synthetic_blk_3A.dat",
            "btcd_synthetic_blk_0_to_4.dat",
        ],
    ] {
        let dir = btcd_fork_dir(files);
        let blocks = BlocksDir::open(dir.path()).unwrap();
        let headers = blocks.scan_headers(Network::Mainnet.magic(), |_, _| {}).unwrap();
        assert_eq!(headers.len(), 8);
        let chain = best_chain(&headers, Network::Mainnet.genesis_hash()).unwrap();
        assert_eq!(chain.blocks.len(), 6);
        assert_eq!(tip(&headers, &chain), FORK_5A);
        assert_eq!(headers[chain.blocks[0]].hash, Network::Mainnet.genesis_hash());
        assert_eq!(
            headers[chain.blocks[3]].hash.to_string(),
            "00000000474284d20067a4d33f6a02284e6ef70764a3a26d6a5b9df52ef663dd"
        );
        assert_eq!((chain.ignored, chain.failed_pow), (2, 0));
    }
}

#[test]
fn equal_work_tips_resolve_to_the_first_in_the_headers() {
    // Without 5A, tips 4 and 4A have equal work: the one scanned first wins.
    let dir = btcd_fork_dir(&[
        "btcd_synthetic_blk_0_to_4.dat",
        "btcd_synthetic_blk_3A.dat",
        "btcd_synthetic_blk_4A.dat",
    ]);
    let headers = BlocksDir::open(dir.path())
        .unwrap()
        .scan_headers(Network::Mainnet.magic(), |_, _| {})
        .unwrap();
    let chain = best_chain(&headers, Network::Mainnet.genesis_hash()).unwrap();
    assert_eq!(tip(&headers, &chain), MAIN_4);
    assert_eq!(chain.blocks, [0, 1, 2, 3, 4]);

    let dir = btcd_fork_dir(&[
        "btcd_synthetic_blk_4A.dat",
        "btcd_synthetic_blk_3A.dat",
        "btcd_synthetic_blk_0_to_4.dat",
    ]);
    let headers = BlocksDir::open(dir.path())
        .unwrap()
        .scan_headers(Network::Mainnet.magic(), |_, _| {})
        .unwrap();
    let chain = best_chain(&headers, Network::Mainnet.genesis_hash()).unwrap();
    assert_eq!(
        headers[*chain.blocks.last().unwrap()].hash.to_string(),
        "00000000551dc04c148242d1f648802577df8cf7d4e1b469211016280204a2bf"
    );
}
