//! The checks on one room: what a sweep knows of it ([`RoomView`]) and the findings the
//! policy makes of it.

use crate::{AuditPolicy, Finding, MAX_TAGS, Scope, Severity};
use std::collections::{BTreeMap, HashMap};

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

    pub(crate) fn check_tags(&self, room: &RoomView, out: &mut Vec<Finding>) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEFAULT_AUDIT_POLICY_TOML;

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
