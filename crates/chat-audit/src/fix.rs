//! Remediation against the service: each fix re-reads the room, is checked against the
//! policy (a fix never creates a finding), is gated by the mode and the cap, and is
//! recorded with its outcome. What to change is decided in [`crate::remediation`].

use crate::api::{ApiError, Group};
use crate::checkpoint::CheckpointStore;
use crate::remediation::TagPlan;
use crate::report::{Change, Outcome, Report};
use crate::sweep::{Auditor, Mode, Run};
use crate::{Finding, MAX_TAGS, RoomView, Scope};
use aws_sdk_ivschat::config::http::HttpResponse;
use aws_sdk_ivschat::types::{FallbackResult, MessageReviewHandler};
use serde_json::{Value, json};

/// Why a fix was not made: the findings it would have created.
fn would_create(created: &[Finding]) -> String {
    let what: Vec<String> = created
        .iter()
        .map(|f| format!("{} ({})", f.rule, f.observed))
        .collect();
    format!("the change would create {}", what.join("; "))
}

fn handler_json(h: &Option<(String, String)>) -> Value {
    match h {
        Some((uri, fb)) => json!({"messageReviewHandler": {"uri": uri, "fallbackResult": fb}}),
        None => json!({"messageReviewHandler": null}),
    }
}

impl Auditor {
    /// Decides whether a change may be made now: `None` to go ahead, or the outcome to
    /// record instead (dry run, cap).
    fn gate<S: CheckpointStore, R: Report>(&self, run: &Run<'_, S, R>) -> Option<Outcome> {
        if run.changes_made() >= self.policy.max_changes() {
            Some(Outcome::Capped)
        } else if self.options.mode == Mode::DryRun {
            Some(Outcome::Planned)
        } else {
            None
        }
    }

    pub(crate) async fn fix_handler<S: CheckpointStore, R: Report>(
        &self,
        run: &mut Run<'_, S, R>,
        view: &RoomView,
    ) -> Result<(), ApiError> {
        let Some((target, rules)) = self.policy.handler_target(&view.handler) else {
            return Ok(());
        };
        let after = RoomView {
            handler: Some(target.clone()),
            ..view.clone()
        };
        let created = self
            .policy
            .new_findings(view, &after, Scope::Rooms, &run.logging, run.now);
        let mut change = Change {
            resource_arn: view.arn.clone(),
            rules,
            action: "UpdateRoom",
            before: handler_json(&view.handler),
            after: handler_json(&Some(target)),
            outcome: Outcome::Planned,
            reason: None,
        };
        if !created.is_empty() {
            change.outcome = Outcome::Skipped;
            change.reason = Some(would_create(&created));
            run.record_change(change);
            return Ok(());
        }
        if let Some(outcome) = self.gate(run) {
            change.outcome = outcome;
            run.record_change(change);
            return Ok(());
        }
        // Read before write: the listing may be minutes old.
        let arn = view.arn.clone();
        let Some(room) = self.read_room(&mut run.budget, &arn).await? else {
            change.outcome = Outcome::Vanished;
            run.record_change(change);
            return Ok(());
        };
        let fresh = crate::handler_of(room.message_review_handler());
        change.before = handler_json(&fresh);
        let Some(((uri, fb), rules)) = self.policy.handler_target(&fresh) else {
            change.outcome = Outcome::AlreadyCompliant;
            change.after = change.before.clone();
            run.record_change(change);
            return Ok(());
        };
        change.rules = rules;
        change.after = handler_json(&Some((uri.clone(), fb.clone())));
        let handler = MessageReviewHandler::builder()
            .uri(uri)
            .fallback_result(FallbackResult::from(fb.as_str()))
            .build();
        self.make(run, change, Group::Room, || {
            self.client
                .update_room()
                .identifier(arn.clone())
                .message_review_handler(handler.clone())
                .send()
        })
        .await
    }

    pub(crate) async fn fix_tags<S: CheckpointStore, R: Report>(
        &self,
        run: &mut Run<'_, S, R>,
        view: &RoomView,
    ) -> Result<(), ApiError> {
        if self.policy.tag_plan(view).is_empty() {
            return Ok(());
        }
        let fresh = if self.gate(run).is_none() {
            self.read_tags(&mut run.budget, &view.arn).await?
        } else {
            Some(view.tags.clone())
        };
        let Some(tags) = fresh else {
            run.record_change(Change {
                resource_arn: view.arn.clone(),
                rules: vec![],
                action: "TagResource",
                before: Value::Null,
                after: Value::Null,
                outcome: Outcome::Vanished,
                reason: None,
            });
            return Ok(());
        };
        let fresh_view = RoomView {
            tags: tags.clone(),
            ..view.clone()
        };
        let TagPlan { add, remove, held } = self.policy.tag_plan(&fresh_view);
        for (key, value, created) in held {
            let (action, rule, after) = match value {
                Some(v) => ("TagResource", "tag.required-missing", json!({ &key: v })),
                None => ("UntagResource", "tag.forbidden-key", json!({ &key: null })),
            };
            run.record_change(Change {
                resource_arn: view.arn.clone(),
                rules: vec![rule],
                action,
                before: json!({ &key: tags.get(&key) }),
                after,
                outcome: Outcome::Skipped,
                reason: Some(would_create(&created)),
            });
        }
        // The named keys' values (null when absent).
        let named = |keys: &[&String]| {
            Value::Object(
                keys.iter()
                    .map(|k| ((*k).clone(), tags.get(*k).map_or(Value::Null, |v| json!(v))))
                    .collect(),
            )
        };
        if !remove.is_empty() {
            let after: serde_json::Map<_, _> =
                remove.iter().map(|k| (k.clone(), Value::Null)).collect();
            let change = Change {
                resource_arn: view.arn.clone(),
                rules: vec!["tag.forbidden-key"],
                action: "UntagResource",
                before: named(&remove.iter().collect::<Vec<_>>()),
                after: Value::Object(after),
                outcome: Outcome::Planned,
                reason: None,
            };
            let arn = view.arn.clone();
            self.make(run, change, Group::Tag, || {
                self.client
                    .untag_resource()
                    .resource_arn(arn.clone())
                    .set_tag_keys(Some(remove.clone()))
                    .send()
            })
            .await?;
        }
        if !add.is_empty() {
            let mut change = Change {
                resource_arn: view.arn.clone(),
                rules: vec!["tag.required-missing"],
                action: "TagResource",
                before: named(&add.keys().collect::<Vec<_>>()),
                after: json!(add),
                outcome: Outcome::Planned,
                reason: None,
            };
            let remaining = tags.len() - remove.len().min(tags.len());
            if remaining + add.len() > MAX_TAGS {
                change.outcome = Outcome::Skipped;
                change.reason = Some(format!(
                    "the room has {remaining} tags; adding {} would pass the limit of {MAX_TAGS}",
                    add.len()
                ));
                run.record_change(change);
                return Ok(());
            }
            let arn = view.arn.clone();
            self.make(run, change, Group::Tag, || {
                self.client
                    .tag_resource()
                    .resource_arn(arn.clone())
                    .set_tags(Some(add.clone().into_iter().collect()))
                    .send()
            })
            .await?;
        }
        Ok(())
    }

    /// Makes (or plans, or caps) one change and records its outcome.
    async fn make<S, R, T, E, F, Fut>(
        &self,
        run: &mut Run<'_, S, R>,
        mut change: Change,
        group: Group,
        f: F,
    ) -> Result<(), ApiError>
    where
        S: CheckpointStore,
        R: Report,
        F: FnMut() -> Fut,
        Fut: std::future::Future<
                Output = Result<T, aws_sdk_ivschat::error::SdkError<E, HttpResponse>>,
            >,
        E: aws_sdk_ivschat::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        if let Some(outcome) = self.gate(run) {
            change.outcome = outcome;
            run.record_change(change);
            return Ok(());
        }
        match run.budget.call(group, change.action, f).await {
            Ok(_) => change.outcome = Outcome::Applied,
            Err(ApiError::NotFound { .. }) => change.outcome = Outcome::Vanished,
            Err(ApiError::Rejected { detail, .. }) => {
                change.outcome = Outcome::Skipped;
                change.reason = Some(detail);
            }
            Err(e) => return Err(e),
        }
        run.record_change(change);
        Ok(())
    }
}
