//! The whole invocation through a local Lambda Runtime API: cold start (process start to
//! first verdict), per-invocation latency (p50, p99) over the sample events, peak RSS of
//! the handler process, and the binary's size.
//!
//! `cargo bench -p rule-review-handler --bench invoke`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use runtime_api_emulator::{Outcome, RuntimeApi};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rule-review-handler");

fn events() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("rule-review-handler-")
        })
        .collect();
    v.sort();
    v.into_iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn spawn(api: &RuntimeApi) -> tokio::process::Child {
    api.command(BIN)
        .env("AWS_LAMBDA_LOG_LEVEL", "WARN")
        .spawn()
        .unwrap()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let events = events();
    let first = events[0].clone();
    // Cold starts: a fresh process per sample, process start to first response.
    let mut colds = Vec::new();
    for _ in 0..15 {
        let api = RuntimeApi::start().await.unwrap();
        let t = Instant::now();
        let mut child = spawn(&api);
        let out = api.invoke(first.clone()).await.unwrap();
        colds.push(t.elapsed());
        assert!(matches!(out, Outcome::Response(_)));
        child.kill().await.ok();
    }
    colds.sort();
    // Warm invocations.
    let api = RuntimeApi::start().await.unwrap();
    let child = spawn(&api);
    let pid = child.id().unwrap();
    let mut lat = Vec::new();
    for round in 0..300 {
        for e in &events {
            let t = Instant::now();
            let out = api.invoke(e.clone()).await.unwrap();
            if round > 0 {
                lat.push(t.elapsed());
            }
            assert!(matches!(out, Outcome::Response(_)));
        }
    }
    lat.sort();
    let rss = peak_rss_kib(pid).unwrap_or(0);
    let size = std::fs::metadata(BIN).map(|m| m.len()).unwrap_or(0);
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
    let us = |d: Duration| format!("{:.0} us", d.as_secs_f64() * 1e6);
    println!(
        "cold start (process start to first verdict): median {}, max {}",
        ms(colds[colds.len() / 2]),
        ms(*colds.last().unwrap())
    );
    println!(
        "invocation through the Runtime API ({} calls): p50 {}, p99 {}",
        lat.len(),
        us(pct(&lat, 0.5)),
        us(pct(&lat, 0.99))
    );
    println!("peak RSS of the handler: {:.1} MiB", rss as f64 / 1024.0);
    println!(
        "handler binary ({BIN}): {:.2} MiB",
        size as f64 / (1024.0 * 1024.0)
    );
}
