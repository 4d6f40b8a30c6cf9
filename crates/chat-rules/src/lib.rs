//! # chat-rules
//!
//! Evasion-resistant, Scunthorpe-safe chat message filtering from a policy file, in
//! microseconds and with a hard time bound.
//!
//! A [`Policy`] is compiled once from TOML or JSON, then reviews any number of messages:
//!
//! - **Blocked terms** (whole words by default; `word*`, `*word`, `*word*`; phrases), all
//!   compiled into one Aho-Corasick automaton, with an **allow list** that suppresses
//!   overlapping matches (`Scunthorpe`, `cocktail`, `shiitake` pass; `cunt`, `cock`,
//!   `shit` do not).
//! - **Normalisation** against evasions: compatibility forms, TR39 look-alikes, letters by
//!   their Unicode names (small capitals, modifier letters, regional indicators, negative
//!   squared letters), HTML character references, accents, leetspeak, invisible
//!   characters, separated letters, repeated letters, self-censoring.
//!   Matches map back to exact spans of the original text, so masks hide exactly the
//!   offending characters.
//! - **Regex rules** (Rust `regex`: linear time, size-limited).
//! - **Spam heuristics**: capitals, symbols, emoji floods, zalgo, repeated characters and
//!   words, links (with domain allow and block lists), mentions, length.
//! - **Actions**: `deny` with a user-safe reason, `mask`, `flag`; severities; shadow rules;
//!   exemptions by sender attribute or user id; per-room policies ([`PolicySet`]).
//!
//! ```
//! use chat_rules::{Outcome, Policy, Sender};
//!
//! let policy = Policy::default_policy();
//! let v = policy.review("oh fuuuck", Sender::anonymous());
//! assert_eq!(v.outcome(), Outcome::Mask);
//! assert_eq!(v.content("oh fuuuck"), "oh ******");
//!
//! // Scunthorpe-safe: innocent words that contain profane ones pass unchanged.
//! let v = policy.review("Scunthorpe, Penistone and Sussex: cocktails on me", Sender::anonymous());
//! assert_eq!(v.outcome(), Outcome::Allow);
//!
//! // Exemptions: moderators may post links.
//! let attrs = [("role", "moderator")];
//! let v = policy.review("schedule at example.com/tour", Sender::new("mod-1", &attrs));
//! assert_eq!(v.outcome(), Outcome::Allow);
//! ```
#![warn(missing_docs)]

mod default;
mod engine;
mod entities;
mod error;
mod examples;
mod fold_table;
mod heuristics;
pub mod normalize;
mod policy;
mod set;
mod terms;

pub use default::DEFAULT_POLICY_TOML;
pub use engine::{Attributes, Fired, LIMIT_RULE, Outcome, Sender, Verdict};
pub use error::{PolicyError, PolicyErrorKind};
pub use examples::ExampleResult;
pub use policy::{
    Action, Example, Exempt, Lint, MaskStyle, POLICY_VERSION, Policy, PolicyStats, Rule, RuleType,
    Severity,
};
pub use set::PolicySet;
