//! Persisted labels: `labels.jsonl`, one JSON object per line, sorted, rewritten atomically.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use cointrail_types::Label;
use fs_err as fs;

use crate::error::{Result, StoreError};
use crate::manifest::replace_file;

const LABELS: &str = "labels.jsonl";

/// The identity of a label: re-importing a label with the same identity changes nothing.
fn identity(label: &Label) -> (String, String, String, String, String) {
    (
        label.address.clone(),
        label.asset.clone(),
        label.name.clone(),
        label.category.clone(),
        label.source.clone(),
    )
}

/// All labels of a store, indexed by address text.
#[derive(Debug, Clone, Default)]
pub struct LabelTable {
    labels: Vec<Label>,
    by_address: HashMap<String, Vec<usize>>,
}

impl LabelTable {
    /// Loads the labels of the store at `dir` (empty if none were imported).
    ///
    /// # Errors
    ///
    /// A corrupt line (naming the file and line) or an I/O error.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(LABELS);
        if !path.exists() {
            return Ok(Self::default());
        }
        let text = fs::read_to_string(&path)?;
        let mut labels = Vec::new();
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let label: Label =
                serde_json::from_str(line).map_err(|error| StoreError::CorruptManifest {
                    path: path.clone(),
                    message: format!("line {}: {error}", number + 1),
                })?;
            labels.push(label);
        }
        Ok(Self::from_labels(labels))
    }

    fn from_labels(labels: Vec<Label>) -> Self {
        let mut by_address: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, label) in labels.iter().enumerate() {
            by_address.entry(label.address.clone()).or_default().push(index);
        }
        Self { labels, by_address }
    }

    /// Returns every label, sorted.
    pub fn all(&self) -> &[Label] {
        &self.labels
    }

    /// Returns the labels of one address (as text).
    pub fn of(&self, address: &str) -> impl Iterator<Item = &Label> {
        self.by_address.get(address).into_iter().flatten().map(|index| &self.labels[*index])
    }

    /// Adds labels, keeping existing ones with the same identity (address, asset, name, category,
    /// source) untouched, and returns how many were new.
    pub fn merge(&mut self, new: Vec<Label>) -> usize {
        let mut merged: BTreeMap<_, Label> =
            self.labels.drain(..).map(|label| (identity(&label), label)).collect();
        let mut added = 0;
        for label in new {
            merged.entry(identity(&label)).or_insert_with(|| {
                added += 1;
                label
            });
        }
        let mut labels: Vec<Label> = merged.into_values().collect();
        labels.sort();
        *self = Self::from_labels(labels);
        added
    }

    /// Writes the table to the store at `dir` atomically (temporary file, sync, rename).
    ///
    /// # Errors
    ///
    /// An I/O error; the previous labels then stay in force.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let mut text = String::new();
        for label in &self.labels {
            let line = serde_json::to_string(label).map_err(|error| StoreError::Corrupt {
                what: format!("label for {}: {error}", label.address),
            })?;
            text.push_str(&line);
            text.push('\n');
        }
        replace_file(dir, LABELS, text.as_bytes())
    }
}
