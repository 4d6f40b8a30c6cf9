//! The DynamoDB checkpoint store: one item per audit for the checkpoint, one item per
//! page of a running sweep for its seen rooms, written together in a transaction.

use super::{Checkpoint, CheckpointStore, SeenPage, StoreError, missing_page};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::AttributeValue::S;
use std::collections::HashMap;

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
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("audit", S(audit.to_string()))
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
        let (item, condition, values) = checkpoint_item(audit, cp, expected)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(values)
            .send()
            .await;
        match result {
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

    /// One TransactWriteItems: the checkpoint, conditional on its version, and the page's
    /// item, keyed `<audit>#seen#<sweep>#<page>` (under 1 KB) with `expires_at` for the
    /// table's TTL, so finished sweeps clean up after themselves. A writer that lost the
    /// sweep writes neither.
    async fn save_page(
        &self,
        audit: &str,
        cp: &Checkpoint,
        expected: u64,
        seen: SeenPage<'_>,
    ) -> Result<u64, StoreError> {
        use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
        let (item, condition, values) = checkpoint_item(audit, cp, expected)?;
        let checkpoint = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(values)
            .build()
            .map_err(|e| backend("TransactWriteItems", e))?;
        let expires = crate::sweep::now_ms() / 1000 + SEEN_TTL_SECS;
        let page = Put::builder()
            .table_name(&self.table)
            .item("audit", S(seen_key(audit, seen.sweep, seen.page)))
            .item("seen", S(crate::seen::encode(seen.rooms)))
            .item("expires_at", AttributeValue::N(expires.to_string()))
            .build()
            .map_err(|e| backend("TransactWriteItems", e))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(checkpoint).build())
            .transact_items(TransactWriteItem::builder().put(page).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(expected + 1),
            Err(e) => {
                let lost = e
                    .as_service_error()
                    .and_then(|s| match s {
                        TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
                        _ => None,
                    })
                    .is_some_and(|c| {
                        c.cancellation_reasons()
                            .iter()
                            .any(|r| r.code() == Some("ConditionalCheckFailed"))
                    });
                if lost {
                    Err(StoreError::Conflict)
                } else {
                    Err(backend("TransactWriteItems", e))
                }
            }
        }
    }

    /// BatchGetItem, 100 pages a request, consistent reads; unprocessed keys are asked for
    /// again with a growing pause.
    async fn load_seen(&self, audit: &str, sweep: i64, pages: u64) -> Result<Vec<u64>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found: std::collections::HashMap<String, Vec<u64>> = Default::default();
        let keys: Vec<String> = (0..pages).map(|p| seen_key(audit, sweep, p)).collect();
        for chunk in keys.chunks(100) {
            let mut request = KeysAndAttributes::builder().consistent_read(true);
            for key in chunk {
                request = request.keys([("audit".to_string(), S(key.clone()))].into());
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
                    // Ask again, strongly consistent whatever the service echoed.
                    request = Some(
                        KeysAndAttributes::builder()
                            .set_keys(Some(more.keys().to_vec()))
                            .consistent_read(true)
                            .build()
                            .map_err(|e| backend("BatchGetItem", e))?,
                    );
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

type Item = HashMap<String, AttributeValue>;

/// The checkpoint's item and the condition that it is still at version `expected`.
fn checkpoint_item(
    audit: &str,
    cp: &Checkpoint,
    expected: u64,
) -> Result<(Item, &'static str, Option<Item>), StoreError> {
    let body = serde_json::to_string(cp).map_err(|e| StoreError::Backend(e.to_string()))?;
    let item = HashMap::from([
        ("audit".to_string(), S(audit.to_string())),
        (
            "version".to_string(),
            AttributeValue::N((expected + 1).to_string()),
        ),
        ("checkpoint".to_string(), S(body)),
    ]);
    Ok(if expected == 0 {
        (item, "attribute_not_exists(audit)", None)
    } else {
        let values = HashMap::from([(":v".to_string(), AttributeValue::N(expected.to_string()))]);
        (item, "version = :v", Some(values))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dynamodb_store_reads_and_writes_conditionally() {
        use aws_sdk_dynamodb::Client;
        use aws_sdk_dynamodb::config::retry::RetryConfig;
        use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
        use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
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
                .item("audit", S("room-audit".into()))
                .item("version", AttributeValue::N("4".into()))
                .item("checkpoint", S(body.clone()))
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
    async fn dynamodb_store_keeps_seen_rooms_a_page_an_item() {
        use aws_sdk_dynamodb::Client;
        use aws_sdk_dynamodb::config::retry::RetryConfig;
        use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
        use aws_sdk_dynamodb::types::error::TransactionCanceledException;
        use aws_sdk_dynamodb::types::{CancellationReason, KeysAndAttributes};
        use aws_smithy_mocks::{RuleMode, mock, mock_client};

        let item = |page: u64| -> HashMap<String, AttributeValue> {
            HashMap::from([
                ("audit".into(), S(seen_key("room-audit", 5, page))),
                ("seen".into(), S(crate::seen::encode(&[page]))),
            ])
        };
        let put = mock!(Client::transact_write_items)
            .match_requests(|r| {
                let items = r.transact_items();
                let cp = items[0].put().unwrap();
                let page = items[1].put().unwrap().item();
                cp.condition_expression() == Some("version = :v")
                    && page["audit"] == S("room-audit#seen#5#3".into())
                    && page["seen"] == S(crate::seen::encode(&[7, 8]))
                    && page.contains_key("expires_at")
            })
            .then_output(|| TransactWriteItemsOutput::builder().build());
        let lost = mock!(Client::transact_write_items).then_error(|| {
            TransactWriteItemsError::TransactionCanceledException(
                TransactionCanceledException::builder()
                    .cancellation_reasons(
                        CancellationReason::builder()
                            .code("ConditionalCheckFailed")
                            .build(),
                    )
                    .cancellation_reasons(CancellationReason::builder().code("None").build())
                    .build(),
            )
        });
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
                                    S(seen_key("room-audit", 5, p)),
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
            .match_requests(|r| {
                let k = &r.request_items().unwrap()["audits"];
                k.keys().len() == 10 && k.consistent_read() == Some(true)
            })
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
            [&put, &lost, &first, &retry, &second],
            |b| b.retry_config(RetryConfig::disabled())
        );
        let store = DynamoDbStore::new(client, "audits");
        let cp = Checkpoint::default();
        let page = SeenPage {
            sweep: 5,
            page: 3,
            rooms: &[7, 8],
        };
        assert_eq!(store.save_page("room-audit", &cp, 4, page).await, Ok(5));
        assert_eq!(
            store.save_page("room-audit", &cp, 4, page).await,
            Err(StoreError::Conflict)
        );
        let mut seen = store.load_seen("room-audit", 5, 150).await.unwrap();
        seen.sort();
        assert_eq!(seen, (0..150).collect::<Vec<u64>>());
        assert_eq!(
            (first.num_calls(), retry.num_calls(), second.num_calls()),
            (1, 1, 1)
        );
    }
}
