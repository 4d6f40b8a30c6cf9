//! HTML character references, decoded before matching: chat text pasted from the web, or
//! typed to dodge a filter (`&#102;&#117;...`, `f&uuml;ck`), means the characters it
//! stands for. References are read as browsers read them in text: numeric ones with or
//! without the `;` and with any leading zeros, every named one of the WHATWG list that
//! stands for one character, and the legacy names (`&uuml`) also without the `;`.

use crate::fold_table::ENTITIES;

/// The longest name in the WHATWG list (`CounterClockwiseContourIntegral;`).
const MAX_NAME: usize = 32;
/// Digits read in a numeric reference, leading zeros excluded (`&#1114111;` has 7).
const MAX_DIGITS: usize = 7;

/// The character an HTML character reference at the start of `s` stands for, and the
/// reference's length in bytes; `None` when `s` does not start with one (or it stands for
/// a control character, a surrogate, or nothing Unicode has).
pub(crate) fn html_entity(s: &str) -> Option<(char, usize)> {
    let body = s.strip_prefix('&')?.as_bytes();
    if let Some(num) = body.strip_prefix(b"#") {
        let (hex, digits) = match num.first() {
            Some(b'x' | b'X') => (true, &num[1..]),
            _ => (false, num),
        };
        let is_digit = |b: &u8| {
            if hex {
                b.is_ascii_hexdigit()
            } else {
                b.is_ascii_digit()
            }
        };
        let zeros = digits.iter().take_while(|&&b| b == b'0').count();
        let len = digits[zeros..].iter().take_while(|b| is_digit(b)).count();
        if zeros + len == 0 || len > MAX_DIGITS {
            return None;
        }
        let text = std::str::from_utf8(&digits[zeros..zeros + len]).ok()?;
        let cp = if len == 0 {
            0
        } else {
            u32::from_str_radix(text, if hex { 16 } else { 10 }).ok()?
        };
        let c = char::from_u32(cp).filter(|c| !c.is_control())?;
        let end = 2 + usize::from(hex) + zeros + len;
        let semi = usize::from(s.as_bytes().get(end) == Some(&b';'));
        return Some((c, end + semi));
    }
    // A name ends at its `;`; a legacy name may end without one (the longest that fits).
    let name_len = body
        .iter()
        .take(MAX_NAME + 1)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    if body.get(name_len) == Some(&b';') {
        let name = std::str::from_utf8(&body[..=name_len]).ok()?;
        if let Some(c) = lookup(name) {
            return Some((c, name.len() + 1));
        }
    }
    (2..=name_len.min(MAX_NAME)).rev().find_map(|n| {
        let name = std::str::from_utf8(&body[..n]).ok()?;
        lookup(name).map(|c| (c, n + 1))
    })
}

fn lookup(name: &str) -> Option<char> {
    ENTITIES
        .binary_search_by_key(&name, |&(n, _)| n)
        .ok()
        .and_then(|i| ENTITIES.get(i))
        .map(|&(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_character_references_as_a_table() {
        for (text, want) in [
            ("&#102;", Some(('f', 6))),
            ("&#x66;rest", Some(('f', 6))),
            ("&#X66;", Some(('f', 6))),
            ("&#65;é", Some(('A', 5))),
            // As browsers read them: no `;`, leading zeros.
            ("&#102uck", Some(('f', 5))),
            ("&#x75ck", Some(('\u{75c}', 6))),
            ("&#00000102;", Some(('f', 11))),
            ("&#x0000066;", Some(('f', 11))),
            ("&#65", Some(('A', 4))),
            // Named: any of the list, legacy ones bare.
            ("&amp;T", Some(('&', 5))),
            ("&uuml;ck", Some(('ü', 6))),
            ("&uumlck", Some(('ü', 5))),
            ("&shy;", Some(('\u{ad}', 5))),
            ("&ZeroWidthSpace;", Some(('\u{200b}', 16))),
            ("&nopf;", Some(('𝕟', 6))),
            ("&CounterClockwiseContourIntegral;", Some(('∳', 33))),
            ("&amp", Some(('&', 4))),
            // Not references.
            ("&#+65;", None),
            ("&#x+41;", None),
            ("&#;", None),
            ("&#x;", None),
            ("&#0;", None),
            ("&#xD800;", None),
            ("&#1114112;", None),
            ("&#99999999;", None),
            ("&bogus;", None),
            ("&zwnjx", None),
            ("&é;", None),
            ("&", None),
            ("AT&T", None),
        ] {
            let got = text.find('&').and_then(|i| html_entity(&text[i..]));
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn the_entity_table_is_sorted_for_lookups() {
        assert!(ENTITIES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(ENTITIES.len() > 2000, "{}", ENTITIES.len());
    }
}
