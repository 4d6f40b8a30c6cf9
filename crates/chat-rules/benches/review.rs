//! Review speed with the default policy: per-message median, p99 and max over a chat-like
//! corpus, every hostile input, and policy build time.
//!
//! `cargo bench -p chat-rules --bench review`
//!
//! Each message is reviewed many times and its own median taken (so one message's time is
//! not noise); the corpus figures are over those per-message medians.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_rules::{Policy, Sender};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn corpus() -> Vec<String> {
    let base = [
        "gg",
        "lol",
        "what a play!",
        "hi chat",
        "first time here, love the stream",
        "that boss fight was fucking hard",
        "can you do the next level on hard mode?",
        "LOL that was so funny",
        "Scunthorpe United are playing tonight",
        "who else is here from twitter",
        "omg omg omg",
        "you're a legend 🔥🔥🔥",
        "f.u.c.k that boss",
        "sh1t happens",
        "check out my channel at twitch.tv/someone",
        "free skins at skinz dot com",
        "@streamer can you say hi to my friend",
        "classic assassin move right there",
        "I think the answer is 42 but I'm not sure, can someone check the wiki?",
        "ｆｕｃｋ this game",
        "noooooooooooo",
        "the pen is mightier than the sword",
        "Bonjour à tous, ça va ? Très bon stream aujourd'hui",
        "Привет всем",
        "我喜欢这个游戏",
        "what settings do you use for your mouse sensitivity? mine feels off",
        "HELLO EVERYONE WELCOME TO THE STREAM",
        "this is a longer message that rambles on about the game and \
         the strategy for the next boss, the items to buy, and why the last patch was not great for my main",
    ];
    base.iter().map(|s| s.to_string()).collect()
}

fn hostile() -> Vec<(&'static str, String)> {
    vec![
        ("confusable flood", "ｆսсκ".repeat(125)),
        ("entity strings", "&#1589;".repeat(71)),
        ("zalgo", "z\u{0301}\u{0302}\u{0303}\u{0304}".repeat(100)),
        ("alternating letters and separators", "a.".repeat(250)),
        ("spaced letters", "f u c k ".repeat(62)),
        ("all emoji", "😀".repeat(500)),
        ("one 500-code-point word", "a".repeat(500)),
        ("repeated profanity", "fuck ".repeat(100)),
        ("leet flood", "$h!7 ".repeat(100)),
        ("invisible flood", "f\u{200B}".repeat(250)),
        ("dots and domains", "a.com ".repeat(83)),
        ("mentions", "@a ".repeat(166)),
        ("self-censored words", "f*ck ".repeat(100)),
        ("censor symbols", "f*".repeat(250)),
    ]
}

fn time_one(policy: &Policy, text: &str, iters: u32) -> Duration {
    let mut samples = Vec::with_capacity(iters as usize);
    for _ in 0..iters {
        let t = Instant::now();
        black_box(policy.review(black_box(text), Sender::anonymous()));
        samples.push(t.elapsed());
    }
    samples.sort();
    samples[samples.len() / 2]
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> String {
    format!("{:.2} us", d.as_secs_f64() * 1e6)
}

fn main() {
    // Policy build.
    let mut builds = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        black_box(Policy::from_toml(chat_rules::DEFAULT_POLICY_TOML).unwrap());
        builds.push(t.elapsed());
    }
    builds.sort();
    let policy = Policy::from_toml(chat_rules::DEFAULT_POLICY_TOML).unwrap();
    println!(
        "policy build (default): median {:.2} ms",
        builds[5].as_secs_f64() * 1e3
    );

    let corpus = corpus();
    let mut medians: Vec<Duration> = corpus.iter().map(|m| time_one(&policy, m, 2001)).collect();
    medians.sort();
    println!(
        "chat corpus ({} messages): median {}, p99 {}, max {}",
        medians.len(),
        us(pct(&medians, 0.5)),
        us(pct(&medians, 0.99)),
        us(*medians.last().unwrap())
    );
    println!("hostile inputs (up to 500 code points):");
    for (name, text) in hostile() {
        let d = time_one(&policy, &text, 201);
        println!("  {name:<38} {:>4} chars  {}", text.chars().count(), us(d));
    }
}
