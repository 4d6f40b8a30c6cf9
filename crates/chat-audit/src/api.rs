//! Calling the IVS Chat API within a request-rate budget: pacing per quota group, retries
//! with backoff for throttling, 5xx, timeouts and malformed responses, and a clean stop
//! before the invocation's deadline.

use aws_sdk_ivschat::config::http::HttpResponse;
use aws_sdk_ivschat::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;
// Tokio's clock, so tests can pause time.
use tokio::time::Instant;

/// The IVS Chat control-plane quota groups (per account and Region, shared with the
/// application that owns the rooms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    /// Create/Delete/Get/List/UpdateRoom: 5 TPS.
    Room,
    /// List/Tag/UntagResource: 10 TPS.
    Tag,
    /// *LoggingConfiguration: 3 TPS.
    Logging,
}

/// Requests per second the auditor allows itself, per quota group.
///
/// The defaults take a fifth of each quota (1 of 5 room TPS, 2 of 10 tag TPS, 0.5 of 3
/// logging TPS), so the room audit and the tag audit together leave most of it to the
/// application. A throttled group slows down further on its own (see [`Budget`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// Room operations per second.
    pub room_tps: f64,
    /// Tag operations per second.
    pub tag_tps: f64,
    /// Logging configuration operations per second.
    pub logging_tps: f64,
    /// Attempts per call (the first and the retries).
    pub max_attempts: u32,
    /// First backoff; it doubles per retry (with full jitter) up to `max_backoff`.
    pub base_backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            room_tps: 1.0,
            tag_tps: 2.0,
            logging_tps: 0.5,
            max_attempts: 6,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(20),
        }
    }
}

/// Why a call failed for good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The function's role may not call this operation. Not retried.
    #[error(
        "access denied on ivschat:{operation}: grant the function's role ivschat:{operation} (template.yaml does, for remediation only when Remediation=apply): {detail}"
    )]
    AccessDenied {
        /// The operation.
        operation: &'static str,
        /// The service's message.
        detail: String,
    },
    /// The resource does not exist (for example a room deleted mid-sweep).
    #[error("ivschat:{operation}: resource not found")]
    NotFound {
        /// The operation.
        operation: &'static str,
    },
    /// Throttling, 5xx, timeouts or malformed responses outlasted the retries.
    #[error("ivschat:{operation} failed after {attempts} attempts: {detail}")]
    Exhausted {
        /// The operation.
        operation: &'static str,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        detail: String,
    },
    /// The service rejected the request (validation, conflict...). Not retried.
    #[error("ivschat:{operation} was rejected: {detail}")]
    Rejected {
        /// The operation.
        operation: &'static str,
        /// The error code (`ValidationException`, ...), if any.
        code: Option<String>,
        /// The service's message.
        detail: String,
    },
    /// Waiting for the budget or a backoff would run past the stop time.
    #[error("ivschat:{operation} not attempted: the invocation is about to reach its deadline")]
    Deadline {
        /// The operation.
        operation: &'static str,
    },
}

/// How an error is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Throttled,
    Transient,
    NotFound,
    AccessDenied,
    Rejected,
}

pub(crate) fn classify<E: ProvideErrorMetadata, R>(
    err: &SdkError<E, R>,
    status: Option<u16>,
) -> Class {
    match err {
        SdkError::ServiceError(se) => match se.err().code() {
            Some("ThrottlingException" | "TooManyRequestsException") => Class::Throttled,
            Some("AccessDeniedException") => Class::AccessDenied,
            Some("ResourceNotFoundException") => Class::NotFound,
            Some("InternalServerException" | "ServiceUnavailableException") => Class::Transient,
            _ => match status {
                Some(429) => Class::Throttled,
                Some(403) => Class::AccessDenied,
                Some(404) => Class::NotFound,
                Some(s) if s >= 500 => Class::Transient,
                // A success status whose body could not be read: a malformed response.
                Some(200..=299) => Class::Transient,
                _ => Class::Rejected,
            },
        },
        // Timeouts, connection failures and responses that could not be read or parsed.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Class::Transient
        }
        _ => Class::Rejected,
    }
}

struct Pacer {
    base: Duration,
    interval: Duration,
    next: Instant,
}

/// Paces calls per quota group, retries what is worth retrying, counts what it did, and
/// never waits past the stop time.
///
/// Pacing is strict (no bursts): a group at 1 TPS sends one request per second. A
/// throttled group doubles its interval (up to 16 times the configured one) and recovers
/// by a tenth per successful call, so an auditor that meets an application's burst backs
/// off instead of competing with it.
pub struct Budget {
    config: BudgetConfig,
    pacers: BTreeMap<Group, Pacer>,
    stop_at: Option<Instant>,
    rng: u64,
    /// Calls by operation.
    pub calls: BTreeMap<String, u64>,
    /// Throttling responses.
    pub throttles: u64,
    /// Retries.
    pub retries: u64,
}

/// The lowest rate a budget paces at (one call every 100 s); lower rates are raised to it.
pub const MIN_TPS: f64 = 0.01;

fn interval(tps: f64) -> Duration {
    if tps.is_finite() && tps > 0.0 {
        Duration::try_from_secs_f64(1.0 / tps.max(MIN_TPS)).unwrap_or(Duration::from_secs(100))
    } else {
        Duration::ZERO
    }
}

impl Budget {
    /// A budget; `stop_at` is when calls stop being started (the deadline minus a reserve).
    pub fn new(config: BudgetConfig, stop_at: Option<std::time::Instant>) -> Self {
        let stop_at = stop_at.map(Instant::from_std);
        let mut config = config;
        config.max_backoff = config.max_backoff.min(Duration::from_secs(300));
        config.base_backoff = config.base_backoff.min(config.max_backoff);
        let now = Instant::now();
        let pacer = |tps| Pacer {
            base: interval(tps),
            interval: interval(tps),
            next: now,
        };
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        Self {
            pacers: [
                (Group::Room, pacer(config.room_tps)),
                (Group::Tag, pacer(config.tag_tps)),
                (Group::Logging, pacer(config.logging_tps)),
            ]
            .into(),
            config,
            stop_at,
            rng: seed | 1,
            calls: BTreeMap::new(),
            throttles: 0,
            retries: 0,
        }
    }

    /// The time left before calls stop, if there is a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.stop_at
            .map(|t| t.saturating_duration_since(Instant::now()))
    }

    /// Total calls made.
    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }

    fn jitter(&mut self, max: Duration) -> Duration {
        // xorshift64*: full jitter does not need a cryptographic source.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        max.mul_f64((r >> 11) as f64 / (1u64 << 53) as f64)
    }

    async fn wait_until(&self, t: Instant, operation: &'static str) -> Result<(), ApiError> {
        if self.stop_at.is_some_and(|stop| t > stop) {
            return Err(ApiError::Deadline { operation });
        }
        tokio::time::sleep_until(t).await;
        Ok(())
    }

    async fn acquire(&mut self, group: Group, operation: &'static str) -> Result<(), ApiError> {
        let now = Instant::now();
        let Some(p) = self.pacers.get(&group) else {
            return Ok(());
        };
        let at = p.next.max(now);
        self.wait_until(at, operation).await?;
        if let Some(p) = self.pacers.get_mut(&group) {
            p.next = at.checked_add(p.interval).unwrap_or(at);
        }
        Ok(())
    }

    fn on_result(&mut self, group: Group, throttled: bool) {
        if let Some(p) = self.pacers.get_mut(&group) {
            if throttled {
                let floor = p.base.max(Duration::from_millis(50));
                p.interval = p
                    .interval
                    .saturating_mul(2)
                    .max(floor)
                    .min(p.base.max(floor).saturating_mul(16));
            } else if p.interval > p.base {
                p.interval = p.interval.mul_f64(0.9).max(p.base);
            }
        }
    }

    /// Calls `f` within the budget of `group`, retrying throttling, 5xx, timeouts and
    /// malformed responses with exponential backoff and full jitter.
    pub async fn call<T, E, F, Fut>(
        &mut self,
        group: Group,
        operation: &'static str,
        mut f: F,
    ) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.acquire(group, operation).await?;
            *self.calls.entry(operation.to_string()).or_default() += 1;
            let err = match f().await {
                Ok(v) => {
                    self.on_result(group, false);
                    return Ok(v);
                }
                Err(e) => e,
            };
            let status = err.raw_response().map(|r| r.status().as_u16());
            let class = classify(&err, status);
            self.on_result(group, class == Class::Throttled);
            let detail = || clip(DisplayErrorContext(&err).to_string(), MAX_DETAIL_BYTES);
            match class {
                Class::AccessDenied => {
                    return Err(ApiError::AccessDenied {
                        operation,
                        detail: clip(
                            err.as_service_error()
                                .and_then(|e| e.message())
                                .unwrap_or("access denied")
                                .to_string(),
                            MAX_DETAIL_BYTES,
                        ),
                    });
                }
                Class::NotFound => return Err(ApiError::NotFound { operation }),
                Class::Rejected => {
                    return Err(ApiError::Rejected {
                        operation,
                        code: err
                            .as_service_error()
                            .and_then(|e| e.code())
                            .map(Into::into),
                        detail: detail(),
                    });
                }
                Class::Throttled | Class::Transient => {
                    if class == Class::Throttled {
                        self.throttles += 1;
                    }
                    if attempt >= self.config.max_attempts.max(1) {
                        return Err(ApiError::Exhausted {
                            operation,
                            attempts: attempt,
                            detail: detail(),
                        });
                    }
                    self.retries += 1;
                    let cap = self
                        .config
                        .base_backoff
                        .saturating_mul(1 << (attempt - 1).min(16))
                        .min(self.config.max_backoff);
                    let wait = self.jitter(cap);
                    tracing::debug!(
                        operation,
                        attempt,
                        ?class,
                        wait_ms = wait.as_millis() as u64,
                        "retrying"
                    );
                    let now = Instant::now();
                    self.wait_until(now.checked_add(wait).unwrap_or(now), operation)
                        .await?;
                }
            }
        }
    }
}

/// The most bytes of a service's error text kept in an [`ApiError`]: the service's words
/// are not ours to trust, in length or in content.
pub const MAX_DETAIL_BYTES: usize = 500;

/// `text` cut to at most `max` bytes at a character boundary (never inside a multi-byte
/// character), with `…` marking a cut.
pub fn clip(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push('…');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_cuts_on_character_boundaries() {
        for pad in 0..4 {
            for c in ['é', '€', '😀', 'x'] {
                let text = format!("{}{}", "a".repeat(pad), c.to_string().repeat(400));
                let out = clip(text.clone(), 500);
                assert!(out.len() <= 500, "{pad} {c}");
                assert!(text.starts_with(out.trim_end_matches('…')), "{pad} {c}");
            }
        }
        assert_eq!(clip("short".into(), 500), "short");
        assert_eq!(clip("ééé".into(), 0), "…");
    }

    #[tokio::test(start_paused = true)]
    async fn pacing_is_strict_and_respects_the_stop_time() {
        let start = Instant::now();
        let mut b = Budget::new(
            BudgetConfig {
                room_tps: 2.0,
                ..BudgetConfig::default()
            },
            Some(start.into_std() + Duration::from_millis(1_250)),
        );
        for _ in 0..3 {
            b.acquire(Group::Room, "ListRooms").await.unwrap();
        }
        // Three calls at 2 TPS: at 0, 0.5 and 1.0 s.
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        // The fourth would start at 1.5 s, past the stop time.
        assert_eq!(
            b.acquire(Group::Room, "ListRooms").await,
            Err(ApiError::Deadline {
                operation: "ListRooms"
            })
        );
    }

    #[test]
    fn throttling_slows_a_group_and_success_recovers_it() {
        let mut b = Budget::new(BudgetConfig::default(), None);
        let base = b.pacers[&Group::Room].interval;
        b.on_result(Group::Room, true);
        b.on_result(Group::Room, true);
        assert_eq!(b.pacers[&Group::Room].interval, base * 4);
        for _ in 0..100 {
            b.on_result(Group::Room, false);
        }
        assert_eq!(b.pacers[&Group::Room].interval, base);
        for _ in 0..20 {
            b.on_result(Group::Room, true);
        }
        assert_eq!(b.pacers[&Group::Room].interval, base * 16);
    }

    mod mocked {
        use super::super::*;
        use aws_sdk_ivschat::Client;
        use aws_sdk_ivschat::config::retry::RetryConfig;
        use aws_sdk_ivschat::operation::list_rooms::ListRoomsOutput;
        use aws_smithy_mocks::{RuleMode, mock, mock_client};

        fn budget() -> Budget {
            Budget::new(
                BudgetConfig {
                    room_tps: 10_000.0,
                    base_backoff: Duration::from_millis(1),
                    max_backoff: Duration::from_millis(2),
                    ..BudgetConfig::default()
                },
                None,
            )
        }

        fn empty() -> ListRoomsOutput {
            ListRoomsOutput::builder()
                .set_rooms(Some(vec![]))
                .build()
                .unwrap()
        }

        fn error(kind: &str) -> Option<String> {
            Some(format!(
                r#"{{"__type":"{kind}","message":"from the mock"}}"#
            ))
        }

        /// A service's error message of any length and script never panics the auditor
        /// (a byte cut inside `é` once did) and is kept within the detail bound.
        #[tokio::test]
        async fn long_multibyte_error_messages_are_clipped_not_panicked_on() {
            for (status, kind) in [
                (400, "ValidationException"),
                (500, "InternalServerException"),
                (403, "AccessDeniedException"),
            ] {
                for pad in 0..4 {
                    let message = format!("{}{}", "a".repeat(pad), "é".repeat(400));
                    let body = serde_json::json!({"__type": kind, "message": message});
                    let mut seq = mock!(Client::list_rooms).sequence();
                    for _ in 0..6 {
                        seq = seq.http_status(status, Some(body.to_string()));
                    }
                    let rule = seq.output(empty).build();
                    let client =
                        mock_client!(aws_sdk_ivschat, RuleMode::Sequential, [&rule], |b| b
                            .retry_config(RetryConfig::disabled()));
                    let err = list(&client, &mut budget()).await.unwrap_err();
                    let detail = match &err {
                        ApiError::Rejected { detail, .. }
                        | ApiError::Exhausted { detail, .. }
                        | ApiError::AccessDenied { detail, .. } => detail.clone(),
                        other => panic!("{kind}: {other:?}"),
                    };
                    assert!(detail.len() <= MAX_DETAIL_BYTES, "{kind}: {}", detail.len());
                    assert!(detail.contains("éé"), "{kind}: {detail}");
                    assert!(err.to_string().len() < 1_000, "{kind}");
                }
            }
        }

        async fn list(client: &Client, b: &mut Budget) -> Result<ListRoomsOutput, ApiError> {
            b.call(Group::Room, "ListRooms", || client.list_rooms().send())
                .await
        }

        /// Each row: the responses the service gives, the result, and the calls made.
        #[tokio::test]
        async fn errors_are_classified_as_a_table() {
            type Expect = fn(&Result<ListRoomsOutput, ApiError>) -> bool;
            type Row = (&'static str, Vec<(u16, &'static str)>, Expect, usize, u64);
            let rows: Vec<Row> = vec![
                (
                    "throttled twice",
                    vec![(429, "ThrottlingException"); 2],
                    |r| r.is_ok(),
                    3,
                    2,
                ),
                (
                    "5xx then ok",
                    vec![
                        (500, "InternalServerException"),
                        (503, "ServiceUnavailableException"),
                    ],
                    |r| r.is_ok(),
                    3,
                    0,
                ),
                (
                    "access denied",
                    vec![(403, "AccessDeniedException")],
                    |r| {
                        matches!(
                            r,
                            Err(ApiError::AccessDenied {
                                operation: "ListRooms",
                                ..
                            })
                        )
                    },
                    1,
                    0,
                ),
                (
                    "not found",
                    vec![(404, "ResourceNotFoundException")],
                    |r| matches!(r, Err(ApiError::NotFound { .. })),
                    1,
                    0,
                ),
                (
                    "validation",
                    vec![(400, "ValidationException")],
                    |r| matches!(r, Err(ApiError::Rejected { code: Some(c), .. }) if c == "ValidationException"),
                    1,
                    0,
                ),
                (
                    "throttled for good",
                    vec![(429, "ThrottlingException"); 6],
                    |r| matches!(r, Err(ApiError::Exhausted { attempts: 6, .. })),
                    6,
                    6,
                ),
            ];
            for (name, errors, expect, calls, throttles) in rows {
                let mut seq = mock!(Client::list_rooms).sequence();
                for (status, kind) in &errors {
                    seq = seq.http_status(*status, error(kind));
                }
                let rule = seq.output(empty).build();
                let client = mock_client!(aws_sdk_ivschat, RuleMode::Sequential, [&rule], |b| b
                    .retry_config(RetryConfig::disabled()));
                let mut b = budget();
                let result = list(&client, &mut b).await;
                assert!(expect(&result), "{name}: {result:?}");
                assert_eq!(rule.num_calls(), calls, "{name}");
                assert_eq!(b.throttles, throttles, "{name}");
                assert_eq!(b.total_calls(), calls as u64, "{name}");
            }
        }
    }

    #[test]
    fn jitter_stays_within_the_cap() {
        let mut b = Budget::new(BudgetConfig::default(), None);
        for _ in 0..1000 {
            assert!(b.jitter(Duration::from_millis(100)) <= Duration::from_millis(100));
        }
    }
}
