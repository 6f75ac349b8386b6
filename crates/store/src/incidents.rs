//! Recorded incidents (thefts): `incidents.json`, rewritten atomically.

use std::path::Path;

use fs_err as fs;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::manifest::write_json;

const INCIDENTS: &str = "incidents.json";

/// A recorded theft.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Incident {
    /// Unique name.
    pub name: String,
    /// The actor responsible.
    pub actor: String,
    /// The stolen outputs, `txid:vout`, sorted.
    pub seeds: Vec<String>,
    /// Date of the theft, `YYYY-MM-DD`.
    pub date: String,
    /// Where the attribution comes from.
    pub source: Option<String>,
}

/// Loads the incidents of the store at `dir` (empty if none).
///
/// # Errors
///
/// A corrupt file or an I/O error.
pub fn load_incidents(dir: &Path) -> Result<Vec<Incident>> {
    let path = dir.join(INCIDENTS);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = fs::read_to_string(&path)?;
    serde_json::from_str(&text)
        .map_err(|error| StoreError::CorruptManifest { path, message: error.to_string() })
}

/// Writes the incidents of the store at `dir` atomically, sorted by name.
///
/// # Errors
///
/// An I/O error; the previous file then stays in force.
pub fn save_incidents(dir: &Path, incidents: &[Incident]) -> Result<()> {
    let mut sorted = incidents.to_vec();
    sorted.sort();
    write_json(dir, INCIDENTS, &sorted)
}
