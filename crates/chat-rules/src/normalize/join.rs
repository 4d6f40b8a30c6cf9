//! Joining letters split by separators (`f.u.c.k`, `f u c k`) back into words.

use super::{SEP, Unit};

/// Joins runs of three or more single-character tokens separated only by the same
/// separator (`f.u.c.k`, `f u c k`, `f - u - c - k`): the separators between them are
/// removed, and their spans are absorbed by the letters so masks cover the dots too.
/// With spaces, a leading `a` or `I` stays a word of its own when the rest is long
/// enough (`a f u c k` is `a fuck`, while `a s s` and `a.s.s.h.o.l.e` are one word).
pub(super) fn join_separated_letters(text: &str, units: &mut Vec<(u8, Unit)>) {
    // Tokens: (first index, last index) of each maximal run of word bytes.
    let mut tokens: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < units.len() {
        if units[i].0 == SEP {
            i += 1;
            continue;
        }
        let s = i;
        while i < units.len() && units[i].0 != SEP {
            i += 1;
        }
        tokens.push((s, i - 1));
    }
    let single = |&(s, e): &(usize, usize)| units[s].1.start == units[e].1.start;
    let sep_text = |idx: usize| -> &str {
        units
            .get(idx)
            .and_then(|(_, u)| text.get(u.start as usize..u.end as usize))
            .unwrap_or("")
    };
    let word_a_or_i = |&(s, _): &(usize, usize)| {
        let u = units[s].1;
        matches!(
            text.get(u.start as usize..u.end as usize),
            Some("a" | "A" | "i" | "I")
        )
    };
    let mut drop = vec![false; units.len()];
    let mut any = false;
    let mut t = 0;
    while t < tokens.len() {
        if !single(&tokens[t]) {
            t += 1;
            continue;
        }
        let mut u = t;
        let first_sep = sep_text(tokens[t].1 + 1);
        while u + 1 < tokens.len()
            && single(&tokens[u + 1])
            && tokens[u + 1].0 == tokens[u].1 + 2
            && sep_text(tokens[u].1 + 1) == first_sep
        {
            u += 1;
        }
        let mut start = t;
        let spaced = first_sep.chars().all(char::is_whitespace);
        if spaced && u - t + 1 >= 4 && word_a_or_i(&tokens[t]) {
            start += 1;
        }
        if u - start + 1 >= 3 {
            for tok in &tokens[start..u] {
                drop[tok.1 + 1] = true;
                any = true;
            }
            t = u + 1;
        } else {
            // The run ended at a different separator: its last letter may start the next.
            t = if u > t { u } else { t + 1 };
        }
    }
    if !any {
        return;
    }
    let mut out: Vec<(u8, Unit)> = Vec::with_capacity(units.len());
    for (idx, item) in units.drain(..).enumerate() {
        if drop[idx] {
            if let Some((_, prev)) = out.last_mut() {
                prev.end = item.1.end;
            }
            continue;
        }
        out.push(item);
    }
    *units = out;
}
