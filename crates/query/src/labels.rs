//! Label search.

use cointrail_types::Label;
use serde::Serialize;

use crate::snapshot::Snapshot;

/// Labels matching a search.
#[derive(Debug, Clone, Serialize)]
pub struct LabelSearch {
    /// The search text.
    pub query: String,
    /// Labels matching, at most the limit, in label order.
    pub labels: Vec<Label>,
    /// `true` when more labels matched than returned.
    pub truncated: bool,
}

/// Returns the labels whose address, name or actor contains `query` (ASCII case-insensitive), at
/// most `limit`.
pub fn search_labels(snapshot: &Snapshot, query: &str, limit: usize) -> LabelSearch {
    let needle = query.trim().to_ascii_lowercase();
    let contains = |text: &str| text.to_ascii_lowercase().contains(&needle);
    let mut labels = Vec::new();
    let mut truncated = false;
    for label in snapshot.labels().all() {
        let hit = contains(&label.address)
            || contains(&label.name)
            || label.actor.as_deref().is_some_and(contains);
        if hit {
            if labels.len() == limit {
                truncated = true;
                break;
            }
            labels.push(label.clone());
        }
    }
    LabelSearch { query: query.trim().to_owned(), labels, truncated }
}
