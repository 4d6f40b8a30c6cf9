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

use crate::Summary;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Mutex;

/// The state a sweep carries between invocations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Checkpoint {
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
}

/// Why the store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Someone else saved since this invocation loaded: it must stop.
    #[error("the checkpoint was changed by another invocation")]
    Conflict,
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
    /// Records the rooms checked on page `page` of the sweep that started at `sweep`
    /// (see [`seen`](crate::seen)); saving a page again replaces its rooms.
    fn save_seen(
        &self,
        audit: &str,
        sweep: i64,
        page: u64,
        rooms: &[u64],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The rooms recorded on pages `0..pages` of the sweep that started at `sweep`. A
    /// missing page is an error: the sweep cannot know what it has checked.
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
    StoreError::Backend(format!(
        "the seen rooms of page {page} of {audit}'s sweep {sweep} are missing; delete the checkpoint to start a new sweep"
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
    async fn save_seen(&self, _: &str, _: i64, _: u64, _: &[u64]) -> Result<(), StoreError> {
        Ok(())
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
        let current = items.get(audit).map_or(0, |(_, v)| *v);
        if current != expected {
            return Err(StoreError::Conflict);
        }
        items.insert(audit.to_string(), (cp.clone(), expected + 1));
        Ok(expected + 1)
    }
    async fn save_seen(
        &self,
        audit: &str,
        sweep: i64,
        page: u64,
        rooms: &[u64],
    ) -> Result<(), StoreError> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.insert((audit.to_string(), sweep, page), rooms.to_vec());
        Ok(())
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
        let current = self.read(audit)?.map_or(0, |v| v.version);
        if current != expected {
            return Err(StoreError::Conflict);
        }
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
    /// One line a page (`<page> <rooms>`), appended; a later line for a page wins.
    async fn save_seen(
        &self,
        audit: &str,
        sweep: i64,
        page: u64,
        rooms: &[u64],
    ) -> Result<(), StoreError> {
        use std::io::Write;
        let io = self.io();
        std::fs::create_dir_all(&self.dir).map_err(&io)?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.seen_path(audit, sweep))
            .map_err(&io)?;
        writeln!(file, "{page} {}", crate::seen::encode(rooms)).map_err(&io)
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
            let (page, rooms) = line.split_once(' ').unwrap_or((line, ""));
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

/// A DynamoDB table with a string partition key `audit`; each audit's checkpoint is one
/// item (`audit`, `version`, `checkpoint` as JSON). Saves are conditional on `version`.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoDbStore {
    /// The store in `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn backend<E>(what: &str, e: E) -> StoreError
where
    E: std::error::Error + 'static,
{
    StoreError::Backend(format!(
        "{what}: {}",
        aws_sdk_dynamodb::error::DisplayErrorContext(&e)
    ))
}

impl CheckpointStore for DynamoDbStore {
    async fn load(&self, audit: &str) -> Result<(Option<Checkpoint>, u64), StoreError> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("audit", AttributeValue::S(audit.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem", e))?;
        let Some(item) = out.item() else {
            return Ok((None, 0));
        };
        let version = item
            .get("version")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| StoreError::Backend(format!("item {audit:?} has no numeric version")))?;
        let body = item
            .get("checkpoint")
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| StoreError::Backend(format!("item {audit:?} has no checkpoint")))?;
        let cp = serde_json::from_str(body).map_err(|e| {
            StoreError::Backend(format!(
                "item {audit:?} does not hold a checkpoint ({e}); delete it to start a new sweep"
            ))
        })?;
        Ok((Some(cp), version))
    }

    async fn save(&self, audit: &str, cp: &Checkpoint, expected: u64) -> Result<u64, StoreError> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let body = serde_json::to_string(cp).map_err(|e| StoreError::Backend(e.to_string()))?;
        let req = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("audit", AttributeValue::S(audit.to_string()))
            .item("version", AttributeValue::N((expected + 1).to_string()))
            .item("checkpoint", AttributeValue::S(body));
        let req = if expected == 0 {
            req.condition_expression("attribute_not_exists(audit)")
        } else {
            req.condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(expected.to_string()))
        };
        match req.send().await {
            Ok(_) => Ok(expected + 1),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(backend("PutItem", e)),
        }
    }

    /// One item a page, keyed `<audit>#seen#<sweep>#<page>` (under 1 KB: one write unit),
    /// with `expires_at` for the table's TTL, so finished sweeps clean up after themselves.
    async fn save_seen(
        &self,
        audit: &str,
        sweep: i64,
        page: u64,
        rooms: &[u64],
    ) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let expires = crate::sweep::now_ms() / 1000 + SEEN_TTL_SECS;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("audit", AttributeValue::S(seen_key(audit, sweep, page)))
            .item("seen", AttributeValue::S(crate::seen::encode(rooms)))
            .item("expires_at", AttributeValue::N(expires.to_string()))
            .send()
            .await
            .map_err(|e| backend("PutItem (seen rooms)", e))?;
        Ok(())
    }

    /// BatchGetItem, 100 pages a request, consistent reads; unprocessed keys are asked for
    /// again with a growing pause.
    async fn load_seen(&self, audit: &str, sweep: i64, pages: u64) -> Result<Vec<u64>, StoreError> {
        use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
        let mut found: std::collections::HashMap<String, Vec<u64>> = Default::default();
        let keys: Vec<String> = (0..pages).map(|p| seen_key(audit, sweep, p)).collect();
        for chunk in keys.chunks(100) {
            let mut request = KeysAndAttributes::builder().consistent_read(true);
            for key in chunk {
                request =
                    request.keys([("audit".to_string(), AttributeValue::S(key.clone()))].into());
            }
            let mut request = Some(request.build().map_err(|e| backend("BatchGetItem", e))?);
            let mut attempt = 0u32;
            while let Some(keys) = request.take() {
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt.min(6)))
                        .await;
                }
                attempt += 1;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, keys)
                    .send()
                    .await
                    .map_err(|e| backend("BatchGetItem (seen rooms)", e))?;
                for item in out
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let key = item.get("audit").and_then(|v| v.as_s().ok());
                    let rooms = item
                        .get("seen")
                        .and_then(|v| v.as_s().ok())
                        .and_then(|t| crate::seen::decode(t));
                    match (key, rooms) {
                        (Some(k), Some(r)) => {
                            found.insert(k.clone(), r);
                        }
                        _ => {
                            return Err(StoreError::Backend(format!(
                                "an item of {audit}'s seen rooms is damaged; delete the checkpoint to start a new sweep"
                            )));
                        }
                    }
                }
                let unprocessed = out
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .filter(|k| !k.keys().is_empty());
                if let Some(more) = unprocessed {
                    if attempt >= 8 {
                        return Err(StoreError::Backend(
                            "BatchGetItem left keys unprocessed 8 times: the table is throttled"
                                .into(),
                        ));
                    }
                    request = Some(more.clone());
                }
            }
        }
        let mut out = Vec::new();
        for (page, key) in keys.iter().enumerate() {
            let rooms = found
                .remove(key)
                .ok_or_else(|| missing_page(audit, sweep, page as u64))?;
            out.extend(rooms);
        }
        Ok(out)
    }

    /// Nothing to do: the items expire through the table's TTL (deleting a sweep's pages
    /// would cost a write each).
    async fn clear_seen(&self, _: &str, _: i64) -> Result<(), StoreError> {
        Ok(())
    }
}

/// How long the seen rooms of a sweep are kept (the table's TTL removes them after).
pub const SEEN_TTL_SECS: u64 = 14 * 86_400;

fn seen_key(audit: &str, sweep: i64, page: u64) -> String {
    format!("{audit}#seen#{sweep}#{page}")
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
        // Seen rooms: a page saved again is replaced; a missing page is an error.
        store.save_seen("room-audit", 7, 0, &[1, 2]).await.unwrap();
        store.save_seen("room-audit", 7, 1, &[3]).await.unwrap();
        store.save_seen("room-audit", 7, 1, &[4, 5]).await.unwrap();
        store.save_seen("room-audit", 8, 0, &[9]).await.unwrap();
        store.save_seen("tag-audit", 7, 0, &[6]).await.unwrap();
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
    async fn dynamodb_store_keeps_seen_rooms_a_page_an_item() {
        use aws_sdk_dynamodb::Client;
        use aws_sdk_dynamodb::config::retry::RetryConfig;
        use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
        use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
        use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        use std::collections::HashMap;

        let item = |page: u64| -> HashMap<String, AttributeValue> {
            HashMap::from([
                (
                    "audit".into(),
                    AttributeValue::S(seen_key("room-audit", 5, page)),
                ),
                (
                    "seen".into(),
                    AttributeValue::S(crate::seen::encode(&[page])),
                ),
            ])
        };
        let put = mock!(Client::put_item)
            .match_requests(|r| {
                let i = r.item().unwrap();
                i["audit"] == AttributeValue::S("room-audit#seen#5#3".into())
                    && i["seen"] == AttributeValue::S(crate::seen::encode(&[7, 8]))
                    && i.contains_key("expires_at")
            })
            .then_output(|| PutItemOutput::builder().build());
        // 150 pages: two requests of 100 and 50 keys; the first leaves 10 unprocessed,
        // asked for again.
        let first = mock!(Client::batch_get_item)
            .match_requests(|r| {
                let k = &r.request_items().unwrap()["audits"];
                k.keys().len() == 100 && k.consistent_read() == Some(true)
            })
            .then_output(move || {
                let unprocessed = KeysAndAttributes::builder()
                    .set_keys(Some(
                        (90..100)
                            .map(|p| {
                                HashMap::from([(
                                    "audit".to_string(),
                                    AttributeValue::S(seen_key("room-audit", 5, p)),
                                )])
                            })
                            .collect(),
                    ))
                    .build()
                    .unwrap();
                BatchGetItemOutput::builder()
                    .responses("audits", (0..90).map(item).collect())
                    .unprocessed_keys("audits", unprocessed)
                    .build()
            });
        let retry = mock!(Client::batch_get_item)
            .match_requests(|r| r.request_items().unwrap()["audits"].keys().len() == 10)
            .then_output(move || {
                BatchGetItemOutput::builder()
                    .responses("audits", (90..100).map(item).collect())
                    .build()
            });
        let second = mock!(Client::batch_get_item)
            .match_requests(|r| r.request_items().unwrap()["audits"].keys().len() == 50)
            .then_output(move || {
                BatchGetItemOutput::builder()
                    .responses("audits", (100..150).map(item).collect())
                    .build()
            });
        let client = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::Sequential,
            [&put, &first, &retry, &second],
            |b| b.retry_config(RetryConfig::disabled())
        );
        let store = DynamoDbStore::new(client, "audits");
        store.save_seen("room-audit", 5, 3, &[7, 8]).await.unwrap();
        let mut seen = store.load_seen("room-audit", 5, 150).await.unwrap();
        seen.sort();
        assert_eq!(seen, (0..150).collect::<Vec<u64>>());
        assert_eq!(
            (first.num_calls(), retry.num_calls(), second.num_calls()),
            (1, 1, 1)
        );
    }

    #[tokio::test]
    async fn dynamodb_store_reads_and_writes_conditionally() {
        use aws_sdk_dynamodb::Client;
        use aws_sdk_dynamodb::config::retry::RetryConfig;
        use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
        use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
        use aws_sdk_dynamodb::types::AttributeValue;
        use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
        use aws_smithy_mocks::{RuleMode, mock, mock_client};

        let cp = Checkpoint {
            next_token: Some("t7".into()),
            in_progress: true,
            ..Checkpoint::default()
        };
        let body = serde_json::to_string(&cp).unwrap();
        let absent = mock!(Client::get_item)
            .match_requests(|r| {
                r.consistent_read() == Some(true) && r.table_name() == Some("audits")
            })
            .then_output(|| GetItemOutput::builder().build());
        let present = mock!(Client::get_item).then_output(move || {
            GetItemOutput::builder()
                .item("audit", AttributeValue::S("room-audit".into()))
                .item("version", AttributeValue::N("4".into()))
                .item("checkpoint", AttributeValue::S(body.clone()))
                .build()
        });
        let first = mock!(Client::put_item)
            .match_requests(|r| {
                r.condition_expression() == Some("attribute_not_exists(audit)")
                    && r.item().and_then(|i| i.get("version"))
                        == Some(&AttributeValue::N("1".into()))
            })
            .then_output(|| PutItemOutput::builder().build());
        let next = mock!(Client::put_item)
            .match_requests(|r| {
                r.condition_expression() == Some("version = :v")
                    && r.expression_attribute_values().and_then(|v| v.get(":v"))
                        == Some(&AttributeValue::N("4".into()))
            })
            .then_output(|| PutItemOutput::builder().build());
        let lost = mock!(Client::put_item).then_error(|| {
            PutItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder().build(),
            )
        });
        let client = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::Sequential,
            [&absent, &present, &first, &next, &lost],
            |b| b.retry_config(RetryConfig::disabled())
        );
        let store = DynamoDbStore::new(client, "audits");
        assert_eq!(store.load("room-audit").await.unwrap(), (None, 0));
        assert_eq!(
            store.load("room-audit").await.unwrap(),
            (Some(cp.clone()), 4)
        );
        assert_eq!(store.save("room-audit", &cp, 0).await.unwrap(), 1);
        assert_eq!(store.save("room-audit", &cp, 4).await.unwrap(), 5);
        assert_eq!(
            store.save("room-audit", &cp, 4).await,
            Err(StoreError::Conflict)
        );
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
        std::fs::write(dir.join("bad.json"), "{").unwrap();
        let err = FileStore::new(&dir).load("bad").await.unwrap_err();
        assert!(err.to_string().contains("delete it"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
