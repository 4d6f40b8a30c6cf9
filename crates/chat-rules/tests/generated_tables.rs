//! The Unicode fold table (`src/fold_table.rs`) is generated from the Unicode data in the
//! `unicode-normalization` (NFKD, combining marks), `unicode-security` (TR39
//! confusables), `unicode_names2` (character names) and `emojis` (RGI flags) crates and
//! the WHATWG entity list (`entities`), so the review path needs none of them at run time. This test
//! regenerates it and fails if the committed file differs; run it with
//! `UPDATE_GENERATED=1` to rewrite the file after upgrading those crates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Unicode's Default_Ignorable_Code_Point ranges that are not combining marks (format
/// characters: zero-width, bidi controls, soft hyphen, variation selectors, tags, fillers).
const DEFAULT_IGNORABLE: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
];

/// Look-alikes that chat users reach for but TR39 does not list as confusable with Latin
/// (small capitals and lower-case forms of Greek and Cyrillic letters).
const SUPPLEMENT: &[(char, &str)] = &[
    ('κ', "k"),
    ('к', "k"),
    ('К', "k"),
    ('ķ', "k"),
    ('т', "t"),
    ('Т', "t"),
    ('м', "m"),
    ('М', "m"),
    ('н', "h"),
    ('Н', "h"),
    ('в', "b"),
    ('В', "b"),
    ('ь', "b"),
    ('Ь', "b"),
    ('я', "r"),
    ('Я', "r"),
    ('г', "r"),
    ('Г', "r"),
    ('ш', "w"),
    ('Ш', "w"),
    ('ц', "u"),
    ('и', "u"),
    ('И', "u"),
    ('л', "n"),
    ('п', "n"),
    ('П', "n"),
    ('ч', "y"),
    ('Ч', "y"),
    ('д', "d"),
    ('Д', "d"),
    ('ф', "o"),
    ('Ф', "o"),
    ('з', "3"),
    ('З', "3"),
    ('τ', "t"),
    ('η', "n"),
    ('μ', "u"),
    ('ω', "w"),
    ('ρ', "p"),
    ('π', "n"),
    ('λ', "a"),
    ('Λ', "a"),
];

/// Words in a character's name that say it no longer looks like its letter (an upside-down
/// `ɐ` is a "TURNED A"), so it is not folded to it.
const UNLIKE: &[&str] = &[
    "TURNED", "REVERSED", "INVERTED", "SIDEWAYS", "ROTATED", "BROKEN", "OLD", "MIDDLE",
];

/// Words in a character's name for a shape that keeps the letter legible, read past.
const SHAPES: &[&str] = &[
    "OPEN", "INSULAR", "SCRIPT", "DOTLESS", "BAR", "BARRED", "CLOSED",
];

/// A letter-like character by its Unicode name: one whose name spells a Latin letter
/// (`LATIN LETTER SMALL CAPITAL F`, `MODIFIER LETTER CAPITAL K`, `NEGATIVE SQUARED LATIN
/// CAPITAL LETTER F`, `LATIN SMALL LETTER K WITH HOOK`) or is a regional indicator letter,
/// for the characters that neither NFKD nor TR39 fold. Variants (`WITH STROKE`) keep
/// their letter; turned, reversed and rotated forms do not.
fn name_fold(c: char) -> Option<String> {
    let name = unicode_names2::name(c)?.to_string();
    let base = name.split(" WITH ").next()?;
    let letter = |w: &str| {
        (w.len() == 1 && w.as_bytes()[0].is_ascii_uppercase()).then(|| w.to_ascii_lowercase())
    };
    if let Some(x) = base.strip_prefix("REGIONAL INDICATOR SYMBOL LETTER ") {
        return letter(x);
    }
    let words: Vec<&str> = base.split(' ').collect();
    let latin = words.contains(&"LATIN") || base.starts_with("MODIFIER LETTER ");
    if !latin || words.iter().any(|w| UNLIKE.contains(w)) {
        return None;
    }
    // A letter named with a shape that keeps it legible (`OPEN E`, `INSULAR F`, `U BAR`).
    let words: Vec<&str> = words.into_iter().filter(|w| !SHAPES.contains(w)).collect();
    match words.as_slice() {
        [.., "LETTER" | "CAPITAL" | "SMALL", x] => letter(x),
        _ => None,
    }
}

/// NFKD forms that enclose one letter or number in punctuation: parenthesized (`(a)`,
/// `(12)`) and with a full stop (`1.`).
fn enclosed_fold(nfkd: &str) -> Option<String> {
    let inner = nfkd
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .or_else(|| nfkd.strip_suffix('.'))?;
    ascii_fold(inner)
}

fn ascii_fold(s: &str) -> Option<String> {
    let t: String = s.chars().filter(|c| !is_combining_mark(*c)).collect();
    (!t.is_empty() && t.len() <= 3 && t.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| t.to_ascii_lowercase())
}

fn generate() -> String {
    let mut folds = String::new();
    let mut ignore: Vec<(u32, u32)> = Vec::new();
    let mut n = 0usize;
    for cp in 0x80u32..=0x10FFFF {
        let Some(c) = char::from_u32(cp) else {
            continue;
        };
        let ignorable = is_combining_mark(c)
            || DEFAULT_IGNORABLE
                .iter()
                .any(|&(lo, hi)| (lo..=hi).contains(&cp));
        if ignorable {
            match ignore.last_mut() {
                Some((_, hi)) if *hi + 1 == cp => *hi = cp,
                _ => ignore.push((cp, cp)),
            }
            continue;
        }
        let nfkd: String = c.nfkd().collect();
        let (folded, kind) = if let Some(f) = ascii_fold(&nfkd) {
            let kind = if nfkd.chars().any(is_combining_mark) {
                "Accent"
            } else {
                "Compat"
            };
            (f, kind)
        } else if let Some(f) = enclosed_fold(&nfkd) {
            (f, "Compat")
        } else {
            let skel: String = unicode_security::skeleton(&c.to_string()).collect();
            let supplement = SUPPLEMENT
                .iter()
                .find(|(s, _)| *s == c)
                .map(|(_, f)| f.to_string());
            match (ascii_fold(&skel).or(supplement), name_fold(c)) {
                (Some(f), _) => (f, "Confusable"),
                (None, Some(f)) => (f, "Letterlike"),
                (None, None) => continue,
            }
        };
        let mut bytes = [0u8; 3];
        bytes[..folded.len()].copy_from_slice(folded.as_bytes());
        writeln!(
            folds,
            "    (0x{cp:04X}, [{}, {}, {}], {}, {kind}),",
            bytes[0],
            bytes[1],
            bytes[2],
            folded.len()
        )
        .unwrap();
        n += 1;
    }
    let mut out = String::new();
    out.push_str(
        "// @generated by crates/chat-rules/tests/generated_tables.rs: do not edit by hand.\n\
         // Source: Unicode NFKD and combining marks (unicode-normalization), TR39\n\
         // confusables (unicode-security), character names (unicode_names2). Run\n\
         // `UPDATE_GENERATED=1 cargo test -p chat-rules --test generated_tables` to regenerate.\n\n\
         /// Which normalisation step a fold belongs to (each can be switched off).\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq)]\n\
         pub(crate) enum FoldKind {\n    /// NFKD without marks: fullwidth, mathematical, circled, ligatures.\n    Compat,\n    /// NFKD with marks stripped: accented letters.\n    Accent,\n    /// TR39 confusable skeleton: look-alikes from other scripts.\n    Confusable,\n    /// Named as a Latin letter: small capitals, modifier letters, regional indicators,\n    /// negative squared letters, letters with hooks and strokes.\n    Letterlike,\n}\n\n\
         use FoldKind::*;\n\n",
    );
    writeln!(
        out,
        "/// Non-ASCII code points that fold to 1..=3 lower-case ASCII alphanumerics ({n} entries),"
    )
    .unwrap();
    out.push_str("/// sorted by code point: (code point, bytes, length, kind).\n");
    out.push_str(
        "#[rustfmt::skip]\npub(crate) static FOLD: &[(u32, [u8; 3], u8, FoldKind)] = &[\n",
    );
    out.push_str(&folds);
    out.push_str("];\n\n");
    out.push_str("/// Code point ranges dropped before matching: combining marks and default-ignorable\n/// format characters, sorted.\n#[rustfmt::skip]\npub(crate) static IGNORE: &[(u32, u32)] = &[\n");
    for (lo, hi) in ignore {
        writeln!(out, "    (0x{lo:04X}, 0x{hi:04X}),").unwrap();
    }
    out.push_str("];\n");
    out.push_str(&flags_and_entities());
    out
}

/// The regional indicator pairs that are real flags (Unicode's RGI flag sequences, from
/// the `emojis` crate), and the HTML named character references that stand for one
/// character (the WHATWG list, from the `entities` crate).
fn flags_and_entities() -> String {
    let ri = |c: char| (0x1F1E6..=0x1F1FF).contains(&(c as u32));
    let mut flags: Vec<String> = emojis::iter()
        .map(|e| e.as_str())
        .filter(|s| s.chars().count() == 2 && s.chars().all(ri))
        .map(|s| {
            s.chars()
                .map(|c| char::from(b'a' + (c as u32 - 0x1F1E6) as u8))
                .collect()
        })
        .collect();
    flags.sort();
    flags.dedup();
    let mut out = String::new();
    writeln!(
        out,
        "\n/// Regional indicator pairs that are flags ({} of them), as lower-case letter pairs,\n/// sorted: a run made of these is flags, not letters.\n#[rustfmt::skip]\npub(crate) static FLAGS: &[[u8; 2]] = &[",
        flags.len()
    )
    .unwrap();
    for f in &flags {
        let b = f.as_bytes();
        writeln!(out, "    *b\"{}{}\",", b[0] as char, b[1] as char).unwrap();
    }
    out.push_str("];\n");
    // Names (without `&`, with `;` when the reference needs one) of single characters.
    let mut named: Vec<(String, char)> = entities::ENTITIES
        .iter()
        .filter_map(|e| {
            let mut chars = e.characters.chars();
            let c = chars.next()?;
            (chars.next().is_none() && !c.is_control())
                .then(|| (e.entity.trim_start_matches('&').to_string(), c))
        })
        .collect();
    named.sort();
    named.dedup();
    writeln!(
        out,
        "\n/// HTML named character references of one character ({} names; those without `;`\n/// are the legacy names browsers also read bare), sorted by name.\n#[rustfmt::skip]\npub(crate) static ENTITIES: &[(&str, char)] = &[",
        named.len()
    )
    .unwrap();
    for (name, c) in &named {
        writeln!(out, "    ({name:?}, {c:?}),").unwrap();
    }
    out.push_str("];\n");
    out
}

#[test]
fn fold_table_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/fold_table.rs");
    let want = generate();
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::write(path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(path).unwrap();
    assert!(
        have == want,
        "src/fold_table.rs is stale: run UPDATE_GENERATED=1 cargo test -p chat-rules --test generated_tables"
    );
}
