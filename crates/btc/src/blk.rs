//! Bitcoin Core's blocks directory: `blk?????.dat` files and the optional `xor.dat` key.
//!
//! Each blk file is a sequence of records: 4-byte network magic, 4-byte little-endian block length,
//! then the serialized block. Core preallocates files, so a record position holding four zero bytes
//! (or the end of the file) ends the file's data. Since Bitcoin Core 28 the files may be obfuscated:
//! every byte at absolute file offset `p` is XORed with `key[p % 8]`, where `key` is the 8 bytes of
//! `xor.dat`. Every read here (scanning and block reads, magic and length included) removes it.
//!
//! Reads use positioned reads (`pread`), so this module is Unix-only.

use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use cointrail_types::Hash32;
use fs_err as fs;

use crate::decode::BlockHeader;
use crate::network::Network;

/// Largest block length accepted in a record (Core's limit is 4,000,000 bytes; this leaves room).
const MAX_RECORD_LEN: u32 = 32 * 1024 * 1024;
/// Bytes of a record before the block: magic and length.
const PREFIX_LEN: u64 = 8;
/// Bytes of a record's prefix and block header.
const RECORD_HEAD_LEN: usize = 88;

/// A Bitcoin Core blocks directory, opened for scanning and reading.
#[derive(Debug)]
pub struct BlocksDir {
    files: Vec<PathBuf>,
    total_bytes: u64,
    xor_key: Option<[u8; 8]>,
    /// The file most recently read by [`BlocksDir::read_block`], by index.
    cached: Mutex<Option<(u32, fs::File)>>,
}

/// Where a block's bytes are in a blocks directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockLocation {
    /// Index into [`BlocksDir::files`].
    pub file: u32,
    /// Offset of the block's first byte in the file (after the record's magic and length).
    pub offset: u64,
    /// Length of the block in bytes.
    pub len: u32,
}

/// A block header found by [`BlocksDir::scan_headers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderEntry {
    /// The serialized header (de-obfuscated).
    pub header: [u8; 80],
    /// The block hash.
    pub hash: Hash32,
    /// Where the whole block is.
    pub location: BlockLocation,
}

impl BlocksDir {
    /// Opens a blocks directory: lists its `blk?????.dat` files sorted by number and reads
    /// `xor.dat` if present.
    ///
    /// # Errors
    ///
    /// Returns [`BlkError`] if the directory cannot be listed, holds no blk files, a file's size
    /// cannot be read, or `xor.dat` is not 8 bytes.
    pub fn open(dir: &Path) -> Result<Self, BlkError> {
        let entries = fs::read_dir(dir)
            .map_err(|source| BlkError::ReadDir { dir: dir.to_path_buf(), source })?;
        let mut numbered = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|source| BlkError::ReadDir { dir: dir.to_path_buf(), source })?;
            let name = entry.file_name();
            let Some(number) = name.to_str().and_then(blk_file_number) else {
                continue;
            };
            numbered.push((number, entry.path()));
        }
        if numbered.is_empty() {
            return Err(BlkError::NoBlockFiles { dir: dir.to_path_buf() });
        }
        numbered.sort();
        let files: Vec<PathBuf> = numbered.into_iter().map(|(_, path)| path).collect();
        let mut total_bytes = 0u64;
        for path in &files {
            let len = fs::metadata(path)
                .map_err(|source| BlkError::Open { path: path.clone(), source })?
                .len();
            total_bytes = total_bytes.saturating_add(len);
        }
        let xor_key = read_xor_key(&dir.join("xor.dat"))?;
        Ok(Self { files, total_bytes, xor_key, cached: Mutex::new(None) })
    }

    /// Returns the blk files, sorted by number.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Returns the total size of the blk files in bytes (preallocated space included).
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Returns the obfuscation key from `xor.dat`; `None` if there is no such file or the key is
    /// all zeros.
    pub fn xor_key(&self) -> Option<[u8; 8]> {
        self.xor_key
    }

    /// Reads the header of every block record in every file, in file order, without reading the
    /// block bodies. `on_file` is called before each file is scanned with its path and size in
    /// bytes (for progress reporting).
    ///
    /// # Errors
    ///
    /// Returns [`BlkError`] on a read error, a record that does not start with `magic` (or four
    /// zero bytes), an implausible record length, or a record running past the end of its file.
    pub fn scan_headers(
        &self,
        magic: [u8; 4],
        mut on_file: impl FnMut(&Path, u64),
    ) -> Result<Vec<HeaderEntry>, BlkError> {
        let mut entries = Vec::new();
        for (index, path) in self.files.iter().enumerate() {
            let file = fs::File::open(path)
                .map_err(|source| BlkError::Open { path: path.clone(), source })?;
            let file_len = file
                .metadata()
                .map_err(|source| BlkError::Open { path: path.clone(), source })?
                .len();
            on_file(path, file_len);
            let index = u32::try_from(index).expect("fewer than 2^32 blk files");
            self.scan_file(&file, path, index, file_len, magic, &mut entries)?;
        }
        Ok(entries)
    }

    fn scan_file(
        &self,
        file: &fs::File,
        path: &Path,
        index: u32,
        file_len: u64,
        magic: [u8; 4],
        entries: &mut Vec<HeaderEntry>,
    ) -> Result<(), BlkError> {
        let mut pos = 0u64;
        while pos < file_len {
            // One read for the record prefix and the header (fewer bytes at the end of the file).
            let mut record = [0u8; RECORD_HEAD_LEN];
            let available = usize::try_from((file_len - pos).min(RECORD_HEAD_LEN as u64))
                .expect("at most 88 bytes");
            let head = &mut record[..available];
            self.read_at(file, path, pos, head, false)?;
            if head.iter().take(4).all(|&byte| byte == 0) {
                // Preallocated space, as written on disk (not obfuscated).
                break;
            }
            self.unxor(pos, head);
            if head.iter().take(4).all(|&byte| byte == 0) {
                break;
            }
            if available < 8 {
                return Err(BlkError::TruncatedPrefix { path: path.to_path_buf(), offset: pos });
            }
            let found = [record[0], record[1], record[2], record[3]];
            if found != magic {
                return Err(BlkError::UnexpectedBytes {
                    path: path.to_path_buf(),
                    offset: pos,
                    expected: magic,
                    found,
                });
            }
            let len = u32::from_le_bytes([record[4], record[5], record[6], record[7]]);
            if !(80..=MAX_RECORD_LEN).contains(&len) {
                return Err(BlkError::BadLength { path: path.to_path_buf(), offset: pos, len });
            }
            let block_offset = pos + PREFIX_LEN;
            if block_offset + u64::from(len) > file_len {
                return Err(BlkError::Truncated {
                    path: path.to_path_buf(),
                    offset: pos,
                    len,
                    file_len,
                });
            }
            // The record fits in the file and is at least 88 bytes, so all of it was read.
            let mut header = [0u8; 80];
            header.copy_from_slice(&record[8..]);
            entries.push(HeaderEntry {
                header,
                hash: BlockHeader::block_hash(&header),
                location: BlockLocation { file: index, offset: block_offset, len },
            });
            pos = block_offset + u64::from(len);
        }
        Ok(())
    }

    /// Reads the (de-obfuscated) bytes of the block at `location` into `buf`, replacing its
    /// contents. The file handle is kept open for the next read from the same file.
    ///
    /// # Errors
    ///
    /// Returns [`BlkError`] if the file index is out of range or the file cannot be read there.
    pub fn read_block(&self, location: &BlockLocation, buf: &mut Vec<u8>) -> Result<(), BlkError> {
        let index = location.file;
        let path = usize::try_from(index)
            .ok()
            .and_then(|i| self.files.get(i))
            .ok_or(BlkError::BadFileIndex { file: index, count: self.files.len() })?;
        buf.clear();
        buf.resize(location.len as usize, 0);
        // Take the cached handle out so that concurrent readers do not wait on each other's I/O;
        // they open their own handle instead.
        let cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner).take();
        let file = match cached {
            Some((open, file)) if open == index => file,
            _ => fs::File::open(path)
                .map_err(|source| BlkError::Open { path: path.clone(), source })?,
        };
        let result = self.read_at(&file, path, location.offset, buf, true);
        *self.cached.lock().unwrap_or_else(PoisonError::into_inner) = Some((index, file));
        result
    }

    /// Reads exactly `buf.len()` bytes at `offset`, removing the obfuscation if `unxor`.
    fn read_at(
        &self,
        file: &fs::File,
        path: &Path,
        offset: u64,
        buf: &mut [u8],
        unxor: bool,
    ) -> Result<(), BlkError> {
        file.file().read_exact_at(buf, offset).map_err(|source| BlkError::Read {
            path: path.to_path_buf(),
            offset,
            source,
        })?;
        if unxor {
            self.unxor(offset, buf);
        }
        Ok(())
    }

    fn unxor(&self, offset: u64, buf: &mut [u8]) {
        if let Some(key) = &self.xor_key {
            apply_xor(key, offset, buf);
        }
    }
}

/// Returns the number of a `blk<digits>.dat` file name.
fn blk_file_number(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("blk")?.strip_suffix(".dat")?;
    if digits.len() < 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn read_xor_key(path: &Path) -> Result<Option<[u8; 8]>, BlkError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(BlkError::Open { path: path.to_path_buf(), source }),
    };
    let key: [u8; 8] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| BlkError::XorKey { path: path.to_path_buf(), len: bytes.len() })?;
    Ok((key != [0; 8]).then_some(key))
}

/// XORs `buf`, which starts at absolute file offset `offset`, with the obfuscation `key`.
pub(crate) fn apply_xor(key: &[u8; 8], offset: u64, buf: &mut [u8]) {
    let shift = (offset % 8) as usize;
    let mut rotated = [0u8; 8];
    for (i, byte) in rotated.iter_mut().enumerate() {
        *byte = key[(shift + i) % 8];
    }
    let word = u64::from_ne_bytes(rotated);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut value = [0u8; 8];
        value.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(value) ^ word).to_ne_bytes());
    }
    for (byte, k) in chunks.into_remainder().iter_mut().zip(rotated) {
        *byte ^= k;
    }
}

fn hex4(bytes: [u8; 4]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn magic_name(magic: [u8; 4]) -> &'static str {
    Network::from_magic(magic).map_or("no known network", Network::name)
}

/// An error reading a blocks directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlkError {
    /// The directory could not be listed.
    #[error("cannot list blocks directory {}: {source}", dir.display())]
    ReadDir {
        /// The directory.
        dir: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The directory holds no `blk?????.dat` file.
    #[error("no blk?????.dat files in {}", dir.display())]
    NoBlockFiles {
        /// The directory.
        dir: PathBuf,
    },
    /// A file could not be opened or its size read.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A read failed.
    #[error("cannot read {} at offset {offset}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Offset of the read.
        offset: u64,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `xor.dat` is not 8 bytes.
    #[error("{} holds {len} bytes, expected an 8-byte obfuscation key", path.display())]
    XorKey {
        /// The `xor.dat` file.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
    },
    /// A record that does not start with the network magic.
    #[error(
        "unexpected bytes at {} offset {offset}: expected network magic {} ({}), found {} ({})",
        path.display(), hex4(*expected), magic_name(*expected), hex4(*found), magic_name(*found)
    )]
    UnexpectedBytes {
        /// The file.
        path: PathBuf,
        /// Offset of the record.
        offset: u64,
        /// The magic expected.
        expected: [u8; 4],
        /// The bytes found.
        found: [u8; 4],
    },
    /// A record whose magic and length are cut off by the end of the file.
    #[error("truncated record prefix at {} offset {offset}: file ends inside magic and length", path.display())]
    TruncatedPrefix {
        /// The file.
        path: PathBuf,
        /// Offset of the record.
        offset: u64,
    },
    /// A record whose block runs past the end of the file.
    #[error(
        "truncated block at {} offset {offset}: record length {len} runs past the end of the file ({file_len} bytes)",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Offset of the record.
        offset: u64,
        /// The block length in the record.
        len: u32,
        /// The file's length.
        file_len: u64,
    },
    /// A record length below 80 bytes or above 32 MiB.
    #[error("implausible block length {len} at {} offset {offset}", path.display())]
    BadLength {
        /// The file.
        path: PathBuf,
        /// Offset of the record.
        offset: u64,
        /// The length read.
        len: u32,
    },
    /// A [`BlockLocation`] whose file index is out of range.
    #[error("block location names file {file}, but the directory has {count} blk files")]
    BadFileIndex {
        /// The file index.
        file: u32,
        /// How many blk files there are.
        count: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xor_matches_bytewise_at_every_alignment() {
        let key = [1, 2, 3, 4, 5, 6, 7, 0x80];
        for offset in 0..16usize {
            for len in 0..20u8 {
                let data: Vec<u8> = (0..len).map(|i| i.wrapping_mul(31)).collect();
                let mut fast = data.clone();
                apply_xor(&key, u64::try_from(offset).unwrap(), &mut fast);
                let slow: Vec<u8> =
                    data.iter().enumerate().map(|(i, b)| b ^ key[(offset + i) % 8]).collect();
                assert_eq!(fast, slow, "offset {offset} len {len}");
            }
        }
    }

    #[test]
    fn blk_file_names() {
        assert_eq!(blk_file_number("blk00000.dat"), Some(0));
        assert_eq!(blk_file_number("blk01234.dat"), Some(1234));
        assert_eq!(blk_file_number("blk123456.dat"), Some(123_456));
        assert_eq!(blk_file_number("rev00000.dat"), None);
        assert_eq!(blk_file_number("blk0000.dat"), None);
        assert_eq!(blk_file_number("blkabcde.dat"), None);
        assert_eq!(blk_file_number("blk00000.dat.tmp"), None);
    }
}
