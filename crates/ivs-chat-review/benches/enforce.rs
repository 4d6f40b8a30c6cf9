//! Contract enforcement on hostile responses: attributes trimmed to the serialised bound
//! (thousands of keys, values of control characters), content cut to the limit.
//!
//! `cargo bench -p ivs-chat-review --bench enforce`
#![allow(clippy::unwrap_used)]

use ivs_chat_review::{ReviewConfig, ReviewRequest, ReviewResponse};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn median(mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..51)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let config = ReviewConfig::default();
    let request = ReviewRequest::new("x".repeat(500));
    let mut cases: Vec<(String, ReviewResponse)> = Vec::new();
    for keys in [30, 300, 3_000, 30_000] {
        let mut r = ReviewResponse::deny(&request, "no");
        for i in 0..keys {
            r.attributes
                .insert(format!("key-{i}"), format!("value {i}"));
        }
        cases.push((format!("{keys} attribute keys"), r));
    }
    let r = ReviewResponse::allow(&request).with_attribute("c", "\u{1}".repeat(1_000));
    cases.push(("1,000 control characters".into(), r));
    let r = ReviewResponse::rewrite(&request, "é".repeat(5_000));
    cases.push(("content of 5,000 code points".into(), r));
    for (name, response) in cases {
        let d = median(|| {
            black_box(config.enforce(Some(&request), black_box(response.clone())));
        });
        let clone = median(|| {
            black_box(black_box(&response).clone());
        });
        println!(
            "{name:>30}: {:>8.1} us (of which cloning the input {:.1} us)",
            d.as_secs_f64() * 1e6,
            clone.as_secs_f64() * 1e6
        );
    }
}
