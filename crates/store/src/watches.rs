//! The watchlist (`watches.json`) and the alert log (`alerts.jsonl`, `alerts.delivered`).
//!
//! Alerts are appended and synced to the log before the block that raised them is committed, so
//! none is lost in a crash; `alerts.delivered` counts the log's lines already delivered to the
//! webhook, so none is delivered twice.

use std::io::Write;
use std::path::Path;

use fs_err as fs;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::manifest::{replace_file, write_json};

const WATCHES: &str = "watches.json";
const ALERTS: &str = "alerts.jsonl";
const DELIVERED: &str = "alerts.delivered";

/// What a watch is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchKind {
    /// An address (text).
    Address,
    /// An outpoint `txid:vout`.
    Outpoint,
    /// A cluster id.
    Cluster,
    /// A recorded incident: its coins and everything they taint (poison).
    Incident,
    /// Every address carrying a label (by name).
    Label,
}

impl WatchKind {
    /// Returns the lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Address => "address",
            Self::Outpoint => "outpoint",
            Self::Cluster => "cluster",
            Self::Incident => "incident",
            Self::Label => "label",
        }
    }
}

/// One watch.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Watch {
    /// Its id (never reused).
    pub id: u64,
    /// What it is on.
    pub kind: WatchKind,
    /// The address, outpoint, cluster id, incident name or label name.
    pub target: String,
}

/// Loads the watchlist of the store at `dir`.
///
/// # Errors
///
/// A corrupt file or an I/O error.
pub fn load_watches(dir: &Path) -> Result<Vec<Watch>> {
    let path = dir.join(WATCHES);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = fs::read_to_string(&path)?;
    serde_json::from_str(&text)
        .map_err(|error| StoreError::CorruptManifest { path, message: error.to_string() })
}

/// Writes the watchlist atomically.
///
/// # Errors
///
/// An I/O error; the previous list then stays in force.
pub fn save_watches(dir: &Path, watches: &[Watch]) -> Result<()> {
    write_json(dir, WATCHES, watches)
}

/// Reads every alert line of the log.
///
/// # Errors
///
/// An I/O error.
pub fn read_alerts(dir: &Path) -> Result<Vec<String>> {
    let path = dir.join(ALERTS);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = fs::read_to_string(&path)?;
    // A line cut by a crash (no final newline) is dropped: it is raised again with its block.
    let complete = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    Ok(complete.lines().map(str::to_owned).collect())
}

/// Appends alert lines (one JSON document each) and syncs them to disk.
///
/// # Errors
///
/// An I/O error.
pub fn append_alerts(dir: &Path, lines: &[String]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let path = dir.join(ALERTS);
    // Cut a partial last line left by a crash before appending.
    if path.exists() {
        let text = fs::read(&path)?;
        if let Some(end) = text.iter().rposition(|byte| *byte == b'\n')
            && end + 1 != text.len()
        {
            let file = fs::OpenOptions::new().write(true).open(&path)?;
            file.set_len(end as u64 + 1)?;
        } else if !text.is_empty() && !text.contains(&b'\n') {
            fs::File::create(&path)?;
        }
    }
    let mut file = fs::OpenOptions::new().create(true).append(true).open(&path)?;
    for line in lines {
        file.write_all(line.as_bytes())?;
        file.write_all(b"\n")?;
    }
    file.sync_all()?;
    Ok(())
}

/// Returns how many alert lines were delivered to the webhook.
///
/// # Errors
///
/// An I/O error or a corrupt counter.
pub fn delivered_alerts(dir: &Path) -> Result<u64> {
    let path = dir.join(DELIVERED);
    if !path.exists() {
        return Ok(0);
    }
    let text = fs::read_to_string(&path)?;
    text.trim().parse().map_err(|_| StoreError::CorruptManifest {
        path,
        message: format!("not a count: {}", text.trim()),
    })
}

/// Records that the first `count` alert lines were delivered.
///
/// # Errors
///
/// An I/O error.
pub fn set_delivered_alerts(dir: &Path, count: u64) -> Result<()> {
    replace_file(dir, DELIVERED, format!("{count}\n").as_bytes())
}
