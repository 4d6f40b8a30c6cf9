//! What every review handler reads from its environment, and how it reports a failed
//! init: shared by all reviewers, so a custom one gets the same variables and the same
//! init error as the rule-based handler.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `INVALID_REQUEST_VERDICT` | `DENY` or `ALLOW` for events that are not valid review requests | `DENY` |
//! | `FAILURE_VERDICT` | `DENY` or `ALLOW` when reviewing fails | `DENY` |
//! | `ROOM_MAX_MESSAGE_LENGTH` | the rooms' `maximumMessageLength`, if rewritten content may exceed the original | unset |
//! | `LOG_MESSAGE_CONTENT` | `true` logs message content and sender IP | `false` |

use crate::{ReviewConfig, ReviewResult};

/// A variable whose value is not understood: the message names it, its value and what
/// is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}={value:?} is not valid: {expected}")]
pub struct EnvError {
    /// The variable.
    pub name: &'static str,
    /// Its value.
    pub value: String,
    /// What is accepted.
    pub expected: &'static str,
}

fn verdict(name: &'static str, value: Option<String>) -> Result<ReviewResult, EnvError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(ReviewResult::Deny),
        Some(v) if v.eq_ignore_ascii_case("deny") => Ok(ReviewResult::Deny),
        Some(v) if v.eq_ignore_ascii_case("allow") => Ok(ReviewResult::Allow),
        Some(v) => Err(EnvError {
            name,
            value: v.to_string(),
            expected: "DENY or ALLOW",
        }),
    }
}

impl ReviewConfig {
    /// The configuration from the variables in the [module docs](crate::env), read
    /// through `env` (so tests need not touch the process environment):
    ///
    /// ```
    /// use ivs_chat_review::{ReviewConfig, ReviewResult};
    /// let config = ReviewConfig::from_env(|k| (k == "FAILURE_VERDICT").then(|| "allow".into())).unwrap();
    /// assert_eq!(config.on_failure, ReviewResult::Allow);
    /// assert!(ReviewConfig::from_env(|k| (k == "LOG_MESSAGE_CONTENT").then(|| "yes".into())).is_err());
    /// ```
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let room_max_length = match env("ROOM_MAX_MESSAGE_LENGTH").filter(|s| !s.trim().is_empty())
        {
            None => None,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if (1..=500).contains(&n) => Some(n),
                _ => {
                    return Err(EnvError {
                        name: "ROOM_MAX_MESSAGE_LENGTH",
                        value: v.trim().to_string(),
                        expected: "a whole number from 1 to 500",
                    });
                }
            },
        };
        let log_content = match env("LOG_MESSAGE_CONTENT").as_deref().map(str::trim) {
            None | Some("") | Some("0") => false,
            Some("1") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) => {
                return Err(EnvError {
                    name: "LOG_MESSAGE_CONTENT",
                    value: v.to_string(),
                    expected: "true or false (or 1 or 0)",
                });
            }
        };
        Ok(ReviewConfig {
            on_invalid_request: verdict("INVALID_REQUEST_VERDICT", env("INVALID_REQUEST_VERDICT"))?,
            on_failure: verdict("FAILURE_VERDICT", env("FAILURE_VERDICT"))?,
            room_max_length,
            log_content,
        })
    }
}

/// Reports a failed init to the Lambda Runtime API (`POST /runtime/init/error`), so the
/// reason shows in the function's logs and in the Invoke error, and returns the error
/// for `main` to exit with. Outside Lambda (no `AWS_LAMBDA_RUNTIME_API`) it only logs and
/// returns it.
///
/// ```no_run
/// # async fn demo() -> Result<(), lambda_runtime::Error> {
/// let config = match ivs_chat_review::ReviewConfig::from_env(|k| std::env::var(k).ok()) {
///     Ok(c) => c,
///     Err(e) => return Err(ivs_chat_review::report_init_error(e).await),
/// };
/// # Ok(()) }
/// ```
pub async fn report_init_error<E>(error: E) -> lambda_runtime::Error
where
    E: std::error::Error + Send + Sync + 'static,
{
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
            (Ok(client), Ok(request)) => match client.call(request).await {
                Ok(r) if !r.status().is_success() => tracing::error!(
                    status = r.status().as_u16(),
                    "the Runtime API refused the init error report"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "could not report the init error"),
            },
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
    fn defaults_and_bad_values() {
        assert_eq!(
            ReviewConfig::from_env(env(&[])),
            Ok(ReviewConfig::default())
        );
        let c = ReviewConfig::from_env(env(&[
            ("INVALID_REQUEST_VERDICT", " Allow "),
            ("ROOM_MAX_MESSAGE_LENGTH", "200"),
            ("LOG_MESSAGE_CONTENT", "TRUE"),
        ]))
        .unwrap();
        assert_eq!(c.on_invalid_request, ReviewResult::Allow);
        assert_eq!((c.room_max_length, c.log_content), (Some(200), true));
        for (name, value) in [
            ("FAILURE_VERDICT", "MAYBE"),
            ("ROOM_MAX_MESSAGE_LENGTH", "501"),
            ("ROOM_MAX_MESSAGE_LENGTH", "0"),
            ("LOG_MESSAGE_CONTENT", "yes"),
        ] {
            let e = ReviewConfig::from_env(env(&[(name, value)])).unwrap_err();
            assert_eq!(e.name, name);
            assert!(e.to_string().contains(value), "{e}");
        }
    }
}
