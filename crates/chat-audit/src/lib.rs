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
mod checks;
mod fix;
mod listing;
mod policy;
pub mod remediation;
mod report;
pub mod seen;
mod summary;
mod sweep;

pub use api::{ApiError, BudgetConfig};
pub use checkpoint::{
    CHECKPOINT_FORMAT, Checkpoint, CheckpointStore, DynamoDbStore, FileStore, MemoryStore, NoStore,
    SeenPage, StoreError,
};
pub use checks::RoomView;
pub(crate) use checks::handler_of;
pub use policy::{
    AuditPolicy, AuditPolicyError, Bounds, DEFAULT_AUDIT_POLICY_TOML, REMEDIABLE_RULES,
};
pub use report::{Change, Collect, JsonLines, Outcome, Report};
pub use summary::{Summary, SweepStatus};
pub use sweep::{AuditError, Auditor, Mode, Options};

use serde::{Deserialize, Serialize};

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
