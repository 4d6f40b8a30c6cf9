//! What the endpoint holds: rooms as seeded or changed, their JSON shapes, and the mixed
//! fleet of the benchmarks and tests.

use crate::{ACCOUNT, REGION};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A room to seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSeed {
    /// Room id (the ARN ends with `room/<id>`).
    pub id: String,
    /// Room name.
    pub name: String,
    /// `messageReviewHandler` (uri, fallbackResult).
    pub handler: Option<(String, String)>,
    /// Logging configuration ids.
    pub logging: Vec<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// `maximumMessageLength`.
    pub max_length: u32,
    /// `maximumMessageRatePerSecond`.
    pub max_rate: u32,
    /// Seconds since the epoch of the last update (also the creation time).
    pub updated: u64,
}

impl RoomSeed {
    /// A room with defaults: no handler, no logging, no tags, 500 chars, 10 msg/s.
    pub fn new(id: impl Into<String>) -> Self {
        let id = id.into();
        Self {
            name: format!("room-{id}"),
            id,
            handler: None,
            logging: Vec::new(),
            tags: BTreeMap::new(),
            max_length: 500,
            max_rate: 10,
            updated: 1_767_225_600, // 2026-01-01
        }
    }
    /// Sets the review handler.
    pub fn handler(mut self, uri: &str, fallback: &str) -> Self {
        self.handler = Some((uri.to_string(), fallback.to_string()));
        self
    }
    /// Adds a tag.
    pub fn tag(mut self, k: &str, v: &str) -> Self {
        self.tags.insert(k.to_string(), v.to_string());
        self
    }
    /// Attaches a logging configuration.
    pub fn logging(mut self, id: &str) -> Self {
        self.logging.push(id.to_string());
        self
    }
    /// Sets the last update time (seconds since the epoch).
    pub fn updated(mut self, secs: u64) -> Self {
        self.updated = secs;
        self
    }
    /// Sets message limits.
    pub fn limits(mut self, max_length: u32, max_rate: u32) -> Self {
        self.max_length = max_length;
        self.max_rate = max_rate;
        self
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Room {
    pub(crate) seed: RoomSeed,
    pub(crate) created: u64,
    /// Nanoseconds, for a strict order among rooms updated in the same second.
    pub(crate) updated_nanos: u128,
}

impl Room {
    pub(crate) fn arn(&self) -> String {
        room_arn(&self.seed.id)
    }
    pub(crate) fn summary(&self) -> Value {
        let mut v = json!({
            "arn": self.arn(),
            "id": self.seed.id,
            "name": self.seed.name,
            "createTime": rfc3339(self.created),
            "updateTime": rfc3339(self.seed.updated),
            "tags": self.seed.tags,
            "loggingConfigurationIdentifiers": self.seed.logging,
        });
        if let (Some((uri, fb)), Some(obj)) = (&self.seed.handler, v.as_object_mut()) {
            obj.insert(
                "messageReviewHandler".into(),
                json!({"uri": uri, "fallbackResult": fb}),
            );
        }
        v
    }
    pub(crate) fn full(&self) -> Value {
        let mut v = self.summary();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("maximumMessageLength".into(), json!(self.seed.max_length));
            obj.insert(
                "maximumMessageRatePerSecond".into(),
                json!(self.seed.max_rate),
            );
        }
        v
    }
}

/// Room `i` of the mixed fleet that [`Emulator::seed_fleet`](crate::Emulator::seed_fleet) seeds: most rooms comply
/// with the default audit policy, and each kind of problem recurs with its own period so
/// every page holds a mix:
///
/// | period | problem |
/// |---|---|
/// | `i % 10 == 0` | no review handler |
/// | `i % 10 == 1` | fallbackResult ALLOW |
/// | `i % 10 == 2` | an unapproved handler (`function:legacy-filter`) |
/// | `i % 7 == 0` | no logging configuration |
/// | `i % 7 == 1` | logging configuration `oldlogs`, which is CREATE_FAILED |
/// | `i % 9 == 0` | no `owner` tag |
/// | `i % 11 == 0` | a `temp` tag |
/// | `i % 13 == 0` | `Owner` beside `owner` |
/// | `i % 17 == 0` | a name with a space |
/// | `i % 19 == 0` | last updated in 2024 (stale) |
///
/// Rooms are updated `base + i` seconds since the epoch (stale ones 400 days earlier).
pub fn fleet_room(i: u64, approved_handler: &str, base: u64) -> RoomSeed {
    let mut r = RoomSeed::new(format!("fleet{i:07}")).updated(base + i);
    r.name = format!("stream-{i}");
    match i % 10 {
        0 => {}
        1 => r = r.handler(approved_handler, "ALLOW"),
        2 => {
            r = r.handler(
                &format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:legacy-filter"),
                "DENY",
            )
        }
        _ => r = r.handler(approved_handler, "DENY"),
    }
    match i % 7 {
        0 => {}
        1 => r = r.logging("oldlogs"),
        _ => r = r.logging("chatlogs"),
    }
    if !i.is_multiple_of(9) {
        r = r.tag("owner", &format!("team-{}", i % 5));
    }
    if i.is_multiple_of(11) {
        r = r.tag("temp", "1");
    }
    if i.is_multiple_of(13) {
        r = r.tag("Owner", "someone");
    }
    if i.is_multiple_of(17) {
        r.name = format!("stream {i}");
    }
    if i.is_multiple_of(19) {
        r.updated = base.saturating_sub(400 * 86_400) + i;
    }
    r
}

/// The ARN of a room id in the emulated account.
pub fn room_arn(id: &str) -> String {
    format!("arn:aws:ivschat:{REGION}:{ACCOUNT}:room/{id}")
}

/// The ARN of a logging configuration id in the emulated account.
pub fn logging_arn(id: &str) -> String {
    format!("arn:aws:ivschat:{REGION}:{ACCOUNT}:logging-configuration/{id}")
}

/// RFC 3339 UTC timestamp of seconds since the epoch.
pub(crate) fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}
