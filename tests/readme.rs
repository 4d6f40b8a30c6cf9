//! The README's example policy compiles and its examples pass, so the docs cannot rot.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn readme_policy_example_compiles_and_passes() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("```toml\nversion = 1")
        .expect("README has a TOML policy example")
        + "```toml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let policy = chat_rules::Policy::from_toml(&readme[start..end])
        .unwrap_or_else(|e| panic!("README policy does not compile: {e}"));
    let results = policy.check_examples();
    assert!(!results.is_empty());
    for r in results {
        assert!(r.passed(), "README example {:?}: {:?}", r.text, r.failure);
    }
}

#[test]
fn readme_audit_policy_example_compiles() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("```toml\nversion = 1\n\n[rooms]")
        .expect("README has an audit policy example")
        + "```toml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let policy = chat_audit::AuditPolicy::parse(&readme[start..end])
        .unwrap_or_else(|e| panic!("README audit policy does not compile: {e}"));
    assert!(policy.remediates("room.fallback"));
    assert_eq!(policy.max_changes(), 25);
}
