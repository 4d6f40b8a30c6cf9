//! What a sweep did and found, and its CloudWatch metrics.

use crate::report::Outcome;
use crate::{Finding, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    use crate::{AuditPolicy, RoomView};
    use std::collections::HashMap;

    const ARN: &str = "arn:aws:ivschat:us-west-2:123456789012:room/abc";
    const NOW: i64 = 1_767_225_600;

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
}
