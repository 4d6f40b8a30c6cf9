//! The rule-based review handler: configuration from the environment, built once at init.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `CHAT_POLICY` | the policy itself, TOML or JSON | unset |
//! | `CHAT_POLICY_FILE` | path of a policy file (TOML or JSON) | unset |
//! | `CHAT_POLICY_DIR` | directory of per-room policies (`*.toml`, `*.json`; each names its `rooms`; `default.toml` replaces the default) | unset |
//! | `INVALID_REQUEST_VERDICT` | `DENY` or `ALLOW` for events that are not valid review requests | `DENY` |
//! | `FAILURE_VERDICT` | `DENY` or `ALLOW` when reviewing fails | `DENY` |
//! | `ROOM_MAX_MESSAGE_LENGTH` | the rooms' `maximumMessageLength`, if masked content may exceed the original | unset |
//! | `LOG_MESSAGE_CONTENT` | `true` logs message content and sender IP | `false` |
//!
//! With neither `CHAT_POLICY` nor `CHAT_POLICY_FILE`, the embedded default policy is used.

use chat_rules::{Policy, PolicyError, PolicySet};
use ivs_chat_review::{ReviewConfig, ReviewResult, RuleReviewer};

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
    /// A variable has a value that is not understood.
    #[error("{name}={value:?} is not valid: {expected}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// Two variables that exclude each other are both set.
    #[error("CHAT_POLICY and CHAT_POLICY_FILE are both set: set one of them")]
    Ambiguous,
}

fn verdict(name: &'static str, value: Option<String>) -> Result<ReviewResult, ConfigError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(ReviewResult::Deny),
        Some(v) if v.eq_ignore_ascii_case("deny") => Ok(ReviewResult::Deny),
        Some(v) if v.eq_ignore_ascii_case("allow") => Ok(ReviewResult::Allow),
        Some(v) => Err(ConfigError::Invalid {
            name,
            value: v.to_string(),
            expected: "DENY or ALLOW",
        }),
    }
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
    let room_max_length = match env("ROOM_MAX_MESSAGE_LENGTH").filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=500).contains(&n) => Some(n),
            _ => {
                return Err(ConfigError::Invalid {
                    name: "ROOM_MAX_MESSAGE_LENGTH",
                    value: v,
                    expected: "a whole number from 1 to 500",
                });
            }
        },
    };
    let log_content = match env("LOG_MESSAGE_CONTENT").as_deref().map(str::trim) {
        None | Some("") | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(v) => {
            return Err(ConfigError::Invalid {
                name: "LOG_MESSAGE_CONTENT",
                value: v.to_string(),
                expected: "true or false",
            });
        }
    };
    let config = ReviewConfig {
        on_invalid_request: verdict("INVALID_REQUEST_VERDICT", env("INVALID_REQUEST_VERDICT"))?,
        on_failure: verdict("FAILURE_VERDICT", env("FAILURE_VERDICT"))?,
        room_max_length,
        log_content,
    };
    Ok((RuleReviewer::new(policies), config))
}

/// Reports an init failure to the Lambda Runtime API (`POST /runtime/init/error`), so the
/// reason shows in the function's logs and in the Invoke error, and returns the error for
/// `main` to exit with. Outside Lambda (no `AWS_LAMBDA_RUNTIME_API`) it only returns it.
pub async fn fail_init(error: ConfigError) -> lambda_runtime::Error {
    let message = error.to_string();
    tracing::error!(error = %message, "init failed");
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        let body = serde_json::json!({
            "errorType": "Runtime.InitError",
            "errorMessage": message,
        });
        let request = lambda_runtime_api_client::build_request()
            .method(http::Method::POST)
            .uri("/2018-06-01/runtime/init/error")
            .header("lambda-runtime-function-error-type", "Runtime.InitError")
            .body(lambda_runtime_api_client::body::Body::from(
                body.to_string(),
            ));
        match (
            lambda_runtime_api_client::Client::builder().build(),
            request,
        ) {
            (Ok(client), Ok(request)) => {
                if let Err(e) = client.call(request).await {
                    tracing::error!(error = %e, "could not report the init error");
                }
            }
            _ => tracing::error!("could not build the init error report"),
        }
    }
    Box::new(error)
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
