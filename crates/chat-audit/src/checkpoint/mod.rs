//! Where a sweep that spans invocations keeps its place.
//!
//! A [`Checkpoint`] is small (a page token, two times, the running [`Summary`] and a
//! lease), so any key-value store will do. Every save is a compare-and-swap on a version
//! number: two invocations that overlap (EventBridge delivers at least once, and a long
//! sweep can meet the next schedule) cannot both advance the same sweep.
//!
//! - [`DynamoDbStore`]: for Lambda. One item per audit in a table (`PAY_PER_REQUEST`),
//!   conditional writes, strongly consistent reads.
//! - [`FileStore`]: for command-line runs (one process at a time).
//! - [`MemoryStore`]: tests and embedding.
//! - [`NoStore`]: nothing is kept; each run sweeps from the newest room until it stops.

mod dynamodb;

pub use dynamodb::{DynamoDbStore, SEEN_TTL_SECS};

use crate::Summary;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Mutex;

/// The checkpoint format this crate writes. A sweep in progress under another format
/// (an older release mid-sweep) is started over rather than resumed on state it lacks.
pub const CHECKPOINT_FORMAT: u32 = 2;

/// The state a sweep carries between invocations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Checkpoint {
    /// The format it was written in ([`CHECKPOINT_FORMAT`]; 0 before formats existed).
    pub format: u32,
    /// The running sweep's ListRooms token (`None`: start from the newest room).
    pub next_token: Option<String>,
    /// True while a sweep is under way (it has started and not completed).
    pub in_progress: bool,
    /// The running sweep's totals so far.
    pub summary: Summary,
    /// When the last complete sweep started (seconds since the epoch). Rooms updated
    /// since then are the ones "changed since the last run".
    pub last_complete_started: Option<i64>,
    /// Until when (ms since the epoch) an invocation holds the sweep.
    pub lease_until_ms: u64,
    /// Who holds it (the Lambda request id or `cli-<pid>`).
    pub lease_owner: String,
    /// The policy's message limit bounds when the watermark was set: if they change,
    /// every room's limits are read again.
    pub limits: String,
    /// Pages of the running sweep whose rooms are recorded in the store's seen set
    /// ([`CheckpointStore::save_seen`]).
    pub pages: u64,
    /// 0 in the sweep's main pass over the listing; then the number of the catch-up pass
    /// under way (rooms changed or created since the sweep started).
    pub catch_up_pass: u32,
    /// Rooms the catch-up pass under way has found unchecked: a pass that finds none
    /// completes the sweep.
    pub catch_up_found: u64,
    /// Pages listed in the pass under way, over all invocations: a pass that lists far
    /// more pages than the rooms it has seen could fill does not end.
    pub pass_pages: u64,
}

/// The rooms first checked on one page of a sweep, saved with the checkpoint that
/// counts the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenPage<'a> {
    /// When the sweep started (seconds since the epoch): the sweep's identity.
    pub sweep: i64,
    /// The page's number in the sweep's seen set (0, 1, ...).
    pub page: u64,
    /// The rooms ([`room_key`](crate::seen::room_key)).
    pub rooms: &'a [u64],
}

/// Why the store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Someone else saved since this invocation loaded: it must stop.
    #[error("the checkpoint was changed by another invocation")]
    Conflict,
    /// A page of the seen set is gone (expired, deleted): the sweep cannot know what it
    /// has checked, so it starts over.
    #[error("{0}")]
    Incomplete(String),
    /// The store could not be read or written.
    #[error("checkpoint store: {0}")]
    Backend(String),
}

/// Loads and saves one checkpoint per audit, with compare-and-swap on a version.
pub trait CheckpointStore: Send + Sync {
    /// The checkpoint of `audit` and its version (0 when there is none).
    fn load(
        &self,
        audit: &str,
    ) -> impl Future<Output = Result<(Option<Checkpoint>, u64), StoreError>> + Send;
    /// Saves `cp` if the stored version is still `expected`; returns the new version.
    fn save(
        &self,
        audit: &str,
        cp: &Checkpoint,
        expected: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Saves `cp` and the rooms first checked on its last page, together and only if the
    /// stored version is still `expected` (a writer that lost the sweep must not leave
    /// its page in the seen set); returns the new version. Saving a page again replaces
    /// its rooms.
    fn save_page(
        &self,
        audit: &str,
        cp: &Checkpoint,
        expected: u64,
        seen: SeenPage<'_>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// The rooms recorded on pages `0..pages` of the sweep that started at `sweep`. A
    /// missing page is [`StoreError::Incomplete`].
    fn load_seen(
        &self,
        audit: &str,
        sweep: i64,
        pages: u64,
    ) -> impl Future<Output = Result<Vec<u64>, StoreError>> + Send;
    /// Forgets the seen set of a finished sweep (best effort: a store may let it expire).
    fn clear_seen(
        &self,
        audit: &str,
        sweep: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

fn missing_page(audit: &str, sweep: i64, page: u64) -> StoreError {
    StoreError::Incomplete(format!(
        "the seen rooms of page {page} of {audit}'s sweep {sweep} are missing"
    ))
}

/// Keeps nothing: every run starts a new sweep.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoStore;

impl CheckpointStore for NoStore {
    async fn load(&self, _: &str) -> Result<(Option<Checkpoint>, u64), StoreError> {
        Ok((None, 0))
    }
    async fn save(&self, _: &str, _: &Checkpoint, expected: u64) -> Result<u64, StoreError> {
        Ok(expected + 1)
    }
    async fn save_page(
        &self,
        _: &str,
        _: &Checkpoint,
        expected: u64,
        _: SeenPage<'_>,
    ) -> Result<u64, StoreError> {
        Ok(expected + 1)
    }
    /// A sweep without a store never resumes, so it never asks for pages it saved.
    async fn load_seen(&self, _: &str, _: i64, _: u64) -> Result<Vec<u64>, StoreError> {
        Ok(Vec::new())
    }
    async fn clear_seen(&self, _: &str, _: i64) -> Result<(), StoreError> {
        Ok(())
    }
}

/// In memory, for tests and for embedding in a long-running process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    items: Mutex<std::collections::HashMap<String, (Checkpoint, u64)>>,
    seen: Mutex<std::collections::HashMap<(String, i64, u64), Vec<u64>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
    /// The stored checkpoint of `audit`.
    pub fn get(&self, audit: &str) -> Option<Checkpoint> {
        let items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        items.get(audit).map(|(c, _)| c.clone())
    }
}

impl CheckpointStore for MemoryStore {
    async fn load(&self, audit: &str) -> Result<(Option<Checkpoint>, u64), StoreError> {
        let items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        Ok(match items.get(audit) {
            Some((c, v)) => (Some(c.clone()), *v),
            None => (None, 0),
        })
    }
    async fn save(&self, audit: &str, cp: &Checkpoint, expected: u64) -> Result<u64, StoreError> {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        compare_and_swap(&mut items, audit, cp, expected)
    }
    async fn save_page(
        &self,
        audit: &str,
        cp: &Checkpoint,
        expected: u64,
        page: SeenPage<'_>,
    ) -> Result<u64, StoreError> {
        // Both under the checkpoint lock: the page is saved only with the checkpoint.
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        let version = compare_and_swap(&mut items, audit, cp, expected)?;
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.insert(
            (audit.to_string(), page.sweep, page.page),
            page.rooms.to_vec(),
        );
        Ok(version)
    }
    async fn load_seen(&self, audit: &str, sweep: i64, pages: u64) -> Result<Vec<u64>, StoreError> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for page in 0..pages {
            let rooms = seen
                .get(&(audit.to_string(), sweep, page))
                .ok_or_else(|| missing_page(audit, sweep, page))?;
            out.extend_from_slice(rooms);
        }
        Ok(out)
    }
    async fn clear_seen(&self, audit: &str, sweep: i64) -> Result<(), StoreError> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|(a, s, _), _| !(a == audit && *s == sweep));
        Ok(())
    }
}

/// Stores `cp` as `audit`'s checkpoint if its version is still `expected`.
fn compare_and_swap(
    items: &mut std::collections::HashMap<String, (Checkpoint, u64)>,
    audit: &str,
    cp: &Checkpoint,
    expected: u64,
) -> Result<u64, StoreError> {
    let current = items.get(audit).map_or(0, |(_, v)| *v);
    if current != expected {
        return Err(StoreError::Conflict);
    }
    items.insert(audit.to_string(), (cp.clone(), expected + 1));
    Ok(expected + 1)
}

/// A JSON file per audit in a directory (`<dir>/<audit>.json`), for command-line runs.
/// The version check guards against a stale writer, not against two processes racing.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Versioned {
    version: u64,
    checkpoint: Checkpoint,
}

impl FileStore {
    /// Checkpoints in `dir` (created on first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
    fn path(&self, audit: &str) -> PathBuf {
        self.dir.join(format!("{audit}.json"))
    }
    fn seen_path(&self, audit: &str, sweep: i64) -> PathBuf {
        self.dir.join(format!("{audit}.seen-{sweep}"))
    }
    fn io(&self) -> impl Fn(std::io::Error) -> StoreError + '_ {
        |e| StoreError::Backend(format!("{}: {e}", self.dir.display()))
    }
    /// Fails with `Conflict` unless `audit`'s stored version is `expected`.
    fn expect_version(&self, audit: &str, expected: u64) -> Result<(), StoreError> {
        let current = self.read(audit)?.map_or(0, |v| v.version);
        if current == expected {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }
    /// Writes `cp` as version `expected + 1` (the version was checked by the caller).
    fn write(&self, audit: &str, cp: &Checkpoint, expected: u64) -> Result<u64, StoreError> {
        let io = self.io();
        std::fs::create_dir_all(&self.dir).map_err(&io)?;
        let body = serde_json::to_vec_pretty(&Versioned {
            version: expected + 1,
            checkpoint: cp.clone(),
        })
        .map_err(|e| StoreError::Backend(e.to_string()))?;
        // Write then rename, so a crash never leaves half a checkpoint.
        let tmp = self.dir.join(format!(".{audit}.json.tmp"));
        std::fs::write(&tmp, body).map_err(&io)?;
        std::fs::rename(&tmp, self.path(audit)).map_err(&io)?;
        Ok(expected + 1)
    }
    fn read(&self, audit: &str) -> Result<Option<Versioned>, StoreError> {
        match std::fs::read(self.path(audit)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                StoreError::Backend(format!(
                    "{} is not a checkpoint ({e}); delete it to start a new sweep",
                    self.path(audit).display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Backend(format!(
                "{}: {e}",
                self.path(audit).display()
            ))),
        }
    }
}

impl CheckpointStore for FileStore {
    async fn load(&self, audit: &str) -> Result<(Option<Checkpoint>, u64), StoreError> {
        Ok(match self.read(audit)? {
            Some(v) => (Some(v.checkpoint), v.version),
            None => (None, 0),
        })
    }
    async fn save(&self, audit: &str, cp: &Checkpoint, expected: u64) -> Result<u64, StoreError> {
        self.expect_version(audit, expected)?;
        self.write(audit, cp, expected)
    }
    /// The page is one line (`<page> <rooms>`) appended to the sweep's seen file (a later
    /// line for a page wins; a line a crash cut short is ended first and then ignored),
    /// then the checkpoint is written. One process at a time, as for `save`.
    async fn save_page(
        &self,
        audit: &str,
        cp: &Checkpoint,
        expected: u64,
        page: SeenPage<'_>,
    ) -> Result<u64, StoreError> {
        use std::io::{Read, Seek, SeekFrom, Write};
        self.expect_version(audit, expected)?;
        let io = self.io();
        std::fs::create_dir_all(&self.dir).map_err(&io)?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(self.seen_path(audit, page.sweep))
            .map_err(&io)?;
        let len = file.metadata().map_err(&io)?.len();
        let mut last = [b'\n'];
        if len > 0 {
            file.seek(SeekFrom::Start(len - 1)).map_err(&io)?;
            file.read_exact(&mut last).map_err(&io)?;
        }
        let lead = if last[0] == b'\n' { "" } else { "\n" };
        let line = format!("{lead}{} {}\n", page.page, crate::seen::encode(page.rooms));
        file.write_all(line.as_bytes()).map_err(&io)?;
        self.write(audit, cp, expected)
    }
    async fn load_seen(&self, audit: &str, sweep: i64, pages: u64) -> Result<Vec<u64>, StoreError> {
        let path = self.seen_path(audit, sweep);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(StoreError::Backend(format!("{}: {e}", path.display()))),
        };
        let mut by_page = std::collections::HashMap::new();
        for line in text.lines() {
            // A line without its separator was cut short: its page was redone.
            let Some((page, rooms)) = line.split_once(' ') else {
                continue;
            };
            match (page.parse::<u64>(), crate::seen::decode(rooms)) {
                (Ok(page), Some(rooms)) => {
                    by_page.insert(page, rooms);
                }
                // A line cut short by a crash mid-write: that page is redone anyway.
                _ => continue,
            }
        }
        let mut out = Vec::new();
        for page in 0..pages {
            let rooms = by_page
                .remove(&page)
                .ok_or_else(|| missing_page(audit, sweep, page))?;
            out.extend(rooms);
        }
        Ok(out)
    }
    async fn clear_seen(&self, audit: &str, sweep: i64) -> Result<(), StoreError> {
        match std::fs::remove_file(self.seen_path(audit, sweep)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(self.io()(e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn contract(store: &impl CheckpointStore) {
        assert_eq!(store.load("room-audit").await.unwrap(), (None, 0));
        let cp = Checkpoint {
            next_token: Some("t1".into()),
            in_progress: true,
            ..Checkpoint::default()
        };
        assert_eq!(store.save("room-audit", &cp, 0).await.unwrap(), 1);
        assert_eq!(
            store.save("room-audit", &cp, 0).await,
            Err(StoreError::Conflict)
        );
        assert_eq!(
            store.load("room-audit").await.unwrap(),
            (Some(cp.clone()), 1)
        );
        assert_eq!(store.save("room-audit", &cp, 1).await.unwrap(), 2);
        // Audits are independent.
        assert_eq!(store.load("tag-audit").await.unwrap(), (None, 0));
        // Seen rooms: a page saved again is replaced; a missing page is an error; a page is
        // saved only with its checkpoint.
        let page = |sweep, page, rooms| SeenPage { sweep, page, rooms };
        let mut v = 2;
        for (audit, sweep, n, rooms) in [
            ("room-audit", 7, 0, &[1u64, 2][..]),
            ("room-audit", 7, 1, &[3]),
            ("room-audit", 7, 1, &[4, 5]),
            ("room-audit", 8, 0, &[9]),
        ] {
            v = store
                .save_page(audit, &cp, v, page(sweep, n, rooms))
                .await
                .unwrap();
        }
        store
            .save_page("tag-audit", &cp, 0, page(7, 0, &[6]))
            .await
            .unwrap();
        assert_eq!(
            store
                .save_page("room-audit", &cp, v - 1, page(7, 2, &[10]))
                .await,
            Err(StoreError::Conflict)
        );
        assert!(matches!(
            store.load_seen("room-audit", 7, 3).await,
            Err(StoreError::Incomplete(_))
        ));
        let mut seen = store.load_seen("room-audit", 7, 2).await.unwrap();
        seen.sort();
        assert_eq!(seen, [1, 2, 4, 5]);
        assert_eq!(
            store.load_seen("room-audit", 7, 0).await.unwrap(),
            [0u64; 0]
        );
        let err = store.load_seen("room-audit", 7, 3).await.unwrap_err();
        assert!(err.to_string().contains("page 2"), "{err}");
        store.clear_seen("room-audit", 7).await.unwrap();
        assert!(store.load_seen("room-audit", 7, 1).await.is_err());
        assert_eq!(store.load_seen("room-audit", 8, 1).await.unwrap(), [9]);
        assert_eq!(store.load_seen("tag-audit", 7, 1).await.unwrap(), [6]);
    }

    #[tokio::test]
    async fn memory_store_compares_and_swaps() {
        contract(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn file_store_compares_and_swaps() {
        let dir = std::env::temp_dir().join(format!(
            "chat-audit-store-{}-{}",
            std::process::id(),
            line!()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        contract(&FileStore::new(&dir)).await;
        // A line a crash cut short is ended before the next page and then ignored.
        let store = FileStore::new(&dir);
        std::fs::write(dir.join("cut.seen-1"), "0 00000000000000").unwrap();
        let cp = Checkpoint::default();
        let page = |page, rooms| SeenPage {
            sweep: 1,
            page,
            rooms,
        };
        store.save_page("cut", &cp, 0, page(0, &[5])).await.unwrap();
        store.save_page("cut", &cp, 1, page(1, &[])).await.unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("cut.seen-1"))
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"2"))
            .unwrap();
        assert_eq!(store.load_seen("cut", 1, 2).await.unwrap(), [5]);
        assert!(store.load_seen("cut", 1, 3).await.is_err());
        std::fs::write(dir.join("bad.json"), "{").unwrap();
        let err = FileStore::new(&dir).load("bad").await.unwrap_err();
        assert!(err.to_string().contains("delete it"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
