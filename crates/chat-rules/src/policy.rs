//! The policy file: format, validation and compilation.
//!
//! A policy is TOML (for people) or JSON (for environment variables and parameter stores),
//! with the same fields. See `policies/default.toml` for a complete, commented example.

use crate::error::{PolicyError, PolicyErrorKind, line_of};
use crate::normalize::{NormalizeOptions, Normalizer};
use crate::terms::{Owner, Terms, TermsBuilder};
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};

/// The policy format version this build reads.
pub const POLICY_VERSION: u32 = 1;

/// What a rule does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Allow the message and add attributes for clients (flagged, severity, rules).
    Flag,
    /// Replace the offending characters and allow the rest.
    Mask,
    /// Reject the message; the sender sees the rule's reason.
    Deny,
}

impl Action {
    /// The lower-case name used in policies and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Flag => "flag",
            Action::Mask => "mask",
            Action::Deny => "deny",
        }
    }
}

/// How serious a rule is, for logs, metrics and client attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Mild: mask or flag.
    Low,
    /// Strong.
    Medium,
    /// Severe: slurs, threats, scams.
    High,
}

impl Severity {
    /// The lower-case name used in policies, logs and attributes.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// How masked characters are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaskStyle {
    /// Every masked character becomes `*`.
    Asterisks,
    /// The first character stays, the rest become `*` (`f***`).
    KeepFirst,
    /// The whole span becomes this text, when the text is no longer than the span (else
    /// asterisks, so a masked message is never longer than the original).
    Fixed(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMask {
    style: Option<String>,
    text: Option<String>,
}

/// Who a rule does not apply to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Exempt {
    /// Sender attributes (from the chat token) and the values that exempt a sender, e.g.
    /// `role = ["moderator", "broadcaster"]`.
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Sender user ids that are exempt.
    pub user_ids: Vec<String>,
}

impl Exempt {
    fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.user_ids.is_empty()
    }

    fn merge(&mut self, other: &Exempt) {
        for (k, v) in &other.attributes {
            self.attributes
                .entry(k.clone())
                .or_default()
                .extend(v.iter().cloned());
        }
        self.user_ids.extend(other.user_ids.iter().cloned());
    }

    pub(crate) fn applies(&self, sender: &crate::Sender<'_>) -> bool {
        if self.is_empty() {
            return false;
        }
        if let Some(uid) = sender.user_id
            && self.user_ids.iter().any(|u| u == uid)
        {
            return true;
        }
        let Some(attrs) = sender.attributes else {
            return false;
        };
        self.attributes.iter().any(|(key, values)| {
            attrs
                .attribute(key)
                .is_some_and(|v| values.iter().any(|want| want.eq_ignore_ascii_case(v)))
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAllow {
    terms: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLimits {
    regex_size_limit: Option<usize>,
}

/// The kinds of rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleType {
    /// Blocked terms, matched on normalised text.
    Terms,
    /// Regular expressions (Rust regex syntax).
    Regex,
    /// Excess capital letters.
    Caps,
    /// Excess symbols.
    Symbols,
    /// Emoji floods.
    Emoji,
    /// Stacked combining marks (zalgo).
    Zalgo,
    /// One character repeated many times.
    RepeatedChars,
    /// One word repeated many times.
    RepeatedWords,
    /// Links: URLs, bare and spelled-out domains, IP addresses.
    Links,
    /// `@mentions`.
    Mentions,
    /// Message length.
    Length,
}

impl RuleType {
    /// The snake-case name used in policies.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleType::Terms => "terms",
            RuleType::Regex => "regex",
            RuleType::Caps => "caps",
            RuleType::Symbols => "symbols",
            RuleType::Emoji => "emoji",
            RuleType::Zalgo => "zalgo",
            RuleType::RepeatedChars => "repeated_chars",
            RuleType::RepeatedWords => "repeated_words",
            RuleType::Links => "links",
            RuleType::Mentions => "mentions",
            RuleType::Length => "length",
        }
    }
}

/// Where a regex looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
enum Target {
    /// The message as sent.
    #[default]
    Text,
    /// The normalised text (lower-case ASCII, separators as single spaces).
    Normalized,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    #[serde(rename = "type")]
    kind: RuleType,
    action: Action,
    severity: Option<Severity>,
    reason: Option<String>,
    #[serde(default)]
    shadow: bool,
    exempt: Option<Exempt>,
    mask: Option<RawMask>,
    // terms
    terms: Option<Vec<String>>,
    // regex
    pattern: Option<String>,
    patterns: Option<Vec<String>>,
    case_insensitive: Option<bool>,
    on: Option<Target>,
    // heuristics
    min_length: Option<u32>,
    min_count: Option<u32>,
    max_count: Option<u32>,
    max_ratio: Option<f64>,
    max_run: Option<u32>,
    max_repeats: Option<u32>,
    max_marks: Option<u32>,
    max_length: Option<u32>,
    // links
    allow_domains: Option<Vec<String>>,
    block_domains: Option<Vec<String>>,
    block_all: Option<bool>,
}

/// A policy example: a message and the verdict the policy must give it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// The message.
    pub text: String,
    /// The expected action: `allow`, `flag`, `mask` or `deny`.
    pub expect: String,
    /// Rules expected to fire (a subset check).
    #[serde(default)]
    pub rules: Vec<String>,
    /// Expected content after masking.
    pub content: Option<String>,
    /// Sender attributes, to test exemptions.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Sender user id.
    pub user_id: Option<String>,
    /// Why this example is here.
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: u32,
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    rooms: Vec<String>,
    #[serde(default)]
    normalize: NormalizeOptions,
    #[serde(default)]
    mask: RawMask,
    #[serde(default)]
    exempt: Exempt,
    #[serde(default)]
    allow: RawAllow,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    examples: Vec<Example>,
}

/// A heuristic check with its thresholds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Check {
    Terms,
    Regex {
        first: usize,
        count: usize,
    },
    Caps {
        min_length: u32,
        min_count: u32,
        max_ratio: f64,
    },
    Symbols {
        min_length: u32,
        max_ratio: f64,
    },
    Emoji {
        max_count: u32,
        min_length: u32,
        max_ratio: f64,
    },
    Zalgo {
        max_marks: u32,
        max_count: u32,
    },
    RepeatedChars {
        max_run: u32,
    },
    RepeatedWords {
        max_repeats: u32,
    },
    Links {
        allow: Vec<String>,
        block: Vec<String>,
        block_all: bool,
    },
    Mentions {
        max_count: u32,
    },
    Length {
        max_length: u32,
    },
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub(crate) id: Box<str>,
    pub(crate) kind: RuleType,
    pub(crate) action: Action,
    pub(crate) severity: Severity,
    pub(crate) reason: Box<str>,
    pub(crate) shadow: bool,
    pub(crate) exempt: Exempt,
    pub(crate) mask: MaskStyle,
    pub(crate) check: Check,
    pub(crate) line: Option<usize>,
}

impl Rule {
    /// The rule's id.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The rule's type.
    pub fn kind(&self) -> RuleType {
        self.kind
    }
    /// What the rule does when it fires.
    pub fn action(&self) -> Action {
        self.action
    }
    /// The rule's severity.
    pub fn severity(&self) -> Severity {
        self.severity
    }
    /// True when the rule is evaluated and reported but not enforced.
    pub fn is_shadow(&self) -> bool {
        self.shadow
    }
    /// The line of the rule in the policy text, when known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }
}

/// One compiled regex and the rule it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRegex {
    pub rule: u16,
    pub regex: Regex,
    pub on_normalized: bool,
}

/// A compiled policy: build it once, review many messages with it.
///
/// ```
/// use chat_rules::Policy;
/// let policy = Policy::from_toml(r#"
///     version = 1
///     [[rules]]
///     id = "insults"
///     type = "terms"
///     action = "mask"
///     terms = ["idiot", "loser*"]
/// "#).unwrap();
/// assert_eq!(policy.censor("what an 1d10t"), "what an *****");
/// ```
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) rooms: Vec<String>,
    pub(crate) normalizer: Normalizer,
    pub(crate) rules: Vec<Rule>,
    pub(crate) terms: Terms,
    pub(crate) regexes: Vec<CompiledRegex>,
    pub(crate) regex_set_text: Option<RegexSet>,
    pub(crate) regex_set_norm: Option<RegexSet>,
    /// Indices into `regexes` for each set, in set order.
    pub(crate) set_text_ids: Vec<usize>,
    pub(crate) set_norm_ids: Vec<usize>,
    pub(crate) examples: Vec<Example>,
    pub(crate) allow_terms: usize,
    pub(crate) needs_normalized: bool,
}

/// The default size limit of one compiled regex (bytes of compiled program).
const DEFAULT_REGEX_SIZE_LIMIT: usize = 1 << 20;
/// The most rules a policy may have.
const MAX_RULES: usize = 1_000;

fn syntax(msg: String, line: Option<usize>) -> PolicyError {
    PolicyError::new(PolicyErrorKind::Syntax(msg)).at(line)
}

/// Finds the line of `"needle"` (quoted) in `text`, starting at byte `from`.
fn find_quoted(text: &str, needle: &str, from: usize) -> Option<(usize, usize)> {
    let quoted_double = format!("\"{needle}\"");
    let quoted_single = format!("'{needle}'");
    let hay = text.get(from..)?;
    let pos = [hay.find(&quoted_double), hay.find(&quoted_single)]
        .into_iter()
        .flatten()
        .min()?;
    Some((line_of(text, from + pos), from + pos))
}

/// Finds the line of a rule's `id = "..."` (TOML) or `"id": "..."` (JSON) from byte `from`,
/// so a name, description or term with the same text earlier does not mislead it.
fn find_id(text: &str, id: &str, from: usize) -> Option<(usize, usize)> {
    let mut cursor = from;
    while let Some((_, pos)) = find_quoted(text, id, cursor) {
        let before = text.get(..pos).unwrap_or("").trim_end();
        let key = before
            .strip_suffix('=')
            .map(|b| b.trim_end().ends_with("id") && !b.trim_end().ends_with("_id"))
            .unwrap_or(false)
            || before
                .strip_suffix(':')
                .is_some_and(|b| b.trim_end().ends_with("\"id\""));
        if key {
            return Some((line_of(text, pos), pos));
        }
        cursor = pos + 1;
    }
    None
}

impl Policy {
    /// Parses a policy from TOML or JSON (JSON when the first non-blank character is `{`).
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        if text.trim_start().starts_with('{') {
            Self::from_json(text)
        } else {
            Self::from_toml(text)
        }
    }

    /// Parses a policy from TOML.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            syntax(e.message().trim().to_string(), line)
        })?;
        Self::compile(raw, text)
    }

    /// Parses a policy from JSON.
    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        let raw: RawPolicy = serde_json::from_str(text)
            .map_err(|e| syntax(e.to_string(), (e.line() > 0).then_some(e.line())))?;
        Self::compile(raw, text)
    }

    /// Reads and parses a policy file (`.json` as JSON, anything else by content).
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self, PolicyError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            PolicyError::new(PolicyErrorKind::Io {
                path: path.display().to_string(),
                message: e.to_string(),
            })
        })?;
        Self::parse(&text)
    }

    /// The embedded default policy: the profanity list of Surge AI (MIT) by severity, an
    /// allow list of innocent words that contain profane ones, and spam heuristics.
    pub fn default_policy() -> Self {
        crate::default::policy()
    }

    /// A policy with no rules: it allows every message.
    pub fn empty(name: &str) -> Self {
        Policy {
            name: name.to_string(),
            description: None,
            rooms: Vec::new(),
            normalizer: Normalizer::default(),
            rules: Vec::new(),
            terms: Terms::empty(),
            regexes: Vec::new(),
            regex_set_text: None,
            regex_set_norm: None,
            set_text_ids: Vec::new(),
            set_norm_ids: Vec::new(),
            examples: Vec::new(),
            allow_terms: 0,
            needs_normalized: false,
        }
    }

    fn compile(raw: RawPolicy, text: &str) -> Result<Self, PolicyError> {
        if raw.version != POLICY_VERSION {
            let line = text
                .lines()
                .position(|l| {
                    let l = l.trim_start();
                    l.starts_with("version")
                        || l.starts_with("\"version\"")
                        || l.contains("{\"version\"")
                })
                .map(|i| i + 1);
            return Err(PolicyError::new(PolicyErrorKind::Version {
                found: raw.version,
                supported: POLICY_VERSION,
            })
            .at(line));
        }
        if raw.rules.len() > MAX_RULES {
            return Err(PolicyError::new(PolicyErrorKind::TooLarge(format!(
                "{} rules; at most {MAX_RULES} are allowed: merge term lists into fewer rules",
                raw.rules.len()
            ))));
        }
        let normalizer = Normalizer::new(raw.normalize);
        let default_mask = mask_style(&raw.mask)?;
        let size_limit = raw
            .limits
            .regex_size_limit
            .unwrap_or(DEFAULT_REGEX_SIZE_LIMIT);
        let mut builder = TermsBuilder::default();
        let mut rules: Vec<Rule> = Vec::with_capacity(raw.rules.len());
        let mut regexes: Vec<CompiledRegex> = Vec::new();
        let mut ids = HashSet::new();
        let mut cursor = 0usize;

        for raw_rule in raw.rules {
            let located = find_id(text, &raw_rule.id, cursor);
            let line = located.map(|(l, _)| l);
            if let Some((_, pos)) = located {
                cursor = pos + 1;
            }
            let id = raw_rule.id.clone();
            let index = u16::try_from(rules.len()).unwrap_or(u16::MAX);
            let rule = compile_rule(
                raw_rule,
                index,
                &raw.exempt,
                &default_mask,
                &normalizer,
                &mut builder,
                &mut regexes,
                size_limit,
                text,
                cursor,
            )
            .map_err(|e| e.rule(&id).at(line))?;
            if !ids.insert(rule.id.clone()) {
                return Err(PolicyError::new(PolicyErrorKind::DuplicateId)
                    .rule(&id)
                    .at(line));
            }
            rules.push(Rule { line, ..rule });
        }

        let mut allow_cursor = 0;
        for term in &raw.allow.terms {
            builder
                .add(&normalizer, term, Owner::Allow, false)
                .map_err(|e| {
                    let line = find_quoted(text, term, allow_cursor).map(|(l, p)| {
                        allow_cursor = p;
                        l
                    });
                    e.at(line)
                })?;
        }
        let terms = builder.build()?;

        let mut set_text_ids = Vec::new();
        let mut set_norm_ids = Vec::new();
        for (i, r) in regexes.iter().enumerate() {
            if r.on_normalized {
                set_norm_ids.push(i);
            } else {
                set_text_ids.push(i);
            }
        }
        let build_set = |ids: &[usize]| -> Result<Option<RegexSet>, PolicyError> {
            if ids.is_empty() {
                return Ok(None);
            }
            let pats: Vec<&str> = ids
                .iter()
                .filter_map(|&i| regexes.get(i))
                .map(|r| r.regex.as_str())
                .collect();
            RegexSetBuilder::new(pats)
                .size_limit(size_limit.saturating_mul(ids.len()).max(size_limit))
                .dfa_size_limit(8 << 20)
                .build()
                .map(Some)
                .map_err(|e| {
                    PolicyError::new(PolicyErrorKind::TooLarge(format!(
                        "the policy's regexes together are too large ({e}); split or simplify them or raise `regex_size_limit`"
                    )))
                })
        };
        let regex_set_text = build_set(&set_text_ids)?;
        let regex_set_norm = build_set(&set_norm_ids)?;

        let needs_normalized = terms.pattern_count > 0 || !set_norm_ids.is_empty();
        if rules.iter().any(|r| r.kind == RuleType::Links) {
            crate::heuristics::warm_up();
        }
        let policy = Policy {
            name: raw.name.unwrap_or_else(|| "policy".to_string()),
            description: raw.description,
            rooms: raw.rooms,
            normalizer,
            rules,
            terms,
            regexes,
            regex_set_text,
            regex_set_norm,
            set_text_ids,
            set_norm_ids,
            allow_terms: raw.allow.terms.len(),
            examples: raw.examples,
            needs_normalized,
        };
        policy.validate_examples(text)?;
        Ok(policy)
    }

    fn validate_examples(&self, text: &str) -> Result<(), PolicyError> {
        let mut cursor = 0;
        for (index, ex) in self.examples.iter().enumerate() {
            let line = find_quoted(text, &ex.text, cursor).map(|(l, p)| {
                cursor = p;
                l
            });
            if !matches!(ex.expect.as_str(), "allow" | "flag" | "mask" | "deny") {
                return Err(PolicyError::new(PolicyErrorKind::Example {
                    index,
                    problem: format!(
                        "expect = {:?}; use \"allow\", \"flag\", \"mask\" or \"deny\"",
                        ex.expect
                    ),
                })
                .at(line));
            }
            if let Some(unknown) = ex
                .rules
                .iter()
                .find(|r| !self.rules.iter().any(|rule| &*rule.id == r.as_str()))
            {
                return Err(PolicyError::new(PolicyErrorKind::Example {
                    index,
                    problem: format!("names rule `{unknown}`, which the policy does not have"),
                })
                .at(line));
            }
        }
        Ok(())
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The policy's description.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Room ARNs or ids this policy is for (used by [`PolicySet`](crate::PolicySet)).
    pub fn rooms(&self) -> &[String] {
        &self.rooms
    }

    /// The compiled rules, in policy order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The policy's examples (policy tests).
    pub fn examples(&self) -> &[Example] {
        &self.examples
    }

    /// Size figures: rules, terms, automaton patterns (with self-censor variants), regexes.
    pub fn stats(&self) -> PolicyStats {
        PolicyStats {
            rules: self.rules.len(),
            terms: self.terms.term_count,
            allow_terms: self.allow_terms,
            patterns: self.terms.pattern_count,
            regexes: self.regexes.len(),
        }
    }

    /// The normaliser this policy matches terms with.
    pub fn normalizer(&self) -> &Normalizer {
        &self.normalizer
    }
}

/// A finding about a policy that compiles but may not do what its author meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lint {
    /// The rule concerned.
    pub rule: String,
    /// What was found.
    pub message: String,
}

impl Policy {
    /// Finds unreachable and shadowed rules: rules whose terms all sit on the allow list
    /// (they never fire), rules whose terms all belong to a rule with an action at least as
    /// strong (they never change a verdict), rules exempt for everyone, shadow rules.
    pub fn lint(&self) -> Vec<Lint> {
        use std::collections::BTreeMap;
        let mut lints = Vec::new();
        // For each term rule: patterns it owns, allowed ones, and stronger co-owners.
        let mut allowed: BTreeMap<u16, usize> = BTreeMap::new();
        let mut covered: BTreeMap<u16, BTreeMap<u16, usize>> = BTreeMap::new();
        for owners in self.terms.shared_patterns() {
            let has_allow = owners.contains(&Owner::Allow);
            for o in &owners {
                let Owner::Rule(r) = o else { continue };
                if has_allow {
                    *allowed.entry(*r).or_default() += 1;
                }
                for other in &owners {
                    if let Owner::Rule(s) = other
                        && s != r
                    {
                        *covered.entry(*r).or_default().entry(*s).or_default() += 1;
                    }
                }
            }
        }
        for cr in &self.regexes {
            if unicode_word_boundary(cr.regex.as_str())
                && let Some(rule) = self.rules.get(usize::from(cr.rule))
            {
                lints.push(Lint {
                    rule: rule.id.to_string(),
                    message: format!(
                        "regex `{}` uses a Unicode word boundary (`\\b`): on messages with non-ASCII text it cannot use the fast engine (milliseconds with many regexes); write `(?-u:\\b)` if ASCII word boundaries will do",
                        cr.regex.as_str()
                    ),
                });
            }
        }
        let owned = self.terms.patterns_per_rule();
        for (i, rule) in self.rules.iter().enumerate() {
            let idx = u16::try_from(i).unwrap_or(u16::MAX);
            let total = owned.get(&idx).copied().unwrap_or(0);
            if rule.shadow {
                lints.push(Lint {
                    rule: rule.id.to_string(),
                    message: "shadow mode: reported in logs and metrics, never enforced".into(),
                });
            }
            if total > 0 && allowed.get(&idx).copied().unwrap_or(0) == total {
                lints.push(Lint {
                    rule: rule.id.to_string(),
                    message: "unreachable: every term is also on the allow list".into(),
                });
            }
            if let Some(by) = covered.get(&idx) {
                for (s, n) in by {
                    let Some(other) = self.rules.get(usize::from(*s)) else {
                        continue;
                    };
                    if *n == total && total > 0 && other.action >= rule.action && !other.shadow {
                        lints.push(Lint {
                            rule: rule.id.to_string(),
                            message: format!(
                                "shadowed: every term is also in rule `{}` ({}), which decides first",
                                other.id,
                                other.action.as_str()
                            ),
                        });
                    }
                }
            }
        }
        lints
    }
}

/// True when `pattern` has a Unicode word boundary assertion (`\b`, `\B` without `(?-u)`).
fn unicode_word_boundary(pattern: &str) -> bool {
    use regex_syntax::hir::Look;
    regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .map(|hir| {
            let looks = hir.properties().look_set();
            [
                Look::WordUnicode,
                Look::WordUnicodeNegate,
                Look::WordStartUnicode,
                Look::WordEndUnicode,
                Look::WordStartHalfUnicode,
                Look::WordEndHalfUnicode,
            ]
            .into_iter()
            .any(|l| looks.contains(l))
        })
        .unwrap_or(false)
}

/// Size figures of a compiled policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyStats {
    /// Rules.
    pub rules: usize,
    /// Blocked terms as written.
    pub terms: usize,
    /// Allowed terms.
    pub allow_terms: usize,
    /// Patterns in the automaton, including self-censored variants (deduplicated).
    pub patterns: usize,
    /// Regexes.
    pub regexes: usize,
}

fn mask_style(raw: &RawMask) -> Result<MaskStyle, PolicyError> {
    match (raw.style.as_deref(), &raw.text) {
        (None | Some("asterisks"), None) => Ok(MaskStyle::Asterisks),
        (Some("keep-first"), None) => Ok(MaskStyle::KeepFirst),
        (Some("fixed") | None, Some(t)) if !t.is_empty() => Ok(MaskStyle::Fixed(t.clone())),
        (Some("fixed"), _) => Err(PolicyError::new(PolicyErrorKind::MissingField {
            field: "mask.text",
            kind: "fixed mask",
        })),
        (Some(other), _) => Err(PolicyError::new(PolicyErrorKind::Syntax(format!(
            "mask style {other:?} is unknown: use \"asterisks\", \"keep-first\" or \"fixed\" (with `text`)"
        )))),
        (None, Some(_)) => Err(PolicyError::new(PolicyErrorKind::Syntax(
            "mask text is empty: give `text` at least one character".into(),
        ))),
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[allow(clippy::too_many_arguments)]
fn compile_rule(
    r: RawRule,
    index: u16,
    policy_exempt: &Exempt,
    default_mask: &MaskStyle,
    normalizer: &Normalizer,
    terms: &mut TermsBuilder,
    regexes: &mut Vec<CompiledRegex>,
    size_limit: usize,
    text: &str,
    cursor: usize,
) -> Result<Rule, PolicyError> {
    if !valid_id(&r.id) {
        return Err(PolicyError::new(PolicyErrorKind::InvalidId(r.id.clone())));
    }
    let kind = r.kind;
    let k = kind.as_str();
    // Which optional fields each type takes.
    let given: [(&'static str, bool); 17] = [
        ("terms", r.terms.is_some()),
        ("pattern", r.pattern.is_some()),
        ("patterns", r.patterns.is_some()),
        ("case_insensitive", r.case_insensitive.is_some()),
        ("on", r.on.is_some()),
        ("min_length", r.min_length.is_some()),
        ("min_count", r.min_count.is_some()),
        ("max_count", r.max_count.is_some()),
        ("max_ratio", r.max_ratio.is_some()),
        ("max_run", r.max_run.is_some()),
        ("max_repeats", r.max_repeats.is_some()),
        ("max_marks", r.max_marks.is_some()),
        ("max_length", r.max_length.is_some()),
        ("allow_domains", r.allow_domains.is_some()),
        ("block_domains", r.block_domains.is_some()),
        ("block_all", r.block_all.is_some()),
        ("mask", r.mask.is_some()),
    ];
    let allowed: &[&str] = match kind {
        RuleType::Terms => &["terms", "mask"],
        RuleType::Regex => &["pattern", "patterns", "case_insensitive", "on", "mask"],
        RuleType::Caps => &["min_length", "min_count", "max_ratio"],
        RuleType::Symbols => &["min_length", "max_ratio"],
        RuleType::Emoji => &["max_count", "min_length", "max_ratio"],
        RuleType::Zalgo => &["max_marks", "max_count"],
        RuleType::RepeatedChars => &["max_run"],
        RuleType::RepeatedWords => &["max_repeats"],
        RuleType::Links => &["allow_domains", "block_domains", "block_all", "mask"],
        RuleType::Mentions => &["max_count", "mask"],
        RuleType::Length => &["max_length"],
    };
    if let Some((field, _)) = given.iter().find(|(f, g)| *g && !allowed.contains(f)) {
        return Err(PolicyError::new(PolicyErrorKind::FieldNotAllowed {
            field,
            kind: k,
        }));
    }
    let maskable = matches!(
        kind,
        RuleType::Terms | RuleType::Regex | RuleType::Links | RuleType::Mentions
    );
    if r.action == Action::Mask && !maskable {
        return Err(PolicyError::new(PolicyErrorKind::ActionNotAllowed {
            action: "mask",
            kind: k,
            allowed: "`deny` or `flag`",
        }));
    }
    let ratio = |v: Option<f64>, field: &'static str, default: f64| -> Result<f64, PolicyError> {
        let v = v.unwrap_or(default);
        if !(0.0..=1.0).contains(&v) || v.is_nan() {
            return Err(PolicyError::new(PolicyErrorKind::Range {
                field,
                value: v.to_string(),
                expected: "a fraction from 0.0 to 1.0",
            }));
        }
        Ok(v)
    };
    let positive =
        |v: Option<u32>, field: &'static str, default: u32| -> Result<u32, PolicyError> {
            let v = v.unwrap_or(default);
            if v == 0 {
                return Err(PolicyError::new(PolicyErrorKind::Range {
                    field,
                    value: v.to_string(),
                    expected: "a whole number of at least 1",
                }));
            }
            Ok(v)
        };
    let check = match kind {
        RuleType::Terms => {
            let list = r.terms.as_ref().ok_or_else(|| {
                PolicyError::new(PolicyErrorKind::MissingField {
                    field: "terms",
                    kind: k,
                })
            })?;
            let mut term_cursor = cursor;
            for t in list {
                terms
                    .add(
                        normalizer,
                        t,
                        Owner::Rule(index),
                        normalizer.options().self_censor,
                    )
                    .map_err(|e| {
                        let line = find_quoted(text, t, term_cursor).map(|(l, p)| {
                            term_cursor = p;
                            l
                        });
                        e.at(line)
                    })?;
            }
            Check::Terms
        }
        RuleType::Regex => {
            let mut pats: Vec<String> = r.patterns.clone().unwrap_or_default();
            if let Some(p) = &r.pattern {
                pats.insert(0, p.clone());
            }
            if pats.is_empty() {
                return Err(PolicyError::new(PolicyErrorKind::MissingField {
                    field: "pattern",
                    kind: k,
                }));
            }
            let first = regexes.len();
            let on_normalized = r.on == Some(Target::Normalized);
            for p in &pats {
                let regex = RegexBuilder::new(p)
                    .case_insensitive(r.case_insensitive.unwrap_or(true))
                    .size_limit(size_limit)
                    .dfa_size_limit(2 << 20)
                    .build()
                    .map_err(|e| {
                        let message = match &e {
                            regex::Error::CompiledTooBig(limit) => {
                                format!("compiles to more than {limit} bytes (the size limit)")
                            }
                            other => other
                                .to_string()
                                .lines()
                                .last()
                                .unwrap_or_default()
                                .trim()
                                .trim_start_matches("error: ")
                                .to_string(),
                        };
                        PolicyError::new(PolicyErrorKind::Regex {
                            pattern: p.clone(),
                            message,
                        })
                    })?;
                regexes.push(CompiledRegex {
                    rule: index,
                    regex,
                    on_normalized,
                });
            }
            Check::Regex {
                first,
                count: pats.len(),
            }
        }
        RuleType::Caps => Check::Caps {
            min_length: r.min_length.unwrap_or(12),
            min_count: r.min_count.unwrap_or(10),
            max_ratio: ratio(r.max_ratio, "max_ratio", 0.7)?,
        },
        RuleType::Symbols => Check::Symbols {
            min_length: r.min_length.unwrap_or(12),
            max_ratio: ratio(r.max_ratio, "max_ratio", 0.5)?,
        },
        RuleType::Emoji => Check::Emoji {
            max_count: positive(r.max_count, "max_count", 12)?,
            min_length: r.min_length.unwrap_or(8),
            max_ratio: ratio(r.max_ratio, "max_ratio", 1.0)?,
        },
        RuleType::Zalgo => Check::Zalgo {
            max_marks: positive(r.max_marks, "max_marks", 3)?,
            max_count: positive(r.max_count, "max_count", 20)?,
        },
        RuleType::RepeatedChars => Check::RepeatedChars {
            max_run: positive(r.max_run, "max_run", 12)?,
        },
        RuleType::RepeatedWords => Check::RepeatedWords {
            max_repeats: positive(r.max_repeats, "max_repeats", 6)?,
        },
        RuleType::Links => {
            let norm = |v: &Option<Vec<String>>| -> Vec<String> {
                v.iter()
                    .flatten()
                    .map(|d| d.trim().trim_start_matches("*.").to_ascii_lowercase())
                    .filter(|d| !d.is_empty())
                    .collect()
            };
            Check::Links {
                allow: norm(&r.allow_domains),
                block: norm(&r.block_domains),
                block_all: r.block_all.unwrap_or(true),
            }
        }
        RuleType::Mentions => Check::Mentions {
            max_count: positive(r.max_count, "max_count", 5)?,
        },
        RuleType::Length => Check::Length {
            max_length: positive(r.max_length, "max_length", 500)?,
        },
    };
    let mut exempt = policy_exempt.clone();
    if let Some(e) = &r.exempt {
        exempt.merge(e);
    }
    let mask = match &r.mask {
        Some(m) => mask_style(m)?,
        None => default_mask.clone(),
    };
    let severity = r.severity.unwrap_or(match r.action {
        Action::Deny => Severity::High,
        Action::Mask => Severity::Medium,
        Action::Flag => Severity::Low,
    });
    let reason = r
        .reason
        .clone()
        .unwrap_or_else(|| default_reason(kind).to_string());
    if reason.chars().count() > 200 {
        return Err(PolicyError::new(PolicyErrorKind::Range {
            field: "reason",
            value: format!("{} characters", reason.chars().count()),
            expected: "at most 200 characters (it is sent to the user in an attribute)",
        }));
    }
    Ok(Rule {
        id: r.id.into_boxed_str(),
        kind,
        action: r.action,
        severity,
        reason: reason.into_boxed_str(),
        shadow: r.shadow,
        exempt,
        mask,
        check,
        line: None,
    })
}

/// A short, user-safe reason for each rule type (never echoes the message).
fn default_reason(kind: RuleType) -> &'static str {
    match kind {
        RuleType::Terms | RuleType::Regex => {
            "Your message contains language that is not allowed here."
        }
        RuleType::Caps => "Please don't shout: too many capital letters.",
        RuleType::Symbols => "Your message has too many symbols.",
        RuleType::Emoji => "Your message has too many emoji.",
        RuleType::Zalgo => "Your message has too many stacked accents.",
        RuleType::RepeatedChars => "Your message repeats the same character too often.",
        RuleType::RepeatedWords => "Your message repeats the same word too often.",
        RuleType::Links => "Links are not allowed here.",
        RuleType::Mentions => "Your message mentions too many people.",
        RuleType::Length => "Your message is too long.",
    }
}
