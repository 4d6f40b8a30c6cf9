//! What remediation would change, decided without the network: the handler a room should
//! have, the tags to add and remove, and the rule that a fix never creates a finding of
//! the same policy (adding `owner` beside `Owner` would create a case collision; adding a
//! tag past the headroom would create a headroom finding). The sweep reads, gates and
//! writes; this module only plans.

use crate::{AuditPolicy, Finding, RoomView, Scope};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A fix's tag changes, and the ones held back because they would create findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagPlan {
    /// Tags to add (keys from `tags.defaults`).
    pub add: BTreeMap<String, String>,
    /// Keys to remove (from `tags.forbidden`).
    pub remove: Vec<String>,
    /// Additions (`Some(value)`) and removals (`None`) not made, each with the findings
    /// it would have created.
    pub held: Vec<(String, Option<String>, Vec<Finding>)>,
}

impl TagPlan {
    /// Nothing to change and nothing held back.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty() && self.held.is_empty()
    }
}

/// What identifies a finding when a room's state before and after a change is compared.
fn identities(findings: &[Finding]) -> BTreeSet<(&'static str, String)> {
    findings
        .iter()
        .map(|f| (f.rule, f.observed.clone()))
        .collect()
}

impl AuditPolicy {
    /// The findings `after` would have that `before` does not: a fix that creates any is
    /// not made. Findings are compared by rule and observation, so a worse observation of
    /// the same rule (46 tags where there were 45) counts as new.
    pub fn new_findings(
        &self,
        before: &RoomView,
        after: &RoomView,
        scope: Scope,
        logging_states: &HashMap<String, String>,
        now: i64,
    ) -> Vec<Finding> {
        let had = identities(&self.check(before, scope, logging_states, now));
        self.check(after, scope, logging_states, now)
            .into_iter()
            .filter(|f| !had.contains(&(f.rule, f.observed.clone())))
            .collect()
    }

    /// The handler this room should have under the enabled remediations, and the rules
    /// that call for it; `None` when there is nothing to change.
    pub fn handler_target(
        &self,
        current: &Option<(String, String)>,
    ) -> Option<((String, String), Vec<&'static str>)> {
        let p = self;
        let approved = p.approved_handlers().first();
        let mut rules = Vec::new();
        let target = match current {
            None => {
                // Only a room the policy finds wanting gets a handler.
                let approved = approved?;
                if !p.remediates("room.handler-missing") || !p.requires_handler() {
                    return None;
                }
                rules.push("room.handler-missing");
                let fb = p.fallback_result().unwrap_or("ALLOW");
                if p.remediates("room.fallback") && fb != "ALLOW" {
                    rules.push("room.fallback");
                }
                (approved.clone(), fb.to_string())
            }
            Some((uri, fb)) => {
                let mut t = (uri.clone(), fb.clone());
                if let Some(approved) = approved
                    && p.remediates("room.handler-unapproved")
                    && !p.approved_handlers().contains(uri)
                {
                    t.0 = approved.clone();
                    rules.push("room.handler-unapproved");
                }
                if let Some(want) = p.fallback_result()
                    && p.remediates("room.fallback")
                    && fb != want
                {
                    t.1 = want.to_string();
                    rules.push("room.fallback");
                }
                t
            }
        };
        if rules.is_empty() || current.as_ref() == Some(&target) {
            None
        } else {
            Some((target, rules))
        }
    }

    /// Tags to add and keys to remove under the enabled remediations, before the check
    /// for new findings.
    fn tag_candidates(
        &self,
        tags: &BTreeMap<String, String>,
    ) -> (BTreeMap<String, String>, Vec<String>) {
        let p = self;
        let add = if p.remediates("tag.required-missing") {
            p.tag_defaults()
                .iter()
                .filter(|(k, _)| !tags.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        } else {
            BTreeMap::new()
        };
        let remove = if p.remediates("tag.forbidden-key") {
            p.forbidden_tags()
                .iter()
                .filter(|k| tags.contains_key(*k))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        (add, remove)
    }

    /// The tag changes for a room under the enabled remediations. Only keys the policy
    /// names (`tags.defaults`, `tags.forbidden`) are ever touched, and a change that would
    /// create a finding of this policy is held back (removals are weighed first, then
    /// each addition on top of the changes already accepted).
    pub fn tag_plan(&self, room: &RoomView) -> TagPlan {
        let (add, remove) = self.tag_candidates(&room.tags);
        let mut plan = TagPlan::default();
        if add.is_empty() && remove.is_empty() {
            return plan;
        }
        let none = HashMap::new();
        let mut current = room.clone();
        for key in remove {
            let mut trial = current.clone();
            trial.tags.remove(&key);
            let created = self.new_findings(room, &trial, Scope::Tags, &none, 0);
            if created.is_empty() {
                current = trial;
                plan.remove.push(key);
            } else {
                plan.held.push((key, None, created));
            }
        }
        for (key, value) in add {
            let mut trial = current.clone();
            trial.tags.insert(key.clone(), value.clone());
            let created = self.new_findings(room, &trial, Scope::Tags, &none, 0);
            if created.is_empty() {
                current = trial;
                plan.add.insert(key, value);
            } else {
                plan.held.push((key, Some(value), created));
            }
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "arn:aws:lambda:us-west-2:123456789012:function:review";

    fn auditor(policy: &str) -> AuditPolicy {
        AuditPolicy::parse(policy).unwrap()
    }

    fn h(uri: &str, fb: &str) -> Option<(String, String)> {
        Some((uri.to_string(), fb.to_string()))
    }

    fn room(tags: &[(&str, &str)]) -> RoomView {
        let mut r = RoomView::new("arn:aws:ivschat:us-west-2:123456789012:room/abc");
        r.tags = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        r
    }

    /// Each row: remediated rules and `require_handler`, the room's handler, and the
    /// handler remediation sets (`None`: leave the room alone).
    #[test]
    fn handler_targets_as_a_table() {
        type Row = (
            &'static str,
            bool,
            Option<(String, String)>,
            Option<(String, String)>,
        );
        let all = r#""room.handler-missing", "room.handler-unapproved", "room.fallback""#;
        let rows: Vec<Row> = vec![
            (all, true, None, h(H, "DENY")),
            (all, false, None, None),
            (r#""room.fallback""#, true, None, None),
            (all, true, h("arn:other", "ALLOW"), h(H, "DENY")),
            (
                r#""room.fallback""#,
                true,
                h("arn:other", "ALLOW"),
                h("arn:other", "DENY"),
            ),
            (
                r#""room.handler-unapproved""#,
                true,
                h("arn:other", "ALLOW"),
                h(H, "ALLOW"),
            ),
            (all, true, h(H, "DENY"), None),
        ];
        for (i, (rules, require, current, want)) in rows.into_iter().enumerate() {
            let a = auditor(&format!(
                "version = 1\n[rooms]\nrequire_handler = {require}\napproved_handlers = [\"{H}\"]\nfallback_result = \"DENY\"\n[remediation]\nrules = [{rules}]\n"
            ));
            assert_eq!(a.handler_target(&current).map(|t| t.0), want, "row {i}");
        }
    }

    #[test]
    fn tag_plans_touch_only_named_keys() {
        let a = auditor(
            "version = 1\n[rooms]\nrequire_handler = false\n[tags]\nrequired = [\"owner\", \"team\"]\nforbidden = [\"temp\"]\ncase_collisions = false\n[tags.defaults]\nowner = \"unassigned\"\n[remediation]\nrules = [\"tag.required-missing\", \"tag.forbidden-key\"]\n",
        );
        let plan = a.tag_plan(&room(&[("temp", "1"), ("Temp", "2"), ("other", "x")]));
        // `team` has no default; `Temp` and `other` are not named by the policy.
        assert_eq!(
            plan.add,
            BTreeMap::from([("owner".to_string(), "unassigned".to_string())])
        );
        assert_eq!(plan.remove, ["temp"]);
        assert!(plan.held.is_empty());
    }

    /// A fix never creates a finding of the same policy. Each row: the room's tags, the
    /// keys added, the keys held back and the rule each would have broken.
    #[test]
    fn fixes_that_would_create_findings_are_held() {
        let policy = "version = 1\n[rooms]\nrequire_handler = false\n[tags]\nrequired = [\"owner\", \"team\"]\nforbidden = [\"temp\"]\nheadroom = 5\ncase_collisions = true\n[tags.defaults]\nowner = \"unassigned\"\nteam = \"chat\"\n[remediation]\nrules = [\"tag.required-missing\", \"tag.forbidden-key\"]\n";
        let a = auditor(policy);
        let many: Vec<(String, String)> = (0..45).map(|i| (format!("k{i}"), "v".into())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut crowded = many.clone();
        crowded.push(("temp", "1"));
        type Row<'a> = (
            Vec<(&'a str, &'a str)>,
            Vec<&'a str>,
            Vec<(&'a str, &'a str)>,
        );
        let rows: Vec<Row> = vec![
            // `Owner` is there: adding `owner` would collide; `team` is still added.
            (
                vec![("Owner", "ana")],
                vec!["team"],
                vec![("owner", "tag.case-collision")],
            ),
            // 45 tags and headroom 5: each addition would raise the headroom finding.
            (
                many.clone(),
                vec![],
                vec![("owner", "tag.headroom"), ("team", "tag.headroom")],
            ),
            // Removing `temp` first makes room for one addition, not two.
            (crowded, vec!["owner"], vec![("team", "tag.headroom")]),
            (vec![], vec!["owner", "team"], vec![]),
        ];
        for (i, (tags, added, held)) in rows.into_iter().enumerate() {
            let before = room(&tags);
            let plan = a.tag_plan(&before);
            let keys: Vec<&str> = plan.add.keys().map(String::as_str).collect();
            assert_eq!(keys, added, "row {i}");
            let got: Vec<(&str, &str)> = plan
                .held
                .iter()
                .map(|(k, _, f)| (k.as_str(), f[0].rule))
                .collect();
            assert_eq!(got, held, "row {i}");
            // Applying the plan creates no finding.
            let mut after = before.clone();
            for k in &plan.remove {
                after.tags.remove(k);
            }
            after.tags.extend(plan.add.clone());
            let created = a.new_findings(&before, &after, Scope::Tags, &HashMap::new(), 0);
            assert!(created.is_empty(), "row {i}: {created:?}");
        }
    }
}
