//! Integration tests of `cointrail-labels` against real published label sources (see
//! `data/labels/README.md`).

#![allow(clippy::unwrap_used, reason = "tests")]

mod address;
mod csv;
mod diff;
mod etherscan;
mod ofac_list;
mod ofac_xml;
mod tagpack;

use std::path::PathBuf;

use cointrail_labels::ImportContext;

/// Returns the path of a file in the workspace's `data/labels`.
pub(crate) fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/labels").join(name)
}

/// Reads a file in `data/labels`.
pub(crate) fn data_text(name: &str) -> String {
    fs_err::read_to_string(data_path(name)).unwrap()
}

/// The context used by most tests: imported 2025-11-20, default sources.
pub(crate) fn context() -> ImportContext {
    ImportContext::new("2025-11-20")
}
