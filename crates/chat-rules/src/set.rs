//! Per-room policies.

use crate::Policy;
use crate::error::{PolicyError, PolicyErrorKind};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Policies selected by room: a room's own policy when one names its ARN or id in
/// `rooms = [...]`, the default policy otherwise.
///
/// ```
/// use chat_rules::{Policy, PolicySet};
/// let strict = Policy::from_toml(r#"
///     version = 1
///     name = "kids"
///     rooms = ["AbCdEf123456"]
///     [[rules]]
///     id = "no-links"
///     type = "links"
///     action = "deny"
/// "#).unwrap();
/// let mut set = PolicySet::new(Policy::default_policy());
/// set.insert(strict).unwrap();
/// let arn = "arn:aws:ivschat:us-west-2:123456789012:room/AbCdEf123456";
/// assert_eq!(set.for_room(arn).name(), "kids");
/// assert_eq!(set.for_room("arn:aws:ivschat:us-west-2:123456789012:room/other").name(), "default");
/// ```
#[derive(Debug, Clone)]
pub struct PolicySet {
    default: Arc<Policy>,
    rooms: HashMap<String, Arc<Policy>>,
    policies: Vec<Arc<Policy>>,
}

impl PolicySet {
    /// A set with only a default policy.
    pub fn new(default: Policy) -> Self {
        let default = Arc::new(default);
        Self {
            policies: vec![default.clone()],
            default,
            rooms: HashMap::new(),
        }
    }

    /// Adds a policy for the rooms it names. Fails if it names no room or a room that
    /// another policy already claims.
    pub fn insert(&mut self, policy: Policy) -> Result<(), PolicyError> {
        if policy.rooms().is_empty() {
            return Err(PolicyError::new(PolicyErrorKind::Syntax(format!(
                "policy `{}` names no rooms: add `rooms = [\"<room ARN or id>\"]` or make it the default",
                policy.name()
            ))));
        }
        let policy = Arc::new(policy);
        for room in policy.rooms() {
            if let Some(other) = self.rooms.get(room) {
                return Err(PolicyError::new(PolicyErrorKind::Syntax(format!(
                    "room {room:?} is claimed by policies `{}` and `{}`: name each room once",
                    other.name(),
                    policy.name()
                ))));
            }
            self.rooms.insert(room.clone(), policy.clone());
        }
        self.policies.push(policy);
        Ok(())
    }

    /// Loads every `*.toml` and `*.json` file of `dir` (sorted by name). The file named
    /// `default.toml` or `default.json`, if present, replaces `default`; every other file
    /// must name its rooms.
    pub fn from_dir(dir: impl AsRef<Path>, default: Policy) -> Result<Self, PolicyError> {
        let dir = dir.as_ref();
        let io = |e: std::io::Error| {
            PolicyError::new(PolicyErrorKind::Io {
                path: dir.display().to_string(),
                message: e.to_string(),
            })
        };
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("toml" | "json")
                )
            })
            .collect();
        paths.sort();
        let mut set = Self::new(default);
        let mut rest = Vec::new();
        for p in paths {
            let policy = Policy::from_file(&p).map_err(|e| with_path(e, &p))?;
            if p.file_stem().and_then(|s| s.to_str()) == Some("default") {
                set = Self::new(policy);
            } else {
                rest.push((p, policy));
            }
        }
        for (p, policy) in rest {
            set.insert(policy).map_err(|e| with_path(e, &p))?;
        }
        Ok(set)
    }

    /// The policy for a room, by ARN or by id (the part after `room/`).
    pub fn for_room(&self, room: &str) -> &Policy {
        if let Some(p) = self.rooms.get(room) {
            return p;
        }
        let id = room.rsplit('/').next().unwrap_or(room);
        self.rooms.get(id).unwrap_or(&self.default)
    }

    /// The default policy.
    pub fn default_policy(&self) -> &Policy {
        &self.default
    }

    /// Every policy in the set, the default first.
    pub fn policies(&self) -> impl Iterator<Item = &Policy> {
        self.policies.iter().map(|p| &**p)
    }
}

fn with_path(e: PolicyError, path: &Path) -> PolicyError {
    let kind = match e.kind() {
        PolicyErrorKind::Io { .. } => e.kind().clone(),
        other => PolicyErrorKind::Syntax(format!("{}: {other}", path.display())),
    };
    PolicyError {
        kind,
        line: e.line(),
        rule: e.rule_id().map(str::to_string),
    }
}
