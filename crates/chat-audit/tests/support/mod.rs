//! Helpers the sweep test files share: a client for the local endpoint, a fast budget,
//! the policy with the stack's handler approved, a seeded fleet.
#![allow(dead_code, clippy::unwrap_used)]

use aws_sdk_ivschat::config::{BehaviorVersion, Credentials, Region};
use chat_audit::{AuditPolicy, BudgetConfig, Options};
use ivschat_emulator::Emulator;
use std::time::Duration;

pub const HANDLER: &str = "arn:aws:lambda:us-west-2:123456789012:function:rule-review-handler";

pub fn client(emu: &Emulator) -> aws_sdk_ivschat::Client {
    let conf = aws_sdk_ivschat::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .credentials_provider(Credentials::new("AKIDLOCAL", "secret", None, None, "test"))
        .endpoint_url(emu.endpoint_url())
        .build();
    aws_sdk_ivschat::Client::from_conf(conf)
}

/// A budget that does not slow tests down (backoff in milliseconds).
pub fn fast() -> Options {
    Options {
        budget: BudgetConfig {
            room_tps: 2_000.0,
            tag_tps: 2_000.0,
            logging_tps: 2_000.0,
            base_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(20),
            ..BudgetConfig::default()
        },
        ..Options::default()
    }
}

pub fn policy() -> AuditPolicy {
    AuditPolicy::default_policy().approve_handlers([HANDLER.to_string()])
}

pub async fn fleet(n: u64) -> Emulator {
    let emu = Emulator::builder().start().await.unwrap();
    emu.seed_fleet(n, HANDLER);
    emu
}

pub fn count(n: u64, f: impl Fn(u64) -> bool) -> u64 {
    (0..n).filter(|&i| f(i)).count() as u64
}
