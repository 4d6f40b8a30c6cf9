//! CI guard: fails when reviewing any hostile input takes more than 10 ms (ten times the
//! 1 ms target, so machine noise cannot trip it) with the default or the large policy, or
//! when a policy build takes more than 200 ms.
//!
//! `cargo bench -p chat-rules --bench guard`
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chat_rules::{Policy, Sender};
use std::time::Duration;
use support::{hostile, keep, large_policy_toml, median_of};

const REVIEW_BOUND: Duration = Duration::from_millis(10);
const BUILD_BOUND: Duration = Duration::from_millis(200);

fn main() {
    let large_text = large_policy_toml(false);
    let mut failures = Vec::new();
    let mut policies = Vec::new();
    for (name, text) in [
        ("default", chat_rules::DEFAULT_POLICY_TOML),
        ("large", large_text.as_str()),
    ] {
        let d = median_of(5, || {
            keep(Policy::from_toml(text).unwrap());
        });
        println!(
            "build {name}: {:.2} ms (bound {} ms)",
            d.as_secs_f64() * 1e3,
            BUILD_BOUND.as_millis()
        );
        if d > BUILD_BOUND {
            failures.push(format!("building the {name} policy took {d:?}"));
        }
        policies.push((name, Policy::from_toml(text).unwrap()));
    }
    for (name, text) in hostile() {
        for (pname, policy) in &policies {
            let d = median_of(21, || {
                keep(policy.review(&text, Sender::anonymous()));
            });
            println!("{name} / {pname}: {:.1} us", d.as_secs_f64() * 1e6);
            if d > REVIEW_BOUND {
                failures.push(format!("{name} with the {pname} policy took {d:?}"));
            }
        }
    }
    if failures.is_empty() {
        println!(
            "guard: every hostile input reviewed within {} ms",
            REVIEW_BOUND.as_millis()
        );
    } else {
        for f in &failures {
            eprintln!("guard FAILED: {f}");
        }
        std::process::exit(1);
    }
}
