//! HTML character references, decoded before matching: chat text pasted from the web, or
//! typed to dodge a filter (`&#102;&#117;...`), means the characters it stands for.

/// The character an HTML character reference at the start of `s` stands for, and the
/// reference's length in bytes: `&#102;`, `&#x66;` (at most 7 digits, a valid scalar
/// value, not a control character) and the five named references of XML plus `&nbsp;`.
pub(crate) fn html_entity(s: &str) -> Option<(char, usize)> {
    let body = s.strip_prefix('&')?;
    // Everything before the `;` is ASCII, so the cut is on a character boundary.
    let semi = body.bytes().take(10).position(|b| b == b';')?;
    let name = body.get(..semi)?;
    let c = if let Some(num) = name.strip_prefix('#') {
        let cp = match num.strip_prefix(['x', 'X']) {
            Some(hex)
                if (1..=6).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                u32::from_str_radix(hex, 16).ok()?
            }
            None if (1..=7).contains(&num.len()) && num.bytes().all(|b| b.is_ascii_digit()) => {
                num.parse::<u32>().ok()?
            }
            _ => return None,
        };
        char::from_u32(cp).filter(|c| !c.is_control())?
    } else {
        match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => '\u{a0}',
            _ => return None,
        }
    };
    Some((c, semi + 2))
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
            ("&amp;T", Some(('&', 5))),
            ("&#65;é", Some(('A', 5))),
            ("&#65", None),
            ("&#+65;", None),
            ("&#x+41;", None),
            ("&#;", None),
            ("&#0;", None),
            ("&#xD800;", None),
            ("&#1114112;", None),
            ("&#00000000065;", None),
            ("&bogus;", None),
            ("&é;", None),
            ("&", None),
        ] {
            assert_eq!(html_entity(text), want, "{text}");
        }
    }
}
