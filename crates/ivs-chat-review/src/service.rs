//! The reviewer abstraction and the glue that runs it as a Lambda function.

use crate::contract::{InvalidRequest, ReviewRequest, ReviewResponse};
use crate::enforce::ReviewConfig;
use bytes::Bytes;
use lambda_runtime::{LambdaEvent, LambdaInvocation, Runtime, Service, service_fn};
use std::future::Future;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

/// The error a reviewer may return; the framework answers with the failure verdict.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Decides on one message. Implement [`review`](Reviewer::review) and hand the reviewer to
/// [`run`]: parsing, validation, contract enforcement, logging and the Lambda runtime
/// are done for you.
pub trait Reviewer: Send + Sync + 'static {
    /// Reviews a valid request (Content is 1..=500 code points).
    fn review(
        &self,
        request: &ReviewRequest,
    ) -> impl Future<Output = Result<Review, BoxError>> + Send;
}

/// A reviewer's answer: the response, plus what to log about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The response (enforced before it is sent).
    pub response: ReviewResponse,
    /// Ids of the rules that fired, for logs and metrics.
    pub rules: Vec<String>,
}

impl From<ReviewResponse> for Review {
    fn from(response: ReviewResponse) -> Self {
        Review {
            response,
            rules: Vec::new(),
        }
    }
}

/// The largest payload parsed as a review request. IVS messages are at most 500 code
/// points with 1 KB of attributes each for message and sender, so anything near this size
/// is not from IVS and is answered without being parsed.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// The key of the object that replaces an undecodable payload (see [`PayloadGuardLayer`]):
/// unique per process, so a caller cannot forge the marker (and with it a log line).
static INVALID_KEY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("$undecodable-{:x}-{nanos:x}", std::process::id())
});

/// A reviewer with its configuration: turns any event into a valid response.
pub struct ReviewService<R> {
    reviewer: R,
    config: ReviewConfig,
}

impl<R: Reviewer> ReviewService<R> {
    /// Wraps `reviewer`.
    pub fn new(reviewer: R, config: ReviewConfig) -> Self {
        Self { reviewer, config }
    }

    /// The configuration.
    pub fn config(&self) -> &ReviewConfig {
        &self.config
    }

    /// The reviewer.
    pub fn reviewer(&self) -> &R {
        &self.reviewer
    }

    /// Answers one event. Never fails: an invalid event gets the configured verdict (and a
    /// WARN log), a failing reviewer the failure verdict, and every response is enforced.
    pub async fn handle(&self, payload: serde_json::Value) -> ReviewResponse {
        let started = Instant::now();
        if let Some(reason) = payload.get(INVALID_KEY.as_str()).and_then(|v| v.as_str()) {
            tracing::warn!(
                reason,
                "invalid review event: answered with the configured verdict"
            );
            return self.config.invalid(None);
        }
        let salvage = payload
            .get("Content")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let request = match ReviewRequest::from_value(payload) {
            Ok(r) => r,
            Err(e) => return self.reject(e, salvage.as_deref()),
        };
        let outcome = self.reviewer.review(&request).await;
        let (review, failed) = match outcome {
            Ok(r) => (r, None),
            Err(e) => (
                Review::from(self.config.failure(Some(&request), "reviewer error")),
                Some(e.to_string()),
            ),
        };
        let (response, fixes) = self.config.enforce(Some(&request), review.response);
        let elapsed_us = started.elapsed().as_micros() as u64;
        let rules = review.rules.join(",");
        let corrections: Vec<&str> = fixes.iter().map(|c| c.as_str()).collect();
        if let Some(error) = failed {
            tracing::error!(
                message_id = %request.message_id,
                room = %request.room_id(),
                %error,
                result = response.review_result.as_str(),
                "reviewer failed: answered with the failure verdict"
            );
        } else {
            // Content and IP are recorded only when enabled (a `None` field is left out).
            let (content, sender_ip) = if self.config.log_content {
                (
                    Some(request.content.as_str()),
                    Some(request.sender.ip.as_str()),
                )
            } else {
                (None, None)
            };
            tracing::info!(
                message_id = %request.message_id,
                room = %request.room_id(),
                result = response.review_result.as_str(),
                rewritten = response.content != request.content,
                rules = %rules,
                corrections = ?corrections,
                elapsed_us,
                content,
                sender_ip,
                "reviewed"
            );
        }
        response
    }

    /// Answers one raw event body, as the Lambda runtime path does: undecodable bodies
    /// (too large, not UTF-8, not JSON, lone surrogates) get the invalid-request verdict.
    pub async fn handle_bytes(&self, body: &[u8]) -> ReviewResponse {
        if let Some(reason) = undecodable(body) {
            tracing::warn!(
                reason,
                "invalid review event: answered with the configured verdict"
            );
            return self.config.invalid(None);
        }
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) => self.handle(v).await,
            Err(e) => self.reject(InvalidRequest::Malformed(e.to_string()), None),
        }
    }

    fn reject(&self, error: InvalidRequest, content: Option<&str>) -> ReviewResponse {
        let response = self.config.invalid(content);
        let reason = if self.config.log_content {
            error.to_string()
        } else {
            error.redacted()
        };
        tracing::warn!(
            reason = %reason,
            result = response.review_result.as_str(),
            "invalid review request: answered with the configured verdict"
        );
        response
    }
}

/// Runs `reviewer` as a Lambda function until the runtime stops. Call it from `main`
/// after building the reviewer (once, at init):
///
/// ```no_run
/// # use ivs_chat_review::{ReviewConfig, Reviewer, Review, ReviewRequest, ReviewResponse, BoxError};
/// # struct AllowAll;
/// # impl Reviewer for AllowAll {
/// #     async fn review(&self, r: &ReviewRequest) -> Result<Review, BoxError> { Ok(ReviewResponse::allow(r).into()) }
/// # }
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), lambda_runtime::Error> {
///     lambda_runtime::tracing::init_default_subscriber();
///     ivs_chat_review::run(AllowAll, ReviewConfig::default()).await
/// }
/// ```
pub async fn run<R: Reviewer>(
    reviewer: R,
    config: ReviewConfig,
) -> Result<(), lambda_runtime::Error> {
    let service = Arc::new(ReviewService::new(reviewer, config));
    let handler = service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let service = service.clone();
        async move { Ok::<_, lambda_runtime::Error>(service.handle(event.payload).await) }
    });
    Runtime::new(handler)
        .layer(PayloadGuardLayer)
        .layer(lambda_runtime::layers::TracingLayer::new())
        .run()
        .await
}

/// A runtime layer that makes every payload decodable: a payload that is too large, not
/// UTF-8, not JSON, or has a lone surrogate escape is replaced by a small object that the
/// handler answers with the invalid-request verdict. Without it the runtime would report
/// a deserialisation error, and IVS would apply the room's fallback (ALLOW by default).
#[derive(Debug, Clone, Copy, Default)]
pub struct PayloadGuardLayer;

impl<S> tower::Layer<S> for PayloadGuardLayer {
    type Service = PayloadGuard<S>;
    fn layer(&self, inner: S) -> Self::Service {
        PayloadGuard { inner }
    }
}

/// The service of [`PayloadGuardLayer`].
#[derive(Debug, Clone)]
pub struct PayloadGuard<S> {
    inner: S,
}

/// Why a payload cannot be decoded into JSON (`None`: it can). Cheap for the common case:
/// a UTF-8 check, a syntax pass without allocation, and a full parse only when the
/// payload has surrogate escapes.
pub fn undecodable(body: &[u8]) -> Option<String> {
    if body.len() > MAX_PAYLOAD_BYTES {
        return Some(format!(
            "payload of {} bytes exceeds {MAX_PAYLOAD_BYTES}",
            body.len()
        ));
    }
    if let Err(e) = std::str::from_utf8(body) {
        return Some(format!("payload is not UTF-8: {e}"));
    }
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        return Some(format!("payload is not JSON: {e}"));
    }
    let has_surrogate_escape = body
        .windows(3)
        .any(|w| w[0] == b'\\' && w[1] == b'u' && matches!(w[2], b'd' | b'D'));
    if has_surrogate_escape && let Err(e) = serde_json::from_slice::<serde_json::Value>(body) {
        return Some(format!("payload has an invalid escape: {e}"));
    }
    None
}

impl<S> Service<LambdaInvocation> for PayloadGuard<S>
where
    S: Service<LambdaInvocation>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        if let Some(reason) = undecodable(&invocation.body) {
            let mut replacement = serde_json::Map::new();
            replacement.insert(INVALID_KEY.clone(), serde_json::Value::String(reason));
            let replacement = serde_json::Value::Object(replacement);
            invocation.body = Bytes::from(replacement.to_string());
        }
        self.inner.call(invocation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReviewResult;
    use serde_json::json;

    struct Echo;
    impl Reviewer for Echo {
        async fn review(&self, r: &ReviewRequest) -> Result<Review, BoxError> {
            if r.content == "fail" {
                return Err("reviewer broke".into());
            }
            Ok(ReviewResponse::rewrite(r, format!("{}{}", r.content, r.content)).into())
        }
    }

    #[tokio::test]
    async fn every_event_gets_a_valid_answer() {
        let svc = ReviewService::new(Echo, ReviewConfig::default());
        let r = svc.handle(json!({"Content": "ab"})).await;
        assert_eq!(
            (r.content.as_str(), r.review_result),
            ("ab", ReviewResult::Allow)
        );
        let r = svc.handle(json!({"Content": "fail"})).await;
        assert_eq!(r.review_result, ReviewResult::Deny);
        let r = svc.handle(json!(42)).await;
        assert_eq!(
            (r.content.as_str(), r.review_result),
            ("-", ReviewResult::Deny)
        );
        let mut marker = serde_json::Map::new();
        marker.insert(INVALID_KEY.clone(), json!("x"));
        let r = svc.handle(serde_json::Value::Object(marker)).await;
        assert_eq!(r.review_result, ReviewResult::Deny);
        // A caller cannot forge the marker: this is just an object without Content.
        let r = svc
            .handle(json!({"$undecodablePayload": "x", "Content": "ok"}))
            .await;
        assert_eq!(r.review_result, ReviewResult::Allow);
    }

    /// Captures log output for the logging tests.
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> lambda_runtime::tracing::subscriber::fmt::MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }

    async fn logs_of(config: ReviewConfig, event: serde_json::Value) -> String {
        let buf = Buf::default();
        let subscriber = lambda_runtime::tracing::subscriber::fmt()
            .json()
            .with_writer(buf.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        ReviewService::new(Echo, config).handle(event).await;
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    #[tokio::test]
    async fn logs_carry_no_content_or_ip_unless_enabled() {
        let event = json!({
            "Content": "secret words", "MessageId": "ABCDEFGHIJKL",
            "Sender": {"UserId": "u", "Ip": "203.0.113.77"}
        });
        let quiet = logs_of(ReviewConfig::default(), event.clone()).await;
        assert!(quiet.contains("ABCDEFGHIJKL"), "{quiet}");
        assert!(
            !quiet.contains("secret") && !quiet.contains("203.0.113.77"),
            "{quiet}"
        );
        let bad = logs_of(
            ReviewConfig::default(),
            json!({"Content": "x", "Sender": "203.0.113.77"}),
        )
        .await;
        assert!(
            bad.contains("invalid review request") && !bad.contains("203.0.113.77"),
            "{bad}"
        );
        let loud = ReviewConfig {
            log_content: true,
            ..ReviewConfig::default()
        };
        let loud = logs_of(loud, event).await;
        assert!(
            loud.contains("secret words") && loud.contains("203.0.113.77"),
            "{loud}"
        );
    }

    #[test]
    fn undecodable_payloads() {
        assert!(undecodable(br#"{"Content":"x"}"#).is_none());
        assert!(undecodable(br#"{"Content":"\ud83d\ude00"}"#).is_none());
        assert!(undecodable(br#"{"Content":"\ud800"}"#).is_some());
        assert!(undecodable(b"not json").is_some());
        assert!(undecodable(&[0xff, 0xfe]).is_some());
        assert!(undecodable(&vec![b' '; MAX_PAYLOAD_BYTES + 1]).is_some());
    }
}
