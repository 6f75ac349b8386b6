//! The snapshot in service, reopened when the store's `MANIFEST`, `CLUSTERS` or `labels.jsonl`
//! changes, and only once it is consistent.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use cointrail_query::Snapshot;

use crate::error::ApiError;

/// Files whose replacement commits a new state.
const WATCHED: [&str; 3] = ["MANIFEST", "CLUSTERS", "labels.jsonl"];
/// Attempts to open a consistent snapshot after a change.
const ATTEMPTS: u32 = 5;

/// Identity of one watched file: length, modification time and inode (a rename makes a new one).
type FileStamp = Option<(u64, SystemTime, u64)>;

fn stamp(dir: &Path) -> [FileStamp; 3] {
    WATCHED.map(|name| {
        let metadata = fs_err::metadata(dir.join(name)).ok()?;
        let modified = metadata.modified().ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
        #[cfg(not(unix))]
        let inode = 0;
        Some((metadata.len(), modified, inode))
    })
}

struct Current {
    snapshot: Arc<Snapshot>,
    stamp: [FileStamp; 3],
    checked: Instant,
}

/// The snapshot in service and when it was last checked.
pub(crate) struct Snapshots {
    dir: PathBuf,
    interval: Duration,
    current: Mutex<Current>,
    reloading: tokio::sync::Mutex<()>,
    reloads: std::sync::atomic::AtomicU64,
}

impl Snapshots {
    /// Opens the first snapshot.
    pub(crate) fn open(dir: &Path, interval: Duration) -> Result<Self, ApiError> {
        let (snapshot, stamp) = open_consistent(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
            interval,
            current: Mutex::new(Current {
                snapshot: Arc::new(snapshot),
                stamp,
                checked: Instant::now(),
            }),
            reloading: tokio::sync::Mutex::new(()),
            reloads: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Number of snapshots opened after the first.
    pub(crate) fn reloads(&self) -> u64 {
        self.reloads.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Returns the snapshot to serve: the current one, after checking (at most every interval)
    /// whether the store changed, and reopening if it did. While a reopen fails (a writer is
    /// between two files), the previous snapshot keeps being served: it stays consistent.
    pub(crate) async fn get(&self) -> Arc<Snapshot> {
        let (snapshot, old_stamp) = {
            let current = self.lock();
            if current.checked.elapsed() < self.interval {
                return Arc::clone(&current.snapshot);
            }
            (Arc::clone(&current.snapshot), current.stamp)
        };
        let new_stamp = stamp(&self.dir);
        if new_stamp == old_stamp {
            self.lock().checked = Instant::now();
            return snapshot;
        }
        // One request reopens; the others keep the current snapshot meanwhile.
        let Ok(_guard) = self.reloading.try_lock() else { return snapshot };
        let dir = self.dir.clone();
        let opened = tokio::task::spawn_blocking(move || open_consistent(&dir)).await;
        let mut current = self.lock();
        current.checked = Instant::now();
        match opened {
            Ok(Ok((snapshot, stamp))) => {
                current.snapshot = Arc::new(snapshot);
                current.stamp = stamp;
                self.reloads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(Err(error)) => crate::log(&format!("keeping the previous snapshot: {error}")),
            Err(error) => crate::log(&format!("keeping the previous snapshot: {error}")),
        }
        Arc::clone(&current.snapshot)
    }
}

/// Opens a snapshot whose watched files did not change while it was opened (a file replaced or
/// deleted in between means a writer committed meanwhile: try again).
fn open_consistent(dir: &Path) -> Result<(Snapshot, [FileStamp; 3]), ApiError> {
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(20 << attempt));
        }
        let before = stamp(dir);
        match Snapshot::open(dir) {
            Ok(snapshot) => {
                let clusters_fit = snapshot.clusters().is_none_or(|clusters| {
                    clusters.manifest().addresses <= snapshot.view().counts().addresses
                });
                if stamp(dir) == before && clusters_fit {
                    return Ok((snapshot, before));
                }
                last = "the store changed while it was opened".to_owned();
            }
            Err(error) => last = error.to_string(),
        }
    }
    Err(ApiError::Internal(format!("cannot open a consistent snapshot: {last}")))
}
