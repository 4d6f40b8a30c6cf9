//! Review speed, side by side with rustrict: per-message median, p99 and max over the
//! labelled chat corpus with the default policy and a large policy (10,000 terms, 100
//! regexes, every heuristic), every hostile input, policy build times, and how many
//! messages of each label each filter flags.
//!
//! `cargo bench -p chat-rules --bench review`
//!
//! Each message is reviewed many times and its own median taken; the corpus figures are
//! over those per-message medians.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chat_rules::{Outcome, Policy, Sender};
use rustrict::CensorStr;
use std::collections::BTreeMap;
use std::time::Duration;
use support::{corpus, hostile, keep, large_policy_toml, median_of};

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

fn us(d: Duration) -> String {
    format!("{:.2} us", d.as_secs_f64() * 1e6)
}

fn summary(name: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "  {name:<28} median {:>10}  p99 {:>10}  max {:>10}",
        us(pct(&v, 0.5)),
        us(pct(&v, 0.99)),
        us(*v.last().unwrap())
    );
}

fn main() {
    let large_text = large_policy_toml(false);
    let large_unicode_text = large_policy_toml(true);
    println!("policy build (median of 9):");
    for (name, text) in [
        ("default", chat_rules::DEFAULT_POLICY_TOML),
        ("large", large_text.as_str()),
    ] {
        let d = median_of(9, || {
            keep(Policy::from_toml(text).unwrap());
        });
        let s = Policy::from_toml(text).unwrap().stats();
        println!(
            "  {name:<8} {:>8.2} ms  ({} rules, {} terms, {} regexes)",
            d.as_secs_f64() * 1e3,
            s.rules,
            s.terms,
            s.regexes
        );
    }
    let default = Policy::default_policy();
    let large = Policy::from_toml(&large_text).unwrap();
    // The same policy with Unicode `\b` in its regexes, which the lint warns about.
    let large_u = Policy::from_toml(&large_unicode_text).unwrap();
    // rustrict builds its tables lazily on first use; do that outside the timings.
    keep("warm up".is_inappropriate());

    let corpus = corpus();
    println!("\nper message over the corpus ({} messages):", corpus.len());
    let time = |f: &dyn Fn(&str)| -> Vec<Duration> {
        corpus
            .iter()
            .map(|(_, m)| median_of(501, || f(m)))
            .collect()
    };
    summary(
        "chat-rules, default policy",
        time(&|m| {
            keep(default.review(m, Sender::anonymous()));
        }),
    );
    summary(
        "chat-rules, large policy",
        time(&|m| {
            keep(large.review(m, Sender::anonymous()));
        }),
    );
    summary(
        "chat-rules, large, Unicode \\b",
        time(&|m| {
            keep(large_u.review(m, Sender::anonymous()));
        }),
    );
    summary(
        "rustrict is_inappropriate",
        time(&|m| {
            keep(m.is_inappropriate());
        }),
    );
    summary(
        "rustrict censor",
        time(&|m| {
            keep(m.censor());
        }),
    );

    println!(
        "\nmessages flagged, by label (chat-rules: any outcome but allow; rustrict: is_inappropriate):"
    );
    let mut by_label: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for (label, m) in &corpus {
        let e = by_label.entry(label.as_str()).or_default();
        e.0 += 1;
        if default.review(m, Sender::anonymous()).outcome() != Outcome::Allow {
            e.1 += 1;
        }
        if m.as_str().is_inappropriate() {
            e.2 += 1;
        }
    }
    println!(
        "  {:<10} {:>9} {:>12} {:>10}",
        "label", "messages", "chat-rules", "rustrict"
    );
    for (label, (n, ours, theirs)) in &by_label {
        println!("  {label:<10} {n:>9} {ours:>12} {theirs:>10}");
    }

    println!("\nhostile inputs (median of 101 runs each):");
    println!(
        "  {:<36} {:>5} {:>12} {:>12} {:>12} {:>12}",
        "input", "chars", "default", "large", "large \\b", "rustrict"
    );
    let mut worst = (Duration::ZERO, String::new());
    for (name, text) in hostile() {
        let a = median_of(101, || {
            keep(default.review(&text, Sender::anonymous()));
        });
        let b = median_of(101, || {
            keep(large.review(&text, Sender::anonymous()));
        });
        let u = median_of(101, || {
            keep(large_u.review(&text, Sender::anonymous()));
        });
        let c = median_of(101, || {
            keep(text.as_str().censor());
        });
        if a.max(b) > worst.0 {
            worst = (a.max(b), name.clone());
        }
        println!(
            "  {name:<36} {:>5} {:>12} {:>12} {:>12} {:>12}",
            text.chars().count(),
            us(a),
            us(b),
            us(u),
            us(c)
        );
    }
    println!(
        "  worst for chat-rules (default, large): {} ({})",
        us(worst.0),
        worst.1
    );
}
