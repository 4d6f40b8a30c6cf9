//! Policy errors: each names the rule and the line, and says how to fix it.

use std::fmt;

/// Why a policy could not be built. Its `Display` is one line that names the source,
/// the line, the rule and the problem, and says how to fix it:
///
/// ```text
/// policy line 14, rule `phone-numbers`: invalid regex `(\d{3}`: unclosed group; fix the pattern (Rust regex syntax)
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub(crate) line: Option<usize>,
    pub(crate) rule: Option<String>,
    pub(crate) kind: PolicyErrorKind,
}

/// What is wrong with a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyErrorKind {
    /// The text is not valid TOML or JSON, or a field has the wrong type or name.
    #[error("{0}")]
    Syntax(String),
    /// The policy declares a format version this library does not read.
    #[error(
        "unsupported policy version {found}; this build reads version {supported}: set `version = {supported}`"
    )]
    Version {
        /// The version found in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// Two rules share an id.
    #[error("duplicate rule id; give every rule a unique `id`")]
    DuplicateId,
    /// A rule id is empty or has characters other than letters, digits, `-`, `_`, `.`.
    #[error("invalid rule id {0:?}: use 1 to 64 letters, digits, `-`, `_` or `.`")]
    InvalidId(String),
    /// A field that does not apply to the rule's type.
    #[error("field `{field}` does not apply to rules of type `{kind}`; remove it or change `type`")]
    FieldNotAllowed {
        /// The field.
        field: &'static str,
        /// The rule type.
        kind: &'static str,
    },
    /// A field the rule's type needs.
    #[error("rules of type `{kind}` need `{field}`")]
    MissingField {
        /// The field.
        field: &'static str,
        /// The rule type.
        kind: &'static str,
    },
    /// An action the rule's type cannot take.
    #[error("action `{action}` is not available for rules of type `{kind}`: use {allowed}")]
    ActionNotAllowed {
        /// The action.
        action: &'static str,
        /// The rule type.
        kind: &'static str,
        /// The actions that are available.
        allowed: &'static str,
    },
    /// A term that cannot be matched.
    #[error("term {term:?}: {problem}")]
    Term {
        /// The term as written.
        term: String,
        /// What is wrong and how to fix it.
        problem: &'static str,
    },
    /// A regex that does not compile or is too large.
    #[error(
        "invalid regex `{pattern}`: {message}; fix the pattern (Rust regex syntax) or raise `regex_size_limit`"
    )]
    Regex {
        /// The pattern.
        pattern: String,
        /// The regex compiler's message.
        message: String,
    },
    /// A threshold out of range.
    #[error("`{field}` = {value} is out of range: {expected}")]
    Range {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
        /// The range that is accepted.
        expected: &'static str,
    },
    /// An example (policy test) that is malformed.
    #[error("example {index}: {problem}")]
    Example {
        /// Index of the example (0-based).
        index: usize,
        /// What is wrong.
        problem: String,
    },
    /// The policy is too large to compile within the limits.
    #[error("{0}")]
    TooLarge(String),
    /// A policy file could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The operating system's message.
        message: String,
    },
}

impl PolicyError {
    pub(crate) fn new(kind: PolicyErrorKind) -> Self {
        Self {
            line: None,
            rule: None,
            kind,
        }
    }

    pub(crate) fn at(mut self, line: Option<usize>) -> Self {
        if self.line.is_none() {
            self.line = line;
        }
        self
    }

    pub(crate) fn rule(mut self, id: &str) -> Self {
        if self.rule.is_none() && !id.is_empty() {
            self.rule = Some(id.to_string());
        }
        self
    }

    /// The 1-based line in the policy text, when known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The id of the rule at fault, when the problem is in a rule.
    pub fn rule_id(&self) -> Option<&str> {
        self.rule.as_deref()
    }

    /// What is wrong.
    pub fn kind(&self) -> &PolicyErrorKind {
        &self.kind
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("policy")?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(rule) = &self.rule {
            write!(f, ", rule `{rule}`")?;
        }
        write!(f, ": {}", self.kind)
    }
}

/// The kind's message is part of this error's message, so it is not also its `source`.
impl std::error::Error for PolicyError {}

/// 1-based line of a byte offset in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
