//! Writes blocks into `blk?????.dat` files as Bitcoin Core does: records of magic, length and
//! block, a new file when the next record would pass the size limit, optional XOR obfuscation by
//! absolute file offset, and blocks held back a few heights so that the files are slightly out of
//! order.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use fs_err as fs;

use crate::SynthError;

/// The blk-file writer.
pub(crate) struct BlkWriter {
    dir: PathBuf,
    magic: [u8; 4],
    xor: Option<[u8; 8]>,
    limit: u64,
    file: Option<BufWriter<fs::File>>,
    file_index: u32,
    pos: u64,
    /// Bytes written to every file, prefixes included.
    pub(crate) bytes: u64,
    /// A block held back: its bytes and the height after whose block it is written.
    held: Option<(Vec<u8>, u32)>,
}

impl BlkWriter {
    pub(crate) fn new(dir: &Path, magic: [u8; 4], xor: Option<[u8; 8]>, limit: u64) -> Self {
        Self {
            dir: dir.to_owned(),
            magic,
            xor,
            limit,
            file: None,
            file_index: 0,
            pos: 0,
            bytes: 0,
            held: None,
        }
    }

    /// Number of blk files written so far.
    pub(crate) fn files(&self) -> u32 {
        if self.file.is_some() { self.file_index + 1 } else { self.file_index }
    }

    /// Writes the block of `height` now, or holds it back (if `hold_until` is later than `height`
    /// and nothing is held) to write it after the block of `hold_until`. `block` is left empty or
    /// with the bytes of a previously held block's buffer, for reuse.
    pub(crate) fn push(
        &mut self,
        height: u32,
        block: &mut Vec<u8>,
        hold_until: Option<u32>,
    ) -> Result<(), SynthError> {
        match hold_until {
            Some(until) if until > height && self.held.is_none() => {
                self.held = Some((std::mem::take(block), until));
            }
            _ => {
                self.write_record(block)?;
                block.clear();
            }
        }
        if let Some((_, until)) = &self.held
            && *until <= height
            && let Some((mut held, _)) = self.held.take()
        {
            self.write_record(&mut held)?;
            held.clear();
            if block.capacity() < held.capacity() {
                *block = held;
            }
        }
        Ok(())
    }

    /// Writes any held block and flushes the last file.
    pub(crate) fn finish(&mut self) -> Result<(), SynthError> {
        if let Some((mut held, _)) = self.held.take() {
            self.write_record(&mut held)?;
        }
        if let Some(mut file) = self.file.take() {
            file.flush()?;
            self.file_index += 1;
        }
        Ok(())
    }

    fn write_record(&mut self, block: &mut [u8]) -> Result<(), SynthError> {
        let len = u32::try_from(block.len())
            .map_err(|_| SynthError::Config(format!("a block of {} bytes", block.len())))?;
        let record = 8 + u64::from(len);
        if self.file.is_some() && self.pos + record > self.limit {
            if let Some(mut file) = self.file.take() {
                file.flush()?;
            }
            self.file_index += 1;
            self.pos = 0;
        }
        if self.file.is_none() {
            let path = self.dir.join(format!("blk{:05}.dat", self.file_index));
            self.file = Some(BufWriter::with_capacity(1 << 20, fs::File::create(path)?));
        }
        let mut prefix = [0u8; 8];
        prefix[..4].copy_from_slice(&self.magic);
        prefix[4..].copy_from_slice(&len.to_le_bytes());
        if let Some(key) = &self.xor {
            apply_xor(key, self.pos, &mut prefix);
            apply_xor(key, self.pos + 8, block);
        }
        if let Some(file) = &mut self.file {
            file.write_all(&prefix)?;
            file.write_all(block)?;
        }
        self.pos += record;
        self.bytes += record;
        Ok(())
    }
}

/// XORs `buf`, which starts at absolute file offset `offset`, with the 8-byte key.
pub(crate) fn apply_xor(key: &[u8; 8], offset: u64, buf: &mut [u8]) {
    let start = usize::try_from(offset % 8).unwrap_or(0);
    let mut rotated = [0u8; 8];
    for (i, byte) in rotated.iter_mut().enumerate() {
        *byte = key[(start + i) % 8];
    }
    let word = u64::from_le_bytes(rotated);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_le_bytes(bytes) ^ word).to_le_bytes());
    }
    for (byte, k) in chunks.into_remainder().iter_mut().zip(rotated) {
        *byte ^= k;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn xor_matches_the_bytewise_definition() {
        let key = [1, 2, 3, 4, 5, 6, 7, 8];
        for offset in 0..16u64 {
            let mut buf: Vec<u8> = (0..29).collect();
            apply_xor(&key, offset, &mut buf);
            for (i, byte) in buf.iter().enumerate() {
                let p = offset + i as u64;
                assert_eq!(*byte, u8::try_from(i).unwrap() ^ key[usize::try_from(p % 8).unwrap()]);
            }
        }
    }
}
