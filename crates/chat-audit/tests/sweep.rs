//! Sweeps against the local IVS Chat endpoint, through the real SDK client: many pages, a
//! throttling storm, a room deleted mid-sweep, access denied, malformed responses, server
//! errors, a deadline with resume, an overlapping invocation, remediation dry run versus
//! apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chat_audit::{
    ApiError, AuditError, AuditPolicy, Auditor, Checkpoint, CheckpointStore, Collect, JsonLines,
    MemoryStore, Mode, NoStore, Options, Outcome, Scope, SweepStatus,
};
use ivschat_emulator::{Emulator, Fault, RoomSeed};

mod support;
use std::time::{Duration, Instant};
use support::{HANDLER, client, count, fast, fleet, policy};

fn with_limits() -> AuditPolicy {
    AuditPolicy::parse(&format!(
        "{}\n[rooms.message_rate]\nmin = 1\nmax = 20\n",
        chat_audit::DEFAULT_AUDIT_POLICY_TOML
    ))
    .unwrap()
    .approve_handlers([HANDLER.to_string()])
}

#[tokio::test]
async fn a_fleet_sweep_finds_every_seeded_problem_from_summaries_alone() {
    let n = 260;
    let emu = fleet(n).await;
    let auditor = Auditor::new(client(&emu), policy(), Scope::Rooms, fast()).unwrap();
    let mut out = Collect::default();
    let s = auditor.run(&NoStore, &mut out, None).await.unwrap();
    assert_eq!(s.status, SweepStatus::Complete);
    assert_eq!(s.rooms_scanned, n);
    let by = |r: &str| s.findings_by_rule.get(r).copied().unwrap_or(0);
    assert_eq!(by("room.handler-missing"), count(n, |i| i % 10 == 0));
    assert_eq!(by("room.fallback"), count(n, |i| i % 10 == 1));
    assert_eq!(by("room.handler-unapproved"), count(n, |i| i % 10 == 2));
    assert_eq!(by("room.logging-missing"), count(n, |i| i % 7 == 0));
    assert_eq!(by("room.logging-inactive"), count(n, |i| i % 7 == 1));
    assert_eq!(by("room.name-pattern"), count(n, |i| i % 17 == 0));
    assert_eq!(by("room.stale"), count(n, |i| i % 19 == 0));
    assert!(s.findings_by_rule.keys().all(|r| r.starts_with("room.")));
    assert_eq!(
        out.findings.len() as u64,
        s.findings_by_rule.values().sum::<u64>()
    );
    // Six pages of 50, one catch-up page (nothing changed since the sweep began) and one
    // logging listing; no GetRoom, no ListTagsForResource.
    let calls = emu.stats().calls;
    assert_eq!(calls["ListRooms"], 7);
    assert_eq!(calls["ListLoggingConfigurations"], 1);
    assert_eq!(calls.get("GetRoom"), None);
    assert_eq!(s.api_calls, 8);
    assert_eq!(s.api_calls_by_operation["ListRooms"], 7);
    assert_eq!((s.catch_up_passes, s.rooms_caught_up), (1, 0));

    let auditor = Auditor::new(client(&emu), policy(), Scope::Tags, fast()).unwrap();
    let s = auditor
        .run(&NoStore, &mut Collect::default(), None)
        .await
        .unwrap();
    let by = |r: &str| s.findings_by_rule.get(r).copied().unwrap_or(0);
    assert_eq!(by("tag.required-missing"), count(n, |i| i % 9 == 0));
    assert_eq!(
        by("tag.case-collision"),
        count(n, |i| i % 13 == 0 && i % 9 != 0)
    );
    assert!(s.findings_by_rule.keys().all(|r| r.starts_with("tag.")));
    assert_eq!(emu.stats().calls.get("ListTagsForResource"), None);
}

#[tokio::test]
async fn tags_are_read_only_when_summaries_lack_them() {
    let emu = Emulator::builder()
        .without_summary_tags()
        .start()
        .await
        .unwrap();
    emu.seed_fleet(60, HANDLER);
    let auditor = Auditor::new(client(&emu), policy(), Scope::Tags, fast()).unwrap();
    let s = auditor
        .run(&NoStore, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(emu.stats().calls["ListTagsForResource"], 60);
    assert_eq!(
        s.findings_by_rule["tag.required-missing"],
        count(60, |i| i % 9 == 0)
    );
}

#[tokio::test]
async fn get_room_only_for_limits_and_only_for_rooms_changed_since_the_last_sweep() {
    let emu = fleet(120).await;
    emu.insert_room(
        RoomSeed::new("chatty")
            .limits(500, 90)
            .updated(1_767_225_600),
    );
    let store = MemoryStore::new();
    let auditor = Auditor::new(client(&emu), with_limits(), Scope::Rooms, fast()).unwrap();
    let s = auditor
        .run(&store, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(s.findings_by_rule["room.message-rate"], 1);
    assert_eq!(emu.stats().calls["GetRoom"], 121);
    // Nothing changed: the next sweep needs no GetRoom...
    let s = auditor
        .run(&store, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(s.status, SweepStatus::Complete);
    assert_eq!(emu.stats().calls["GetRoom"], 121);
    // ... until a room is updated.
    emu.insert_room(
        RoomSeed::new("chatty")
            .limits(500, 90)
            .updated(s.sweep_started as u64 + 1),
    );
    let s = auditor
        .run(&store, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(emu.stats().calls["GetRoom"], 122);
    assert_eq!(s.findings_by_rule["room.message-rate"], 1);
    // New bounds: every room's limits are read again.
    let stricter = AuditPolicy::parse(&format!(
        "{}\n[rooms.message_rate]\nmin = 1\nmax = 5\n",
        chat_audit::DEFAULT_AUDIT_POLICY_TOML
    ))
    .unwrap()
    .approve_handlers([HANDLER.to_string()]);
    let auditor = Auditor::new(client(&emu), stricter, Scope::Rooms, fast()).unwrap();
    let s = auditor
        .run(&store, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(emu.stats().calls["GetRoom"], 122 + 121);
    assert_eq!(s.findings_by_rule["room.message-rate"], 121);
}

#[tokio::test]
async fn a_throttling_storm_is_retried_and_counted() {
    let emu = Emulator::builder().room_tps(20.0).start().await.unwrap();
    emu.seed_fleet(60, HANDLER);
    let mut opts = fast();
    opts.budget.room_tps = 200.0;
    opts.budget.max_attempts = 50;
    let auditor = Auditor::new(client(&emu), with_limits(), Scope::Rooms, opts).unwrap();
    let s = auditor
        .run(&NoStore, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(s.status, SweepStatus::Complete);
    assert_eq!(s.rooms_scanned, 60);
    // Met throttling, and slowed down instead of hammering: most calls went through.
    assert!(s.throttles >= 3, "{s:?}");
    assert!(s.throttles < s.api_calls / 2, "{s:?}");
    assert_eq!(s.throttles, emu.stats().throttled);
    assert_eq!(s.retries, s.throttles);
}

#[tokio::test]
async fn the_default_budget_stays_under_the_quota() {
    // The real quota (5 TPS for room calls); the default budget paces at 1 TPS.
    let emu = Emulator::builder().room_tps(5.0).start().await.unwrap();
    emu.seed_fleet(120, HANDLER);
    let started = Instant::now();
    let auditor = Auditor::new(client(&emu), policy(), Scope::Rooms, Options::default()).unwrap();
    let s = auditor
        .run(&NoStore, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(s.rooms_scanned, 120);
    assert_eq!(s.throttles, 0);
    assert_eq!(emu.stats().throttled, 0);
    // Three ListRooms calls at 1 TPS take at least two seconds.
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[tokio::test]
async fn a_room_deleted_mid_sweep_is_counted_and_skipped() {
    let emu = fleet(30).await;
    // Newest first: the fifth GetRoom is for fleet0000025; it disappears just before.
    emu.remove_room_on("GetRoom", 5, "fleet0000025");
    let auditor = Auditor::new(client(&emu), with_limits(), Scope::Rooms, fast()).unwrap();
    let mut out = Collect::default();
    let s = auditor.run(&NoStore, &mut out, None).await.unwrap();
    assert_eq!(s.status, SweepStatus::Complete);
    assert_eq!(s.rooms_vanished, 1);
    assert_eq!(s.rooms_scanned, 29);
    assert!(
        !out.findings
            .iter()
            .any(|f| f.resource_arn.ends_with("fleet0000025"))
    );
}

#[tokio::test]
async fn access_denied_stops_at_once_and_the_next_run_resumes_cleanly() {
    let emu = fleet(120).await;
    emu.inject(Some("GetRoom"), Fault::AccessDenied, 1);
    let store = MemoryStore::new();
    let auditor = Auditor::new(client(&emu), with_limits(), Scope::Rooms, fast()).unwrap();
    let err = auditor
        .run(&store, &mut Collect::default(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::Api(ApiError::AccessDenied {
                operation: "GetRoom",
                ..
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("ivschat:GetRoom"), "{err}");
    assert_eq!(
        emu.stats().calls["GetRoom"],
        1,
        "access denied is not retried"
    );
    let cp = store.get("room-audit").unwrap();
    assert!(cp.in_progress);
    assert_eq!(cp.lease_until_ms, 0, "the lease is released");
    assert_eq!(cp.summary.rooms_scanned, 0, "the failed page is redone");
    let s = auditor
        .run(&store, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(s.status, SweepStatus::Complete);
    assert_eq!(s.rooms_scanned, 120);
    assert_eq!(s.invocations, 2);
}

#[tokio::test]
async fn malformed_responses_are_retried_then_reported() {
    let emu = fleet(60).await;
    emu.inject(Some("ListRooms"), Fault::Malformed, 1);
    emu.inject(Some("ListLoggingConfigurations"), Fault::ServerError, 2);
    let auditor = Auditor::new(client(&emu), policy(), Scope::Rooms, fast()).unwrap();
    let s = auditor
        .run(&NoStore, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(s.status, SweepStatus::Complete);
    assert_eq!(s.rooms_scanned, 60);
    assert_eq!(s.retries, 3);

    emu.inject(Some("ListRooms"), Fault::Malformed, 1_000);
    let err = auditor
        .run(&NoStore, &mut Collect::default(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::Api(ApiError::Exhausted {
                operation: "ListRooms",
                attempts: 6,
                ..
            })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_sweep_near_its_deadline_stops_and_the_next_invocation_resumes() {
    let n = 300;
    let emu = fleet(n).await;
    let mut opts = fast();
    opts.budget.room_tps = 20.0; // a page every 50 ms
    opts.reserve = Duration::ZERO;
    let store = MemoryStore::new();
    let auditor = Auditor::new(client(&emu), policy(), Scope::Rooms, opts).unwrap();
    let deadline = Instant::now() + Duration::from_millis(120);
    let first = auditor
        .run(&store, &mut Collect::default(), Some(deadline))
        .await
        .unwrap();
    assert_eq!(first.status, SweepStatus::InProgress);
    assert!(
        first.rooms_scanned > 0 && first.rooms_scanned < n,
        "{first:?}"
    );
    let cp = store.get("room-audit").unwrap();
    assert!(cp.next_token.is_some());
    assert_eq!(cp.lease_until_ms, 0);
    let last = auditor
        .run(&store, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(last.status, SweepStatus::Complete);
    assert_eq!(last.rooms_scanned, n, "every room once");
    assert_eq!(last.invocations, 2);
    assert_eq!(last.sweep_started, first.sweep_started);
    assert_eq!(emu.stats().calls["ListRooms"], 7);
    // The resumed sweep's totals equal a one-shot sweep's.
    let one_shot = Auditor::new(client(&emu), policy(), Scope::Rooms, fast())
        .unwrap()
        .run(&NoStore, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(last.findings_by_rule, one_shot.findings_by_rule);
    // A complete sweep leaves the watermark for the next one.
    let cp = store.get("room-audit").unwrap();
    assert!(!cp.in_progress);
    assert_eq!(cp.last_complete_started, Some(first.sweep_started));
}

/// A saved token that has expired since the last invocation: the sweep lists from the
/// head again and goes on (its totals and invocations kept), not over.
#[tokio::test]
async fn an_expired_saved_token_lists_from_the_head_and_the_sweep_goes_on() {
    let emu = fleet(70).await;
    let store = MemoryStore::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut stale = Checkpoint {
        format: chat_audit::CHECKPOINT_FORMAT,
        in_progress: true,
        next_token: Some("token-from-last-week".into()),
        ..Checkpoint::default()
    };
    stale.summary.sweep_started = now - 60;
    stale.summary.invocations = 1;
    store.save("room-audit", &stale, 0).await.unwrap();
    let auditor = Auditor::new(client(&emu), policy(), Scope::Rooms, fast()).unwrap();
    let s = auditor
        .run(&store, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(s.status, SweepStatus::Complete);
    assert_eq!(s.rooms_scanned, 70);
    assert_eq!((s.invocations, s.token_restarts), (2, 1));
    assert_eq!(s.sweep_started, now - 60);
    // The rejected call, two pages, one catch-up page.
    assert_eq!(s.api_calls_by_operation["ListRooms"], 4);
}

#[tokio::test]
async fn an_overlapping_invocation_does_nothing() {
    let emu = fleet(10).await;
    let store = MemoryStore::new();
    let held = Checkpoint {
        in_progress: true,
        lease_owner: "other-request".into(),
        lease_until_ms: u64::MAX,
        ..Checkpoint::default()
    };
    store.save("room-audit", &held, 0).await.unwrap();
    let auditor = Auditor::new(client(&emu), policy(), Scope::Rooms, fast()).unwrap();
    let s = auditor
        .run(&store, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(s.status, SweepStatus::Busy);
    assert!(emu.stats().calls.is_empty());
    assert_eq!(store.get("room-audit").unwrap(), held);
}

fn remediating(max_changes: u64) -> AuditPolicy {
    AuditPolicy::parse(&format!(
        r#"version = 1
[rooms]
approved_handlers = ["{HANDLER}"]
fallback_result = "DENY"
[tags]
required = ["owner"]
forbidden = ["temp"]
case_collisions = true
[tags.defaults]
owner = "unassigned"
[remediation]
rules = ["room.handler-missing", "room.handler-unapproved", "room.fallback", "tag.required-missing", "tag.forbidden-key"]
max_changes = {max_changes}
"#
    ))
    .unwrap()
}

fn with_mode(mode: Mode) -> Options {
    Options { mode, ..fast() }
}

#[tokio::test]
async fn remediation_dry_run_changes_nothing_and_apply_fixes_only_named_things() {
    let n = 40;
    let emu = fleet(n).await;
    let before: Vec<RoomSeed> = (0..n)
        .map(|i| emu.room(&format!("fleet{i:07}")).unwrap())
        .collect();
    let handler_fixes = count(n, |i| i % 10 <= 2);

    // Dry run: every change planned, none made, no extra calls.
    let dry = Auditor::new(
        client(&emu),
        remediating(100),
        Scope::Rooms,
        with_mode(Mode::DryRun),
    )
    .unwrap();
    let mut out = Collect::default();
    let s = dry.run(&NoStore, &mut out, None).await.unwrap();
    assert_eq!(s.changes[&Outcome::Planned], handler_fixes);
    assert!(out.changes.iter().all(|c| c.outcome == Outcome::Planned));
    let c0 = out
        .changes
        .iter()
        .find(|c| c.resource_arn.ends_with("fleet0000000"))
        .unwrap();
    assert_eq!(c0.before["messageReviewHandler"], serde_json::Value::Null);
    assert_eq!(c0.after["messageReviewHandler"]["uri"], HANDLER);
    assert_eq!(c0.after["messageReviewHandler"]["fallbackResult"], "DENY");
    for (i, b) in before.iter().enumerate() {
        assert_eq!(&emu.room(&format!("fleet{i:07}")).unwrap(), b);
    }
    assert_eq!(emu.stats().calls.get("UpdateRoom"), None);

    // Apply: the same changes, made.
    let apply = Auditor::new(
        client(&emu),
        remediating(100),
        Scope::Rooms,
        with_mode(Mode::Apply),
    )
    .unwrap();
    let mut out = Collect::default();
    let s = apply.run(&NoStore, &mut out, None).await.unwrap();
    assert_eq!(s.changes[&Outcome::Applied], handler_fixes);
    assert_eq!(emu.stats().calls["UpdateRoom"], handler_fixes);
    for i in 0..n {
        let room = emu.room(&format!("fleet{i:07}")).unwrap();
        assert_eq!(
            room.handler,
            Some((HANDLER.to_string(), "DENY".to_string())),
            "room {i}"
        );
        // Nothing else about the room changed.
        assert_eq!(room.tags, before[i as usize].tags);
        assert_eq!(room.logging, before[i as usize].logging);
    }
    // Idempotent: a second run finds nothing to fix.
    let mut out = Collect::default();
    let s = apply.run(&NoStore, &mut out, None).await.unwrap();
    assert!(out.changes.is_empty(), "{:?}", out.changes);
    assert!(!s.findings_by_rule.contains_key("room.handler-missing"));

    // Tags: add the default owner, remove temp, leave Owner (the policy does not name it),
    // and never add `owner` beside `Owner`: that fix would create a case collision.
    let tags = Auditor::new(
        client(&emu),
        remediating(100),
        Scope::Tags,
        with_mode(Mode::Apply),
    )
    .unwrap();
    let mut out = Collect::default();
    let report = Auditor::new(
        client(&emu),
        remediating(100),
        Scope::Tags,
        Options::default(),
    )
    .unwrap();
    let found_before = report
        .run(&NoStore, &mut Collect::default(), None)
        .await
        .unwrap()
        .findings_by_rule;
    let s = tags.run(&NoStore, &mut out, None).await.unwrap();
    let colliding = count(n, |i| i % 9 == 0 && i % 13 == 0);
    assert!(colliding > 0);
    assert_eq!(
        s.changes[&Outcome::Applied],
        count(n, |i| i % 9 == 0) - colliding + count(n, |i| i % 11 == 0)
    );
    assert_eq!(s.changes[&Outcome::Skipped], colliding);
    let held = out
        .changes
        .iter()
        .find(|c| c.outcome == Outcome::Skipped)
        .unwrap();
    assert!(
        held.reason
            .as_deref()
            .unwrap()
            .contains("tag.case-collision"),
        "{held:?}"
    );
    for i in 0..n {
        let room = emu.room(&format!("fleet{i:07}")).unwrap();
        let want_owner = match (i % 9 == 0, i % 13 == 0) {
            (true, true) => None,
            (true, false) => Some("unassigned".to_string()),
            _ => Some(format!("team-{}", i % 5)),
        };
        assert_eq!(room.tags.get("owner").cloned(), want_owner, "room {i}");
        assert!(!room.tags.contains_key("temp"), "room {i}");
        assert_eq!(room.tags.contains_key("Owner"), i % 13 == 0, "room {i}");
    }
    // No rule has more findings after remediation than before.
    let found_after = report
        .run(&NoStore, &mut Collect::default(), None)
        .await
        .unwrap()
        .findings_by_rule;
    for (rule, n) in &found_after {
        assert!(
            *n <= found_before.get(rule).copied().unwrap_or(0),
            "{rule}: {n} after, {:?} before",
            found_before.get(rule)
        );
    }
    let untag = out
        .changes
        .iter()
        .find(|c| c.action == "UntagResource")
        .unwrap();
    assert_eq!(untag.before, serde_json::json!({"temp": "1"}));
    assert_eq!(untag.after, serde_json::json!({"temp": null}));
    // Idempotent: the next run makes nothing and holds the same fixes back.
    let mut out = Collect::default();
    tags.run(&NoStore, &mut out, None).await.unwrap();
    assert!(
        out.changes.iter().all(|c| c.outcome == Outcome::Skipped),
        "{:?}",
        out.changes
    );
    assert_eq!(out.changes.len() as u64, colliding);
}

#[tokio::test]
async fn changes_are_capped_per_sweep() {
    let emu = fleet(100).await;
    let auditor = Auditor::new(
        client(&emu),
        remediating(5),
        Scope::Rooms,
        with_mode(Mode::Apply),
    )
    .unwrap();
    let s = auditor
        .run(&NoStore, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(s.changes[&Outcome::Applied], 5);
    assert_eq!(s.changes[&Outcome::Capped], count(100, |i| i % 10 <= 2) - 5);
    assert_eq!(emu.stats().calls["UpdateRoom"], 5);
}

#[tokio::test]
async fn changes_re_read_the_room_and_never_write_over_a_fresher_state() {
    // The owner attaches the handler between our listing and our read-before-write.
    let emu = fleet(1).await; // fleet0000000 has no handler
    let fixed = emu.room("fleet0000000").unwrap().handler(HANDLER, "DENY");
    emu.update_room_on("GetRoom", 1, fixed);
    let apply = |emu: &Emulator| {
        Auditor::new(
            client(emu),
            remediating(10),
            Scope::Rooms,
            with_mode(Mode::Apply),
        )
        .unwrap()
    };
    let mut out = Collect::default();
    let s = apply(&emu).run(&NoStore, &mut out, None).await.unwrap();
    assert_eq!(s.changes[&Outcome::AlreadyCompliant], 1);
    assert_eq!(out.changes[0].outcome, Outcome::AlreadyCompliant);
    assert_eq!(emu.stats().calls.get("UpdateRoom"), None);

    // The room is deleted between our listing and our read.
    let emu = fleet(1).await;
    emu.remove_room_on("GetRoom", 1, "fleet0000000");
    let s = apply(&emu)
        .run(&NoStore, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(s.changes[&Outcome::Vanished], 1);
    assert_eq!(emu.stats().calls.get("UpdateRoom"), None);
}

#[tokio::test]
async fn findings_are_one_json_record_per_line() {
    let emu = fleet(3).await;
    let auditor = Auditor::new(client(&emu), policy(), Scope::Rooms, fast()).unwrap();
    let mut buf = Vec::new();
    let s = auditor
        .run(&NoStore, &mut JsonLines(&mut buf), None)
        .await
        .unwrap();
    let text = String::from_utf8(buf).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, s.findings_by_rule.values().sum::<u64>());
    for l in &lines {
        assert_eq!(l["record"], "finding");
        for key in ["resource_arn", "rule", "severity", "observed", "expected"] {
            assert!(l[key].is_string(), "{key} in {l}");
        }
    }
    assert!(lines.iter().any(|l| l["rule"] == "room.handler-missing"
        && l["resource_arn"] == ivschat_emulator::room_arn("fleet0000000")
        && l["severity"] == "high"));
}
