//! The embedded default policy.

use crate::Policy;
use std::sync::LazyLock;

/// The default policy's text (TOML), embedded in the binary.
pub const DEFAULT_POLICY_TOML: &str = include_str!("../policies/default.toml");

static DEFAULT: LazyLock<Option<Policy>> =
    LazyLock::new(|| Policy::from_toml(DEFAULT_POLICY_TOML).ok());

/// The compiled default policy. It is compiled once per process; a test guarantees it
/// compiles, and should that ever fail the result is an empty policy rather than a panic.
pub(crate) fn policy() -> Policy {
    match &*DEFAULT {
        Some(p) => p.clone(),
        None => Policy::empty("empty"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_and_empty_policies_compile() {
        super::Policy::from_toml(super::DEFAULT_POLICY_TOML).unwrap();
        assert_eq!(super::Policy::empty("x").rules().len(), 0);
    }
}
