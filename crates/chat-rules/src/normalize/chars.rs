//! Character classes the normaliser reads: leetspeak digits and symbols, folds from the
//! generated table, invisible and combining characters, and runs of regional indicators.

use crate::fold_table::{FLAGS, FOLD, FoldKind, IGNORE};

/// Leetspeak: ASCII digits and symbols read as letters. `l` and `i` are one class (`i`), so
/// `1`, `!`, `|`, `l` and `i` all fold to `i`.
pub(super) fn leet(b: u8) -> Option<u8> {
    Some(match b {
        b'0' => b'o',
        b'1' | b'!' | b'|' => b'i',
        b'3' => b'e',
        b'4' | b'@' => b'a',
        b'5' | b'$' => b's',
        b'7' | b'+' => b't',
        b'8' => b'b',
        b'9' => b'g',
        _ => return None,
    })
}

/// Letters after case folding; `l` joins the `i` class so that `1` (read as either) matches.
#[inline]
pub(super) fn fold_letter(b: u8) -> u8 {
    match b.to_ascii_lowercase() {
        b'l' => b'i',
        other => other,
    }
}

/// Looks a non-ASCII character up in the generated fold table.
pub(super) fn lookup_fold(c: char) -> Option<(&'static [u8], FoldKind)> {
    let cp = c as u32;
    FOLD.binary_search_by_key(&cp, |&(k, _, _, _)| k)
        .ok()
        .and_then(|i| FOLD.get(i))
        .map(|(_, bytes, len, kind)| (&bytes[..usize::from(*len).min(3)], *kind))
}

pub(super) fn is_ignorable(c: char) -> bool {
    let cp = c as u32;
    IGNORE
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// True for characters that are always format or combining (never a letter).
pub(super) fn is_combining_or_format(c: char) -> bool {
    is_ignorable(c)
}

/// A regional indicator letter (U+1F1E6..=U+1F1FF): two make a flag.
pub(super) fn is_regional_indicator(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

/// True for a character that can be part of a word: a letter or digit, or a symbol read
/// as one next to a word (leetspeak, `*`, `#`).
pub(super) fn wordish(c: char) -> bool {
    c.is_alphanumeric() || (c.is_ascii() && (leet(c as u8).is_some() || c == '*' || c == '#'))
}

/// The run of regional indicators starting at byte `i` (invisible characters between
/// them included): where it ends, and whether it spells letters. It shows flags, and is
/// not read, when it stands apart from words and pairs up into real flags (Unicode's RGI
/// flags: `🇨🇦🇨🇦`, `🇳🇱🇬🇦`), each pair side by side as a flag must be. An odd run, a pair
/// that is no flag (`🇫🇺`), a pair split by an invisible character (which a renderer shows
/// as two letters), or a run glued to a word (`🇳🇮gger`, `a\u{200D}🇸🇸`) spells letters.
pub(super) fn indicator_run(text: &str, i: usize) -> (usize, bool) {
    let mut letters: Vec<(usize, u8)> = Vec::new();
    let mut end = i;
    for (j, c) in text[i..].char_indices() {
        if is_regional_indicator(c) {
            letters.push((i + j, b'a' + (c as u32 - 0x1F1E6) as u8));
            end = i + j + c.len_utf8();
        } else if !is_ignorable(c) {
            break;
        }
    }
    let glued = |c: Option<char>| c.is_some_and(wordish);
    let before = text[..i].chars().rev().find(|&c| !is_ignorable(c));
    let after = text[end..].chars().find(|&c| !is_ignorable(c));
    // Each indicator is 4 bytes of UTF-8: a flag's second letter starts 4 bytes after its
    // first.
    let flags = letters.len().is_multiple_of(2)
        && letters
            .chunks(2)
            .all(|p| p[1].0 == p[0].0 + 4 && FLAGS.binary_search(&[p[0].1, p[1].1]).is_ok());
    (end, glued(before) || glued(after) || !flags)
}

/// Non-ASCII currency signs read as letters in leetspeak.
pub(super) fn extra_leet(c: char) -> Option<u8> {
    Some(match c {
        '€' => b'e',
        '£' => b'i',
        '¢' => b'c',
        '¥' => b'y',
        _ => return None,
    })
}

/// True for combining marks (as opposed to invisible format characters); both are in the
/// ignore table, the marks are the ones switched by `accents`.
pub(super) fn unicode_mark(c: char) -> bool {
    let cp = c as u32;
    // Combining Diacritical Marks and their extensions, plus marks of other scripts: the
    // format characters (zero-width, bidi, tags, variation selectors) are listed instead.
    !matches!(cp,
        0x00AD | 0x034F | 0x061C | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8 | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

#[cfg(test)]
mod tests {
    use crate::normalize::{NormalizeOptions, Normalizer};

    /// Regional indicators as text: each row spells letters with `A`..`Z` standing for
    /// the indicators, and what the matcher sees.
    #[test]
    fn regional_indicators_are_flags_unless_they_spell() {
        let n = Normalizer::new(NormalizeOptions::default());
        let ri = |s: &str| -> String {
            s.chars()
                .map(|c| match c {
                    'A'..='Z' => char::from_u32(0x1F1E6 + (c as u32 - 'A' as u32)).unwrap_or(c),
                    other => other,
                })
                .collect()
        };
        for (text, want) in [
            ("go FR go", "go go"),                    // a flag
            ("CACA eh", " eh"),                       // two real flags
            ("NLGA partnership", " partnership"),     // two real flags
            ("FUCK", "fuck"),                         // FU is no flag
            ("NIgger", "niger"),                      // glued to a word (gg: one g, run 2)
            ("F U C K", "fuck"),                      // single indicators
            ("F\u{200B}U\u{200B}C\u{200B}K", "fuck"), // invisible characters between
            ("ASS", "as"),                            // odd: no pairing (ss: one s, run 2)
            ("T\u{200B}W\u{200B}A\u{200B}T", "twat"), // real flags, but split: letters
            ("a\u{200D}SS", "as"),                    // glued through an invisible joiner
            ("SH!t", "shit"),                         // glued to a leetspeak symbol
        ] {
            assert_eq!(n.normalize(&ri(text)).to_string_lossy(), want, "{text}");
        }
    }
}
