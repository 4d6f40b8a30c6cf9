//! Any bytes as a Lambda event: the handler path answers with a contract-valid response,
//! never longer than the request's content, and the same answer twice.
#![no_main]

use chat_rules::{Policy, PolicySet};
use ivs_chat_review::simulator::{RoomConfig, validate_response};
use ivs_chat_review::{ReviewConfig, ReviewRequest, ReviewService, RuleReviewer};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};

static SERVICE: LazyLock<ReviewService<RuleReviewer>> = LazyLock::new(|| {
    ReviewService::new(
        RuleReviewer::new(PolicySet::new(Policy::default_policy())),
        ReviewConfig::default(),
    )
});

/// The rule reviewer never awaits, so one poll completes the future.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let first = block_on(SERVICE.handle_bytes(data));
    let second = block_on(SERVICE.handle_bytes(data));
    assert_eq!(first, second, "non-deterministic answer");
    let json = serde_json::to_value(&first).unwrap();
    if let Err(v) = validate_response(&json, &RoomConfig::default()) {
        panic!("contract broken: {v}: {json}");
    }
    if let Ok(req) = ReviewRequest::from_slice(data) {
        assert!(first.content.chars().count() <= req.content.chars().count());
    }
});
