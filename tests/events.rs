//! Every sample event in `events/` is reviewed with the default policy and checked against
//! its expected verdict; the walk fails if a file has no expectation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use integration_tests::{REVIEW_EVENTS, events_dir, read_event};
use ivs_chat_review::simulator::{RoomConfig, validate_response};
use ivs_chat_review::{ReviewRequest, ReviewService};

fn service() -> ReviewService<ivs_chat_review::RuleReviewer> {
    let (reviewer, config) = rule_review_handler::from_env(|_| None).unwrap();
    ReviewService::new(reviewer, config)
}

#[test]
fn every_event_file_has_an_expectation() {
    for entry in std::fs::read_dir(events_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.starts_with("rule-review-handler-") {
            assert!(
                REVIEW_EVENTS.iter().any(|e| e.file == name),
                "events/{name} has no expected verdict in tests/support/lib.rs"
            );
        } else {
            // Audit events are all invoked by tests/audit_functions.rs.
            assert!(
                name.starts_with("room-audit-") || name.starts_with("tag-audit-"),
                "events/{name} belongs to no function"
            );
        }
    }
}

#[tokio::test]
async fn review_events_get_their_expected_verdicts() {
    let svc = service();
    for e in REVIEW_EVENTS {
        let body = read_event(e.file);
        assert!(!body.is_empty(), "{} is missing", e.file);
        let resp = svc.handle_bytes(&body).await;
        let json = serde_json::to_value(&resp).unwrap();
        validate_response(&json, &RoomConfig::default())
            .unwrap_or_else(|v| panic!("{}: response breaks the contract: {v}", e.file));
        assert_eq!(resp.review_result.as_str(), e.result, "{}", e.file);
        match e.content {
            Some(want) => assert_eq!(resp.content, want, "{}", e.file),
            None if e.result == "ALLOW" => {
                let req = ReviewRequest::from_slice(&body).unwrap();
                assert_eq!(resp.content, req.content, "{}", e.file);
            }
            None => {}
        }
        if let Some(rule) = e.rule
            && let Ok(req) = ReviewRequest::from_slice(&body)
        {
            let d = svc.reviewer().decide(&req);
            assert!(
                d.fired.iter().any(|f| f.starts_with(&format!("{rule}:"))),
                "{}: expected rule {rule} to fire, fired {:?}",
                e.file,
                d.fired
            );
        }
        if e.result == "DENY" {
            assert!(resp.attributes.contains_key("Reason"), "{}", e.file);
        }
    }
}

#[test]
fn audit_events_are_eventbridge_events() {
    for name in ["room-audit-scheduled.json", "tag-audit-scheduled.json"] {
        let event: aws_lambda_events::eventbridge::EventBridgeEvent =
            serde_json::from_slice(&read_event(name)).unwrap();
        assert_eq!(event.detail_type, "Scheduled Event", "{name}");
        assert_eq!(event.source, "aws.events", "{name}");
    }
    let event: aws_lambda_events::eventbridge::EventBridgeEvent =
        serde_json::from_slice(&read_event("room-audit-dry-run.json")).unwrap();
    assert_eq!(event.detail["remediation"], "dry-run");
}

#[tokio::test]
async fn clients_cannot_spoof_moderation_attributes() {
    let svc = service();
    let resp = svc
        .handle(serde_json::json!({
            "Content": "hello there",
            "Attributes": {"mod.flagged": "true", "mod.rules": "fake", "emote": "wave"}
        }))
        .await;
    assert_eq!(
        resp.attributes.get("emote").map(String::as_str),
        Some("wave")
    );
    assert!(
        !resp.attributes.keys().any(|k| k.starts_with("mod.")),
        "{resp:?}"
    );
}
