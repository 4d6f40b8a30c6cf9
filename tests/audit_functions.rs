//! The audit functions as deployed: each built binary runs the real `lambda_runtime` loop
//! against a local Runtime API, is invoked with every `events/room-audit-*.json` and
//! `events/tag-audit-*.json` sample, and audits a seeded fleet on the local IVS Chat
//! endpoint. A sweep longer than the invocation stops at the deadline and the next
//! invocation resumes from the checkpoint.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use integration_tests::{binary, events_dir, read_event};
use ivschat_emulator::{Emulator, room_arn};
use runtime_api_emulator::{Outcome, RuntimeApi};
use serde_json::Value;
use std::time::Duration;

const HANDLER: &str = "arn:aws:lambda:us-west-2:123456789012:function:rule-review-handler";

fn samples(function: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(&format!("{function}-")) && n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no events/{function}-*.json");
    names
}

/// A running function and the task that drains its standard output (a full pipe would
/// block it).
struct Running {
    child: tokio::process::Child,
    stdout: tokio::task::JoinHandle<String>,
}

fn spawn(api: &RuntimeApi, function: &str, emu: &Emulator, extra: &[(&str, &str)]) -> Running {
    let mut cmd = api.command(binary(function));
    cmd.env("AWS_ENDPOINT_URL_IVSCHAT", emu.endpoint_url())
        .env("AWS_REGION", "us-west-2")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("APPROVED_HANDLER_ARNS", HANDLER)
        .env("DEADLINE_RESERVE_SECONDS", "0")
        .env("ROOM_TPS", "100")
        .env("TAG_TPS", "100")
        .env("LOGGING_TPS", "100")
        .stdout(std::process::Stdio::piped());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.kill_on_drop(true).spawn().unwrap();
    let mut pipe = child.stdout.take().unwrap();
    let stdout = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut out = String::new();
        let _ = pipe.read_to_string(&mut out).await;
        out
    });
    Running { child, stdout }
}

async fn invoke(api: &RuntimeApi, body: Vec<u8>) -> Value {
    let outcome = tokio::time::timeout(Duration::from_secs(60), api.invoke(body))
        .await
        .expect("an answer within 60 s")
        .expect("the endpoint is open");
    let Outcome::Response(body) = outcome else {
        panic!("the function reported an error: {outcome:?}");
    };
    serde_json::from_slice(&body).unwrap()
}

async fn stdout_lines(mut running: Running) -> Vec<Value> {
    running.child.start_kill().unwrap();
    let out = running.stdout.await.unwrap();
    out.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_audit_event_sweeps_a_seeded_fleet_and_prints_findings() {
    for (function, scope_prefix) in [("room-audit", "room."), ("tag-audit", "tag.")] {
        for file in samples(function) {
            let emu = Emulator::builder().start().await.unwrap();
            emu.seed_fleet(120, HANDLER);
            let api = RuntimeApi::start_with_deadline(Duration::from_secs(30))
                .await
                .unwrap();
            let child = spawn(&api, function, &emu, &[("REMEDIATION", "apply")]);
            let summary = invoke(&api, read_event(&file)).await;
            assert_eq!(summary["status"], "complete", "{file}: {summary}");
            assert_eq!(summary["audit"], function, "{file}");
            assert_eq!(summary["rooms_scanned"], 120, "{file}");
            let by_rule = summary["findings_by_rule"].as_object().unwrap();
            assert!(!by_rule.is_empty(), "{file}");
            assert!(
                by_rule.keys().all(|r| r.starts_with(scope_prefix)),
                "{file}"
            );
            let lines = stdout_lines(child).await;
            let findings: Vec<&Value> = lines.iter().filter(|l| l["record"] == "finding").collect();
            assert_eq!(
                findings.len() as u64,
                by_rule.values().map(|v| v.as_u64().unwrap()).sum::<u64>(),
                "{file}: one JSON line per finding"
            );
            assert!(
                lines
                    .iter()
                    .any(|l| l["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "IvsChatAudit"),
                "{file}: EMF metrics"
            );
            // The default policy remediates nothing, even with REMEDIATION=apply.
            assert!(summary["changes"].as_object().unwrap().is_empty(), "{file}");
            assert_eq!(emu.stats().calls.get("UpdateRoom"), None, "{file}");
            if function == "room-audit" {
                assert!(findings.iter().any(|f| f["rule"] == "room.handler-missing"
                    && f["resource_arn"] == room_arn("fleet0000000")));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dry_run_event_lowers_apply_to_a_dry_run() {
    let emu = Emulator::builder().start().await.unwrap();
    emu.seed_fleet(40, HANDLER);
    let api = RuntimeApi::start_with_deadline(Duration::from_secs(30))
        .await
        .unwrap();
    let policy = format!(
        "version = 1\n[rooms]\napproved_handlers = [\"{HANDLER}\"]\nfallback_result = \"DENY\"\n[remediation]\nrules = [\"room.handler-missing\", \"room.fallback\"]\n"
    );
    let child = spawn(
        &api,
        "room-audit",
        &emu,
        &[("REMEDIATION", "apply"), ("AUDIT_POLICY", &policy)],
    );
    let summary = invoke(&api, read_event("room-audit-dry-run.json")).await;
    assert_eq!(summary["changes"]["planned"], 8, "{summary}");
    assert_eq!(emu.stats().calls.get("UpdateRoom"), None);
    // A scheduled event applies.
    let summary = invoke(&api, read_event("room-audit-scheduled.json")).await;
    assert_eq!(summary["changes"]["applied"], 8, "{summary}");
    assert_eq!(emu.stats().calls["UpdateRoom"], 8);
    let lines = stdout_lines(child).await;
    let change = lines
        .iter()
        .find(|l| l["record"] == "change" && l["outcome"] == "applied")
        .unwrap();
    assert!(change["before"].is_object() && change["after"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_past_the_deadline_resumes_in_the_next_invocation() {
    let emu = Emulator::builder().start().await.unwrap();
    emu.seed_fleet(400, HANDLER);
    // 8 pages at 4 pages a second take 2 s; each invocation gets 1.2 s.
    let api = RuntimeApi::start_with_deadline(Duration::from_millis(1_200))
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("audit-checkpoint-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _child = spawn(
        &api,
        "room-audit",
        &emu,
        &[("ROOM_TPS", "4"), ("CHECKPOINT_DIR", dir.to_str().unwrap())],
    );
    let mut invocations = 0;
    let last = loop {
        invocations += 1;
        assert!(invocations <= 6, "the sweep never completed");
        let s = invoke(&api, read_event("room-audit-scheduled.json")).await;
        if s["status"] == "complete" {
            break s;
        }
        assert_eq!(s["status"], "in-progress", "{s}");
    };
    assert!(invocations >= 2, "{last}");
    assert_eq!(last["invocations"], invocations);
    assert_eq!(
        last["rooms_scanned"], 400,
        "every room exactly once: {last}"
    );
    assert_eq!(
        emu.stats().calls["ListRooms"],
        9,
        "8 pages and one catch-up page"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
