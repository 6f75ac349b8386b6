//! Memory-mapped files of fixed-width little-endian rows.
//!
//! A column is one file. Readers map it read-only and see only the committed rows (the manifest
//! says how many). The writer maps it read-write with spare capacity at the end, so appends and the
//! few in-place updates are plain memory writes; [`RwFile::sync`] makes them durable before the
//! manifest that commits them is written.

use std::path::{Path, PathBuf};

use fs_err as fs;
use memmap2::{Advice, Mmap, MmapMut, UncheckedAdvice};

use crate::error::{Result, StoreError};

/// Growth step of a writable file: at least this many bytes, or half the current size.
const MIN_GROWTH: u64 = 1 << 20;

/// The smallest writable mapping that asks for transparent huge pages (see `map_rw`): a column
/// is remapped as it grows, so a large one gets the hint from its first growth past this.
const HUGE_PAGE_MIN_MAPPING: usize = 32 << 20;

/// A read-only mapping of a whole file (empty files map to an empty slice).
#[derive(Debug)]
pub(crate) struct RoFile {
    map: Option<Mmap>,
}

impl RoFile {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = fs::File::open(path)?;
        let len = file.metadata()?.len();
        if len == 0 {
            return Ok(Self { map: None });
        }
        // SAFETY: the store is append-only for readers: the writer never shrinks a file below the
        // committed length that readers use, and holds the store lock while it writes.
        #[allow(unsafe_code, reason = "memory-mapping a file is unsafe by contract; see above")]
        let map = unsafe { Mmap::map(file.file()) }
            .map_err(|source| StoreError::MapIo { path: path.to_owned(), source })?;
        Ok(Self { map: Some(map) })
    }

    /// A file with no bytes.
    pub(crate) fn empty() -> Self {
        Self { map: None }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

/// A writable mapping with spare capacity after `len` bytes of content.
#[derive(Debug)]
pub(crate) struct RwFile {
    path: PathBuf,
    file: fs::File,
    map: MmapMut,
    /// Bytes of content (committed plus pending).
    len: u64,
    /// Bytes at the start whose pages were given back ([`RwFile::release`]).
    released: u64,
    /// Whether appends unmap the rows they leave behind ([`RwFile::set_streaming`]).
    streaming: bool,
    /// Bytes at the start that this mapping no longer maps (a multiple of [`RELEASE_UNIT`]).
    unmapped: u64,
    /// Whether the rows behind the tail are read or written at random ([`RwFile::set_random`]).
    random: bool,
    /// Bytes at the start advised as read at random, without huge pages (a multiple of
    /// [`RELEASE_UNIT`]).
    advised: u64,
}

impl RwFile {
    /// Opens or creates the file, truncating it to `len` bytes of content: anything past the
    /// committed length is an interrupted batch and is discarded.
    pub(crate) fn open(path: &Path, len: u64) -> Result<Self> {
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let actual = file.metadata()?.len();
        if actual < len {
            return Err(StoreError::ShortFile {
                path: path.to_owned(),
                expected: len,
                found: actual,
            });
        }
        let capacity = len + MIN_GROWTH;
        file.set_len(len)?;
        file.set_len(capacity)?;
        let map = map_rw(path, &file)?;
        Ok(Self {
            path: path.to_owned(),
            file,
            map,
            len,
            released: 0,
            streaming: false,
            unmapped: 0,
            random: false,
            advised: 0,
        })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map[..to_usize(self.len)]
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        let len = to_usize(self.len);
        &mut self.map[..len]
    }

    /// Appends bytes, growing the file when its spare capacity runs out.
    pub(crate) fn append(&mut self, data: &[u8]) -> Result<()> {
        let end = self.len + data.len() as u64;
        if end > self.map.len() as u64 {
            self.grow(end)?;
        }
        self.map[to_usize(self.len)..to_usize(end)].copy_from_slice(data);
        self.len = end;
        if self.streaming && end >= self.unmapped + 2 * RELEASE_UNIT {
            // One unit behind the end stays mapped, for the rows being written.
            self.unmap(end / RELEASE_UNIT * RELEASE_UNIT - RELEASE_UNIT);
        }
        if self.random && end >= self.advised + 2 * RELEASE_UNIT {
            self.advise_random(behind_tail(end));
        }
        Ok(())
    }

    /// Marks the column as read at random behind its tail (`addr.key`, `addr.rest`, and
    /// `tx.txid`, whose rows confirm the live map's twins): the bytes up to
    /// one [`RELEASE_UNIT`] behind the end are advised `MADV_NOHUGEPAGE` and `MADV_RANDOM`, and
    /// the advice follows the end as appends go on. The growing tail keeps the huge-page advice
    /// of [`map_rw`], which makes appends fault in 2 MiB at once. Behind it, a fault on a page
    /// that is not cached (evicted under memory pressure) then reads that page alone: with the
    /// huge-page advice, Linux reads the whole 2 MiB around it (4 MiB without `MADV_RANDOM`), so
    /// an ingest whose random working set outgrows the page cache read 2 MiB from disk for every
    /// 5 or 21 bytes it needed (`docs/performance.md`, "Under a memory limit"). Only a hint.
    pub(crate) fn set_random(&mut self) {
        self.random = true;
        self.advise_random(behind_tail(self.len));
    }

    /// Advises the bytes from [`RwFile::advised`] to `upto` (a multiple of [`RELEASE_UNIT`]) as read
    /// at random, without huge pages.
    fn advise_random(&mut self, upto: u64) {
        let upto = upto.min(self.map.len() as u64 / RELEASE_UNIT * RELEASE_UNIT);
        if upto <= self.advised {
            return;
        }
        let (from, len) = (to_usize(self.advised), to_usize(upto - self.advised));
        let _ = self.map.advise_range(Advice::NoHugePage, from, len);
        let _ = self.map.advise_range(Advice::Random, from, len);
        self.advised = upto;
    }

    /// Makes appends unmap the rows they leave behind, a [`RELEASE_UNIT`] at a time, whether or
    /// not they are durable yet: for a column the writer only appends to, so that its written
    /// pages do not stay in the process's resident set until the next commit. The bytes stay in
    /// the page cache (dirty ones are still written back by the next sync), and a read maps them
    /// again.
    pub(crate) fn set_streaming(&mut self) {
        self.streaming = true;
    }

    /// Removes the bytes from [`RwFile::unmapped`] to `upto` (a multiple of [`RELEASE_UNIT`]) from
    /// this mapping.
    fn unmap(&mut self, upto: u64) {
        if upto <= self.unmapped {
            return;
        }
        let (from, len) = (to_usize(self.unmapped), to_usize(upto - self.unmapped));
        // SAFETY: the mapping is shared (`MmapMut::map_mut`), so `MADV_DONTNEED` only removes the
        // page table entries of the range: the bytes, written back or not, stay in the page cache
        // (a dirty page stays dirty, and is written back by the next sync) and the file, and the
        // next access maps them again. No reference into the range is held across this call
        // (`&mut self`).
        #[allow(unsafe_code, reason = "MADV_DONTNEED on a shared file mapping; see above")]
        let _ = unsafe { self.map.unchecked_advise_range(UncheckedAdvice::DontNeed, from, len) };
        self.unmapped = upto;
    }

    fn grow(&mut self, needed: u64) -> Result<()> {
        let current = self.map.len() as u64;
        let capacity = needed.max(current + (current / 2).max(MIN_GROWTH));
        self.file.set_len(capacity)?;
        self.map = map_rw(&self.path, &self.file)?;
        // A new mapping has the huge-page advice throughout.
        self.advised = 0;
        if self.random {
            self.advise_random(behind_tail(self.len));
        }
        Ok(())
    }

    /// Drops content past `len` bytes (zeroing it), for rollback and unwinding.
    pub(crate) fn truncate(&mut self, len: u64) {
        let len = len.min(self.len);
        let (start, end) = (to_usize(len), to_usize(self.len));
        self.map[start..end].fill(0);
        self.len = len;
        self.released = self.released.min(len);
        self.unmapped = self.unmapped.min(len / RELEASE_UNIT * RELEASE_UNIT);
        let tail = len / RELEASE_UNIT * RELEASE_UNIT;
        if self.advised > tail {
            // The bytes past the new end will be appended again: huge pages for them, as for any
            // growing tail.
            let (from, back) = (to_usize(tail), to_usize(self.advised - tail));
            let _ = self.map.advise_range(Advice::Normal, from, back);
            advise_huge_pages(&self.map, from, back);
            self.advised = tail;
        }
    }

    /// Gives the kernel back the pages of the bytes before `upto` (whole pages only), which the
    /// caller has made durable and will not need again soon: they leave this mapping (and so the
    /// process's resident set) and the page cache, instead of crowding out pages that are read at
    /// random. Only a hint: a later read maps the bytes back from the file.
    pub(crate) fn release(&mut self, upto: u64) {
        let end = upto.min(self.len) / RELEASE_UNIT * RELEASE_UNIT;
        if end <= self.released {
            return;
        }
        self.unmap(end);
        let (from, len) = (to_usize(self.released), to_usize(end - self.released));
        fadvise_dont_need(&self.file, from, len);
        self.released = end;
    }

    /// Writes dirty pages to disk and waits for them: every write to the mapping made before the
    /// call (`fdatasync`, which on Linux writes back a shared mapping's dirty pages, as
    /// `msync(MS_SYNC)` does: it is what `msync` calls).
    pub(crate) fn sync(&self) -> Result<()> {
        self.file.sync_data()?;
        Ok(())
    }

    /// A second handle on the file, for [`RwFile::sync`] from another thread (`sync_data` on it)
    /// while this mapping goes on being written.
    pub(crate) fn sync_handle(&self) -> Result<fs::File> {
        Ok(self.file.try_clone()?)
    }

    /// Trims the spare capacity so that the file holds exactly its content.
    pub(crate) fn trim(&mut self) -> Result<()> {
        self.sync()?;
        self.file.set_len(self.len)?;
        self.file.sync_all()?;
        Ok(())
    }
}

/// A writable table of the writer's own (its address hash index), never trusted after a crash: the
/// writer re-derives it at open.
///
/// Where it lives depends on its size ([`table_limit`]): a table of up to five eighths of the
/// memory this process may use, that leaves a quarter of it beside the anonymous memory already
/// held, is anonymous memory with transparent huge pages (random probes then miss the TLB far less:
/// 15 % less CPU for a whole ingest, `docs/performance-history.md`); a larger one is a shared
/// mapping of a scratch file that is never synced, whose pages the kernel can write back and
/// evict, so that an ingest on a machine too small for its table slows down instead of being
/// killed (a whole chain's address table is 12 GiB).
#[derive(Debug)]
pub(crate) struct ScratchTable {
    /// `None` for [`ScratchTable::none`].
    map: Option<MmapMut>,
    /// Whether `map` is anonymous memory rather than a scratch file.
    in_memory: bool,
}

impl ScratchTable {
    /// No table (no bytes): what a table being rebuilt is replaced by first, so that the old and
    /// the new one are never held at once.
    pub(crate) fn none() -> Self {
        Self { map: None, in_memory: true }
    }

    /// Whether the table is in anonymous memory (or empty) rather than in a scratch file.
    pub(crate) fn in_memory(&self) -> bool {
        self.in_memory
    }

    /// Creates a table of `len` bytes, a copy of the file `from` (which must be `len` bytes) or
    /// zeros, backed by memory or by a new scratch file at `path` (see the type). Whatever was at
    /// `path` is unlinked first, so a mapping of it (the table being replaced) keeps its own pages
    /// until it is dropped.
    pub(crate) fn create(path: &Path, len: u64, from: Option<&Path>) -> Result<Self> {
        Self::create_within(path, len, from, anonymous_table_limit())
    }

    /// [`ScratchTable::create`], in memory when `len` is at most `memory_limit` bytes.
    pub(crate) fn create_within(
        path: &Path,
        len: u64,
        from: Option<&Path>,
        memory_limit: u64,
    ) -> Result<Self> {
        match fs::remove_file(path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error.into()),
            _ => {}
        }
        if len <= memory_limit {
            let mut map = MmapMut::map_anon(to_usize(len))
                .map_err(|source| StoreError::MapIo { path: path.to_owned(), source })?;
            // Only a hint: without transparent huge pages the table works the same.
            let _ = map.advise(Advice::HugePage);
            if let Some(from) = from {
                let mut file = fs::File::open(from)?;
                std::io::Read::read_exact(&mut file, &mut map)?;
            }
            return Ok(Self { map: Some(map), in_memory: true });
        }
        if let Some(from) = from {
            fs::copy(from, path)?;
        }
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        file.set_len(len)?;
        // SAFETY: the scratch file was just created by the writer, which holds the store's
        // exclusive lock; no reader opens scratch files, and nothing else truncates it while
        // mapped (a replacement unlinks it and creates a new file).
        #[allow(unsafe_code, reason = "memory-mapping a file is unsafe by contract; see above")]
        let map = unsafe { MmapMut::map_mut(file.file()) }
            .map_err(|source| StoreError::MapIo { path: path.to_owned(), source })?;
        // Hash lookups are random: readahead would only fill memory with unrelated slots.
        map.advise(Advice::Random)
            .map_err(|source| StoreError::MapIo { path: path.to_owned(), source })?;
        Ok(Self { map: Some(map), in_memory: false })
    }
}

/// The largest writer table kept in anonymous memory now ([`table_limit`] of this process's
/// memory and of the anonymous memory it already holds).
fn anonymous_table_limit() -> u64 {
    table_limit(crate::memory::available(), crate::memory::anonymous_now())
}

/// The largest table to keep in anonymous memory for a process that may use `available` bytes
/// ([`crate::memory::available`]: `MemTotal`, or a control group's smaller limit) and holds
/// `anonymous` bytes of anonymous memory already (the live map, blocks in flight): five eighths of
/// `available`, and no more than leaves a quarter of it beside `anonymous` and the table; 0 where
/// `available` cannot be read (every table is then a scratch file).
///
/// As large as that because a table probed at random on every output is the hottest memory of an
/// ingest: in a scratch mapping the kernel writes back and evicts its pages like any file page, and
/// every probe of an evicted one is a read from disk. Under a 1,024 MiB limit a 4 GB chain, whose
/// table is 192 MiB, ingested in 66-75 s with the table in a scratch file (then the rule was an
/// eighth) and in 23.5-25.2 s with it in memory, as fast as without a limit (`docs/performance.md`,
/// "Under a memory limit"). On a 24 GiB machine a whole chain's 12 GiB table is in memory while the
/// live map beside it is under about 5.6 GiB. No more than that, because anonymous memory cannot be
/// reclaimed (there is no swap to count on): a table that does not fit beside the rest would have
/// the ingest killed, where a scratch file only slows it down.
fn table_limit(available: u64, anonymous: u64) -> u64 {
    let share = available / 8 * 5;
    let room = (available / 4 * 3).saturating_sub(anonymous);
    share.min(room)
}

impl std::ops::Deref for ScratchTable {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.map.as_deref().unwrap_or_default()
    }
}

impl std::ops::DerefMut for ScratchTable {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.map.as_deref_mut().unwrap_or_default()
    }
}

fn map_rw(path: &Path, file: &fs::File) -> Result<MmapMut> {
    // SAFETY: the writer holds the store's exclusive lock, so no other process writes this file;
    // readers only read below the committed length, which the writer never rewrites except for
    // documented in-place fields.
    #[allow(unsafe_code, reason = "memory-mapping a file is unsafe by contract; see above")]
    let map = unsafe { MmapMut::map_mut(file.file()) };
    let map = map.map_err(|source| StoreError::MapIo { path: path.to_owned(), source })?;
    // Only a hint: where the file system caches the file in large folios (ext4 on Linux 6.16+), a
    // fault on the growing tail then fills and maps up to 2 MiB at once instead of one 4 KiB page,
    // which takes a quarter off the wall time of a whole ingest (`docs/performance-history.md`);
    // elsewhere the mapping works the same without it. Small mappings go without: there the 2 MiB
    // folios only cost memory (a store of a few hundred blocks: 11 instead of 5 MiB peak RSS).
    advise_huge_pages(&map, 0, map.len());
    Ok(map)
}

/// Asks for huge pages on `len` bytes of a column mapping from `from` ([`map_rw`]), if the mapping
/// is large enough for them to pay. Only a hint.
fn advise_huge_pages(map: &MmapMut, from: usize, len: usize) {
    if map.len() >= HUGE_PAGE_MIN_MAPPING {
        let _ = map.advise_range(Advice::HugePage, from, len);
    }
}

/// Where a random column's advice ends for `len` bytes of content ([`RwFile::set_random`]): one
/// [`RELEASE_UNIT`] behind the end, rounded down to whole units.
fn behind_tail(len: u64) -> u64 {
    (len / RELEASE_UNIT * RELEASE_UNIT).saturating_sub(RELEASE_UNIT)
}

/// The granularity of [`RwFile::release`] and of a streaming column's unmapping: a huge page (a
/// multiple of every page size).
const RELEASE_UNIT: u64 = 2 << 20;

/// Asks the kernel to drop the clean cached pages of `len` bytes of `file` from byte `from`, or
/// of all the bytes from `from` on if `len` is 0 (`POSIX_FADV_DONTNEED`; dirty pages are left to
/// write-back). Only a hint.
pub(crate) fn fadvise_dont_need(file: &fs::File, from: usize, len: usize) {
    use std::os::fd::AsRawFd;
    let (Ok(from), Ok(len)) = (libc::off_t::try_from(from), libc::off_t::try_from(len)) else {
        return;
    };
    // SAFETY: a plain system call on an open descriptor; it reads no memory of ours.
    #[allow(unsafe_code, reason = "posix_fadvise has no safe wrapper in std")]
    let _ = unsafe { libc::posix_fadvise(file.as_raw_fd(), from, len, libc::POSIX_FADV_DONTNEED) };
}

/// Converts a file offset to a memory index. The store only runs on 64-bit targets.
pub(crate) fn to_usize(value: u64) -> usize {
    usize::try_from(value).expect("the store requires a 64-bit target")
}

/// Reads a little-endian `u64` at byte offset `at`.
pub(crate) fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(buf)
}

/// Reads a little-endian `u32` at byte offset `at`.
pub(crate) fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut buf = [0u8; 4];
    buf.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(buf)
}

/// Bytes of an input or output id in a column: a little-endian 40-bit integer ("u40").
pub(crate) const ID_BYTES: usize = 5;

/// The 40 bits of a stored id.
const ID_MASK: u64 = (1 << 40) - 1;

/// The largest input or output id a store accepts: 2^40 - 2 (until format 8 `out.spent` stored
/// id + 1 in 40 bits; the limit is kept so that no store's capacity changed).
pub(crate) const MAX_ID: u64 = ID_MASK - 1;

/// Reads a little-endian u40 (an input or output id, [`ID_BYTES`]) at byte offset `at`.
#[inline]
pub(crate) fn read_id(bytes: &[u8], at: usize) -> u64 {
    if let Some(word) = bytes.get(at..at + 8) {
        // One unaligned load where three bytes of the next row follow, masked off.
        let mut buf = [0u8; 8];
        buf.copy_from_slice(word);
        return u64::from_le_bytes(buf) & ID_MASK;
    }
    let mut buf = [0u8; 8];
    buf[..ID_BYTES].copy_from_slice(&bytes[at..at + ID_BYTES]);
    u64::from_le_bytes(buf)
}

/// The u40 bytes of an id (the low 40 bits of `value`, which is at most [`MAX_ID`] + 1).
#[inline]
pub(crate) fn id_bytes(value: u64) -> [u8; ID_BYTES] {
    debug_assert!(value <= ID_MASK, "ids fit 40 bits");
    let mut row = [0u8; ID_BYTES];
    row.copy_from_slice(&value.to_le_bytes()[..ID_BYTES]);
    row
}

/// Writes a little-endian u40 (an input or output id) at byte offset `at`.
#[inline]
pub(crate) fn write_id(bytes: &mut [u8], at: usize, value: u64) {
    bytes[at..at + ID_BYTES].copy_from_slice(&id_bytes(value));
}

/// Writes a little-endian `u32` at byte offset `at`.
pub(crate) fn write_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// Writes a little-endian `u64` at byte offset `at`.
pub(crate) fn write_u64(bytes: &mut [u8], at: usize, value: u64) {
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

/// Asks the kernel to start reading the pages of `bytes[from..from + len]` (clipped to `bytes`),
/// a part of a file mapping about to be read in order (`MADV_WILLNEED`): a mapping advised as read
/// at random ([`RwFile::set_random`]) has no readahead of its own, so a scan of pages that are not
/// cached would otherwise read them one page at a time. Only a hint.
pub(crate) fn will_need(bytes: &[u8], from: usize, len: usize) {
    let end = from.saturating_add(len).min(bytes.len());
    if from >= end {
        return;
    }
    // 4 KiB pages; on a system with larger ones an unaligned range is refused, and the hint lost.
    let page = 4096;
    let start = bytes.as_ptr() as usize + from;
    let aligned = start / page * page;
    let len = bytes.as_ptr() as usize + end - aligned;
    // SAFETY: `MADV_WILLNEED` only starts reads into the page cache: it changes no memory and no
    // mapping. The range starts at most a page before `bytes[from]`, in the same mapping (mappings
    // are page-aligned), and ends inside `bytes`.
    #[allow(unsafe_code, reason = "madvise has no safe wrapper for a borrowed slice")]
    let _ = unsafe { libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_WILLNEED) };
}

/// Keeps [`will_need`] ahead of an in-order scan of a mapping advised as read at random
/// ([`RwFile::set_random`]): the rebuild of the address index, and the writer's open.
#[derive(Debug, Default)]
pub(crate) struct ScanAhead {
    next: usize,
}

impl ScanAhead {
    /// Bytes asked for ahead of the scan: at least one, at most two of these.
    const CHUNK: usize = 8 << 20;

    /// Notes that the scan reached byte `offset` of `bytes`.
    #[inline]
    pub(crate) fn at(&mut self, bytes: &[u8], offset: usize) {
        if offset >= self.next {
            will_need(bytes, offset, 2 * Self::CHUNK);
            self.next = offset + Self::CHUNK;
        }
    }
}

/// Asks the CPU to bring the cache line holding `bytes[at]` closer (a hint with no effect on
/// results; nothing happens when `at` is out of bounds or on other architectures). The writer uses it
/// to overlap the cache misses of a block's random lookups instead of taking them one at a time.
#[inline]
pub(crate) fn prefetch(bytes: &[u8], at: usize) {
    if at >= bytes.len() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults and changes no memory; the pointer is in
    // bounds anyway. SSE is part of the x86_64 baseline.
    #[allow(unsafe_code, reason = "the prefetch intrinsic is unsafe by signature only")]
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(bytes.as_ptr().add(at).cast());
    }
}

#[cfg(not(all(target_endian = "little", target_pointer_width = "64")))]
compile_error!("the store's memory-mapped columns require a little-endian 64-bit target");

/// Views a byte slice of a mapping as `u32`s (the store's columns are little-endian, and so is every
/// supported target).
///
/// # Panics
///
/// Panics if the slice is not 4-byte aligned or not a whole number of `u32`s; mappings are
/// page-aligned and array files hold whole rows, so neither happens.
pub(crate) fn as_u32s_mut(bytes: &mut [u8]) -> &mut [u32] {
    // SAFETY: u32 has no invalid bit patterns; align_to_mut only yields the aligned middle part,
    // and the asserts check that it is the whole slice.
    #[allow(unsafe_code, reason = "reinterpreting aligned bytes as u32; checked below")]
    let (head, words, tail) = unsafe { bytes.align_to_mut::<u32>() };
    assert!(head.is_empty() && tail.is_empty(), "u32 arrays are aligned and whole");
    words
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn ids_are_five_little_endian_bytes_read_back_at_any_row_including_the_last() {
        let values = [0, 1, 0xff, 0x0012_3456_789a, MAX_ID, MAX_ID + 1];
        let mut column = vec![0u8; values.len() * ID_BYTES];
        for (row, value) in values.iter().enumerate() {
            write_id(&mut column, row * ID_BYTES, *value);
        }
        assert_eq!(&column[15..20], &[0x9a, 0x78, 0x56, 0x34, 0x12]);
        for (row, value) in values.iter().enumerate() {
            // The last rows have fewer than 8 bytes after them (the slow path).
            assert_eq!(read_id(&column, row * ID_BYTES), *value, "row {row}");
        }
        assert_eq!(MAX_ID + 1, (1 << 40) - 1);
    }

    /// The `VmFlags` of the mappings of `path` in this process, as (offset in the file, length,
    /// flags), from `/proc/self/smaps`.
    fn vm_flags(path: &Path) -> Vec<(u64, u64, Vec<String>)> {
        let smaps = fs::read_to_string("/proc/self/smaps").unwrap();
        let name = path.to_str().unwrap();
        let mut found = Vec::new();
        let mut current: Option<(u64, u64)> = None;
        for line in smaps.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.first().is_some_and(|f| f.contains('-') && !f.ends_with(':')) {
                current = (fields.last() == Some(&name)).then(|| {
                    let (start, end) = fields[0].split_once('-').unwrap();
                    let len = u64::from_str_radix(end, 16).unwrap()
                        - u64::from_str_radix(start, 16).unwrap();
                    (u64::from_str_radix(fields[2], 16).unwrap(), len)
                });
            } else if fields.first() == Some(&"VmFlags:")
                && let Some((offset, len)) = current
            {
                found.push((offset, len, fields[1..].iter().map(|f| (*f).to_owned()).collect()));
            }
        }
        found.sort();
        found
    }

    #[test]
    fn a_random_column_reads_at_random_without_huge_pages_behind_its_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("column");
        let mut file = RwFile::open(&path, 0).unwrap();
        let unit = to_usize(RELEASE_UNIT);
        file.append(&vec![7u8; 20 * unit]).unwrap();
        file.set_random();
        // Appends carry the advice along, one unit behind the end, across a remapping too.
        for _ in 0..30 {
            file.append(&vec![9u8; unit / 2 + 3]).unwrap();
        }
        let len = file.bytes().len() as u64;
        assert!(file.map.len() as u64 >= HUGE_PAGE_MIN_MAPPING as u64);
        let flags = |at: u64| {
            let maps = vm_flags(&path);
            let (_, _, flags) =
                maps.into_iter().find(|(offset, len, _)| (*offset..offset + len).contains(&at))?;
            Some(flags)
        };
        // Without transparent huge pages in the kernel there is no huge-page advice to see.
        let thp = Path::new("/sys/kernel/mm/transparent_hugepage").exists();
        let has = |at: u64, flag: &str| {
            (flag == "hg" && !thp) || flags(at).unwrap().iter().any(|f| f == flag)
        };
        let advised = len / RELEASE_UNIT * RELEASE_UNIT - RELEASE_UNIT;
        assert_eq!(file.advised, advised);
        for at in [0, RELEASE_UNIT * 7 + 5, advised - 1] {
            assert!(has(at, "rr") && has(at, "nh"), "{at}: {:?}", flags(at));
            assert!(!flags(at).unwrap().iter().any(|f| f == "hg"), "{at}: {:?}", flags(at));
        }
        for at in [advised, len, file.map.len() as u64 - 1] {
            assert!(has(at, "hg") && !has(at, "rr"), "{at}: {:?}", flags(at));
        }
        // Rows behind the tail still read back.
        assert_eq!(file.bytes()[unit * 3], 7);
        assert_eq!(file.bytes()[to_usize(len) - 1], 9);
        // Truncation gives the bytes it drops the tail's advice back.
        file.truncate(RELEASE_UNIT * 4 + 10);
        assert_eq!(file.advised, RELEASE_UNIT * 4);
        assert!(has(RELEASE_UNIT * 4 + 1, "hg") && !has(RELEASE_UNIT * 4 + 1, "rr"));
        assert!(has(RELEASE_UNIT * 4 - 1, "rr"));
    }

    #[test]
    fn released_bytes_read_back_and_appends_and_truncation_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("column");
        let mut file = RwFile::open(&path, 0).unwrap();
        let row = |n: u64| n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes();
        let rows = 3 * RELEASE_UNIT / 8 + 5;
        for n in 0..rows {
            file.append(&row(n)).unwrap();
        }
        file.sync().unwrap();
        file.release(RELEASE_UNIT + 100);
        assert_eq!(file.released, RELEASE_UNIT, "whole units only");
        file.release(RELEASE_UNIT / 2);
        assert_eq!(file.released, RELEASE_UNIT, "never backwards");
        file.release(u64::MAX);
        assert_eq!(file.released, 3 * RELEASE_UNIT, "not past the content");
        for n in (0..rows).step_by(997).chain([rows - 1]) {
            assert_eq!(read_u64(file.bytes(), to_usize(n * 8)), u64::from_le_bytes(row(n)));
        }
        // Truncating below what was released, then appending: the new bytes are what is read.
        file.truncate(RELEASE_UNIT);
        assert_eq!(file.released, RELEASE_UNIT);
        file.append(&[0xAB; 8]).unwrap();
        file.sync().unwrap();
        file.release(u64::MAX);
        assert_eq!(read_u64(file.bytes(), to_usize(RELEASE_UNIT)), u64::from_le_bytes([0xAB; 8]));
        assert_eq!(read_u64(file.bytes(), 8), u64::from_le_bytes(row(1)));
        drop(file);
        let on_disk = fs::read(&path).unwrap();
        assert_eq!(&on_disk[..8], &row(0));
        assert_eq!(&on_disk[to_usize(RELEASE_UNIT)..][..8], &[0xAB; 8]);
    }

    #[test]
    fn a_streaming_column_unmaps_what_it_leaves_behind_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("column");
        let mut file = RwFile::open(&path, 0).unwrap();
        file.set_streaming();
        let row = |n: u64| n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes();
        let rows = 3 * RELEASE_UNIT / 8 + 5;
        for n in 0..rows {
            file.append(&row(n)).unwrap();
            if n == 2 * RELEASE_UNIT / 8 - 1 {
                assert_eq!(file.unmapped, RELEASE_UNIT, "one unit behind the end stays mapped");
            }
        }
        assert_eq!(file.unmapped, 2 * RELEASE_UNIT);
        // Unmapped before any sync: the dirty bytes are still there, and reach the file.
        for n in (0..rows).step_by(1009).chain([rows - 1]) {
            assert_eq!(read_u64(file.bytes(), to_usize(n * 8)), u64::from_le_bytes(row(n)));
        }
        file.release(u64::MAX);
        assert_eq!((file.unmapped, file.released), (3 * RELEASE_UNIT, 3 * RELEASE_UNIT));
        file.truncate(RELEASE_UNIT + 8);
        assert_eq!(file.unmapped, RELEASE_UNIT);
        file.sync().unwrap();
        drop(file);
        let on_disk = fs::read(&path).unwrap();
        for n in (0..=RELEASE_UNIT / 8).step_by(997) {
            assert_eq!(&on_disk[to_usize(n * 8)..][..8], &row(n), "row {n}");
        }
    }

    #[test]
    fn tables_in_memory_and_in_scratch_files_hold_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = dir.path().join("checkpoint");
        let content: Vec<u8> = (0..1u32 << 16).map(|n| (n * 7 % 251) as u8).collect();
        fs::write(&checkpoint, &content).unwrap();
        let scratch = dir.path().join("table.work");
        fs::write(&scratch, b"stale").unwrap();

        let len = content.len() as u64;
        let mut in_memory =
            ScratchTable::create_within(&scratch, len, Some(&checkpoint), len).unwrap();
        assert!(!scratch.exists(), "a table in memory removes a stale scratch file");
        assert!(in_memory.in_memory());
        let mut in_file = ScratchTable::create_within(&scratch, len, Some(&checkpoint), 0).unwrap();
        assert!(!in_file.in_memory());
        assert_eq!(fs::metadata(&scratch).unwrap().len(), len);
        assert_eq!(&in_memory[..], &content[..]);
        assert_eq!(&in_file[..], &content[..]);
        in_memory[5] = 1;
        in_file[5] = 1;
        assert_eq!(&in_memory[..], &in_file[..]);

        let zeros = ScratchTable::create_within(&scratch, 4096, None, 4096).unwrap();
        assert!(zeros.iter().all(|byte| *byte == 0));
    }

    #[test]
    fn tables_stay_in_memory_up_to_five_eighths_with_a_quarter_left_over() {
        const GIB: u64 = 1 << 30;
        // A whole chain's 12 GiB address index on a 24 GiB machine, beside a 4 GiB live map.
        assert!(table_limit(24 * GIB, 4 * GIB) >= 12 * GIB);
        assert_eq!(table_limit(24 * GIB, 0), 15 * GIB, "five eighths");
        // Beside an 8 GiB live map it would leave 4 of 24 GiB: a scratch file instead.
        assert_eq!(table_limit(24 * GIB, 8 * GIB), 10 * GIB);
        assert!(table_limit(24 * GIB, 8 * GIB) < 12 * GIB);
        // A 4 GB chain's 192 MiB table under 1,024 MiB, beside 190 MiB: in memory.
        assert!(table_limit(1024 << 20, 190 << 20) >= 192 << 20);
        // A 16 GB chain's 768 MiB table under 1,280 MiB beside 580 MiB would not leave room.
        assert!(table_limit(1280 << 20, 580 << 20) < 768 << 20);
        assert_eq!(table_limit(GIB, 2 * GIB), 0, "more held than available");
        assert_eq!(table_limit(0, 0), 0, "memory unknown: scratch files");
    }
}
