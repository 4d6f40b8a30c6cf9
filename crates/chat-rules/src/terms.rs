//! Blocked and allowed terms compiled into one Aho-Corasick automaton over normalised text.

use crate::error::{PolicyError, PolicyErrorKind};
use crate::normalize::{CENSOR, Normalized, Normalizer, SEP};
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use std::collections::HashMap;

/// Where a term may sit relative to word boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wildcard {
    /// `word`: a whole word (or phrase).
    None,
    /// `word*`: starts a word.
    Prefix,
    /// `*word`: ends a word.
    Suffix,
    /// `*word*`: anywhere.
    Both,
}

/// Who owns a pattern: a blocking rule, or the allow list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Rule(u16),
    Allow,
}

#[derive(Debug, Clone)]
struct Entry {
    owner: Owner,
    wildcard: Wildcard,
    /// Minimum repeat count per pattern byte (`ass` needs two `s`, so `as` does not match).
    runs: Box<[u16]>,
}

/// One match of a term in normalised text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub owner: Owner,
    /// Byte range in the normalised text.
    pub start: usize,
    pub end: usize,
    /// False for wildcard terms: the mask then covers the whole word around the match.
    pub whole_word: bool,
}

/// Accumulates terms, then builds the automaton.
#[derive(Debug, Default)]
pub(crate) struct TermsBuilder {
    patterns: Vec<Vec<u8>>,
    index: HashMap<Vec<u8>, usize>,
    entries: Vec<Vec<Entry>>,
    pub(crate) term_count: usize,
}

/// The compiled automaton and the entries of each pattern.
#[derive(Debug, Clone)]
pub(crate) struct Terms {
    ac: Option<AhoCorasick>,
    entries: Vec<Box<[Entry]>>,
    pub(crate) pattern_count: usize,
    pub(crate) term_count: usize,
}

/// The most matches looked at per message: a hard bound on work for hostile input. Past
/// it the message is judged on the matches seen so far.
pub(crate) const MAX_HITS: usize = 512;

impl TermsBuilder {
    /// Adds a term (`word`, `word*`, `*word`, `*word*`, or a phrase) for `owner`.
    pub(crate) fn add(
        &mut self,
        normalizer: &Normalizer,
        raw: &str,
        owner: Owner,
        self_censor: bool,
    ) -> Result<(), PolicyError> {
        let err = |problem| {
            PolicyError::new(PolicyErrorKind::Term {
                term: raw.to_string(),
                problem,
            })
        };
        let t = raw.trim();
        let (t, prefix_star) = match t.strip_prefix('*') {
            Some(rest) => (rest, true),
            None => (t, false),
        };
        let (t, suffix_star) = match t.strip_suffix('*') {
            Some(rest) => (rest, true),
            None => (t, false),
        };
        if t.contains('*') {
            return Err(err(
                "`*` is a wildcard only at the start or end of a term; remove the inner `*` (self-censored spellings like `f*ck` are matched automatically)",
            ));
        }
        let wildcard = match (prefix_star, suffix_star) {
            (false, false) => Wildcard::None,
            (false, true) => Wildcard::Prefix,
            (true, false) => Wildcard::Suffix,
            (true, true) => Wildcard::Both,
        };
        let n = normalizer.normalize_term(t);
        if n.bytes.is_empty() {
            return Err(err(
                "the term has no letters or digits after normalisation; remove it",
            ));
        }
        if n.bytes.len() > 256 {
            return Err(err("the term is longer than 256 characters; shorten it"));
        }
        self.term_count += 1;
        let runs: Vec<u16> = n.units.iter().map(|u| u.run).collect();
        self.push(n.bytes.clone(), owner, wildcard, runs.clone().into());
        // Self-censored spellings: one or two inner letters replaced by `*` (`f*ck`, `f**k`).
        if self_censor && owner != Owner::Allow && n.bytes.len() >= 4 && n.bytes.is_ascii() {
            let len = n.bytes.len();
            // People hide vowels (`f*ck`, `sh*t`, `c*nt`, `f**k`): one vowel, or two
            // letters of which one is a vowel. Limiting variants to those keeps the
            // automaton, and the policy build, small.
            let vowel = |b: u8| matches!(b, b'a' | b'e' | b'i' | b'o' | b'u' | b'y');
            for i in 1..len - 1 {
                if !vowel(n.bytes[i]) {
                    continue;
                }
                let mut v = n.bytes.clone();
                v[i] = CENSOR;
                self.push(v, owner, wildcard, runs.clone().into());
            }
            for i in 1..len.saturating_sub(2) {
                let (a, b) = (n.bytes[i], n.bytes[i + 1]);
                if a == SEP || b == SEP || !(vowel(a) || vowel(b)) {
                    continue;
                }
                let mut v = n.bytes.clone();
                v[i] = CENSOR;
                v.remove(i + 1);
                let mut r = runs.clone();
                r.remove(i + 1);
                self.push(v, owner, wildcard, r.into());
            }
        }
        Ok(())
    }

    fn push(&mut self, bytes: Vec<u8>, owner: Owner, wildcard: Wildcard, runs: Box<[u16]>) {
        let entry = Entry {
            owner,
            wildcard,
            runs,
        };
        match self.index.get(&bytes) {
            Some(&i) => {
                if let Some(list) = self.entries.get_mut(i)
                    && !list
                        .iter()
                        .any(|e| e.owner == owner && e.wildcard == wildcard && e.runs == entry.runs)
                {
                    list.push(entry);
                }
            }
            None => {
                self.index.insert(bytes.clone(), self.patterns.len());
                self.patterns.push(bytes);
                self.entries.push(vec![entry]);
            }
        }
    }

    pub(crate) fn build(self) -> Result<Terms, PolicyError> {
        let pattern_count = self.patterns.len();
        let ac = if self.patterns.is_empty() {
            None
        } else {
            // A DFA is fastest to search but slow to build for thousands of patterns; the
            // contiguous NFA builds in a few milliseconds and searches nearly as fast.
            let kind = if pattern_count <= 2_000 {
                AhoCorasickKind::DFA
            } else {
                AhoCorasickKind::ContiguousNFA
            };
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(kind))
                    .build(&self.patterns)
                    .map_err(|e| PolicyError::new(PolicyErrorKind::TooLarge(e.to_string())))?,
            )
        };
        Ok(Terms {
            ac,
            entries: self
                .entries
                .into_iter()
                .map(Vec::into_boxed_slice)
                .collect(),
            pattern_count,
            term_count: self.term_count,
        })
    }
}

impl Terms {
    /// No terms at all.
    pub(crate) fn empty() -> Self {
        Terms {
            ac: None,
            entries: Vec::new(),
            pattern_count: 0,
            term_count: 0,
        }
    }

    /// How many patterns each rule owns.
    pub(crate) fn patterns_per_rule(&self) -> std::collections::BTreeMap<u16, usize> {
        let mut m = std::collections::BTreeMap::new();
        for entries in &self.entries {
            let mut seen: Vec<u16> = Vec::new();
            for e in entries.iter() {
                if let Owner::Rule(r) = e.owner
                    && !seen.contains(&r)
                {
                    seen.push(r);
                    *m.entry(r).or_insert(0usize) += 1;
                }
            }
        }
        m
    }

    /// For each pattern (as written, not self-censor variants), the owners that share it
    /// with the same wildcard: the raw material of policy lints.
    pub(crate) fn shared_patterns(&self) -> impl Iterator<Item = Vec<Owner>> + '_ {
        self.entries.iter().filter(|e| e.len() > 1).map(|entries| {
            let mut owners: Vec<Owner> = entries.iter().map(|e| e.owner).collect();
            owners.dedup();
            owners
        })
    }

    /// Finds every term match in `text`, with word boundaries and repeat counts checked.
    /// At most [`MAX_HITS`] matches are examined.
    pub(crate) fn find(&self, text: &Normalized, hits: &mut Vec<Hit>) {
        let Some(ac) = &self.ac else { return };
        let mut seen = 0usize;
        for m in ac.find_overlapping_iter(text.as_bytes()) {
            seen += 1;
            if seen > MAX_HITS {
                break;
            }
            let (s, e) = (m.start(), m.end());
            let Some(entries) = self.entries.get(m.pattern().as_usize()) else {
                continue;
            };
            let left = s == 0 || !text.is_word_at(s - 1);
            let right = !text.is_word_at(e);
            for entry in entries.iter() {
                let bounded = match entry.wildcard {
                    Wildcard::None => left && right,
                    Wildcard::Prefix => left,
                    Wildcard::Suffix => right,
                    Wildcard::Both => true,
                };
                if !bounded || !runs_cover(text, s, &entry.runs) {
                    continue;
                }
                hits.push(Hit {
                    owner: entry.owner,
                    start: s,
                    end: e,
                    whole_word: entry.wildcard == Wildcard::None,
                });
            }
        }
    }
}

/// True when every byte of the match repeats at least as often as the term needs.
fn runs_cover(text: &Normalized, start: usize, runs: &[u16]) -> bool {
    runs.iter().enumerate().all(|(i, &need)| {
        let idx = start + i;
        match (text.bytes.get(idx), text.units.get(idx)) {
            (Some(&CENSOR), _) => true,
            (Some(_), Some(u)) => u.run >= need,
            _ => false,
        }
    })
}
