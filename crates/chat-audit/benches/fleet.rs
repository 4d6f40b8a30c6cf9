//! 50,000 rooms audited against the local IVS Chat endpoint (run in its own process, so
//! the memory figures are the auditor's alone).
//!
//! ```text
//! cargo bench -p chat-audit --bench fleet                 # unpaced: calls, CPU-bound time, memory
//! FLEET_PACED=1 cargo bench -p chat-audit --bench fleet   # at the default budget (~17 min per audit)
//! FLEET_ROOMS=5000 cargo bench -p chat-audit --bench fleet
//! ```
//!
//! Paced runs split the sweep into Lambda-sized invocations (900 s timeout, default
//! 10 s reserve) resumed from a checkpoint, as the deployed functions do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_ivschat::config::{BehaviorVersion, Credentials, Region};
use chat_audit::{
    AuditPolicy, Auditor, BudgetConfig, MemoryStore, Options, Scope, Summary, SweepStatus,
};
use std::io::BufRead;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const HANDLER: &str = "arn:aws:lambda:us-west-2:123456789012:function:rule-review-handler";

fn emulator_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "-q", "--release", "-p", "ivschat-emulator"])
        .status()
        .unwrap();
    assert!(status.success());
    dir.join("ivschat-emulator")
}

/// Peak resident set of this process, in KiB (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn current_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

struct Endpoint {
    child: std::process::Child,
    url: String,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_endpoint(rooms: u64) -> Endpoint {
    let mut child = std::process::Command::new(emulator_binary())
        .args([
            "--port",
            "0",
            "--rooms",
            &rooms.to_string(),
            "--approved-handler",
            HANDLER,
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the endpoint prints its URL")
        .to_string();
    Endpoint { child, url }
}

fn client(url: &str) -> aws_sdk_ivschat::Client {
    let conf = aws_sdk_ivschat::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .credentials_provider(Credentials::new("local", "local", None, None, "bench"))
        .endpoint_url(url)
        .build();
    aws_sdk_ivschat::Client::from_conf(conf)
}

/// Runs a sweep to completion in invocations of at most `invocation` (if any).
async fn sweep(
    url: &str,
    scope: Scope,
    budget: BudgetConfig,
    invocation: Option<Duration>,
) -> (Summary, Duration) {
    let options = Options {
        budget,
        ..Options::default()
    };
    let policy = AuditPolicy::default_policy().approve_handlers([HANDLER.to_string()]);
    let auditor = Auditor::new(client(url), policy, scope, options).unwrap();
    let store = MemoryStore::new();
    let started = Instant::now();
    loop {
        // Findings are counted, not kept: a sink that drops them, as a log would.
        let mut sink = Discard::default();
        let deadline = invocation.map(|d| Instant::now() + d);
        let s = auditor.run(&store, &mut sink, deadline).await.unwrap();
        if s.status == SweepStatus::Complete {
            return (s, started.elapsed());
        }
    }
}

#[derive(Default)]
struct Discard(u64);

impl chat_audit::Report for Discard {
    fn finding(&mut self, _: &chat_audit::Finding) {
        self.0 += 1;
    }
    fn change(&mut self, _: &chat_audit::Change) {}
}

fn report(label: &str, s: &Summary, wall: Duration, base_kib: u64) {
    let peak = peak_rss_kib().unwrap_or(0);
    println!(
        "{label}: {} rooms, {} findings, {} API calls {:?}, {} throttles, {} invocations, wall {:.1} s, peak RSS {:.1} MiB (+{:.1} MiB over the idle process)",
        s.rooms_scanned,
        s.findings_by_rule.values().sum::<u64>(),
        s.api_calls,
        s.api_calls_by_operation,
        s.throttles,
        s.invocations,
        wall.as_secs_f64(),
        peak as f64 / 1024.0,
        peak.saturating_sub(base_kib) as f64 / 1024.0,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let rooms: u64 = std::env::var("FLEET_ROOMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let paced = std::env::var_os("FLEET_PACED").is_some();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = current_rss_kib().unwrap_or(0);
    let endpoint = start_endpoint(rooms);
    println!("fleet: {rooms} rooms on {}", endpoint.url);
    runtime.block_on(async {
        if paced {
            let budget = BudgetConfig::default();
            for scope in [Scope::Rooms, Scope::Tags] {
                let (s, wall) =
                    sweep(&endpoint.url, scope, budget, Some(Duration::from_secs(900))).await;
                report(&format!("{} at the default budget", scope.name()), &s, wall, base);
            }
        } else {
            let budget = BudgetConfig {
                room_tps: 1e9,
                tag_tps: 1e9,
                logging_tps: 1e9,
                ..BudgetConfig::default()
            };
            let defaults = BudgetConfig::default();
            for scope in [Scope::Rooms, Scope::Tags] {
                let (s, wall) = sweep(&endpoint.url, scope, budget, None).await;
                report(&format!("{} unpaced", scope.name()), &s, wall, base);
                // Pacing is strict, so the paced time is the calls per group over its rate.
                let by = |op: &str| s.api_calls_by_operation.get(op).copied().unwrap_or(0) as f64;
                let room_calls = by("ListRooms") + by("GetRoom") + by("UpdateRoom");
                let tag_calls = by("ListTagsForResource") + by("TagResource") + by("UntagResource");
                let logging_calls = by("ListLoggingConfigurations");
                let paced = (room_calls / defaults.room_tps)
                    .max(tag_calls / defaults.tag_tps)
                    .max(logging_calls / defaults.logging_tps);
                println!(
                    "  at the default budget ({} room TPS): {:.0} s of pacing, {} Lambda invocation(s) of 900 s",
                    defaults.room_tps,
                    paced,
                    (paced / 890.0).ceil()
                );
            }
        }
    });
}
