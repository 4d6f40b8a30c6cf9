//! Policy tests: examples carried in the policy, checked against its verdicts.

use crate::{Outcome, Policy, Sender};

/// The result of checking one example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExampleResult {
    /// Index of the example in the policy.
    pub index: usize,
    /// The example's message.
    pub text: String,
    /// The expected outcome.
    pub expected: String,
    /// The outcome the policy gave.
    pub actual: Outcome,
    /// Rules that fired.
    pub fired: Vec<String>,
    /// The content after review.
    pub content: String,
    /// Why the example failed, or `None` when it passed.
    pub failure: Option<String>,
}

impl ExampleResult {
    /// True when the policy gave the expected verdict.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

impl Policy {
    /// Reviews every example of the policy and reports which pass.
    ///
    /// ```
    /// let results = chat_rules::Policy::default_policy().check_examples();
    /// assert!(results.iter().all(|r| r.passed()));
    /// ```
    pub fn check_examples(&self) -> Vec<ExampleResult> {
        self.examples
            .iter()
            .enumerate()
            .map(|(index, ex)| {
                let sender = Sender {
                    user_id: ex.user_id.as_deref(),
                    attributes: Some(&ex.attributes),
                };
                let v = self.review(&ex.text, sender);
                let fired: Vec<String> = v.fired().iter().map(|f| f.rule.to_string()).collect();
                let content = v.content(&ex.text).to_string();
                let mut failure = None;
                if v.outcome().as_str() != ex.expect {
                    failure = Some(format!(
                        "expected {}, got {}",
                        ex.expect,
                        v.outcome().as_str()
                    ));
                } else if let Some(missing) = ex.rules.iter().find(|r| !fired.contains(r)) {
                    failure = Some(format!("expected rule `{missing}` to fire"));
                } else if let Some(want) = &ex.content
                    && *want != content
                {
                    failure = Some(format!("expected content {want:?}, got {content:?}"));
                }
                ExampleResult {
                    index,
                    text: ex.text.clone(),
                    expected: ex.expect.clone(),
                    actual: v.outcome(),
                    fired,
                    content,
                    failure,
                }
            })
            .collect()
    }
}
#[cfg(test)]
mod tests {
    #[test]
    fn default_policy_examples_pass() {
        let failures: Vec<_> = crate::Policy::default_policy()
            .check_examples()
            .into_iter()
            .filter(|r| !r.passed())
            .map(|r| {
                format!(
                    "{:?}: {:?} fired {:?} content {:?}",
                    r.text, r.failure, r.fired, r.content
                )
            })
            .collect();
        assert!(failures.is_empty(), "{failures:#?}");
    }
}
