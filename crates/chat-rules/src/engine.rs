//! Reviewing a message against a compiled policy.

use crate::heuristics::{Link, Stats, find_links, find_mentions, host_matches};
use crate::normalize::Normalized;
use crate::policy::{Action, Check, MaskStyle, Policy, RuleType, Severity};
use crate::terms::{Hit, Owner};
use std::collections::{BTreeMap, HashMap};

/// Looks up sender attributes (from the chat token) by name.
pub trait Attributes {
    /// The value of attribute `key`, if the sender has it.
    fn attribute(&self, key: &str) -> Option<&str>;
}

impl Attributes for HashMap<String, String> {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl Attributes for BTreeMap<String, String> {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl<const N: usize> Attributes for [(&str, &str); N] {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

impl Attributes for Vec<(String, String)> {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Who sent a message, for exemptions.
#[derive(Clone, Copy, Default)]
pub struct Sender<'a> {
    /// The sender's user id.
    pub user_id: Option<&'a str>,
    /// The sender's attributes.
    pub attributes: Option<&'a dyn Attributes>,
}

impl std::fmt::Debug for Sender<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl<'a> Sender<'a> {
    /// An anonymous sender: no exemptions apply.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// A sender with a user id and attributes.
    pub fn new(user_id: &'a str, attributes: &'a dyn Attributes) -> Self {
        Self {
            user_id: Some(user_id),
            attributes: Some(attributes),
        }
    }
}

/// The overall outcome of a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Nothing enforced fired.
    Allow,
    /// Allowed, with flag attributes.
    Flag,
    /// Allowed with offending characters replaced.
    Mask,
    /// Rejected.
    Deny,
}

impl Outcome {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Flag => "flag",
            Outcome::Mask => "mask",
            Outcome::Deny => "deny",
        }
    }
}

/// A rule that fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fired<'p> {
    /// The rule's id.
    pub rule: &'p str,
    /// The rule's type.
    pub kind: RuleType,
    /// The rule's action.
    pub action: Action,
    /// The rule's severity.
    pub severity: Severity,
    /// True when the rule is in shadow mode: reported, not enforced.
    pub shadow: bool,
}

/// The result of reviewing one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict<'p> {
    outcome: Outcome,
    content: Option<String>,
    reason: Option<&'p str>,
    severity: Option<Severity>,
    fired: Vec<Fired<'p>>,
}

/// The id reported when a message reached a work bound (more than 512 term matches or
/// 64 self-censored words) and was denied rather than judged on partial evidence.
pub const LIMIT_RULE: &str = "review-limit";

impl<'p> Verdict<'p> {
    fn escalate(&mut self) {
        self.outcome = Outcome::Deny;
        self.content = None;
        self.reason = Some("This message could not be reviewed in full and was not sent.");
        self.severity = Some(Severity::High);
        self.fired.push(Fired {
            rule: LIMIT_RULE,
            kind: RuleType::Terms,
            action: Action::Deny,
            severity: Severity::High,
            shadow: false,
        });
    }

    /// What to do with the message.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// The masked message when the outcome is [`Outcome::Mask`].
    pub fn masked(&self) -> Option<&str> {
        self.content.as_deref()
    }

    /// The message to deliver: the masked text, or `original` unchanged.
    pub fn content<'a>(&'a self, original: &'a str) -> &'a str {
        self.content.as_deref().unwrap_or(original)
    }

    /// The user-safe reason of the most severe denying rule.
    pub fn reason(&self) -> Option<&'p str> {
        self.reason
    }

    /// The highest severity among the enforced rules that fired.
    pub fn severity(&self) -> Option<Severity> {
        self.severity
    }

    /// Every rule that fired, shadow rules included, in policy order.
    pub fn fired(&self) -> &[Fired<'p>] {
        &self.fired
    }

    /// True when the outcome is [`Outcome::Deny`].
    pub fn is_denied(&self) -> bool {
        self.outcome == Outcome::Deny
    }
}

/// Per-rule state gathered during one review.
#[derive(Default, Clone, Copy)]
struct RuleState {
    fired: bool,
    exempt: bool,
}

impl Policy {
    /// Reviews `text` sent by `sender`.
    ///
    /// Work is linear in the length of `text` with a bounded number of matches examined,
    /// so every message finishes in bounded time whatever it contains.
    ///
    /// ```
    /// use chat_rules::{Outcome, Policy, Sender};
    /// let policy = Policy::default_policy();
    /// let v = policy.review("you are a f.u.c.k.i.n.g loser", Sender::anonymous());
    /// assert_eq!(v.outcome(), Outcome::Mask);
    /// assert_eq!(v.content("you are a f.u.c.k.i.n.g loser"), "you are a ************* loser");
    /// ```
    pub fn review(&self, text: &str, sender: Sender<'_>) -> Verdict<'_> {
        let mut state = vec![RuleState::default(); self.rules.len()];
        let mut any_active = false;
        for (s, rule) in state.iter_mut().zip(&self.rules) {
            s.exempt = rule.exempt.applies(&sender);
            any_active |= !s.exempt;
        }
        if !any_active {
            return self.finish(text, &state, &mut Vec::new());
        }
        // False when a work bound was reached: the message is then escalated, not judged on
        // the matches seen so far.
        let mut complete = true;
        // Mask spans as (start, end, rule index) in original bytes.
        let mut spans: Vec<(usize, usize, usize)> = Vec::new();
        let active = |state: &[RuleState], i: usize| state.get(i).is_some_and(|s| !s.exempt);

        let norm: Option<Normalized> = self
            .needs_normalized
            .then(|| self.normalizer.normalize(text));

        if let Some(norm) = &norm {
            let mut hits: Vec<Hit> = Vec::new();
            complete &= self.terms.find(norm, &mut hits);
            if !hits.is_empty() {
                let allowed: Vec<(usize, usize)> = hits
                    .iter()
                    .filter(|h| h.owner == Owner::Allow)
                    .map(|h| (h.start, h.end))
                    .collect();
                for h in &hits {
                    let Owner::Rule(r) = h.owner else { continue };
                    let r = usize::from(r);
                    if !active(&state, r) || allowed.iter().any(|&(s, e)| h.start < e && s < h.end)
                    {
                        continue;
                    }
                    if let Some(s) = state.get_mut(r) {
                        s.fired = true;
                    }
                    let (start, end) = if h.whole_word {
                        (h.start, h.end)
                    } else {
                        norm.word_around(h.start, h.end)
                    };
                    if let Some((s, e)) = norm.original_span(start, end) {
                        spans.push((s, e, r));
                    }
                }
            }
        }

        self.run_regexes(text, norm.as_ref(), &mut state, &mut spans);

        let stats = self
            .rules
            .iter()
            .enumerate()
            .any(|(i, r)| active(&state, i) && is_stat_rule(r.kind))
            .then(|| Stats::of(text));
        let mut links: Option<Vec<Link>> = None;
        let mut mentions: Option<Vec<(usize, usize)>> = None;
        for (i, rule) in self.rules.iter().enumerate() {
            if !active(&state, i) {
                continue;
            }
            let fired = match (&rule.check, &stats) {
                (Check::Terms | Check::Regex { .. }, _) => continue,
                (
                    Check::Caps {
                        min_length,
                        min_count,
                        max_ratio,
                    },
                    Some(s),
                ) => {
                    s.letters >= *min_length
                        && s.upper >= *min_count
                        && f64::from(s.upper) > max_ratio * f64::from(s.letters)
                }
                (
                    Check::Symbols {
                        min_length,
                        max_ratio,
                    },
                    Some(s),
                ) => {
                    s.chars >= *min_length && f64::from(s.symbols) > max_ratio * f64::from(s.chars)
                }
                (
                    Check::Emoji {
                        max_count,
                        min_length,
                        max_ratio,
                    },
                    Some(s),
                ) => {
                    s.emoji > *max_count
                        || (s.chars >= *min_length
                            && *max_ratio < 1.0
                            && f64::from(s.emoji) > max_ratio * f64::from(s.chars))
                }
                (
                    Check::Zalgo {
                        max_marks,
                        max_count,
                    },
                    Some(s),
                ) => s.max_stack > *max_marks || s.marks > *max_count,
                (Check::RepeatedChars { max_run }, Some(s)) => s.max_run > *max_run,
                (Check::RepeatedWords { max_repeats }, Some(s)) => {
                    s.max_word_repeats > *max_repeats
                }
                (Check::Length { max_length }, Some(s)) => s.chars > *max_length,
                (
                    Check::Links {
                        allow,
                        block,
                        block_all,
                    },
                    _,
                ) => {
                    let found = links.get_or_insert_with(|| {
                        let mut v = Vec::new();
                        find_links(text, &mut v);
                        v
                    });
                    let mut any = false;
                    for l in found.iter() {
                        let allowed = allow.iter().any(|d| host_matches(&l.host, d));
                        let blocked = block.iter().any(|d| host_matches(&l.host, d));
                        if blocked || (*block_all && !allowed) {
                            any = true;
                            spans.push((l.start, l.end, i));
                        }
                    }
                    any
                }
                (Check::Mentions { max_count }, _) => {
                    let found = mentions.get_or_insert_with(|| {
                        let mut v = Vec::new();
                        find_mentions(text, &mut v);
                        v
                    });
                    let over = found.len() > *max_count as usize;
                    if over {
                        spans.extend(found.iter().map(|&(s, e)| (s, e, i)));
                    }
                    over
                }
                (_, None) => false,
            };
            if fired && let Some(s) = state.get_mut(i) {
                s.fired = true;
            }
        }
        let mut verdict = self.finish(text, &state, &mut spans);
        if !complete {
            verdict.escalate();
        }
        verdict
    }

    fn run_regexes(
        &self,
        text: &str,
        norm: Option<&Normalized>,
        state: &mut [RuleState],
        spans: &mut Vec<(usize, usize, usize)>,
    ) {
        let norm_text = norm.and_then(|n| std::str::from_utf8(n.as_bytes()).ok());
        let runs = [
            (self.regex_set_text.as_ref(), &self.set_text_ids, Some(text)),
            (self.regex_set_norm.as_ref(), &self.set_norm_ids, norm_text),
        ];
        for (set, ids, hay) in runs {
            let (Some(set), Some(hay)) = (set, hay) else {
                continue;
            };
            for m in set.matches(hay).iter() {
                let Some(cr) = ids.get(m).and_then(|&i| self.regexes.get(i)) else {
                    continue;
                };
                let r = usize::from(cr.rule);
                let Some(st) = state.get_mut(r) else { continue };
                if st.exempt {
                    continue;
                }
                st.fired = true;
                if self.rules.get(r).map(|x| x.action) != Some(Action::Mask) {
                    continue;
                }
                for found in cr.regex.find_iter(hay) {
                    let span = if cr.on_normalized {
                        norm.and_then(|n| n.original_span(found.start(), found.end()))
                    } else {
                        Some((found.start(), found.end()))
                    };
                    if let Some((s, e)) = span
                        && s < e
                    {
                        spans.push((s, e, r));
                    }
                }
            }
        }
    }

    fn finish(
        &self,
        text: &str,
        state: &[RuleState],
        spans: &mut Vec<(usize, usize, usize)>,
    ) -> Verdict<'_> {
        let mut fired = Vec::new();
        let mut outcome = Outcome::Allow;
        let mut severity: Option<Severity> = None;
        let mut reason: Option<(&str, Severity)> = None;
        let mut mask_rules = Vec::new();
        for (i, (rule, st)) in self.rules.iter().zip(state).enumerate() {
            if !st.fired || st.exempt {
                continue;
            }
            fired.push(Fired {
                rule: &rule.id,
                kind: rule.kind,
                action: rule.action,
                severity: rule.severity,
                shadow: rule.shadow,
            });
            if rule.shadow {
                continue;
            }
            severity = severity.max(Some(rule.severity));
            let o = match rule.action {
                Action::Deny => {
                    if reason.is_none_or(|(_, s)| rule.severity > s) {
                        reason = Some((&rule.reason, rule.severity));
                    }
                    Outcome::Deny
                }
                Action::Mask => {
                    mask_rules.push(i);
                    Outcome::Mask
                }
                Action::Flag => Outcome::Flag,
            };
            outcome = outcome.max(o);
        }
        let mut content = None;
        if outcome == Outcome::Mask {
            spans.retain(|(_, _, r)| mask_rules.contains(r));
            let masked = self.apply_masks(text, spans);
            if masked == text {
                // Every span was already masked text; nothing to change.
                outcome = if fired.iter().any(|f| !f.shadow && f.action == Action::Flag) {
                    Outcome::Flag
                } else {
                    Outcome::Allow
                };
            } else {
                content = Some(masked);
            }
        }
        Verdict {
            outcome,
            content,
            reason: reason.map(|(r, _)| r),
            severity,
            fired,
        }
    }

    fn apply_masks(&self, text: &str, spans: &mut [(usize, usize, usize)]) -> String {
        spans.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut pos = 0usize;
        let mut i = 0;
        while i < spans.len() {
            let (mut s, mut e, r) = spans[i];
            s = s.max(pos);
            // Merge overlapping spans; the first rule's style wins.
            let mut j = i + 1;
            while j < spans.len() && spans[j].0 < e {
                e = e.max(spans[j].1);
                j += 1;
            }
            i = j;
            if s >= e || !text.is_char_boundary(s) || !text.is_char_boundary(e) {
                continue;
            }
            out.push_str(text.get(pos..s).unwrap_or_default());
            let piece = text.get(s..e).unwrap_or_default();
            let style = self
                .rules
                .get(r)
                .map(|x| &x.mask)
                .unwrap_or(&MaskStyle::Asterisks);
            mask_into(&mut out, piece, style);
            pos = e;
        }
        out.push_str(text.get(pos..).unwrap_or_default());
        out
    }

    /// The message as it would be delivered to an anonymous sender's room: masked where
    /// masking rules fired, unchanged otherwise (a denied message comes back unchanged;
    /// use [`Policy::review`] for the outcome).
    pub fn censor(&self, text: &str) -> String {
        let v = self.review(text, Sender::anonymous());
        v.content(text).to_string()
    }
}

fn is_stat_rule(kind: RuleType) -> bool {
    !matches!(
        kind,
        RuleType::Terms | RuleType::Regex | RuleType::Links | RuleType::Mentions
    )
}

/// Writes `piece` masked in `style`: never more characters than `piece` has.
fn mask_into(out: &mut String, piece: &str, style: &MaskStyle) {
    let n = piece.chars().count();
    match style {
        MaskStyle::Fixed(t) if t.chars().count() <= n => out.push_str(t),
        MaskStyle::KeepFirst => {
            let mut chars = piece.chars();
            if let Some(c) = chars.next() {
                out.push(c);
            }
            out.extend(std::iter::repeat_n('*', n.saturating_sub(1)));
        }
        _ => out.extend(std::iter::repeat_n('*', n)),
    }
}
