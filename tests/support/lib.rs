//! Shared helpers for the workspace's integration tests: the sample events and what each
//! must produce.

// Test support: failing loudly is the point.
#![allow(clippy::expect_used)]

use std::path::PathBuf;

/// The repository's `events/` folder.
pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events")
}

/// What a review event must produce with the default policy and configuration.
#[derive(Debug, Clone, Copy)]
pub struct Expected {
    /// The event file name.
    pub file: &'static str,
    /// `ALLOW` or `DENY`.
    pub result: &'static str,
    /// The exact content returned, when it matters (`None`: the original for ALLOW).
    pub content: Option<&'static str>,
    /// A rule that must fire (checked where the rule engine is visible).
    pub rule: Option<&'static str>,
}

/// Every review event in `events/` and its expected verdict.
pub const REVIEW_EVENTS: &[Expected] = &[
    Expected {
        file: "rule-review-handler-clean.json",
        result: "ALLOW",
        content: None,
        rule: None,
    },
    Expected {
        file: "rule-review-handler-profane.json",
        result: "ALLOW",
        content: Some("that boss fight was ******* hard"),
        rule: Some("profanity-strong"),
    },
    Expected {
        file: "rule-review-handler-severe.json",
        result: "DENY",
        content: None,
        rule: Some("profanity-severe"),
    },
    Expected {
        file: "rule-review-handler-evasive.json",
        result: "ALLOW",
        content: Some("what a ******* show, ********"),
        rule: Some("profanity-mild"),
    },
    Expected {
        file: "rule-review-handler-spam.json",
        result: "DENY",
        content: None,
        rule: Some("copypasta"),
    },
    Expected {
        file: "rule-review-handler-link.json",
        result: "DENY",
        content: None,
        rule: Some("links"),
    },
    Expected {
        file: "rule-review-handler-exempt-moderator.json",
        result: "ALLOW",
        content: None,
        rule: None,
    },
    Expected {
        file: "rule-review-handler-scunthorpe.json",
        result: "ALLOW",
        content: None,
        rule: None,
    },
    Expected {
        file: "rule-review-handler-malformed-missing-content.json",
        result: "DENY",
        content: Some("-"),
        rule: None,
    },
    Expected {
        file: "rule-review-handler-malformed-wrong-types.json",
        result: "DENY",
        content: Some("-"),
        rule: None,
    },
    Expected {
        file: "rule-review-handler-malformed-not-object.json",
        result: "DENY",
        content: Some("-"),
        rule: None,
    },
    Expected {
        file: "rule-review-handler-malformed-lone-surrogate.json",
        result: "DENY",
        content: Some("-"),
        rule: None,
    },
    Expected {
        file: "rule-review-handler-malformed-number-out-of-range.json",
        result: "DENY",
        content: Some("gg everyone"),
        rule: None,
    },
    Expected {
        file: "rule-review-handler-malformed-deep-nesting.json",
        result: "DENY",
        content: Some("gg everyone"),
        rule: None,
    },
];

/// Reads an event file.
pub fn read_event(file: &str) -> Vec<u8> {
    std::fs::read(events_dir().join(file)).unwrap_or_default()
}

/// The path of a workspace binary, built first (`cargo build -p <name>`, in the profile
/// the tests run in) unless `<NAME>_BIN` points at one.
pub fn binary(name: &str) -> PathBuf {
    let var = format!("{}_BIN", name.to_uppercase().replace('-', "_"));
    if let Some(p) = std::env::var_os(var) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target directory")
        .to_path_buf();
    let profile = dir.file_name().map(|f| f.to_string_lossy().to_string());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.args(["build", "-q", "-p", name]);
    if profile.as_deref() == Some("release") {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("cargo runs");
    assert!(status.success(), "building {name} failed");
    dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}
