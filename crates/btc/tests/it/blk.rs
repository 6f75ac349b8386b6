//! Reading Bitcoin Core blocks directories: framing, preallocation, obfuscation, errors.

use std::path::Path;

use cointrail_btc::{BlkError, BlocksDir, DecodedBlock, Network, best_chain};

use crate::{Rng, blk_records, mainnet_0_438};

const TIP_438: &str = "0000000025c6b644f8add734be7e666fa4afa43ca0204d623a0c0b1fd2104c7a";

/// Opens `dir`, scans it for mainnet, picks the best chain, reads and decodes every block of it,
/// and returns the chain's block hashes.
fn scan_and_read(dir: &Path) -> Vec<String> {
    let blocks = BlocksDir::open(dir).unwrap();
    let mut seen_files = Vec::new();
    let headers = blocks
        .scan_headers(Network::Mainnet.magic(), |path, len| seen_files.push((path.to_owned(), len)))
        .unwrap();
    assert_eq!(seen_files.len(), blocks.files().len());
    assert_eq!(seen_files.iter().map(|(_, len)| len).sum::<u64>(), blocks.total_bytes());
    assert_eq!(headers.len(), 439);
    let chain = best_chain(&headers, Network::Mainnet.genesis_hash()).unwrap();
    assert_eq!(chain.blocks.len(), 439);
    assert_eq!((chain.ignored, chain.failed_pow), (0, 0));
    let mut buf = Vec::new();
    let mut block = DecodedBlock::default();
    let mut hashes = Vec::new();
    for &i in &chain.blocks {
        let entry = &headers[i];
        blocks.read_block(&entry.location, &mut buf).unwrap();
        assert_eq!(buf.len(), entry.location.len as usize);
        assert_eq!(buf[..80], entry.header);
        block.decode_into(&buf).unwrap();
        assert_eq!(block.hash, entry.hash);
        assert_eq!(block.merkle_root(), block.header.merkle_root);
        hashes.push(block.hash.to_string());
    }
    assert_eq!(hashes[438], TIP_438);
    hashes
}

#[test]
fn the_0_438_fixture_scans_to_439_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = mainnet_0_438();
    fs_err::write(dir.path().join("blk00000.dat"), &bytes).unwrap();
    let blocks = BlocksDir::open(dir.path()).unwrap();
    assert_eq!(blocks.files(), [dir.path().join("blk00000.dat")]);
    assert_eq!(blocks.total_bytes(), bytes.len() as u64);
    assert_eq!(blocks.xor_key(), None);
    let headers = blocks.scan_headers(Network::Mainnet.magic(), |_, _| {}).unwrap();
    assert_eq!(headers.len(), 439);
    assert_eq!(headers[0].hash, Network::Mainnet.genesis_hash());
    assert_eq!(headers[0].location.offset, 8);
    assert_eq!(headers[0].location.file, 0);
    assert_eq!(headers[0].location.len, 285);
    let hashes = scan_and_read(dir.path());
    assert_eq!(hashes[0], Network::Mainnet.genesis_hash().to_string());
}

/// Writes `records` (block bytes) as blk files of `per_file` records each, obfuscated with `key`
/// by absolute file offset, each file followed by `padding` raw zero bytes (Core's preallocation,
/// which is not obfuscated).
fn write_blk_files(
    dir: &Path,
    records: &[&[u8]],
    per_file: usize,
    key: Option<[u8; 8]>,
    padding: usize,
) {
    for (n, chunk) in records.chunks(per_file).enumerate() {
        let mut file = Vec::new();
        for block in chunk {
            file.extend_from_slice(&Network::Mainnet.magic());
            file.extend_from_slice(&u32::try_from(block.len()).unwrap().to_le_bytes());
            file.extend_from_slice(block);
        }
        if let Some(key) = key {
            for (p, byte) in file.iter_mut().enumerate() {
                *byte ^= key[p % 8];
            }
        }
        file.resize(file.len() + padding, 0);
        fs_err::write(dir.join(format!("blk{n:05}.dat")), file).unwrap();
    }
    if let Some(key) = key {
        fs_err::write(dir.join("xor.dat"), key).unwrap();
    }
}

#[test]
fn shuffled_split_obfuscated_files_give_the_same_chain() {
    let bytes = mainnet_0_438();
    let mut records = blk_records(&bytes);
    let expected: Vec<String> =
        records.iter().map(|raw| DecodedBlock::decode(raw).unwrap().hash.to_string()).collect();
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    rng.shuffle(&mut records);
    let mut key = [0u8; 8];
    for byte in &mut key {
        *byte = rng.byte() | 1;
    }
    let dir = tempfile::tempdir().unwrap();
    // 439 records in 11 files of 40 (the last holds 39), with preallocated zeros after each.
    write_blk_files(dir.path(), &records, 40, Some(key), 4096 + 3);
    // A stray non-blk file is ignored.
    fs_err::write(dir.path().join("rev00000.dat"), b"not a block file").unwrap();
    let blocks = BlocksDir::open(dir.path()).unwrap();
    assert_eq!(blocks.xor_key(), Some(key));
    assert_eq!(blocks.files().len(), 11);
    assert!(blocks.files().windows(2).all(|pair| pair[0] < pair[1]));
    assert_eq!(scan_and_read(dir.path()), expected);
}

#[test]
fn preallocated_zeros_end_each_file_without_obfuscation() {
    let bytes = mainnet_0_438();
    let records = blk_records(&bytes);
    for padding in [0, 1, 3, 4, 8, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        write_blk_files(dir.path(), &records, 200, None, padding);
        assert_eq!(scan_and_read(dir.path()).len(), 439, "padding {padding}");
    }
    // An all-zero xor.dat means no obfuscation.
    let dir = tempfile::tempdir().unwrap();
    write_blk_files(dir.path(), &records, 439, None, 10);
    fs_err::write(dir.path().join("xor.dat"), [0u8; 8]).unwrap();
    assert_eq!(BlocksDir::open(dir.path()).unwrap().xor_key(), None);
    assert_eq!(scan_and_read(dir.path()).len(), 439);
}

#[test]
fn files_are_sorted_by_number_not_listing_order() {
    let bytes = mainnet_0_438();
    let records = blk_records(&bytes);
    let dir = tempfile::tempdir().unwrap();
    write_blk_files(dir.path(), &records, 100, None, 0);
    fs_err::rename(dir.path().join("blk00004.dat"), dir.path().join("blk100000.dat")).unwrap();
    let blocks = BlocksDir::open(dir.path()).unwrap();
    let names: Vec<_> = blocks
        .files()
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["blk00000.dat", "blk00001.dat", "blk00002.dat", "blk00003.dat", "blk100000.dat"]
    );
}

fn scan_error(dir: &Path, magic: [u8; 4]) -> BlkError {
    BlocksDir::open(dir).unwrap().scan_headers(magic, |_, _| {}).unwrap_err()
}

#[test]
fn a_truncated_file_names_the_path_and_offset() {
    let bytes = mainnet_0_438();
    let records = blk_records(&bytes);
    let last_record = bytes.len() - records[438].len() - 8;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blk00000.dat");
    fs_err::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let err = scan_error(dir.path(), Network::Mainnet.magic());
    let message = err.to_string();
    assert!(
        matches!(&err, BlkError::Truncated { path: p, offset, .. } if *p == path && *offset == last_record as u64),
        "{err:?}"
    );
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains(&format!("offset {last_record}")), "{message}");

    // Cut inside the magic and length of the next record.
    let end_of_first = 8 + records[0].len();
    fs_err::write(&path, &bytes[..end_of_first + 5]).unwrap();
    let err = scan_error(dir.path(), Network::Mainnet.magic());
    assert!(
        matches!(err, BlkError::TruncatedPrefix { offset, .. } if offset == end_of_first as u64),
        "{err:?}"
    );
}

#[test]
fn a_wrong_magic_names_the_offset_and_networks() {
    let bytes = mainnet_0_438();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blk00000.dat");
    fs_err::write(&path, &bytes).unwrap();
    let err = scan_error(dir.path(), Network::Testnet3.magic());
    assert_eq!(
        err.to_string(),
        format!(
            "unexpected bytes at {} offset 0: expected network magic 0b110907 (testnet), found \
             f9beb4d9 (mainnet)",
            path.display()
        )
    );

    // Garbage after the first record.
    let end_of_first = 8 + blk_records(&bytes)[0].len();
    let mut garbled = bytes.clone();
    garbled[end_of_first..end_of_first + 4].copy_from_slice(b"junk");
    fs_err::write(&path, &garbled).unwrap();
    let err = scan_error(dir.path(), Network::Mainnet.magic());
    assert!(
        matches!(err, BlkError::UnexpectedBytes { offset, found, .. } if offset == end_of_first as u64 && found == *b"junk"),
        "{err:?}"
    );
    assert!(err.to_string().contains(&format!("offset {end_of_first}")));

    // An implausible length.
    let mut zero_len = bytes;
    zero_len[4..8].copy_from_slice(&0u32.to_le_bytes());
    fs_err::write(&path, &zero_len).unwrap();
    let err = scan_error(dir.path(), Network::Mainnet.magic());
    assert!(matches!(err, BlkError::BadLength { offset: 0, len: 0, .. }), "{err:?}");
}

#[test]
fn a_corrupt_block_body_is_a_decode_error_with_offset() {
    let bytes = mainnet_0_438();
    let dir = tempfile::tempdir().unwrap();
    let mut corrupt = bytes;
    // Block 0's single output script length (at block offset 80+1+4+1+32+4+1+77+4+1+8 = 213):
    // make it larger than the block.
    let at = 8 + 213;
    assert_eq!(corrupt[at], 0x43);
    corrupt[at] = 0xfc;
    fs_err::write(dir.path().join("blk00000.dat"), &corrupt).unwrap();
    let blocks = BlocksDir::open(dir.path()).unwrap();
    let headers = blocks.scan_headers(Network::Mainnet.magic(), |_, _| {}).unwrap();
    let mut buf = Vec::new();
    blocks.read_block(&headers[0].location, &mut buf).unwrap();
    let err = DecodedBlock::decode(&buf).unwrap_err();
    assert_eq!(err.offset, 214);
    assert_eq!(err.to_string(), "block truncated in output script at byte 214");
}

#[test]
fn open_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let err = BlocksDir::open(&missing).unwrap_err();
    assert!(matches!(err, BlkError::ReadDir { .. }), "{err:?}");
    assert!(err.to_string().contains(&missing.display().to_string()));

    fs_err::write(dir.path().join("blk0.dat"), b"").unwrap();
    let err = BlocksDir::open(dir.path()).unwrap_err();
    assert!(matches!(err, BlkError::NoBlockFiles { .. }), "{err:?}");
    assert!(err.to_string().contains("no blk?????.dat files"), "{err}");

    fs_err::write(dir.path().join("blk00000.dat"), mainnet_0_438()).unwrap();
    fs_err::write(dir.path().join("xor.dat"), [1u8; 7]).unwrap();
    let err = BlocksDir::open(dir.path()).unwrap_err();
    assert!(matches!(err, BlkError::XorKey { len: 7, .. }), "{err:?}");

    fs_err::remove_file(dir.path().join("xor.dat")).unwrap();
    let blocks = BlocksDir::open(dir.path()).unwrap();
    let mut location =
        blocks.scan_headers(Network::Mainnet.magic(), |_, _| {}).unwrap()[0].location;
    location.file = 3;
    let err = blocks.read_block(&location, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, BlkError::BadFileIndex { file: 3, count: 1 }), "{err:?}");
    location.file = 0;
    location.offset = 1 << 40;
    let err = blocks.read_block(&location, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, BlkError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("offset 1099511627776"), "{err}");
}
