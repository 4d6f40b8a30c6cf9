//! The sweep's fault cases against the local IVS Chat endpoint, with injected faults: rooms
//! changed and created mid-sweep, the checkpoint store failing at each step, another
//! invocation taking the sweep over, page tokens that expire (on a later page, between
//! runs), slow responses and timeouts, throttling bursts longer than the backoff at
//! 50,000 rooms, and a listing that never ends. For each: the summary tells the truth and
//! no finding is lost or counted twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chat_audit::{
    AuditError, Auditor, Checkpoint, CheckpointStore, Collect, MemoryStore, NoStore, Scope,
    SeenPage, StoreError, Summary, SweepStatus,
};
use ivschat_emulator::{Emulator, Fault, RoomSeed};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod support;
use support::{HANDLER, client, count, fast, fleet, policy};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A clean one-shot sweep of the endpoint as it is now: what every faulty sweep must add
/// up to.
async fn one_shot(emu: &Emulator, scope: Scope) -> Summary {
    Auditor::new(client(emu), policy(), scope, fast())
        .unwrap()
        .run(&NoStore, &mut Collect::default(), None)
        .await
        .unwrap()
}

/// Findings per room ARN and rule, to tell a lost or doubled finding.
fn by_room(out: &Collect) -> BTreeMap<(String, &'static str), u32> {
    let mut m = BTreeMap::new();
    for f in &out.findings {
        *m.entry((f.resource_arn.clone(), f.rule)).or_default() += 1;
    }
    m
}

/// ListRooms moves a changed room to the head, behind the cursor. A room changed before
/// the sweep reached it and a room created mid-sweep are caught up; a room changed after
/// it was checked is not checked (or counted) twice.
#[tokio::test]
async fn rooms_changed_or_created_mid_sweep_are_covered_once() {
    let n = 120;
    let emu = fleet(n).await;
    // At the second page: room 3 (on the last page, not reached yet) loses its handler,
    // room 115 (on the first page, checked) loses its handler, and a new room appears.
    let stripped = |i: u64| {
        let mut r = ivschat_emulator::fleet_room(i, HANDLER, 0).updated(now());
        r.handler = None;
        r
    };
    emu.update_room_on("ListRooms", 2, stripped(3));
    emu.update_room_on("ListRooms", 2, stripped(115));
    emu.update_room_on(
        "ListRooms",
        2,
        RoomSeed::new("fresh0000001")
            .handler(HANDLER, "DENY")
            .logging("chatlogs")
            .tag("owner", "new")
            .updated(now()),
    );
    let auditor = Auditor::new(client(&emu), policy(), Scope::Rooms, fast()).unwrap();
    let mut out = Collect::default();
    let s = auditor.run(&NoStore, &mut out, None).await.unwrap();
    assert_eq!(s.status, SweepStatus::Complete);
    assert_eq!(s.rooms_scanned, n + 1, "every room once, the new one too");
    assert_eq!(s.rooms_caught_up, 2, "room 3 and the new room");
    assert_eq!(
        s.catch_up_passes, 2,
        "one that found them, one that found nothing"
    );
    let findings = by_room(&out);
    let arn = |id: &str| ivschat_emulator::room_arn(id);
    assert_eq!(
        findings.get(&(arn("fleet0000003"), "room.handler-missing")),
        Some(&1),
        "the room changed ahead of the cursor is reported"
    );
    assert_eq!(
        findings.get(&(arn("fleet0000115"), "room.handler-missing")),
        None,
        "the room changed after its check is the next sweep's"
    );
    assert!(findings.values().all(|&c| c == 1), "nothing twice");
    assert_eq!(
        s.findings_by_rule["room.handler-missing"],
        count(n, |i| i % 10 == 0) + 1
    );
    // The next sweep sees room 115 as it is now.
    let next = one_shot(&emu, Scope::Rooms).await;
    assert_eq!(
        next.findings_by_rule["room.handler-missing"],
        count(n, |i| i % 10 == 0) + 2
    );
}

/// What the faulty store does, by operation and call number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Load,
    Save,
    SavePage,
    LoadSeen,
}

/// A [`MemoryStore`] that fails chosen calls, or lets "another invocation" take the sweep
/// over just before a chosen save.
#[derive(Default)]
struct FaultyStore {
    inner: MemoryStore,
    calls: Mutex<BTreeMap<String, u64>>,
    failures: Mutex<Vec<(Op, u64)>>,
    takeover_on_save: Mutex<Option<u64>>,
}

impl FaultyStore {
    fn fail(&self, op: Op, nth: u64) {
        self.failures.lock().unwrap().push((op, nth));
    }
    /// Counts the call and says whether it must fail.
    fn hit(&self, op: Op) -> Result<u64, StoreError> {
        let mut calls = self.calls.lock().unwrap();
        let n = calls.entry(format!("{op:?}")).or_default();
        *n += 1;
        let n = *n;
        let mut failures = self.failures.lock().unwrap();
        if let Some(at) = failures.iter().position(|f| *f == (op, n)) {
            failures.remove(at);
            return Err(StoreError::Backend(format!("injected {op:?} failure")));
        }
        Ok(n)
    }
}

impl CheckpointStore for FaultyStore {
    async fn load(&self, audit: &str) -> Result<(Option<Checkpoint>, u64), StoreError> {
        self.hit(Op::Load)?;
        self.inner.load(audit).await
    }
    async fn save(&self, audit: &str, cp: &Checkpoint, expected: u64) -> Result<u64, StoreError> {
        self.hit(Op::Save)?;
        self.inner.save(audit, cp, expected).await
    }
    async fn save_page(
        &self,
        audit: &str,
        cp: &Checkpoint,
        expected: u64,
        seen: SeenPage<'_>,
    ) -> Result<u64, StoreError> {
        let n = self.hit(Op::SavePage)?;
        if *self.takeover_on_save.lock().unwrap() == Some(n) {
            // Another invocation loads the checkpoint and claims the sweep.
            let (current, version) = self.inner.load(audit).await?;
            let mut theirs = current.unwrap_or_default();
            theirs.lease_owner = "other-invocation".into();
            theirs.lease_until_ms = 0;
            self.inner.save(audit, &theirs, version).await?;
        }
        self.inner.save_page(audit, cp, expected, seen).await
    }
    async fn load_seen(&self, audit: &str, sweep: i64, pages: u64) -> Result<Vec<u64>, StoreError> {
        self.hit(Op::LoadSeen)?;
        self.inner.load_seen(audit, sweep, pages).await
    }
    async fn clear_seen(&self, audit: &str, sweep: i64) -> Result<(), StoreError> {
        self.inner.clear_seen(audit, sweep).await
    }
}

/// Runs invocations (each with `deadline_ms` to live, if given) until the sweep completes;
/// every finding record of every invocation is kept. Errors are returned, not retried.
async fn until_complete(
    auditor: &Auditor,
    store: &impl CheckpointStore,
    out: &mut Collect,
    deadline_ms: Option<u64>,
    max_invocations: u32,
) -> Summary {
    for _ in 0..max_invocations {
        let deadline = deadline_ms.map(|ms| Instant::now() + Duration::from_millis(ms));
        let s = auditor.run(store, out, deadline).await.unwrap();
        if s.status == SweepStatus::Complete {
            return s;
        }
    }
    panic!("the sweep did not complete in {max_invocations} invocations");
}

/// The store fails on load, on claim, mid-sweep (checkpoint or seen rooms), on the final
/// save and on loading the seen rooms when resuming. Each time the invocation stops with
/// the store's error and the next one completes the sweep with the totals of a clean one.
#[tokio::test]
async fn a_failing_checkpoint_store_loses_and_doubles_nothing() {
    let n = 300;
    let emu = fleet(n).await;
    let clean = one_shot(&emu, Scope::Rooms).await;
    // Save 1 claims the sweep, page saves 1..=6 follow the six pages (with their seen
    // rooms), save 2 is the final one (the catch-up page finds nothing new).
    let cases = [
        ("load", vec![(Op::Load, 1)]),
        ("claim", vec![(Op::Save, 1)]),
        ("mid-sweep page save", vec![(Op::SavePage, 4)]),
        ("final save", vec![(Op::Save, 2)]),
        (
            "seen rooms on resume",
            vec![(Op::SavePage, 4), (Op::LoadSeen, 1)],
        ),
    ];
    for (name, failures) in cases {
        let store = FaultyStore::default();
        for (op, nth) in &failures {
            store.fail(*op, *nth);
        }
        let auditor = Auditor::new(client(&emu), policy(), Scope::Rooms, fast()).unwrap();
        let mut out = Collect::default();
        let mut errors = 0;
        let last = loop {
            match auditor.run(&store, &mut out, None).await {
                Ok(s) if s.status == SweepStatus::Complete => break s,
                Ok(s) => panic!("{name}: {s:?}"),
                Err(AuditError::Store(StoreError::Backend(e))) => {
                    assert!(e.contains("injected"), "{name}: {e}");
                    errors += 1;
                    assert!(errors <= failures.len(), "{name}: too many errors");
                }
                Err(e) => panic!("{name}: {e}"),
            }
        };
        assert_eq!(errors, failures.len(), "{name}");
        assert_eq!(last.rooms_scanned, n, "{name}");
        assert_eq!(last.findings_by_rule, clean.findings_by_rule, "{name}");
        assert_eq!(
            last.findings_by_severity, clean.findings_by_severity,
            "{name}"
        );
        // Every finding was reported (records are at least once: a redone page repeats).
        let reported: std::collections::BTreeSet<_> = by_room(&out).into_keys().collect();
        assert_eq!(
            reported.len() as u64,
            clean.findings_by_rule.values().sum::<u64>(),
            "{name}"
        );
    }
}

/// Another invocation takes the sweep over mid-sweep: this one stops as `busy` without
/// saving, the other completes it, and the totals are a clean sweep's.
#[tokio::test]
async fn another_invocation_taking_the_lease_mid_sweep_stops_this_one() {
    let n = 300;
    let emu = fleet(n).await;
    let clean = one_shot(&emu, Scope::Rooms).await;
    let store = FaultyStore::default();
    *store.takeover_on_save.lock().unwrap() = Some(3);
    let mut mine = fast();
    mine.owner = "this-invocation".into();
    let auditor = Auditor::new(client(&emu), policy(), Scope::Rooms, mine).unwrap();
    let s = auditor
        .run(&store, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(s.status, SweepStatus::Busy);
    assert_eq!(s.rooms_scanned, 0, "a busy summary claims nothing");
    let cp = store.inner.get("room-audit").unwrap();
    assert_eq!(cp.lease_owner, "other-invocation");
    let mut theirs = fast();
    theirs.owner = "other-invocation".into();
    let other = Auditor::new(client(&emu), policy(), Scope::Rooms, theirs).unwrap();
    let done = until_complete(&other, &store, &mut Collect::default(), None, 2).await;
    assert_eq!(done.rooms_scanned, n);
    assert_eq!(done.findings_by_rule, clean.findings_by_rule);
}

/// A page token expires on a later page: the pass lists from the head again, skips the
/// rooms it has checked, and completes with nothing counted twice.
#[tokio::test]
async fn a_token_expiring_on_a_later_page_restarts_the_listing_not_the_sweep() {
    let n = 300;
    let emu = fleet(n).await;
    let clean = one_shot(&emu, Scope::Rooms).await;
    let before = emu.stats().calls["ListRooms"];
    // The fourth page's token is expired when it arrives.
    emu.expire_tokens_on("ListRooms", before + 4);
    let auditor = Auditor::new(client(&emu), policy(), Scope::Rooms, fast()).unwrap();
    let s = auditor
        .run(&MemoryStore::new(), &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(s.status, SweepStatus::Complete);
    assert_eq!(s.token_restarts, 1);
    assert_eq!(s.rooms_scanned, n);
    assert_eq!(s.findings_by_rule, clean.findings_by_rule);
    // 6 pages, the rejected call, 3 pages listed again, 1 catch-up page.
    assert_eq!(s.api_calls_by_operation["ListRooms"], 6 + 1 + 3 + 1);
}

/// A long first sweep whose token expires between every two scheduled runs still
/// finishes: no run starts the sweep over, and each makes progress. (The tag audit with
/// summaries that lack tags, so a page costs 51 calls and listing again costs 1 a page.)
#[tokio::test]
async fn a_long_sweep_whose_token_expires_between_every_run_still_finishes() {
    let n = 400;
    let emu = Emulator::builder()
        .without_summary_tags()
        .start()
        .await
        .unwrap();
    emu.seed_fleet(n, HANDLER);
    let clean = one_shot(&emu, Scope::Tags).await;
    let mut opts = fast();
    opts.budget.tag_tps = 400.0; // a page of tag reads every ~125 ms
    opts.budget.room_tps = 400.0;
    opts.reserve = Duration::ZERO;
    let store = MemoryStore::new();
    let auditor = Auditor::new(client(&emu), policy(), Scope::Tags, opts).unwrap();
    let mut runs = 0;
    let mut scanned = Vec::new();
    let last = loop {
        runs += 1;
        assert!(runs <= 40, "no end after 40 runs: {scanned:?}");
        emu.expire_tokens();
        let deadline = Instant::now() + Duration::from_millis(400);
        let s = auditor
            .run(&store, &mut Collect::default(), Some(deadline))
            .await
            .unwrap();
        if s.status == SweepStatus::Complete {
            break s;
        }
        scanned.push(s.rooms_scanned);
    };
    assert!(
        runs > 2,
        "the sweep must span runs to test anything: {runs}"
    );
    assert!(
        scanned.windows(2).all(|w| w[1] > w[0]),
        "every run makes progress: {scanned:?}"
    );
    assert_eq!(last.invocations, runs);
    assert_eq!(last.rooms_scanned, n);
    assert_eq!(last.findings_by_rule, clean.findings_by_rule);
    // Every run but the first resumes on an expired token, unless it resumes at the
    // start of a catch-up pass (no token).
    assert!(last.token_restarts >= runs - 2, "{last:?}");
}

/// Slow responses, and responses slower than the client's attempt timeout: retried,
/// counted, and the sweep completes with a clean sweep's totals.
#[tokio::test]
async fn slow_responses_and_timeouts_are_retried() {
    let n = 150;
    let emu = fleet(n).await;
    let clean = one_shot(&emu, Scope::Rooms).await;
    let conf = client(&emu)
        .config()
        .to_builder()
        .timeout_config(
            aws_sdk_ivschat::config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_millis(250))
                .build(),
        )
        .build();
    let timed = aws_sdk_ivschat::Client::from_conf(conf);
    // Two slow answers within the timeout, then two past it.
    emu.inject(
        Some("ListRooms"),
        Fault::Slow(Duration::from_millis(100)),
        2,
    );
    let auditor = Auditor::new(timed.clone(), policy(), Scope::Rooms, fast()).unwrap();
    let s = auditor
        .run(&NoStore, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!((s.status, s.retries), (SweepStatus::Complete, 0));
    emu.inject(
        Some("ListRooms"),
        Fault::Slow(Duration::from_millis(600)),
        2,
    );
    let s = auditor
        .run(&NoStore, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(s.status, SweepStatus::Complete);
    assert_eq!(s.retries, 2, "two timeouts retried");
    assert_eq!(s.rooms_scanned, n);
    assert_eq!(s.findings_by_rule, clean.findings_by_rule);
}

/// At 50,000 rooms, throttling bursts longer than the whole backoff: the invocation stops
/// with its checkpoint at the throttled page, the next resumes, the sweep completes within
/// the quota (no throttling but the injected bursts) and nothing is counted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_bursts_longer_than_the_backoff_at_50000_rooms() {
    let n = 50_000;
    let emu = Emulator::builder().room_tps(3_000.0).start().await.unwrap();
    emu.seed_fleet(n, HANDLER);
    let mut opts = fast();
    opts.budget.room_tps = 1_000.0; // a third of the emulated quota
    let attempts = opts.budget.max_attempts;
    let store = MemoryStore::new();
    let auditor = Auditor::new(client(&emu), policy(), Scope::Rooms, opts).unwrap();
    let mut out = Collect::default();
    // A burst that outlasts every retry, at the 400th page.
    emu.inject_from("ListRooms", 400, Fault::Throttle, attempts);
    let mut bursts = 0;
    let last = loop {
        match auditor.run(&store, &mut out, None).await {
            Ok(s) if s.status == SweepStatus::Complete => break s,
            Err(AuditError::Api(chat_audit::ApiError::Exhausted { .. })) => bursts += 1,
            other => panic!("{other:?}"),
        }
        assert!(bursts <= 1, "one burst, one stop");
    };
    assert_eq!(
        bursts, 1,
        "the first burst stops the first run; the next completes"
    );
    assert_eq!(last.status, SweepStatus::Complete);
    assert_eq!(last.rooms_scanned, n);
    assert_eq!(last.invocations, 2);
    let stats = emu.stats();
    assert_eq!(stats.throttled, 0, "the budget stays under the quota");
    assert_eq!(
        last.throttles,
        u64::from(attempts),
        "only the injected burst"
    );
    let by = |r: &str| last.findings_by_rule.get(r).copied().unwrap_or(0);
    assert_eq!(by("room.handler-missing"), count(n, |i| i % 10 == 0));
    assert_eq!(by("room.logging-missing"), count(n, |i| i % 7 == 0));
    assert_eq!(by("room.stale"), count(n, |i| i % 19 == 0));
}

/// A listing whose token never ends (its last page points back at its first): the
/// invocation stops with an error that says so, having counted each room once; once the
/// service behaves, the next invocation completes the sweep.
#[tokio::test]
async fn a_listing_that_never_ends_is_stopped() {
    let n = 120;
    let emu = fleet(n).await;
    let clean = one_shot(&emu, Scope::Rooms).await;
    emu.endless_listing(true);
    let store = MemoryStore::new();
    let auditor = Auditor::new(client(&emu), policy(), Scope::Rooms, fast()).unwrap();
    let err = auditor
        .run(&store, &mut Collect::default(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuditError::Listing(why) if why.contains("token")),
        "{err}"
    );
    let cp = store.get("room-audit").unwrap();
    assert!(cp.in_progress);
    assert_eq!(cp.summary.rooms_scanned, n, "each room once, then stopped");
    emu.endless_listing(false);
    let s = auditor
        .run(&store, &mut Collect::default(), None)
        .await
        .unwrap();
    assert_eq!(s.status, SweepStatus::Complete);
    assert_eq!(s.rooms_scanned, n);
    assert_eq!(s.findings_by_rule, clean.findings_by_rule);
}

/// A checkpoint from a release before the seen set (format 0), or one whose seen pages
/// are gone (expired after two weeks in progress), is not resumed on state it lacks: a new
/// sweep starts, and its totals are a clean sweep's.
#[tokio::test]
async fn a_checkpoint_without_its_seen_rooms_starts_a_new_sweep() {
    let n = 120;
    let emu = fleet(n).await;
    let clean = one_shot(&emu, Scope::Rooms).await;
    let auditor = Auditor::new(client(&emu), policy(), Scope::Rooms, fast()).unwrap();
    for (name, format, pages) in [("older release", 0, 0), ("seen pages expired", 2, 3)] {
        let store = MemoryStore::new();
        let mut old = Checkpoint {
            format,
            in_progress: true,
            next_token: Some("after-1-e0".into()),
            pages,
            ..Checkpoint::default()
        };
        old.summary.rooms_scanned = 999;
        old.summary.sweep_started = now() as i64 - 60;
        store.save("room-audit", &old, 0).await.unwrap();
        let s = auditor
            .run(&store, &mut Collect::default(), None)
            .await
            .unwrap();
        assert_eq!(s.status, SweepStatus::Complete, "{name}");
        assert_eq!((s.rooms_scanned, s.invocations), (n, 1), "{name}");
        assert_eq!(s.findings_by_rule, clean.findings_by_rule, "{name}");
        assert_eq!(
            store.get("room-audit").unwrap().format,
            chat_audit::CHECKPOINT_FORMAT
        );
    }
}

/// An endless listing whose loop is longer than one invocation reaches: no invocation sees
/// a token twice, but the pass's page count, kept in the checkpoint, gives it away.
#[tokio::test]
async fn an_endless_listing_spanning_invocations_is_stopped() {
    let n = 120;
    let emu = fleet(n).await;
    emu.endless_listing(true);
    let mut opts = fast();
    opts.budget.room_tps = 20.0; // a page every 50 ms: two or three pages a run
    opts.reserve = Duration::ZERO;
    let store = MemoryStore::new();
    let auditor = Auditor::new(client(&emu), policy(), Scope::Rooms, opts).unwrap();
    let mut runs = 0;
    let why = loop {
        runs += 1;
        assert!(runs <= 30, "an endless listing was never stopped");
        let deadline = Instant::now() + Duration::from_millis(130);
        match auditor
            .run(&store, &mut Collect::default(), Some(deadline))
            .await
        {
            Ok(s) => assert_eq!(s.status, SweepStatus::InProgress),
            Err(AuditError::Listing(why)) => break why,
            Err(e) => panic!("{e}"),
        }
    };
    assert!(runs > 2, "{runs}");
    assert!(why.contains("pages") || why.contains("token"), "{why}");
    let cp = store.get("room-audit").unwrap();
    assert_eq!(cp.summary.rooms_scanned, n, "each room once");
}
