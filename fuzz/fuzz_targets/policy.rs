//! Any text as a policy: it compiles or fails with an error (never a panic), and a
//! compiled policy reviews its own text and its examples without panicking.
#![no_main]

use chat_rules::{Policy, Sender};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(policy) = Policy::parse(text) else { return };
    let sample: String = text.chars().take(500).collect();
    for message in [sample.as_str(), "hello", "f.u.c.k", "SCUNTHORPE", "a.com @x 😀"] {
        let v = policy.review(message, Sender::anonymous());
        assert!(v.content(message).chars().count() <= message.chars().count());
    }
    let _ = policy.check_examples();
    let _ = policy.lint();
});
