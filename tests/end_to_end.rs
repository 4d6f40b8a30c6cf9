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

fn nested(depth: usize) -> Vec<u8> {
    format!(
        r#"{{"Content":"hi","MessageId":"ABCDEFGHIJKL","X":{}0{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    )
    .into_bytes()
}

/// Payloads a syntax check accepts but the runtime's deserialiser rejects (a number out of
/// range, nesting of 128 levels or more) get the configured verdict in a contract-valid
/// response, never a runtime error that would hand the message to the room's fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_the_runtime_would_reject_get_the_configured_verdict() {
    let payloads = [
        br#"{"Content":"hi","MessageId":"ABCDEFGHIJKL","X":1e400}"#.to_vec(),
        nested(128),
        nested(10_000),
    ];
    for (verdict, content) in [("DENY", "hi"), ("ALLOW", "hi")] {
        let api = RuntimeApi::start().await.unwrap();
        let _child = spawn(&api, &[("INVALID_REQUEST_VERDICT", verdict)]);
        for body in &payloads {
            let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).to_string();
            let outcome = tokio::time::timeout(Duration::from_secs(30), api.invoke(body.clone()))
                .await
                .unwrap()
                .unwrap();
            let Outcome::Response(b) = outcome else {
                panic!("{shown}: the function reported an error: {outcome:?}");
            };
            let json: serde_json::Value = serde_json::from_slice(&b).unwrap();
            let resp = validate_response(&json, &RoomConfig::default())
                .unwrap_or_else(|v| panic!("{shown}: breaks the contract: {v}: {json}"));
            assert_eq!(resp.review_result.as_str(), verdict, "{shown}");
            assert_eq!(resp.content, content, "{shown}");
        }
    }
}

/// At every log level, TRACE included, the logs carry neither message content nor the
/// sender's IP unless `LOG_MESSAGE_CONTENT` is on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_carry_no_content_or_ip() {
    let content = "zebra quartz pancake";
    let ip = "198.51.100.231";
    let event = serde_json::json!({
        "Content": content, "MessageId": "ABCDEFGHIJKL",
        "RoomArn": "arn:aws:ivschat:us-west-2:123456789012:room/abcdEFGH1234",
        "Attributes": {"a": content},
        "Sender": {"UserId": "u1", "Ip": ip, "Attributes": {"b": ip}}
    });
    let bad = format!(r#"{{"Content":"{content}","Sender":{{"Ip":"{ip}"}},"X":1e400}}"#);
    let wrong = format!(r#"{{"Content":"{content}","Sender":"{ip}"}}"#);
    for (level, log_content) in [("TRACE", "false"), ("DEBUG", "false"), ("TRACE", "true")] {
        let api = RuntimeApi::start().await.unwrap();
        let mut cmd = api.command(handler_binary());
        cmd.env("AWS_LAMBDA_LOG_LEVEL", level)
            .env("LOG_MESSAGE_CONTENT", log_content)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let child = cmd.spawn().unwrap();
        for body in [event.to_string(), bad.clone(), wrong.clone()] {
            let outcome = tokio::time::timeout(Duration::from_secs(30), api.invoke(body))
                .await
                .unwrap()
                .unwrap();
            assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
        }
        drop(api);
        let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let logs = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if level == "TRACE" {
            // The runtime's own TRACE events are there: the level really is TRACE.
            assert!(logs.contains("TRACE"), "{logs}");
            assert!(logs.contains("raw JSON event received"), "{logs}");
        }
        let leaked = logs.contains(content) || logs.contains(ip);
        assert_eq!(leaked, log_content == "true", "{level}: {logs}");
    }
}
