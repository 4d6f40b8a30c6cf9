//! The emulator speaks the protocol of `aws-sdk-ivschat`: the real SDK client, pointed at
//! it with dummy credentials, pages through rooms, reads and changes rooms and tags, and
//! sees throttling, access denial, server errors, deleted rooms and malformed responses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_ivschat::config::retry::RetryConfig;
use aws_sdk_ivschat::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ivschat::types::{FallbackResult, MessageReviewHandler};
use ivschat_emulator::{Emulator, Fault, RoomSeed, room_arn};

fn client(emu: &Emulator, retry: RetryConfig) -> aws_sdk_ivschat::Client {
    let conf = aws_sdk_ivschat::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .credentials_provider(Credentials::new("AKIDLOCAL", "secret", None, None, "test"))
        .endpoint_url(emu.endpoint_url())
        .retry_config(retry)
        .build();
    aws_sdk_ivschat::Client::from_conf(conf)
}

fn seed(emu: &Emulator, n: u64) {
    for i in 0..n {
        emu.insert_room(
            RoomSeed::new(format!("room{i:06}"))
                .updated(1_767_225_600 + i)
                .tag("owner", "team-a"),
        );
    }
}

#[tokio::test]
async fn pages_through_rooms_newest_first() {
    let emu = Emulator::builder().start().await.unwrap();
    seed(&emu, 120);
    let c = client(&emu, RetryConfig::disabled());
    let mut pages = c.list_rooms().into_paginator().page_size(50).send();
    let mut ids = Vec::new();
    let mut count = 0;
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        count += 1;
        for r in page.rooms() {
            ids.push(r.id().unwrap().to_string());
            assert_eq!(r.tags().unwrap()["owner"], "team-a");
            assert!(r.update_time().is_some());
        }
    }
    assert_eq!(count, 3);
    assert_eq!(ids.len(), 120);
    assert_eq!(ids[0], "room000119");
    assert_eq!(ids[119], "room000000");
    assert_eq!(emu.stats().calls["ListRooms"], 3);
}

#[tokio::test]
async fn a_room_deleted_mid_sweep_does_not_shift_pages() {
    let emu = Emulator::builder().start().await.unwrap();
    seed(&emu, 100);
    let c = client(&emu, RetryConfig::disabled());
    let first = c.list_rooms().max_results(50).send().await.unwrap();
    let token = first.next_token().unwrap().to_string();
    // Delete a room already returned, and GetRoom another that is then gone.
    assert!(emu.remove_room("room000099"));
    assert!(emu.remove_room("room000010"));
    let second = c
        .list_rooms()
        .max_results(50)
        .next_token(token)
        .send()
        .await
        .unwrap();
    assert_eq!(second.rooms().len(), 49);
    assert_eq!(second.rooms()[0].id().unwrap(), "room000049");
    let err = c
        .get_room()
        .identifier(room_arn("room000010"))
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());
}

#[tokio::test]
async fn get_update_and_tags_round_trip() {
    let emu = Emulator::builder().start().await.unwrap();
    emu.insert_room(
        RoomSeed::new("abc")
            .limits(300, 20)
            .tag("keep", "1")
            .tag("bad", "x"),
    );
    let c = client(&emu, RetryConfig::disabled());
    let r = c.get_room().identifier("abc").send().await.unwrap();
    assert_eq!(r.maximum_message_length(), Some(300));
    assert_eq!(r.maximum_message_rate_per_second(), Some(20));
    assert!(r.message_review_handler().is_none());
    let handler = MessageReviewHandler::builder()
        .uri("arn:aws:lambda:us-west-2:123456789012:function:review")
        .fallback_result(FallbackResult::Deny)
        .build();
    let r = c
        .update_room()
        .identifier(room_arn("abc"))
        .message_review_handler(handler)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.message_review_handler().unwrap().fallback_result(),
        Some(&FallbackResult::Deny)
    );
    c.tag_resource()
        .resource_arn(room_arn("abc"))
        .tags("owner", "ops")
        .send()
        .await
        .unwrap();
    c.untag_resource()
        .resource_arn(room_arn("abc"))
        .tag_keys("bad")
        .send()
        .await
        .unwrap();
    let tags = c
        .list_tags_for_resource()
        .resource_arn(room_arn("abc"))
        .send()
        .await
        .unwrap();
    let mut keys: Vec<_> = tags.tags().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["keep", "owner"]);
    let err = c
        .tag_resource()
        .resource_arn(room_arn("abc"))
        .tags("aws:x", "y")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_validation_exception());
    let err = c.list_rooms().max_results(51).send().await;
    assert!(
        err.is_err(),
        "the SDK or the endpoint rejects maxResults 51"
    );
}

#[tokio::test]
async fn logging_configurations() {
    let emu = Emulator::builder().start().await.unwrap();
    emu.insert_logging("log1", "chat-logs", "ACTIVE");
    emu.insert_logging("log2", "broken", "CREATE_FAILED");
    let c = client(&emu, RetryConfig::disabled());
    let list = c.list_logging_configurations().send().await.unwrap();
    assert_eq!(list.logging_configurations().len(), 2);
    let one = c
        .get_logging_configuration()
        .identifier("log2")
        .send()
        .await
        .unwrap();
    assert_eq!(one.state().unwrap().as_str(), "CREATE_FAILED");
}

#[tokio::test]
async fn throttling_storm_then_recovery_with_sdk_retries() {
    // One request a second: a tight loop of 20 is throttled however slow the machine.
    let emu = Emulator::builder().room_tps(1.0).start().await.unwrap();
    seed(&emu, 3);
    let no_retry = client(&emu, RetryConfig::disabled());
    let mut throttled = 0;
    for _ in 0..20 {
        if let Err(e) = no_retry.get_room().identifier("room000001").send().await {
            assert_eq!(
                e.into_service_error().meta().code(),
                Some("ThrottlingException")
            );
            throttled += 1;
        }
    }
    assert!(throttled >= 10, "only {throttled} of 20 throttled");
    assert!(emu.stats().throttled >= 10);
    // With the SDK's standard retries (backoff), calls above the rate still succeed.
    let emu = Emulator::builder().room_tps(5.0).start().await.unwrap();
    seed(&emu, 3);
    let retrying = client(&emu, RetryConfig::standard().with_max_attempts(10));
    for _ in 0..8 {
        retrying
            .get_room()
            .identifier("room000001")
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn injected_faults() {
    let emu = Emulator::builder().start().await.unwrap();
    seed(&emu, 2);
    let c = client(&emu, RetryConfig::disabled());
    emu.inject(Some("ListRooms"), Fault::AccessDenied, 1);
    let e = c.list_rooms().send().await.unwrap_err();
    assert!(e.into_service_error().is_access_denied_exception());
    emu.inject(None, Fault::ServerError, 1);
    let e = c.list_rooms().send().await.unwrap_err();
    assert_eq!(
        e.into_service_error().meta().code(),
        Some("InternalServerException")
    );
    emu.inject(Some("ListRooms"), Fault::Malformed, 1);
    assert!(c.list_rooms().send().await.is_err());
    // Retries get past a transient 5xx.
    let retrying = client(&emu, RetryConfig::standard().with_max_attempts(3));
    emu.inject(None, Fault::ServerError, 1);
    assert_eq!(retrying.list_rooms().send().await.unwrap().rooms().len(), 2);
}
