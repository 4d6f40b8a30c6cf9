//! End to end through the real `lambda_runtime` loop: the built handler binary runs against
//! a local Lambda Runtime API endpoint, reviews every sample event, and each response must
//! satisfy the IVS contract (checked with the delivery simulator's validator). A broken
//! policy must be reported as an init error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use integration_tests::{REVIEW_EVENTS, read_event};
use ivs_chat_review::simulator::{RoomConfig, validate_response};
use runtime_api_emulator::{Outcome, RuntimeApi};
use std::path::PathBuf;
use std::time::Duration;

fn handler_binary() -> PathBuf {
    integration_tests::binary("rule-review-handler")
}

fn spawn(api: &RuntimeApi, envs: &[(&str, &str)]) -> tokio::process::Child {
    let mut cmd = api.command(handler_binary());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_binary_reviews_every_sample_event_through_the_runtime_api() {
    let api = RuntimeApi::start().await.unwrap();
    let _child = spawn(&api, &[]);
    for e in REVIEW_EVENTS {
        let outcome = tokio::time::timeout(Duration::from_secs(30), api.invoke(read_event(e.file)))
            .await
            .unwrap_or_else(|_| panic!("{}: no answer in 30 s", e.file))
            .unwrap_or_else(|| panic!("{}: endpoint closed", e.file));
        let Outcome::Response(body) = outcome else {
            panic!("{}: the function reported an error: {outcome:?}", e.file);
        };
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let resp = validate_response(&json, &RoomConfig::default()).unwrap_or_else(|v| {
            panic!("{}: response breaks the IVS contract: {v}: {json}", e.file)
        });
        assert_eq!(resp.review_result.as_str(), e.result, "{}", e.file);
        if let Some(want) = e.content {
            assert_eq!(resp.content, want, "{}", e.file);
        }
    }
    // A 1 MB payload and raw garbage get a verdict too, not a runtime error.
    for body in [vec![b'x'; 1 << 20], b"\xff\xfe not json".to_vec()] {
        let outcome = api.invoke(body).await.unwrap();
        let Outcome::Response(b) = outcome else {
            panic!("error: {outcome:?}")
        };
        let json: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(json["ReviewResult"], "DENY");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_policy_is_reported_as_an_init_error() {
    let api = RuntimeApi::start().await.unwrap();
    let policy = "version = 1\n\n[[rules]]\nid = \"phone\"\ntype = \"regex\"\naction = \"deny\"\npattern = \"(\\\\d{3}\"\n";
    let mut child = spawn(&api, &[("CHAT_POLICY", policy)]);
    let err = api
        .init_error(Duration::from_secs(30))
        .await
        .expect("no init error reported");
    let msg = err["errorMessage"].as_str().unwrap_or_default();
    assert_eq!(err["errorType"], "Runtime.InitError");
    assert!(
        msg.contains("rule `phone`") && msg.contains("line 4"),
        "{msg}"
    );
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success());
}
