//! The reviewer abstraction and the glue that runs it as a Lambda function.

use crate::contract::{InvalidRequest, ReviewRequest, ReviewResponse, decode, salvage_content};
use crate::enforce::ReviewConfig;
use bytes::Bytes;
use lambda_runtime::{LambdaEvent, LambdaInvocation, Runtime, Service, service_fn};
use serde::de::IgnoredAny;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
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

    /// Answers one raw event body, as the Lambda runtime path does: the body is parsed once,
    /// by [`decode`], and whatever it rejects (too large, not UTF-8, not JSON, a lone
    /// surrogate, a number out of range, nesting past 128 levels) gets the invalid-request
    /// verdict.
    pub async fn handle_bytes(&self, body: &[u8]) -> ReviewResponse {
        match decode(body) {
            Ok(v) => self.handle(v).await,
            Err(e) => self.reject(e, salvage_content(body).as_deref()),
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
    let handoff = Handoff::default();
    let bodies = handoff.clone();
    // The runtime parses the placeholder `null` the hand-off leaves it; the real body is
    // taken back here by request id and parsed once, by `handle_bytes`.
    let handler = service_fn(move |event: LambdaEvent<IgnoredAny>| {
        let service = service.clone();
        let body = bodies.take(&event.context.request_id);
        async move {
            Ok::<_, lambda_runtime::Error>(match body {
                Some(body) => service.handle_bytes(&body).await,
                None => {
                    tracing::warn!("invalid review event: its body was not handed over");
                    service.config().invalid(None)
                }
            })
        }
    });
    Runtime::new(handler)
        .layer(handoff)
        .layer(lambda_runtime::layers::TracingLayer::new())
        .run()
        .await
}

/// Takes each event's body away from the runtime before the runtime parses or logs it, and
/// hands it to the review service by request id.
///
/// Two things follow. There is one parse and so one decision: the runtime's own
/// deserialiser (stricter than a syntax check: numbers out of range, nesting past 128)
/// never sees the body, so it can never fail and hand the message to the room's fallback.
/// And the runtime's TRACE event "raw JSON event received" logs `null`, never content or
/// the sender's IP, whatever `AWS_LAMBDA_LOG_LEVEL` says.
#[derive(Debug, Clone, Default)]
struct Handoff {
    bodies: Arc<Mutex<VecDeque<(String, Bytes)>>>,
}

/// Bodies kept for invocations whose handler never ran (the runtime runs one invocation
/// at a time, so this is never reached in practice; it only bounds memory).
const HANDOFF_CAPACITY: usize = 16;

impl Handoff {
    fn put(&self, request_id: String, body: Bytes) {
        let mut bodies = self.bodies.lock().unwrap_or_else(PoisonError::into_inner);
        if bodies.len() >= HANDOFF_CAPACITY {
            bodies.pop_front();
        }
        bodies.push_back((request_id, body));
    }

    fn take(&self, request_id: &str) -> Option<Bytes> {
        let mut bodies = self.bodies.lock().unwrap_or_else(PoisonError::into_inner);
        let at = bodies.iter().position(|(id, _)| id == request_id)?;
        bodies.remove(at).map(|(_, body)| body)
    }
}

impl<S> tower::Layer<S> for Handoff {
    type Service = HandoffService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        HandoffService {
            inner,
            handoff: self.clone(),
        }
    }
}

/// The service of [`Handoff`].
#[derive(Debug, Clone)]
struct HandoffService<S> {
    inner: S,
    handoff: Handoff,
}

impl<S> Service<LambdaInvocation> for HandoffService<S>
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
        let body = std::mem::replace(&mut invocation.body, Bytes::from_static(b"null"));
        self.handoff
            .put(invocation.context.request_id.clone(), body);
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

    /// Bodies a syntax check accepts but a parse into JSON values rejects, and the other
    /// undecodable bodies: each gets the invalid-request verdict, with its `Content` when
    /// that can still be read. Each row: body, content returned with ALLOW configured.
    fn undecodable_bodies() -> Vec<(Vec<u8>, &'static str)> {
        let deep = |open: &str, close: &str, n: usize| {
            format!(
                r#"{{"Content":"hi","X":{}1{}}}"#,
                open.repeat(n),
                close.repeat(n)
            )
            .into_bytes()
        };
        vec![
            (br#"{"Content":"hi","X":1e400}"#.to_vec(), "hi"),
            (br#"{"Content":"hi","X":-1e400}"#.to_vec(), "hi"),
            (
                format!(r#"{{"Content":"hi","X":{}}}"#, "9".repeat(400)).into_bytes(),
                "hi",
            ),
            (
                br#"{"Content":"hi","X":0.1e99999999999999999999}"#.to_vec(),
                "hi",
            ),
            (deep("[", "]", 128), "hi"),
            (deep(r#"{"a":"#, "}", 200), "hi"),
            (deep("[", "]", 5000), "hi"),
            (br#"{"Content":"hi","X":"\ud800"}"#.to_vec(), "hi"),
            (br#"{"Content":"\udc00"}"#.to_vec(), "-"),
            (b"{\"Content\":\"hi\",\"X\":\"\xff\"}".to_vec(), "hi"),
            (b"not json".to_vec(), "-"),
            (br#"{"Content":"hi"} trailing"#.to_vec(), "-"),
            (Vec::new(), "-"),
            (vec![b' '; MAX_PAYLOAD_BYTES + 1], "-"),
        ]
    }

    #[tokio::test]
    async fn every_undecodable_body_gets_the_invalid_request_verdict() {
        let deny = ReviewService::new(Echo, ReviewConfig::default());
        let allow = ReviewService::new(
            Echo,
            ReviewConfig {
                on_invalid_request: ReviewResult::Allow,
                ..ReviewConfig::default()
            },
        );
        for (body, content) in undecodable_bodies() {
            let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).to_string();
            assert!(decode(&body).is_err(), "{shown}");
            let r = deny.handle_bytes(&body).await;
            assert_eq!(r.review_result, ReviewResult::Deny, "{shown}");
            let r = allow.handle_bytes(&body).await;
            let want = if content == "-" {
                ReviewResult::Deny
            } else {
                ReviewResult::Allow
            };
            assert_eq!(
                (r.content.as_str(), r.review_result),
                (content, want),
                "{shown}"
            );
        }
        // Nesting up to the limit, big numbers within range and surrogate pairs are fine.
        for ok in [
            format!(
                r#"{{"Content":"hi","X":{}1{}}}"#,
                "[".repeat(126),
                "]".repeat(126)
            ),
            r#"{"Content":"hi","X":1e308,"Y":18446744073709551616}"#.to_string(),
            r#"{"Content":"\ud83d\ude00"}"#.to_string(),
        ] {
            let r = deny.handle_bytes(ok.as_bytes()).await;
            assert_eq!(r.review_result, ReviewResult::Allow, "{ok}");
        }
    }

    /// The hand-off gives each request its own body, once, and stays bounded.
    #[test]
    fn handoff_returns_each_body_once() {
        let h = Handoff::default();
        h.put("a".into(), Bytes::from_static(b"1"));
        h.put("b".into(), Bytes::from_static(b"2"));
        assert_eq!(h.take("b").as_deref(), Some(&b"2"[..]));
        assert_eq!(h.take("b"), None);
        assert_eq!(h.take("a").as_deref(), Some(&b"1"[..]));
        for i in 0..100 {
            h.put(i.to_string(), Bytes::new());
        }
        assert!(h.bodies.lock().unwrap().len() <= HANDOFF_CAPACITY);
        assert!(h.take("99").is_some() && h.take("0").is_none());
    }
}
