//! Errors of the store.

use std::path::PathBuf;

/// Errors returned by store operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The directory holds a store written by an incompatible version of cointrail.
    #[error(
        "store at {path} has format version {found}, this cointrail reads version {expected}; \
         re-ingest into a new directory"
    )]
    UnsupportedFormat {
        /// The store directory.
        path: PathBuf,
        /// Version found in the manifest.
        found: u64,
        /// Version this build reads and writes.
        expected: u64,
    },
    /// No store exists at the path.
    #[error("no cointrail store at {path} (run `cointrail ingest` first)")]
    NotFound {
        /// The directory that was given.
        path: PathBuf,
    },
    /// The directory is not empty but has no manifest.
    #[error("{path} is not empty and is not a cointrail store")]
    NotAStore {
        /// The directory that was given.
        path: PathBuf,
    },
    /// The manifest could not be parsed.
    #[error("corrupt manifest {path}: {message}")]
    CorruptManifest {
        /// Manifest path.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The store holds another chain or network than the one asked for.
    #[error("store at {path} holds {found}, not {expected}")]
    WrongChain {
        /// The store directory.
        path: PathBuf,
        /// Chain and network in the store.
        found: String,
        /// Chain and network requested.
        expected: String,
    },
    /// A data file is shorter than the committed length in the manifest.
    #[error("data file {path} is {found} bytes, shorter than the {expected} bytes committed")]
    ShortFile {
        /// The data file.
        path: PathBuf,
        /// Committed length.
        expected: u64,
        /// Actual length.
        found: u64,
    },
    /// Another process holds the store's write lock.
    #[error("store at {path} is being written by another process")]
    Locked {
        /// The store directory.
        path: PathBuf,
    },
    /// A stored row is inconsistent with the others.
    #[error("corrupt store: {what}")]
    Corrupt {
        /// What was found.
        what: String,
    },
    /// An id or count outgrew its on-disk width.
    #[error("{what} exceeds the capacity of the store format")]
    Capacity {
        /// Which counter overflowed.
        what: &'static str,
    },
    /// An I/O error, with the path involved.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// An I/O error on a mapped file.
    #[error("i/o error on {path}")]
    MapIo {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Result with [`StoreError`] as the default error.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
