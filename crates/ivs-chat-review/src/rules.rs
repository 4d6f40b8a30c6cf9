//! [`RuleReviewer`]: reviews messages with a [`chat_rules`] policy set.

use crate::contract::{MODERATION_PREFIX, ReviewRequest, ReviewResponse};
use crate::service::{BoxError, Review, Reviewer};
use chat_rules::{Action, Outcome, PolicySet, Sender};

/// Attribute set to `"true"` on messages that a `flag` rule fired on.
pub const FLAGGED_ATTRIBUTE: &str = "mod.flagged";
/// Attribute with the highest severity among the enforced rules that fired.
pub const SEVERITY_ATTRIBUTE: &str = "mod.severity";
/// Attribute with the ids of the enforced flag and mask rules that fired, comma separated.
pub const RULES_ATTRIBUTE: &str = "mod.rules";

/// Reviews with the policy of the message's room (see [`PolicySet`]).
///
/// - deny: `DENY` with the rule's user-safe reason in the `Reason` attribute;
/// - mask: `ALLOW` with the offending characters replaced;
/// - flag: `ALLOW` unchanged, with [`FLAGGED_ATTRIBUTE`], [`SEVERITY_ATTRIBUTE`] and
///   [`RULES_ATTRIBUTE`] added to the message's attributes.
#[derive(Debug, Clone)]
pub struct RuleReviewer {
    policies: PolicySet,
}

/// The decision of a [`RuleReviewer`] with the policy's view of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleDecision {
    /// The response to send.
    pub response: ReviewResponse,
    /// The policy's outcome.
    pub outcome: Outcome,
    /// Every rule that fired, as `id:action` (`:shadow` appended for shadow rules).
    pub fired: Vec<String>,
    /// The name of the policy used.
    pub policy: String,
}

impl RuleReviewer {
    /// A reviewer over `policies`.
    pub fn new(policies: PolicySet) -> Self {
        Self { policies }
    }

    /// The policies.
    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// Decides on `request` (synchronously: the policy needs no I/O).
    pub fn decide(&self, request: &ReviewRequest) -> RuleDecision {
        let policy = self.policies.for_room(&request.room_arn);
        let sender = Sender {
            user_id: Some(request.sender.user_id.as_str()),
            attributes: Some(&request.sender.attributes),
        };
        let verdict = policy.review(&request.content, sender);
        let fired: Vec<String> = verdict
            .fired()
            .iter()
            .map(|f| {
                let shadow = if f.shadow { ":shadow" } else { "" };
                format!("{}:{}{shadow}", f.rule, f.action.as_str())
            })
            .collect();
        let mut response = match verdict.outcome() {
            Outcome::Deny => {
                ReviewResponse::deny(request, verdict.reason().unwrap_or("Message not allowed."))
            }
            Outcome::Mask => ReviewResponse::rewrite(request, verdict.content(&request.content)),
            Outcome::Flag | Outcome::Allow => ReviewResponse::allow(request),
        };
        // Clients must not be able to make a message look moderated: drop any `mod.*`
        // attribute they sent; only this reviewer sets those.
        response
            .attributes
            .retain(|k, _| !k.starts_with(MODERATION_PREFIX));
        let flagged: Vec<&str> = verdict
            .fired()
            .iter()
            .filter(|f| !f.shadow && f.action == Action::Flag)
            .map(|f| f.rule)
            .collect();
        if verdict.outcome() != Outcome::Deny && !flagged.is_empty() {
            response
                .attributes
                .insert(FLAGGED_ATTRIBUTE.into(), "true".into());
            if let Some(sev) = verdict.severity() {
                response
                    .attributes
                    .insert(SEVERITY_ATTRIBUTE.into(), sev.as_str().into());
            }
            response
                .attributes
                .insert(RULES_ATTRIBUTE.into(), flagged.join(","));
        }
        RuleDecision {
            response,
            outcome: verdict.outcome(),
            fired,
            policy: policy.name().to_string(),
        }
    }
}

impl Reviewer for RuleReviewer {
    async fn review(&self, request: &ReviewRequest) -> Result<Review, BoxError> {
        let d = self.decide(request);
        Ok(Review {
            response: d.response,
            rules: d.fired,
        })
    }
}
