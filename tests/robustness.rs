//! Every string of the Big List of Naughty Strings, and generated hostile inputs, reviewed
//! with the default policy: no panic, a contract-valid response, masked content never
//! longer than the input, and the same verdict every time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ivs_chat_review::simulator::{RoomConfig, validate_response};
use ivs_chat_review::{ReviewRequest, ReviewService};
use std::path::PathBuf;

fn naughty_strings() -> Vec<String> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/blns.json");
    let list: Vec<String> = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    assert!(list.len() > 500);
    list
}

/// The hostile inputs shared with the benchmarks (`crates/chat-rules/tests/data/hostile.json`).
fn hostile() -> Vec<String> {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crates/chat-rules/tests/data/hostile.json");
    let list: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    list.iter()
        .map(|h| {
            h["unit"]
                .as_str()
                .unwrap()
                .repeat(h["count"].as_u64().unwrap() as usize)
        })
        .collect()
}

#[tokio::test]
async fn naughty_and_hostile_strings_get_valid_deterministic_answers() {
    let (reviewer, config) = rule_review_handler::from_env(|_| None).unwrap();
    let svc = ReviewService::new(reviewer, config);
    let room = RoomConfig::default();
    let mut inputs = naughty_strings();
    inputs.extend(hostile());
    let mut reviewed = 0;
    for text in inputs {
        // IVS never sends empty or over-long content; those are covered as invalid events.
        let mut req = ReviewRequest::new(text.chars().take(500).collect::<String>());
        req.sender.user_id = "u".into();
        let valid = !req.content.is_empty();
        let payload = serde_json::to_value(&req).unwrap();
        let first = svc.handle(payload.clone()).await;
        let second = svc.handle(payload).await;
        assert_eq!(first, second, "non-deterministic verdict for {text:?}");
        let json = serde_json::to_value(&first).unwrap();
        validate_response(&json, &room)
            .unwrap_or_else(|v| panic!("contract broken for {text:?}: {v}"));
        if valid {
            assert!(
                first.content.chars().count() <= req.content.chars().count(),
                "masked content longer than input for {text:?}"
            );
            assert!(first.content.len() <= req.content.len());
            reviewed += 1;
        }
    }
    assert!(reviewed > 500);
}

#[test]
fn policy_censor_never_lengthens_and_is_stable() {
    let policy = chat_rules::Policy::default_policy();
    for text in naughty_strings().into_iter().chain(hostile()) {
        let a = policy.censor(&text);
        assert!(a.chars().count() <= text.chars().count(), "{text:?}");
        assert_eq!(a, policy.censor(&text));
    }
}
