//! The audit policy: TOML or JSON, versioned, validated with errors that say what to fix.

use crate::{AUDIT_POLICY_VERSION, MAX_TAGS, RoomView, Scope};
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Why an audit policy cannot be used. Names the line where known and says how to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit policy{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct AuditPolicyError {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Inclusive bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    /// Lowest accepted value.
    pub min: i64,
    /// Highest accepted value.
    pub max: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRooms {
    #[serde(default = "yes")]
    pub(crate) require_handler: bool,
    #[serde(default)]
    pub(crate) approved_handlers: Vec<String>,
    pub(crate) fallback_result: Option<String>,
    #[serde(default)]
    pub(crate) min_logging_configurations: usize,
    pub(crate) message_length: Option<Bounds>,
    pub(crate) message_rate: Option<Bounds>,
    pub(crate) name_pattern: Option<String>,
    pub(crate) stale_after_days: Option<u64>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawTags {
    pub(crate) required: Vec<String>,
    pub(crate) forbidden: Vec<String>,
    pub(crate) allowed_values: BTreeMap<String, Vec<String>>,
    pub(crate) value_patterns: BTreeMap<String, String>,
    pub(crate) max_key_length: Option<usize>,
    pub(crate) max_value_length: Option<usize>,
    pub(crate) headroom: Option<usize>,
    pub(crate) case_collisions: bool,
    /// Values remediation gives to missing required tags.
    pub(crate) defaults: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    pub(crate) version: u32,
    pub(crate) rooms: RawRooms,
    #[serde(default)]
    pub(crate) tags: RawTags,
    #[serde(default)]
    pub(crate) remediation: RawRemediation,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawRemediation {
    pub(crate) rules: Vec<String>,
    pub(crate) max_changes: u64,
}

impl Default for RawRemediation {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            max_changes: 25,
        }
    }
}

/// The rules remediation can fix, and how.
pub const REMEDIABLE_RULES: &[(&str, &str)] = &[
    (
        "room.handler-missing",
        "UpdateRoom: attach the first approved handler",
    ),
    (
        "room.handler-unapproved",
        "UpdateRoom: replace the handler with the first approved one",
    ),
    (
        "room.fallback",
        "UpdateRoom: set fallbackResult to rooms.fallback_result",
    ),
    (
        "tag.required-missing",
        "TagResource: add the value from [tags.defaults]",
    ),
    ("tag.forbidden-key", "UntagResource: remove the key"),
];

/// A compiled audit policy.
#[derive(Debug, Clone)]
pub struct AuditPolicy {
    pub(crate) rooms: RawRooms,
    pub(crate) name_pattern: Option<Regex>,
    pub(crate) tags: RawTags,
    pub(crate) value_patterns: Vec<(String, Regex)>,
    pub(crate) remediation: RawRemediation,
}

/// The embedded default audit policy.
pub const DEFAULT_AUDIT_POLICY_TOML: &str = include_str!("../policies/default.toml");

impl AuditPolicy {
    /// Parses TOML or JSON (JSON when it starts with `{`).
    pub fn parse(text: &str) -> Result<Self, AuditPolicyError> {
        let raw: RawPolicy = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| AuditPolicyError {
                line: Some(e.line()),
                message: e.to_string(),
            })?
        } else {
            toml::from_str(text).map_err(|e| AuditPolicyError {
                line: e.span().map(|s| {
                    let end = s.start.min(text.len());
                    text.as_bytes()[..end]
                        .iter()
                        .filter(|&&b| b == b'\n')
                        .count()
                        + 1
                }),
                message: e.message().trim().to_string(),
            })?
        };
        if raw.version != AUDIT_POLICY_VERSION {
            return Err(AuditPolicyError {
                line: None,
                message: format!(
                    "version {} is not supported: set `version = {AUDIT_POLICY_VERSION}`",
                    raw.version
                ),
            });
        }
        if let Some(fb) = &raw.rooms.fallback_result
            && !matches!(fb.as_str(), "ALLOW" | "DENY")
        {
            return Err(AuditPolicyError {
                line: None,
                message: format!("rooms.fallback_result = {fb:?}: use \"ALLOW\" or \"DENY\""),
            });
        }
        let re = |field: &str, p: &str| {
            Regex::new(p).map_err(|e| AuditPolicyError {
                line: None,
                message: format!("{field} = {p:?} is not a valid regex: {e}"),
            })
        };
        let name_pattern = match &raw.rooms.name_pattern {
            Some(p) => Some(re("rooms.name_pattern", p)?),
            None => None,
        };
        let mut value_patterns = Vec::new();
        for (k, p) in &raw.tags.value_patterns {
            value_patterns.push((k.clone(), re(&format!("tags.value_patterns.{k}"), p)?));
        }
        let fail = |message: String| AuditPolicyError {
            line: None,
            message,
        };
        if raw.tags.headroom.is_some_and(|h| h >= MAX_TAGS) {
            return Err(fail(format!(
                "tags.headroom must be below the {MAX_TAGS}-tag limit"
            )));
        }
        for rule in &raw.remediation.rules {
            if !REMEDIABLE_RULES.iter().any(|(r, _)| r == rule) {
                return Err(fail(format!(
                    "remediation.rules: {rule:?} cannot be remediated; use one of {}",
                    REMEDIABLE_RULES
                        .iter()
                        .map(|(r, _)| *r)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        for (k, v) in &raw.tags.defaults {
            if !raw.tags.required.contains(k) {
                return Err(fail(format!(
                    "tags.defaults.{k}: only required tags get defaults; add {k:?} to tags.required or remove the default"
                )));
            }
            if raw.tags.forbidden.contains(k) {
                return Err(fail(format!(
                    "tags.defaults.{k}: the key is also forbidden; remove one of the two"
                )));
            }
            if k.to_ascii_lowercase().starts_with("aws:")
                || k.is_empty()
                || k.chars().count() > 128
                || v.chars().count() > 256
            {
                return Err(fail(format!(
                    "tags.defaults.{k}: IVS accepts keys of 1..128 characters without the aws: prefix and values up to 256"
                )));
            }
            let probe = RoomView {
                tags: [(k.clone(), v.clone())].into(),
                ..RoomView::default()
            };
            let mut out = Vec::new();
            let policy = Self {
                rooms: raw.rooms.clone(),
                name_pattern: None,
                tags: raw.tags.clone(),
                value_patterns: value_patterns.clone(),
                remediation: RawRemediation::default(),
            };
            policy.check_tags(&probe, &mut out);
            if out.iter().any(|f| f.rule == "tag.value-not-allowed") {
                return Err(fail(format!(
                    "tags.defaults.{k} = {v:?} is not an allowed value for {k}: remediation would add a tag the policy rejects"
                )));
            }
        }
        if raw
            .remediation
            .rules
            .iter()
            .any(|r| r == "tag.required-missing")
            && raw.tags.defaults.is_empty()
        {
            return Err(fail(
                "remediation.rules has \"tag.required-missing\" but [tags.defaults] gives no value to add; add e.g. owner = \"unassigned\""
                    .into(),
            ));
        }
        Ok(Self {
            rooms: raw.rooms,
            name_pattern,
            tags: raw.tags,
            value_patterns,
            remediation: raw.remediation,
        })
    }

    /// The embedded default policy.
    pub fn default_policy() -> Self {
        match Self::parse(DEFAULT_AUDIT_POLICY_TOML) {
            Ok(p) => p,
            // A test guarantees the default parses; this keeps a broken build non-fatal.
            Err(_) => Self {
                rooms: RawRooms {
                    require_handler: true,
                    approved_handlers: Vec::new(),
                    fallback_result: Some("DENY".into()),
                    min_logging_configurations: 0,
                    message_length: None,
                    message_rate: None,
                    name_pattern: None,
                    stale_after_days: None,
                },
                name_pattern: None,
                tags: RawTags::default(),
                value_patterns: Vec::new(),
                remediation: RawRemediation::default(),
            },
        }
    }

    /// Adds approved handler ARNs (for example the handler deployed in the same stack).
    pub fn approve_handlers(mut self, arns: impl IntoIterator<Item = String>) -> Self {
        self.rooms.approved_handlers.extend(arns);
        self
    }

    /// The message limit bounds, as text: a checkpoint keeps it to notice a change.
    pub fn limits_fingerprint(&self) -> String {
        format!(
            "{:?} {:?}",
            self.rooms.message_length, self.rooms.message_rate
        )
    }

    /// True when the checks need `GetRoom` (message limits are not in ListRooms).
    pub fn needs_get_room(&self) -> bool {
        self.rooms.message_length.is_some() || self.rooms.message_rate.is_some()
    }

    /// True when every room must have a review handler.
    pub fn requires_handler(&self) -> bool {
        self.rooms.require_handler
    }

    /// The approved handler ARNs (the first is the one remediation attaches).
    pub fn approved_handlers(&self) -> &[String] {
        &self.rooms.approved_handlers
    }

    /// The fallback result rooms must have, if the policy sets one.
    pub fn fallback_result(&self) -> Option<&str> {
        self.rooms.fallback_result.as_deref()
    }

    /// True when remediation of `rule` is enabled.
    pub fn remediates(&self, rule: &str) -> bool {
        self.remediation.rules.iter().any(|r| r == rule)
    }

    /// True when any rule in `scope` is remediated.
    pub fn remediates_in(&self, scope: Scope) -> bool {
        self.remediation.rules.iter().any(|r| scope.covers(r))
    }

    /// The most changes one sweep makes (planned changes count in a dry run).
    pub fn max_changes(&self) -> u64 {
        self.remediation.max_changes
    }

    /// Values for missing required tags.
    pub fn tag_defaults(&self) -> &BTreeMap<String, String> {
        &self.tags.defaults
    }

    /// Keys that must not be present.
    pub fn forbidden_tags(&self) -> &[String] {
        &self.tags.forbidden
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_errors_say_how_to_fix() {
        let e = AuditPolicy::parse("version = 1\n[rooms]\nfallback = \"DENY\"\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e =
            AuditPolicy::parse("version = 1\n[rooms]\nfallback_result = \"MAYBE\"\n").unwrap_err();
        assert!(e.to_string().contains("ALLOW"), "{e}");
        let e = AuditPolicy::parse("version = 1\n[rooms]\n[tags]\nheadroom = 50\n").unwrap_err();
        assert!(e.to_string().contains("headroom"), "{e}");
        let e =
            AuditPolicy::parse("version = 1\n[rooms]\n[tags]\n[tags.defaults]\nowner = \"x\"\n")
                .unwrap_err();
        assert!(e.to_string().contains("tags.required"), "{e}");
        let e =
            AuditPolicy::parse("version = 1\n[rooms]\n[remediation]\nrules = [\"room.stale\"]\n")
                .unwrap_err();
        assert!(e.to_string().contains("cannot be remediated"), "{e}");
        let e = AuditPolicy::parse("version = 1\n[rooms]\nname_pattern = \"(\"\n").unwrap_err();
        assert!(e.to_string().contains("name_pattern"), "{e}");
        AuditPolicy::parse(DEFAULT_AUDIT_POLICY_TOML).unwrap();
    }
}
