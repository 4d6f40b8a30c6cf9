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
    censor: Vec<CensorTerm>,
    pub(crate) term_count: usize,
}

/// A blocked term as the censor pass sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CensorTerm {
    bytes: Box<[u8]>,
    runs: Box<[u16]>,
    owner: Owner,
    wildcard: Wildcard,
}

/// Blocked terms indexed for matching self-censored words (`f*ck`, `sh**`, `c*nt`).
#[derive(Debug, Clone, Default)]
struct CensorIndex {
    terms: Vec<CensorTerm>,
    /// Prefix terms by first byte: they start where the word starts.
    prefix_by_first: Vec<Vec<u32>>,
    /// Whole-word terms by first and last byte: a censored word that ends in a letter
    /// is compared only with terms that start and end as it does.
    whole_by_ends: std::collections::HashMap<(u8, u8), Vec<u32>>,
    /// Whole-word terms by first byte, for words that end in a censor symbol (`sh**`).
    whole_by_first: Vec<Vec<u32>>,
    /// Suffix and infix terms: they may start anywhere in the word.
    inner: Vec<u32>,
}

/// The most words with censor symbols examined per message.
const MAX_CENSORED_WORDS: usize = 64;
/// The most separate censor runs in one word (`f*c*k` has two).
const MAX_CENSOR_RUNS: usize = 3;
/// The longest word (in normalised bytes) the censor pass examines.
const MAX_CENSORED_WORD: usize = 64;

/// The compiled automaton and the entries of each pattern.
#[derive(Debug, Clone)]
pub(crate) struct Terms {
    ac: Option<AhoCorasick>,
    entries: Vec<Box<[Entry]>>,
    censor: CensorIndex,
    pub(crate) pattern_count: usize,
    pub(crate) term_count: usize,
}

/// The most accepted term matches per message, and the most raw automaton matches
/// examined: hard bounds on work for hostile input. A message that reaches either is not
/// judged on partial evidence: the review escalates it (see `Policy::review`).
pub(crate) const MAX_HITS: usize = 512;
const MAX_RAW_MATCHES: usize = 16_384;

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
        // Self-censored spellings (`f*ck`, `f**k`) are matched by the censor pass, not by
        // variants in the automaton (which would multiply its size and build time).
        if self_censor && owner != Owner::Allow && n.bytes.is_ascii() {
            let total: usize = runs.iter().map(|&r| usize::from(r)).sum();
            if total >= 3 && n.bytes.len() <= 64 {
                self.censor.push(CensorTerm {
                    bytes: n.bytes.clone().into_boxed_slice(),
                    runs: runs.into_boxed_slice(),
                    owner,
                    wildcard,
                });
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
        let mut terms = self.censor;
        terms.sort_by(|a, b| (&a.bytes, &a.runs).cmp(&(&b.bytes, &b.runs)));
        terms.dedup();
        let mut prefix_by_first = vec![Vec::new(); 256];
        let mut whole_by_first = vec![Vec::new(); 256];
        let mut whole_by_ends: std::collections::HashMap<(u8, u8), Vec<u32>> =
            std::collections::HashMap::new();
        let mut inner = Vec::new();
        for (i, t) in terms.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let (Some(&first), Some(&last)) = (t.bytes.first(), t.bytes.last()) else {
                continue;
            };
            match t.wildcard {
                Wildcard::None => {
                    whole_by_ends.entry((first, last)).or_default().push(i);
                    if let Some(list) = whole_by_first.get_mut(usize::from(first)) {
                        list.push(i);
                    }
                }
                Wildcard::Prefix => {
                    if let Some(list) = prefix_by_first.get_mut(usize::from(first)) {
                        list.push(i);
                    }
                }
                Wildcard::Suffix | Wildcard::Both => inner.push(i),
            }
        }
        Ok(Terms {
            ac,
            censor: CensorIndex {
                terms,
                prefix_by_first,
                whole_by_ends,
                whole_by_first,
                inner,
            },
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
            censor: CensorIndex::default(),
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
        self.entries.iter().flat_map(|entries| {
            // `x*` matches more than a whole-word `x`: only equal wildcards cover each other.
            let mut groups: Vec<(Wildcard, Vec<Owner>)> = Vec::new();
            for e in entries.iter() {
                match groups.iter_mut().find(|(w, _)| *w == e.wildcard) {
                    Some((_, owners)) if !owners.contains(&e.owner) => owners.push(e.owner),
                    Some(_) => {}
                    None => groups.push((e.wildcard, vec![e.owner])),
                }
            }
            groups
                .into_iter()
                .map(|(_, owners)| owners)
                .filter(|owners| owners.len() > 1)
        })
    }

    /// Finds every term match in `text`, with word boundaries and repeat counts checked.
    /// Returns false when a bound was reached before every match was examined.
    pub(crate) fn find(&self, text: &Normalized, hits: &mut Vec<Hit>) -> bool {
        if !self.find_censored(text, hits) {
            return false;
        }
        let Some(ac) = &self.ac else { return true };
        let mut seen = 0usize;
        for m in ac.find_overlapping_iter(text.as_bytes()) {
            seen += 1;
            if seen > MAX_RAW_MATCHES || hits.len() > MAX_HITS {
                return false;
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
        true
    }
}

impl Terms {
    /// The censor pass: words with `*` or `#` standing for letters are compared with the
    /// blocked terms, each censor run standing for as many letters as it has symbols, give
    /// or take one (`f*ck`, `f**k`, `f***k`, `sh*t`), with at least two letters shown.
    /// Bounded: at most 64 such words (false past that), 64 bytes and 3 censor runs each.
    fn find_censored(&self, text: &Normalized, hits: &mut Vec<Hit>) -> bool {
        let idx = &self.censor;
        if idx.terms.is_empty() || !text.bytes.contains(&CENSOR) {
            return true;
        }
        let bytes = &text.bytes;
        let mut checked = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == SEP {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && bytes[i] != SEP {
                i += 1;
            }
            let end = i;
            let word = &bytes[start..end];
            let censor_runs = word.iter().filter(|&&b| b == CENSOR).count();
            if censor_runs == 0 {
                continue;
            }
            checked += 1;
            if checked > MAX_CENSORED_WORDS {
                return false;
            }
            if censor_runs > MAX_CENSOR_RUNS || word.len() > MAX_CENSORED_WORD {
                continue;
            }
            let (first, last) = (bytes[start], bytes[end - 1]);
            let prefix = idx
                .prefix_by_first
                .get(usize::from(first))
                .map(Vec::as_slice)
                .unwrap_or_default();
            let whole = if last == CENSOR {
                idx.whole_by_first
                    .get(usize::from(first))
                    .map(Vec::as_slice)
                    .unwrap_or_default()
            } else {
                idx.whole_by_ends
                    .get(&(first, last))
                    .map(Vec::as_slice)
                    .unwrap_or_default()
            };
            for &ti in prefix.iter().chain(whole) {
                let Some(t) = idx.terms.get(ti as usize) else {
                    continue;
                };
                let need_end = (t.wildcard == Wildcard::None).then_some(end);
                if let Some(e) = censor_match(text, start, end, t, need_end) {
                    hits.push(Hit {
                        owner: t.owner,
                        start,
                        end: e,
                        whole_word: t.wildcard == Wildcard::None,
                    });
                }
            }
            for &ti in &idx.inner {
                let Some(t) = idx.terms.get(ti as usize) else {
                    continue;
                };
                let need_end = (t.wildcard == Wildcard::Suffix).then_some(end);
                for s in start..end {
                    if bytes.get(s) != t.bytes.first() {
                        continue;
                    }
                    if let Some(e) = censor_match(text, s, end, t, need_end) {
                        hits.push(Hit {
                            owner: t.owner,
                            start: s,
                            end: e,
                            whole_word: false,
                        });
                        break;
                    }
                }
            }
        }
        true
    }
}

/// Matches term `t` against `text` from `start` (not past `limit`), letting each censor
/// run stand for letters. Returns the end of the match; `need_end` forces where it ends.
fn censor_match(
    text: &Normalized,
    start: usize,
    limit: usize,
    t: &CensorTerm,
    need_end: Option<usize>,
) -> Option<usize> {
    struct Walk<'a> {
        text: &'a Normalized,
        limit: usize,
        t: &'a CensorTerm,
        need_end: Option<usize>,
    }
    impl Walk<'_> {
        fn go(&self, i: usize, j: usize, shown: u32, censored: bool) -> Option<usize> {
            if j == self.t.bytes.len() {
                let end_ok = self.need_end.is_none_or(|e| e == i);
                return (censored && shown >= 2 && end_ok).then_some(i);
            }
            if i >= self.limit {
                return None;
            }
            let b = *self.text.bytes.get(i)?;
            let run = self.text.units.get(i)?.run;
            if b == CENSOR {
                let lo = u32::from(run.saturating_sub(1)).max(1);
                let hi = u32::from(run) + 1;
                let mut hidden = 0u32;
                for k in j..self.t.bytes.len() {
                    hidden += u32::from(*self.t.runs.get(k)?);
                    if hidden > hi {
                        break;
                    }
                    if hidden >= lo
                        && let Some(e) = self.go(i + 1, k + 1, shown, true)
                    {
                        return Some(e);
                    }
                }
                return None;
            }
            if b != *self.t.bytes.get(j)? || run < *self.t.runs.get(j)? {
                return None;
            }
            self.go(i + 1, j + 1, shown + u32::from(run.min(2)), censored)
        }
    }
    Walk {
        text,
        limit,
        t,
        need_end,
    }
    .go(start, 0, 0, false)
}

/// True when every byte of the match repeats at least as often as the term needs.
fn runs_cover(text: &Normalized, start: usize, runs: &[u16]) -> bool {
    runs.iter().enumerate().all(|(i, &need)| {
        let idx = start + i;
        match (text.bytes.get(idx), text.units.get(idx)) {
            (Some(_), Some(u)) => u.run >= need,
            _ => false,
        }
    })
}
