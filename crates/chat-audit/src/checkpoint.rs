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
}

/// In memory, for tests and for embedding in a long-running process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    items: Mutex<std::collections::HashMap<String, (Checkpoint, u64)>>,
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
        let io = |e: std::io::Error| StoreError::Backend(format!("{}: {e}", self.dir.display()));
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let body = serde_json::to_vec_pretty(&Versioned {
            version: expected + 1,
            checkpoint: cp.clone(),
        })
        .map_err(|e| StoreError::Backend(e.to_string()))?;
        // Write then rename, so a crash never leaves half a checkpoint.
        let tmp = self.dir.join(format!(".{audit}.json.tmp"));
        std::fs::write(&tmp, body).map_err(io)?;
        std::fs::rename(&tmp, self.path(audit)).map_err(io)?;
        Ok(expected + 1)
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
