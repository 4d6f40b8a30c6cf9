//! Where a sweep's records go: one finding or change at a time, as they are made.

use crate::Finding;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The outcome of one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Dry run: this change would be made.
    Planned,
    /// Made.
    Applied,
    /// The resource was already compliant when re-read before writing.
    AlreadyCompliant,
    /// Not made: the sweep reached `remediation.max_changes`.
    Capped,
    /// Not made, for the reason given.
    Skipped,
    /// The room was deleted before the change.
    Vanished,
}

/// One remediation, with the state before and after (only the fields and tag keys the
/// policy names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The room's ARN.
    pub resource_arn: String,
    /// The rules it fixes.
    pub rules: Vec<&'static str>,
    /// `UpdateRoom`, `TagResource` or `UntagResource`.
    pub action: &'static str,
    /// Before.
    pub before: Value,
    /// After.
    pub after: Value,
    /// What happened.
    pub outcome: Outcome,
    /// Why, when skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Receives findings and changes as the sweep makes them.
pub trait Report: Send {
    /// One finding.
    fn finding(&mut self, finding: &Finding);
    /// One change (planned, applied or not made).
    fn change(&mut self, change: &Change);
}

/// Writes one JSON object per line: `{"record":"finding",...}` and `{"record":"change",...}`.
pub struct JsonLines<W>(pub W);

impl<W: std::io::Write + Send> Report for JsonLines<W> {
    fn finding(&mut self, finding: &Finding) {
        let mut v = json!({"record": "finding"});
        merge(&mut v, finding);
        let _ = writeln!(self.0, "{v}");
    }
    fn change(&mut self, change: &Change) {
        let mut v = json!({"record": "change"});
        merge(&mut v, change);
        let _ = writeln!(self.0, "{v}");
    }
}

fn merge(into: &mut Value, what: &impl Serialize) {
    if let (Some(obj), Ok(Value::Object(more))) = (into.as_object_mut(), serde_json::to_value(what))
    {
        obj.extend(more);
    }
}

/// Keeps everything, for tests and embedding.
#[derive(Debug, Default)]
pub struct Collect {
    /// Findings in order.
    pub findings: Vec<Finding>,
    /// Changes in order.
    pub changes: Vec<Change>,
}

impl Report for Collect {
    fn finding(&mut self, finding: &Finding) {
        self.findings.push(finding.clone());
    }
    fn change(&mut self, change: &Change) {
        self.changes.push(change.clone());
    }
}
