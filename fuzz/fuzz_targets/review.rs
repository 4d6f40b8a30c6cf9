//! Any text (up to 500 code points) through normalisation and matching with the default
//! policy: masked content is never longer, spans map to character boundaries of the
//! original, and verdicts are deterministic.
#![no_main]

use chat_rules::{Policy, Sender};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static POLICY: LazyLock<Policy> = LazyLock::new(Policy::default_policy);

fuzz_target!(|data: &[u8]| {
    let text: String = String::from_utf8_lossy(data).chars().take(500).collect();
    let a = POLICY.review(&text, Sender::anonymous());
    let b = POLICY.review(&text, Sender::anonymous());
    assert_eq!(a, b, "non-deterministic verdict");
    let out = a.content(&text);
    assert!(out.chars().count() <= text.chars().count());
    assert!(out.len() <= text.len() || out.chars().count() <= text.chars().count());
    let n = POLICY.normalizer().normalize(&text);
    let len = n.as_bytes().len();
    for s in 0..len.min(64) {
        if let Some((os, oe)) = n.original_span(s, (s + 3).min(len)) {
            assert!(os < oe && oe <= text.len());
            assert!(text.is_char_boundary(os) && text.is_char_boundary(oe));
        }
    }
});
