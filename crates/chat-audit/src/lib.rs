//! # chat-audit
//!
//! Audits the Amazon IVS Chat rooms of an account and Region, and their tags, against an
//! audit policy, within the API quotas; the library behind the `room-audit` and
//! `tag-audit` functions. `aws-sdk-ivschat` lives here and in those functions only,
//! never on the review path.
//!
//! - [`AuditPolicy`]: TOML or JSON, versioned, embedded default ([`AuditPolicy::default_policy`]),
//!   with opt-in remediation rules.
//! - [`RoomView`] and [`AuditPolicy::check`]: the checks on one room, as [`Finding`]s.
//! - [`Auditor`]: the sweep. ListRooms pages of 50, calls paced per quota group and
//!   retried ([`api`]), a [`Checkpoint`] saved after every page so a sweep that nears
//!   the Lambda deadline resumes in the next invocation ([`checkpoint`]), remediation
//!   ([`Mode`]) that re-reads before it writes and is capped per sweep.
//! - [`Summary`]: counts by rule and severity, rooms scanned, API calls, throttles, changes,
//!   and CloudWatch metrics as Embedded Metric Format records ([`Summary::emf_records`]).
//! - [`app`]: configuration from the environment, the Lambda handler and the command line.
//!
//! Checking one room needs no AWS at all:
//!
//! ```
//! use chat_audit::{AuditPolicy, RoomView};
//! let policy = AuditPolicy::default_policy();
//! let room = RoomView::new("arn:aws:ivschat:us-west-2:123456789012:room/abc");
//! let findings = policy.check_room(&room, &Default::default(), 0);
//! assert!(findings.iter().any(|f| f.rule == "room.handler-missing"));
//! ```
//!
//! A sweep of the whole fleet (see [`Auditor`] for the options):
//!
//! ```no_run
//! # async fn demo() -> Result<(), chat_audit::AuditError> {
//! use chat_audit::{AuditPolicy, Auditor, FileStore, JsonLines, Options, Scope};
//! let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
//! let client = aws_sdk_ivschat::Client::new(&config);
//! let policy = AuditPolicy::default_policy()
//!     .approve_handlers(["arn:aws:lambda:us-west-2:123456789012:function:review".to_string()]);
//! let auditor = Auditor::new(client, policy, Scope::Rooms, Options::default())?;
//! let store = FileStore::new(".audit-checkpoints");
//! let summary = auditor.run(&store, &mut JsonLines(std::io::stdout()), None).await?;
//! eprintln!("{} rooms, {} API calls", summary.rooms_scanned, summary.api_calls);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod api;
pub mod app;
pub mod checkpoint;
mod listing;
pub mod remediation;
mod report;
pub mod seen;
mod sweep;

pub use api::{ApiError, BudgetConfig};
pub use checkpoint::{
    CHECKPOINT_FORMAT, Checkpoint, CheckpointStore, DynamoDbStore, FileStore, MemoryStore, NoStore,
    SeenPage, StoreError,
};
pub use report::{Change, Collect, JsonLines, Outcome, Report};
pub use sweep::{AuditError, Auditor, Mode, Options};

use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The audit policy format version this build reads.
pub const AUDIT_POLICY_VERSION: u32 = 1;
/// The most tags IVS allows on a resource.
pub const MAX_TAGS: usize = 50;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Hygiene.
    Low,
    /// Weakens moderation or operations.
    Medium,
    /// Messages are not moderated, or fail open.
    High,
}

/// One problem with one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The room's ARN.
    pub resource_arn: String,
    /// The rule id, e.g. `room.handler-missing`, `tag.required-missing`.
    pub rule: &'static str,
    /// How serious it is.
    pub severity: Severity,
    /// What was found.
    pub observed: String,
    /// What the policy expects.
    pub expected: String,
}

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
struct RawRooms {
    #[serde(default = "yes")]
    require_handler: bool,
    #[serde(default)]
    approved_handlers: Vec<String>,
    fallback_result: Option<String>,
    #[serde(default)]
    min_logging_configurations: usize,
    message_length: Option<Bounds>,
    message_rate: Option<Bounds>,
    name_pattern: Option<String>,
    stale_after_days: Option<u64>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTags {
    required: Vec<String>,
    forbidden: Vec<String>,
    allowed_values: BTreeMap<String, Vec<String>>,
    value_patterns: BTreeMap<String, String>,
    max_key_length: Option<usize>,
    max_value_length: Option<usize>,
    headroom: Option<usize>,
    case_collisions: bool,
    /// Values remediation gives to missing required tags.
    defaults: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: u32,
    rooms: RawRooms,
    #[serde(default)]
    tags: RawTags,
    #[serde(default)]
    remediation: RawRemediation,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRemediation {
    rules: Vec<String>,
    max_changes: u64,
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
    rooms: RawRooms,
    name_pattern: Option<Regex>,
    tags: RawTags,
    value_patterns: Vec<(String, Regex)>,
    remediation: RawRemediation,
}

/// The embedded default audit policy.
pub const DEFAULT_AUDIT_POLICY_TOML: &str = include_str!("../policies/default.toml");

/// What the checks know about a room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomView {
    /// ARN.
    pub arn: String,
    /// Name.
    pub name: String,
    /// Review handler uri and fallback result (`ALLOW`/`DENY`), if attached.
    pub handler: Option<(String, String)>,
    /// Attached logging configuration ids or ARNs.
    pub logging: Vec<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Last update, seconds since the epoch.
    pub updated: Option<i64>,
    /// `maximumMessageLength`, when GetRoom was called.
    pub max_length: Option<i64>,
    /// `maximumMessageRatePerSecond`, when GetRoom was called.
    pub max_rate: Option<i64>,
}

impl RoomView {
    /// A room with only an ARN (everything else empty).
    pub fn new(arn: &str) -> Self {
        Self {
            arn: arn.to_string(),
            ..Self::default()
        }
    }

    /// From a ListRooms summary.
    pub fn from_summary(s: &aws_sdk_ivschat::types::RoomSummary) -> Self {
        Self {
            arn: s.arn().unwrap_or_default().to_string(),
            name: s.name().unwrap_or_default().to_string(),
            handler: handler_of(s.message_review_handler()),
            logging: s.logging_configuration_identifiers().to_vec(),
            tags: s
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            updated: s.update_time().map(|t| t.secs()),
            max_length: None,
            max_rate: None,
        }
    }

    /// Adds the limits from a GetRoom response.
    pub fn with_limits(
        mut self,
        room: &aws_sdk_ivschat::operation::get_room::GetRoomOutput,
    ) -> Self {
        self.max_length = room.maximum_message_length().map(i64::from);
        self.max_rate = room.maximum_message_rate_per_second().map(i64::from);
        self
    }
}

/// A room's handler as (uri, fallbackResult); a missing fallback is IVS's default, ALLOW.
pub(crate) fn handler_of(
    h: Option<&aws_sdk_ivschat::types::MessageReviewHandler>,
) -> Option<(String, String)> {
    let h = h?;
    let uri = h.uri().unwrap_or_default();
    (!uri.is_empty()).then(|| {
        (
            uri.to_string(),
            h.fallback_result()
                .map_or("ALLOW", |f| f.as_str())
                .to_string(),
        )
    })
}

fn logging_id(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// A closure that records a finding about `room` in `out`.
fn finder<'a>(
    room: &'a RoomView,
    out: &'a mut Vec<Finding>,
) -> impl FnMut(&'static str, Severity, String, String) + 'a {
    move |rule, severity, observed, expected| {
        out.push(Finding {
            resource_arn: room.arn.clone(),
            rule,
            severity,
            observed,
            expected,
        })
    }
}

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

    /// Findings for `room` within `scope`.
    pub fn check(
        &self,
        room: &RoomView,
        scope: Scope,
        logging_states: &HashMap<String, String>,
        now: i64,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        if scope.rooms() {
            self.check_settings(room, logging_states, now, &mut out);
        }
        if scope.tags() {
            self.check_tags(room, &mut out);
        }
        out
    }

    /// Every finding for `room` (room settings and tags). `logging_states` maps logging
    /// configuration ids to their state (`ACTIVE`, ...); `now` is seconds since the epoch.
    pub fn check_room(
        &self,
        room: &RoomView,
        logging_states: &HashMap<String, String>,
        now: i64,
    ) -> Vec<Finding> {
        self.check(room, Scope::All, logging_states, now)
    }

    fn check_settings(
        &self,
        room: &RoomView,
        logging_states: &HashMap<String, String>,
        now: i64,
        out: &mut Vec<Finding>,
    ) {
        let mut add = finder(room, out);
        let r = &self.rooms;
        match &room.handler {
            None if r.require_handler => add(
                "room.handler-missing",
                Severity::High,
                "no messageReviewHandler".into(),
                "a review handler".into(),
            ),
            None => {}
            Some((uri, fallback)) => {
                if !r.approved_handlers.is_empty() && !r.approved_handlers.contains(uri) {
                    add(
                        "room.handler-unapproved",
                        Severity::High,
                        uri.clone(),
                        format!("one of {}", r.approved_handlers.join(", ")),
                    );
                }
                if let Some(want) = &r.fallback_result
                    && fallback != want
                {
                    add(
                        "room.fallback",
                        Severity::High,
                        format!("fallbackResult {fallback}"),
                        format!("fallbackResult {want}"),
                    );
                }
            }
        }
        if room.logging.len() < r.min_logging_configurations {
            add(
                "room.logging-missing",
                Severity::Medium,
                format!("{} logging configurations", room.logging.len()),
                format!("at least {}", r.min_logging_configurations),
            );
        }
        for id in &room.logging {
            match logging_states.get(logging_id(id)).map(String::as_str) {
                Some("ACTIVE") => {}
                Some(state) => add(
                    "room.logging-inactive",
                    Severity::Medium,
                    format!("logging configuration {id} is {state}"),
                    "ACTIVE".into(),
                ),
                None => add(
                    "room.logging-inactive",
                    Severity::Medium,
                    format!("logging configuration {id} does not exist"),
                    "an existing, ACTIVE configuration".into(),
                ),
            }
        }
        if let Some(re) = &self.name_pattern
            && !re.is_match(&room.name)
        {
            add(
                "room.name-pattern",
                Severity::Low,
                format!("name {:?}", room.name),
                format!("a name matching {}", re.as_str()),
            );
        }
        if let (Some(days), Some(updated)) = (r.stale_after_days, room.updated) {
            let age = now.saturating_sub(updated) / 86_400;
            if age > days as i64 {
                add(
                    "room.stale",
                    Severity::Low,
                    format!("not updated for {age} days"),
                    format!("updated within {days} days"),
                );
            }
        }
        for (rule, bounds, value, field) in [
            (
                "room.message-length",
                r.message_length,
                room.max_length,
                "maximumMessageLength",
            ),
            (
                "room.message-rate",
                r.message_rate,
                room.max_rate,
                "maximumMessageRatePerSecond",
            ),
        ] {
            if let (Some(b), Some(v)) = (bounds, value)
                && (v < b.min || v > b.max)
            {
                add(
                    rule,
                    Severity::Low,
                    format!("{field} {v}"),
                    format!("{field} within {}..={}", b.min, b.max),
                );
            }
        }
    }

    fn check_tags(&self, room: &RoomView, out: &mut Vec<Finding>) {
        let t = &self.tags;
        let mut add = finder(room, out);
        for key in &t.required {
            if !room.tags.contains_key(key) {
                add(
                    "tag.required-missing",
                    Severity::Medium,
                    format!("no tag {key:?}"),
                    format!("tag {key:?}"),
                );
            }
        }
        let max_key = t.max_key_length.unwrap_or(128);
        let max_value = t.max_value_length.unwrap_or(256);
        let mut lower: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (k, v) in &room.tags {
            if t.forbidden.iter().any(|f| f == k) {
                add(
                    "tag.forbidden-key",
                    Severity::Medium,
                    format!("tag {k:?}"),
                    "no such tag".into(),
                );
            }
            if k.to_ascii_lowercase().starts_with("aws:") {
                add(
                    "tag.reserved-prefix",
                    Severity::Low,
                    format!("tag {k:?}"),
                    "keys without the reserved aws: prefix".into(),
                );
            }
            if k.chars().count() > max_key {
                add(
                    "tag.key-too-long",
                    Severity::Low,
                    format!("key of {} characters", k.chars().count()),
                    format!("at most {max_key}"),
                );
            }
            if v.chars().count() > max_value {
                add(
                    "tag.value-too-long",
                    Severity::Low,
                    format!("value of {k:?} has {} characters", v.chars().count()),
                    format!("at most {max_value}"),
                );
            }
            if let Some(allowed) = t.allowed_values.get(k)
                && !allowed.contains(v)
            {
                add(
                    "tag.value-not-allowed",
                    Severity::Medium,
                    format!("{k} = {v:?}"),
                    format!("one of {}", allowed.join(", ")),
                );
            }
            if let Some((_, re)) = self.value_patterns.iter().find(|(key, _)| key == k)
                && !re.is_match(v)
            {
                add(
                    "tag.value-not-allowed",
                    Severity::Medium,
                    format!("{k} = {v:?}"),
                    format!("a value matching {}", re.as_str()),
                );
            }
            lower.entry(k.to_lowercase()).or_default().push(k);
        }
        if t.case_collisions {
            for keys in lower.values().filter(|v| v.len() > 1) {
                add(
                    "tag.case-collision",
                    Severity::Low,
                    format!("keys {}", keys.join(", ")),
                    "one spelling per key".into(),
                );
            }
        }
        let headroom = t.headroom.unwrap_or(0);
        if headroom > 0 && room.tags.len().saturating_add(headroom) > MAX_TAGS {
            add(
                "tag.headroom",
                Severity::Low,
                format!("{} tags", room.tags.len()),
                format!(
                    "at most {} (headroom {headroom} below {MAX_TAGS})",
                    MAX_TAGS.saturating_sub(headroom)
                ),
            );
        }
    }
}

/// Which checks a sweep runs: the room audit and the tag audit are separate functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// `room.*` rules: handler, fallback, logging, name, staleness, limits.
    Rooms,
    /// `tag.*` rules.
    Tags,
    /// Both.
    All,
}

impl Scope {
    /// True when room settings are checked.
    pub fn rooms(self) -> bool {
        matches!(self, Scope::Rooms | Scope::All)
    }
    /// True when tags are checked.
    pub fn tags(self) -> bool {
        matches!(self, Scope::Tags | Scope::All)
    }
    /// True when `rule` belongs to this scope.
    pub fn covers(self, rule: &str) -> bool {
        (self.rooms() && rule.starts_with("room.")) || (self.tags() && rule.starts_with("tag."))
    }
    /// `room-audit`, `tag-audit` or `audit`: the function name and checkpoint key.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Rooms => "room-audit",
            Scope::Tags => "tag-audit",
            Scope::All => "audit",
        }
    }
}

/// Where a sweep stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SweepStatus {
    /// Every room was visited.
    Complete,
    /// The invocation stopped before the end (near its deadline, or on an error) and the
    /// next one resumes from the checkpoint.
    #[default]
    InProgress,
    /// Another invocation holds the sweep; this one did nothing.
    Busy,
}

/// What a sweep did and found. A sweep that spans invocations carries its summary in the
/// checkpoint, so the summary of the invocation that completes it covers the whole fleet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// `room-audit` or `tag-audit`.
    pub audit: String,
    /// Where the sweep stands.
    pub status: SweepStatus,
    /// When the sweep started, seconds since the epoch.
    pub sweep_started: i64,
    /// Invocations the sweep has taken so far.
    pub invocations: u64,
    /// Rooms checked.
    pub rooms_scanned: u64,
    /// Rooms listed but gone (404) before they could be read or changed.
    pub rooms_vanished: u64,
    /// Findings by rule id.
    pub findings_by_rule: BTreeMap<String, u64>,
    /// Findings by severity.
    pub findings_by_severity: BTreeMap<Severity, u64>,
    /// API calls made, by operation.
    pub api_calls_by_operation: BTreeMap<String, u64>,
    /// API calls made.
    pub api_calls: u64,
    /// Throttling responses met.
    pub throttles: u64,
    /// Retried calls (throttling, 5xx, timeouts, malformed responses).
    pub retries: u64,
    /// Changes by outcome (`planned`, `applied`, `already-compliant`, `capped`, `skipped`).
    pub changes: BTreeMap<Outcome, u64>,
    /// Wall time in milliseconds, over all invocations of the sweep.
    pub duration_ms: u64,
    /// Rooms changed or created while the sweep ran that the main pass could not see
    /// (ListRooms moves a changed room to the head, behind the cursor), found and checked
    /// by a catch-up pass. Included in `rooms_scanned`.
    pub rooms_caught_up: u64,
    /// Catch-up passes made after the main pass (the last finds nothing new).
    pub catch_up_passes: u64,
    /// Page tokens the service rejected (expired): each time the pass listed from the
    /// head again, skipping the rooms already checked.
    pub token_restarts: u64,
}

impl Summary {
    /// Counts `findings`.
    pub fn record(&mut self, findings: &[Finding]) {
        for f in findings {
            *self.findings_by_rule.entry(f.rule.to_string()).or_default() += 1;
            *self.findings_by_severity.entry(f.severity).or_default() += 1;
        }
    }

    /// CloudWatch Embedded Metric Format records (one JSON object per log line): findings
    /// per rule (dimension `Rule`) and the sweep totals, in namespace `namespace`.
    pub fn emf_records(&self, namespace: &str, timestamp_ms: u64) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for (rule, n) in &self.findings_by_rule {
            out.push(serde_json::json!({
                "_aws": {
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": namespace,
                        "Dimensions": [["Rule"]],
                        "Metrics": [{"Name": "Findings", "Unit": "Count"}],
                    }],
                },
                "Rule": rule,
                "Findings": n,
            }));
        }
        out.push(serde_json::json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [[]],
                    "Metrics": [
                        {"Name": "RoomsScanned", "Unit": "Count"},
                        {"Name": "ApiCalls", "Unit": "Count"},
                        {"Name": "Throttles", "Unit": "Count"},
                        {"Name": "SweepDuration", "Unit": "Milliseconds"},
                        {"Name": "FindingsTotal", "Unit": "Count"},
                        {"Name": "RoomsVanished", "Unit": "Count"},
                        {"Name": "ChangesApplied", "Unit": "Count"},
                        {"Name": "ChangesPlanned", "Unit": "Count"},
                    ],
                }],
            },
            "RoomsScanned": self.rooms_scanned,
            "ApiCalls": self.api_calls,
            "Throttles": self.throttles,
            "SweepDuration": self.duration_ms,
            "FindingsTotal": self.findings_by_rule.values().sum::<u64>(),
            "RoomsVanished": self.rooms_vanished,
            "ChangesApplied": self.changes.get(&Outcome::Applied).copied().unwrap_or(0),
            "ChangesPlanned": self.changes.get(&Outcome::Planned).copied().unwrap_or(0),
        }));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:ivschat:us-west-2:123456789012:room/abc";
    const HANDLER: &str = "arn:aws:lambda:us-west-2:123456789012:function:review";
    const NOW: i64 = 1_767_225_600;

    fn good() -> RoomView {
        RoomView {
            arn: ARN.into(),
            name: "main-chat".into(),
            handler: Some((HANDLER.into(), "DENY".into())),
            logging: vec!["log1".into()],
            tags: [("owner".to_string(), "team-a".to_string())].into(),
            updated: Some(NOW - 86_400),
            max_length: Some(500),
            max_rate: Some(10),
        }
    }

    fn rules(policy: &AuditPolicy, room: &RoomView) -> Vec<&'static str> {
        let states: HashMap<String, String> = [
            ("log1".to_string(), "ACTIVE".to_string()),
            ("log2".to_string(), "CREATE_FAILED".to_string()),
        ]
        .into();
        let mut r: Vec<_> = policy
            .check_room(room, &states, NOW)
            .into_iter()
            .map(|f| f.rule)
            .collect();
        r.sort_unstable();
        r
    }

    /// Each row: a change to a compliant room, and the rules it must trip.
    #[test]
    fn room_and_tag_table() {
        let p = AuditPolicy::parse(&format!(
            "{DEFAULT_AUDIT_POLICY_TOML}\n[rooms.message_rate]\nmin = 1\nmax = 100\n"
        ))
        .unwrap()
        .approve_handlers([HANDLER.to_string()]);
        assert!(p.needs_get_room());
        assert!(!AuditPolicy::default_policy().needs_get_room());
        type Edit = fn(&mut RoomView);
        let rows: Vec<(Edit, &[&str])> = vec![
            (|_| {}, &[]),
            (|r| r.handler = None, &["room.handler-missing"]),
            (
                |r| r.handler = Some(("arn:other".into(), "DENY".into())),
                &["room.handler-unapproved"],
            ),
            (
                |r| r.handler = Some((HANDLER.into(), "ALLOW".into())),
                &["room.fallback"],
            ),
            (|r| r.logging.clear(), &["room.logging-missing"]),
            (
                |r| r.logging = vec!["log2".into()],
                &["room.logging-inactive"],
            ),
            (
                |r| {
                    r.logging =
                        vec!["arn:aws:ivschat:us-west-2:1:logging-configuration/gone".into()]
                },
                &["room.logging-inactive"],
            ),
            (|r| r.name = "bad name!".into(), &["room.name-pattern"]),
            (|r| r.updated = Some(NOW - 400 * 86_400), &["room.stale"]),
            (|r| r.max_rate = Some(101), &["room.message-rate"]),
            (
                |r| {
                    r.tags.remove("owner");
                },
                &["tag.required-missing"],
            ),
            (
                |r| {
                    r.tags.insert("owner".into(), "bad value!".into());
                },
                &["tag.value-not-allowed"],
            ),
            (
                |r| {
                    r.tags.insert("Owner".into(), "x".into());
                },
                &["tag.case-collision"],
            ),
            (
                |r| {
                    r.tags.insert("aws:x".into(), "x".into());
                },
                &["tag.reserved-prefix"],
            ),
            (
                |r| {
                    r.tags.insert("k".repeat(129), "x".into());
                },
                &["tag.key-too-long"],
            ),
            (
                |r| {
                    for i in 0..46 {
                        r.tags.insert(format!("t{i}"), "x".into());
                    }
                },
                &["tag.headroom"],
            ),
        ];
        for (i, (edit, want)) in rows.into_iter().enumerate() {
            let mut room = good();
            edit(&mut room);
            assert_eq!(rules(&p, &room), want, "row {i}");
        }
    }

    #[test]
    fn forbidden_and_allowed_values() {
        let p = AuditPolicy::parse(
            "version = 1\n[rooms]\nrequire_handler = false\n[tags]\nforbidden = [\"temp\"]\n[tags.allowed_values]\nenv = [\"prod\", \"dev\"]\n",
        )
        .unwrap();
        let mut room = RoomView::new(ARN);
        room.tags.insert("temp".into(), "1".into());
        room.tags.insert("env".into(), "qa".into());
        assert_eq!(
            rules(&p, &room),
            ["tag.forbidden-key", "tag.value-not-allowed"]
        );
    }

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

    #[test]
    fn summary_and_emf() {
        let p = AuditPolicy::default_policy();
        let mut s = Summary {
            rooms_scanned: 1,
            status: SweepStatus::Complete,
            ..Summary::default()
        };
        s.record(&p.check_room(&RoomView::new(ARN), &HashMap::new(), NOW));
        assert_eq!(s.findings_by_rule["room.handler-missing"], 1);
        assert_eq!(s.findings_by_severity[&Severity::High], 1);
        let emf = s.emf_records("IvsChatAudit", 1);
        let last = emf.last().unwrap();
        assert_eq!(
            last["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "IvsChatAudit"
        );
        assert_eq!(last["RoomsScanned"], 1);
        assert!(
            emf.iter()
                .any(|r| r["Rule"] == "room.handler-missing" && r["Findings"] == 1)
        );
    }

    #[test]
    fn views_from_sdk_types() {
        use aws_sdk_ivschat::types::{FallbackResult, MessageReviewHandler, RoomSummary};
        let s = RoomSummary::builder()
            .arn(ARN)
            .name("n")
            .message_review_handler(
                MessageReviewHandler::builder()
                    .uri(HANDLER)
                    .fallback_result(FallbackResult::Allow)
                    .build(),
            )
            .tags("owner", "a")
            .logging_configuration_identifiers("log1")
            .update_time(aws_sdk_ivschat::primitives::DateTime::from_secs(NOW))
            .build();
        let v = RoomView::from_summary(&s);
        assert_eq!(v.handler, Some((HANDLER.to_string(), "ALLOW".to_string())));
        assert_eq!(v.updated, Some(NOW));
        assert_eq!(v.logging, ["log1"]);
    }
}
