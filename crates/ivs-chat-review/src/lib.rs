//! # ivs-chat-review
//!
//! Write an Amazon IVS Chat message review handler in Rust: implement one method, get a
//! Lambda function that always answers IVS with a valid response within its budget.
//!
//! - [`ReviewRequest`], [`ReviewResponse`], [`ReviewResult`]: the IVS payloads, exactly
//!   (PascalCase JSON); unknown fields and missing attribute maps are accepted.
//! - [`Reviewer`]: the trait you implement; [`run`] runs it under `lambda_runtime`.
//! - Contract enforcement ([`ReviewConfig::enforce`]): content is 1..=500 code points and
//!   never longer than the original unless the room allows it, DENY carries content,
//!   attributes stay within 1 KB as serialised. Every event body is parsed once, by
//!   [`decode`] (the runtime never parses or logs it), and whatever it rejects (not JSON,
//!   too large, lone surrogates, numbers out of range, nesting past 128 levels) or whatever
//!   has the wrong shape gets a configured verdict, default DENY, instead of a runtime
//!   error that would hand the decision to the room's fallback (ALLOW by default).
//! - [`ReviewConfig::from_env`] and [`report_init_error`]: the environment every review
//!   handler reads (verdicts, room length, content logging) and a failed init reported
//!   through the Lambda Runtime API ([`env`]).
//! - [`simulator`]: what IVS would do with a handler's outcome, for tests and local runs.
//! - [`RuleReviewer`] (feature `rules`, on by default): reviews with a `chat-rules` policy.
//!
//! A complete custom reviewer:
//!
//! ```no_run
//! use ivs_chat_review::{BoxError, Review, ReviewConfig, ReviewRequest, ReviewResponse, Reviewer};
//!
//! struct NoShouting;
//!
//! impl Reviewer for NoShouting {
//!     async fn review(&self, req: &ReviewRequest) -> Result<Review, BoxError> {
//!         let shouting = req.content.len() > 8 && req.content == req.content.to_uppercase();
//!         Ok(if shouting {
//!             ReviewResponse::rewrite(req, req.content.to_lowercase()).into()
//!         } else {
//!             ReviewResponse::allow(req).into()
//!         })
//!     }
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     lambda_runtime::tracing::init_default_subscriber();
//!     // The same variables as the rule-based handler (verdicts, room length, content
//!     // logging); a bad value is reported as the function's init error.
//!     let config = match ReviewConfig::from_env(|k| std::env::var(k).ok()) {
//!         Ok(config) => config,
//!         Err(e) => return Err(ivs_chat_review::report_init_error(e).await),
//!     };
//!     ivs_chat_review::run(NoShouting, config).await
//! }
//! ```
#![warn(missing_docs)]

mod contract;
mod enforce;
pub mod env;
#[cfg(feature = "rules")]
mod rules;
mod service;
pub mod simulator;

pub use contract::{
    InvalidRequest, MAX_ATTRIBUTES_BYTES, MAX_CONTENT_CHARS, MODERATION_PREFIX, REASON_ATTRIBUTE,
    ReviewRequest, ReviewResponse, ReviewResult, Sender, attributes_json_len, decode,
    json_string_len,
};
pub use enforce::{Correction, PLACEHOLDER_CONTENT, ReviewConfig};
pub use env::{EnvError, report_init_error};
#[cfg(feature = "rules")]
pub use rules::{
    FLAGGED_ATTRIBUTE, RULES_ATTRIBUTE, RuleDecision, RuleReviewer, SEVERITY_ATTRIBUTE,
};
pub use service::{BoxError, MAX_PAYLOAD_BYTES, Review, ReviewService, Reviewer, run};
