//! `diff`.

use cointrail_labels::{Label, diff};

fn label(address: &str, name: &str, source: &str, imported: &str) -> Label {
    Label {
        address: address.to_owned(),
        asset: "BTC".to_owned(),
        name: name.to_owned(),
        category: "sanctions".to_owned(),
        actor: None,
        source: source.to_owned(),
        confidence: Some(100),
        programs: Vec::new(),
        imported: imported.to_owned(),
    }
}

#[test]
fn identity_ignores_date_and_source() {
    let old = [label("1a", "A", "list 1", "2024-01-01"), label("1b", "B", "list 1", "2024-01-01")];
    let new = [label("1a", "A", "list 2", "2025-01-01"), label("1c", "C", "list 2", "2025-01-01")];
    let changes = diff(&old, &new);
    assert_eq!(changes.added, [new[1].clone()]);
    assert_eq!(changes.removed, [old[1].clone()]);
    let renamed = [label("1a", "A renamed", "list 1", "2024-01-01")];
    let changes = diff(&old[..1], &renamed);
    assert_eq!((changes.added.len(), changes.removed.len()), (1, 1));
    let same = diff(&old, &old);
    assert!(same.added.is_empty() && same.removed.is_empty());
}

#[test]
fn output_is_sorted() {
    let new = [label("1z", "Z", "s", "d"), label("1a", "A", "s", "d"), label("1m", "M", "s", "d")];
    let changes = diff(&[], &new);
    let addresses: Vec<&str> = changes.added.iter().map(|l| l.address.as_str()).collect();
    assert_eq!(addresses, ["1a", "1m", "1z"]);
}
