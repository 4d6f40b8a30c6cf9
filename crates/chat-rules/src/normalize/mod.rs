//! Evasion-resistant text normalisation with exact span mapping.
//!
//! Chat users dodge filters with look-alike characters (`ｆսсκ`), accents (`fück`),
//! leetspeak (`sh1t`, `@$$`), invisible characters (`f\u{200B}uck`), separators between
//! single letters (`f.u.c.k`), repeated letters (`fuuuuck`) and self-censoring (`f*ck`).
//! [`Normalizer`] folds all of these into one compact byte string that term patterns are
//! matched against, and remembers for every output byte which bytes of the original text
//! it came from, so a match can be masked exactly.
//!
//! The pipeline is linear in the input: one pass over the characters, one pass that joins
//! separated single letters and collapses repeats. Every step can be switched off in the
//! policy (`[normalize]`).

mod chars;
mod join;

use crate::entities::html_entity;
use crate::fold_table::FoldKind;
use chars::{
    extra_leet, fold_letter, indicator_run, is_combining_or_format, is_regional_indicator, leet,
    lookup_fold, unicode_mark, wordish,
};
use join::join_separated_letters;
use serde::{Deserialize, Serialize};

/// Which normalisation steps run before term matching. All are on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NormalizeOptions {
    /// Compatibility forms: fullwidth, mathematical alphanumerics, circled letters, ligatures.
    pub compatibility: bool,
    /// Cross-script look-alikes from Unicode TR39 confusables (Cyrillic `а`, Greek `ο`, ...).
    pub confusables: bool,
    /// Characters whose Unicode name spells a Latin letter that neither NFKD nor TR39
    /// fold: small capitals (`ꜰᴋ`), modifier letters, regional indicators (`🇫`), negative
    /// squared letters (`🅵`), letters with hooks and strokes (`ƙ`).
    pub letterlike: bool,
    /// Decode HTML character references before matching (`&#102;`, `&#x66;`, `&amp;`).
    pub entities: bool,
    /// Strip accents and other combining marks (`é` to `e`, zalgo to plain letters).
    pub accents: bool,
    /// Leetspeak digits and symbols (`0` o, `1` `!` `|` i/l, `3` e, `4` `@` a, `5` `$` s, `7` `+` t, `8` b, `9` g).
    pub leetspeak: bool,
    /// Drop invisible characters: zero-width, bidi controls, soft hyphen, variation selectors, tags.
    pub invisible: bool,
    /// Join single letters split by separators (`f.u.c.k`, `f u c k`, `f_u_c_k`).
    pub separators: bool,
    /// Collapse repeated letters (`fuuuuck`) while still telling `as` from `ass`.
    pub repeats: bool,
    /// Treat `*` and `#` inside a word as a self-censored letter (`f*ck`, `f**k`, `sh#t`).
    pub self_censor: bool,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        Self {
            compatibility: true,
            confusables: true,
            letterlike: true,
            entities: true,
            accents: true,
            leetspeak: true,
            invisible: true,
            separators: true,
            repeats: true,
            self_censor: true,
        }
    }
}

/// The byte that stands for a self-censored letter in normalised text.
pub(crate) const CENSOR: u8 = b'*';
/// The byte that stands for a run of separators in normalised text.
pub(crate) const SEP: u8 = b' ';

/// One byte of normalised text and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unit {
    /// Byte offset of the first original character this byte came from.
    pub start: u32,
    /// Byte offset just past the last original character this byte came from.
    pub end: u32,
    /// How many identical bytes were collapsed into this one.
    pub run: u16,
    /// True when the byte came from a digit or symbol read as a letter (leetspeak, `*`):
    /// such a byte is part of a word when matched, but does not make a word boundary fail.
    pub soft: bool,
}

/// Normalised text: the folded bytes that patterns are matched against, and per byte the
/// original span it maps back to.
#[derive(Debug, Clone, Default)]
pub struct Normalized {
    pub(crate) bytes: Vec<u8>,
    pub(crate) units: Vec<Unit>,
}

impl Normalized {
    /// The folded text. Letters are lower-case ASCII where a fold exists, other scripts keep
    /// their (lower-cased) UTF-8 bytes, `*` is a self-censored letter, and a space stands
    /// for any run of separators.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The folded text as a (lossy) string, for debugging and the CLI.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// Maps a byte range of the normalised text back to the byte range of the original text.
    pub fn original_span(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        if start >= end {
            return None;
        }
        let first = self.units.get(start)?;
        let last = self.units.get(end - 1)?;
        Some((first.start as usize, last.end as usize))
    }

    /// Widens a byte range to the whole word around it (up to separators).
    pub(crate) fn word_around(&self, mut start: usize, mut end: usize) -> (usize, usize) {
        while start > 0 && self.bytes.get(start - 1).is_some_and(|&b| b != SEP) {
            start -= 1;
        }
        while self.bytes.get(end).is_some_and(|&b| b != SEP) {
            end += 1;
        }
        (start, end)
    }

    /// True when the byte at `i` is a letter that makes a word (so a match next to it is
    /// not a whole word). Separators and soft (leet or censor) bytes are not.
    #[inline]
    pub(crate) fn is_word_at(&self, i: usize) -> bool {
        match (self.bytes.get(i), self.units.get(i)) {
            (Some(&b), Some(u)) => b != SEP && !u.soft,
            _ => false,
        }
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.units.clear();
    }
}

/// Folds text for matching; see the [module docs](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct Normalizer {
    options: NormalizeOptions,
}

/// What one original character becomes in the first pass.
enum Piece {
    /// Nothing: an invisible character or a combining mark.
    Skip,
    /// A separator (space, punctuation, emoji, symbols).
    Sep,
    /// Up to four word bytes, and whether they are soft (leetspeak or a censor symbol).
    Word([u8; 4], u8, bool),
}

impl Piece {
    fn byte(b: u8, soft: bool) -> Self {
        Piece::Word([b, 0, 0, 0], 1, soft)
    }
}

impl Normalizer {
    /// A normaliser with the given steps switched on.
    pub fn new(options: NormalizeOptions) -> Self {
        Self { options }
    }

    /// The options this normaliser runs with.
    pub fn options(&self) -> NormalizeOptions {
        self.options
    }

    /// Normalises `text` into a fresh buffer.
    ///
    /// ```
    /// use chat_rules::normalize::{Normalizer, NormalizeOptions};
    /// let n = Normalizer::new(NormalizeOptions::default());
    /// assert_eq!(n.normalize("Ｆ.Ü.Ç.K  y0u").to_string_lossy(), "fuck you");
    /// ```
    pub fn normalize(&self, text: &str) -> Normalized {
        let mut out = Normalized::default();
        self.normalize_into(text, &mut out);
        out
    }

    /// Normalises a policy term: the same folding as messages, but separated single letters
    /// are not joined (a phrase like `a b c` stays three words).
    pub(crate) fn normalize_term(&self, term: &str) -> Normalized {
        let mut opts = self.options;
        opts.separators = false;
        let mut out = Normalized::default();
        Normalizer::new(opts).normalize_into(term, &mut out);
        // A term never starts or ends with a separator.
        while out.bytes.last() == Some(&SEP) {
            out.bytes.pop();
            out.units.pop();
        }
        if out.bytes.first() == Some(&SEP) {
            out.bytes.remove(0);
            out.units.remove(0);
        }
        out
    }

    /// Normalises `text` into `out`, reusing its buffers.
    pub fn normalize_into(&self, text: &str, out: &mut Normalized) {
        out.clear();
        // Pass 1: characters to pieces, with separators merged into one SEP byte.
        let mut first: Vec<(u8, Unit)> = Vec::with_capacity(text.len());
        let o = self.options;
        let mut chars = text.char_indices().peekable();
        let mut prev_word = false;
        // Where the run of regional indicators under way ends, and whether it spells
        // letters rather than showing flags (see `indicator_run`).
        let mut indicators: Option<(usize, bool)> = None;
        while let Some((i, raw)) = chars.next() {
            if is_regional_indicator(raw) && indicators.is_none_or(|(end, _)| i >= end) {
                indicators = Some(indicator_run(text, i));
            }
            if is_regional_indicator(raw) && indicators.is_some_and(|(_, spelled)| !spelled) {
                prev_word = false;
                push_sep(&mut first, i as u32, (i + raw.len_utf8()) as u32);
                continue;
            }
            let start = i as u32;
            let mut end = (i + raw.len_utf8()) as u32;
            let mut c = raw;
            // A character reference stands for its character, over its whole span.
            if raw == '&'
                && o.entities
                && let Some((decoded, len)) = html_entity(&text[i..])
            {
                c = decoded;
                end = (i + len) as u32;
                while chars.peek().is_some_and(|&(j, _)| j < i + len) {
                    chars.next();
                }
            }
            let next = chars.peek().map(|&(_, n)| n);
            let next_is_word = next.is_some_and(wordish);
            let next_alnum = next.is_some_and(char::is_alphanumeric);
            let piece = self.piece(c, prev_word, next_is_word, next_alnum);
            match piece {
                Piece::Skip => {
                    // Extend the previous unit over the skipped character, so that a mask
                    // covering the word also covers what was hidden inside it.
                    if let Some((_, u)) = first.last_mut()
                        && u.end == start
                    {
                        u.end = end;
                    }
                }
                Piece::Sep => {
                    prev_word = false;
                    push_sep(&mut first, start, end);
                }
                Piece::Word(buf, len, soft) => {
                    prev_word = true;
                    for &b in &buf[..usize::from(len)] {
                        first.push((
                            b,
                            Unit {
                                start,
                                end,
                                run: 1,
                                soft,
                            },
                        ));
                    }
                }
            }
        }
        if o.separators {
            join_separated_letters(text, &mut first);
        }
        // Pass 2: collapse repeats.
        out.bytes.reserve(first.len());
        out.units.reserve(first.len());
        for (b, u) in first {
            // Only ASCII bytes collapse: equal continuation bytes inside one non-ASCII
            // character (`丸` is E4 B8 B8) must stay, or the text stops being UTF-8.
            if o.repeats
                && b != SEP
                && b.is_ascii()
                && let (Some(&last), Some(lu)) = (out.bytes.last(), out.units.last_mut())
                && last == b
                && lu.soft == u.soft
            {
                lu.run = lu.run.saturating_add(1);
                lu.end = u.end;
                continue;
            }
            out.bytes.push(b);
            out.units.push(u);
        }
    }

    fn piece(&self, c: char, prev_word: bool, next_is_word: bool, next_alnum: bool) -> Piece {
        let o = self.options;
        if c.is_ascii() {
            let b = c as u8;
            if b.is_ascii_alphabetic() {
                return Piece::byte(fold_letter(b), false);
            }
            if o.self_censor && (b == b'*' || b == b'#') && (prev_word || next_is_word) {
                return Piece::byte(CENSOR, true);
            }
            if o.leetspeak
                && let Some(l) = leet(b)
            {
                // Symbols are letters only next to a word (`sh!t`, `@ss`, `a$$`), never
                // on their own (`!`, `@ everyone`, `$ 5`).
                // `!` ends sentences, so it is a letter only before one (`sh!t`, `!diot`).
                let symbol = !b.is_ascii_digit();
                let placed = if b == b'!' {
                    next_alnum
                } else {
                    prev_word || next_is_word
                };
                if !symbol || placed {
                    return Piece::byte(fold_letter(l), true);
                }
            }
            if b.is_ascii_digit() {
                return Piece::byte(b, false);
            }
            return Piece::Sep;
        }
        if let Some((bytes, kind)) = lookup_fold(c) {
            let on = match kind {
                FoldKind::Compat => o.compatibility,
                FoldKind::Accent => o.accents,
                FoldKind::Confusable => o.confusables,
                FoldKind::Letterlike => o.letterlike,
            };
            if on {
                return fold_bytes(bytes);
            }
        }
        if is_combining_or_format(c) {
            let invisible = !unicode_mark(c);
            if (invisible && o.invisible) || (!invisible && o.accents) {
                return Piece::Skip;
            }
            return Piece::Sep;
        }
        if let Some(l) = extra_leet(c)
            && o.leetspeak
            && (prev_word || next_is_word)
        {
            return Piece::byte(l, true);
        }
        if c.is_alphanumeric() {
            return other_script(c);
        }
        Piece::Sep
    }
}

/// Adds a separator for `start..end`, merged with one just before it.
fn push_sep(first: &mut Vec<(u8, Unit)>, start: u32, end: u32) {
    match first.last_mut() {
        Some((SEP, u)) => u.end = end,
        _ => first.push((
            SEP,
            Unit {
                start,
                end,
                run: 1,
                soft: false,
            },
        )),
    }
}

/// Folded table bytes, with `l` joined to the `i` class and digits read as leetspeak
/// letters the same way ASCII digits are (a fullwidth `０` is an `o`).
fn fold_bytes(bytes: &[u8]) -> Piece {
    let mut buf = [0u8; 4];
    let mut soft = false;
    let n = bytes.len().min(4);
    for (slot, &b) in buf.iter_mut().zip(bytes) {
        *slot = if b.is_ascii_digit() {
            soft = true;
            leet(b).unwrap_or(b)
        } else {
            fold_letter(b)
        };
    }
    Piece::Word(buf, n as u8, soft && n == 1)
}

/// A letter or digit of a script without an ASCII fold: its own lower-case UTF-8 bytes.
fn other_script(c: char) -> Piece {
    let mut lower = c.to_lowercase();
    let l = match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    };
    let mut buf = [0u8; 4];
    let n = l.encode_utf8(&mut buf).len();
    Piece::Word(buf, n as u8, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Normalizer::default().normalize(s).to_string_lossy()
    }

    /// Each row: input, normalised form. The data table for the normalisation steps.
    const TABLE: &[(&str, &str)] = &[
        // case and plain text
        ("Hello World", "heio worid"),
        // compatibility forms
        ("ｆｕｃｋ", "fuck"),
        ("𝐟𝐮𝐜𝐤", "fuck"),
        ("ⓕⓤⓒⓚ", "fuck"),
        ("𝓯𝓾𝓬𝓴", "fuck"),
        // confusables (Cyrillic and Greek look-alikes)
        ("fսсk", "fuck"),
        ("ƒυϲκ", "fuck"),
        ("ѕһіт", "shit"),
        // accents and zalgo
        ("fück", "fuck"),
        ("f\u{0301}\u{0302}\u{0303}uck", "fuck"),
        // leetspeak
        ("sh1t", "shit"),
        ("@$$", "as"),
        ("a55", "as"),
        ("5h!t", "shit"),
        ("b1+ch", "bitch"),
        // invisible characters
        ("f\u{200B}u\u{200C}c\u{200D}k", "fuck"),
        ("fu\u{00AD}ck", "fuck"),
        ("f\u{202E}uck", "fuck"),
        // separators between single letters
        ("f.u.c.k", "fuck"),
        ("f u c k", "fuck"),
        ("f_u_c_k", "fuck"),
        ("f - u - c - k off", "fuck of"),
        ("a b", "a b"),
        ("a f u c k", "a fuck"),
        ("a s s", "as"),
        ("a.s.s.h.o.l.e", "ashoie"),
        ("you are a f.u.c.k.i.n.g loser", "you are a fucking ioser"),
        // repeated letters
        ("fuuuuuck", "fuck"),
        // self-censoring
        ("f*ck", "f*ck"),
        ("f**k", "f*k"),
        ("sh#t", "sh*t"),
        // symbols alone are separators, not letters
        ("hi !", "hi"),
        ("@ everyone", "everyone"),
    ];

    #[test]
    fn normalisation_table() {
        for (input, want) in TABLE {
            assert_eq!(norm(input).trim(), *want, "input {input:?}");
        }
    }

    #[test]
    fn spans_map_back_exactly() {
        let n = Normalizer::default();
        let text = "oh f.u.c.k!";
        let out = n.normalize(text);
        let pos = out.bytes.windows(4).position(|w| w == b"fuck").unwrap();
        let (s, e) = out.original_span(pos, pos + 4).unwrap();
        assert_eq!(&text[s..e], "f.u.c.k");
        let text = "so ｆｕｃｋ it";
        let out = n.normalize(text);
        let pos = out.bytes.windows(4).position(|w| w == b"fuck").unwrap();
        let (s, e) = out.original_span(pos, pos + 4).unwrap();
        assert_eq!(&text[s..e], "ｆｕｃｋ");
    }

    #[test]
    fn repeats_are_counted() {
        let out = Normalizer::default().normalize("asss");
        assert_eq!(out.bytes, b"as");
        assert_eq!(out.units[1].run, 3);
    }

    #[test]
    fn steps_can_be_switched_off() {
        let opts = NormalizeOptions {
            leetspeak: false,
            ..NormalizeOptions::default()
        };
        assert_eq!(
            Normalizer::new(opts).normalize("sh1t").to_string_lossy(),
            "sh1t"
        );
        let opts = NormalizeOptions {
            separators: false,
            ..NormalizeOptions::default()
        };
        assert_eq!(
            Normalizer::new(opts).normalize("f.u.c.k").to_string_lossy(),
            "f u c k"
        );
    }

    #[test]
    fn non_ascii_bytes_never_collapse() {
        let out = Normalizer::default().normalize("丸丸 ok");
        assert!(std::str::from_utf8(out.as_bytes()).is_ok());
        assert_eq!(out.to_string_lossy(), "丸丸 ok");
    }

    #[test]
    fn other_scripts_keep_their_letters() {
        // `р` and `е` have Latin look-alikes; and so do `п`, `и`, `в`, `т` in chat: all fold.
        assert_eq!(norm("Привет"), "npubet");
        assert_eq!(norm("日本語"), "日本語");
    }
}
