//! The rule-based review handler: configuration from the environment, built once at init.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `CHAT_POLICY` | the policy itself, TOML or JSON | unset |
//! | `CHAT_POLICY_FILE` | path of a policy file (TOML or JSON) | unset |
//! | `CHAT_POLICY_DIR` | directory of per-room policies (`*.toml`, `*.json`; each names its `rooms`; `default.toml` replaces the default) | unset |
//!
//! and the variables every review handler reads ([`ivs_chat_review::env`]: the verdicts
//! for invalid requests and failures, the rooms' maximum length, content logging).
//!
//! With neither `CHAT_POLICY` nor `CHAT_POLICY_FILE`, the embedded default policy is used.

use chat_rules::{Policy, PolicyError, PolicySet};
use ivs_chat_review::{EnvError, ReviewConfig, RuleReviewer};

/// Why the handler cannot start. The message names the variable, and for policy errors
/// the rule and line, and says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The policy does not compile.
    #[error("{source_name}: {error}")]
    Policy {
        /// Where the policy came from.
        source_name: String,
        /// What is wrong.
        #[source]
        error: PolicyError,
    },
    /// A variable every reviewer reads has a value that is not understood.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// Two variables that exclude each other are both set.
    #[error("CHAT_POLICY and CHAT_POLICY_FILE are both set: set one of them")]
    Ambiguous,
}

/// Builds the reviewer and its configuration from environment variables (read through
/// `env`, so tests need not touch the process environment).
pub fn from_env(
    env: impl Fn(&str) -> Option<String>,
) -> Result<(RuleReviewer, ReviewConfig), ConfigError> {
    let inline = env("CHAT_POLICY").filter(|s| !s.trim().is_empty());
    let file = env("CHAT_POLICY_FILE").filter(|s| !s.trim().is_empty());
    let default = match (inline, file) {
        (Some(_), Some(_)) => return Err(ConfigError::Ambiguous),
        (Some(text), None) => Policy::parse(&text).map_err(|error| ConfigError::Policy {
            source_name: "CHAT_POLICY".into(),
            error,
        })?,
        (None, Some(path)) => Policy::from_file(&path).map_err(|error| ConfigError::Policy {
            source_name: format!("CHAT_POLICY_FILE={path}"),
            error,
        })?,
        (None, None) => Policy::default_policy(),
    };
    let policies = match env("CHAT_POLICY_DIR").filter(|s| !s.trim().is_empty()) {
        Some(dir) => PolicySet::from_dir(&dir, default).map_err(|error| ConfigError::Policy {
            source_name: format!("CHAT_POLICY_DIR={dir}"),
            error,
        })?,
        None => PolicySet::new(default),
    };
    let config = ReviewConfig::from_env(env)?;
    Ok((RuleReviewer::new(policies), config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_to_the_embedded_policy_and_deny() {
        let (reviewer, config) = from_env(env(&[])).unwrap();
        assert_eq!(reviewer.policies().default_policy().name(), "default");
        assert_eq!(config, ReviewConfig::default());
    }

    #[test]
    fn inline_policy_errors_name_rule_and_line() {
        let policy = "version = 1\n[[rules]]\nid = \"bad\"\ntype = \"regex\"\naction = \"deny\"\npattern = \"(\"\n";
        let err = from_env(env(&[("CHAT_POLICY", policy)]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rule `bad`") && err.contains("line 3"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_are_rejected() {
        assert!(from_env(env(&[("FAILURE_VERDICT", "MAYBE")])).is_err());
        assert!(from_env(env(&[("ROOM_MAX_MESSAGE_LENGTH", "501")])).is_err());
        assert!(from_env(env(&[("LOG_MESSAGE_CONTENT", "yes")])).is_err());
        assert!(
            from_env(env(&[
                ("CHAT_POLICY", "version = 1"),
                ("CHAT_POLICY_FILE", "x")
            ]))
            .is_err()
        );
        assert!(from_env(env(&[("CHAT_POLICY_FILE", "/nonexistent.toml")])).is_err());
    }
}
