//! Evasion classes as data: every term of the default policy that is caught written plainly
//! must be caught written in each class's alphabet, and innocent text written the same way
//! must stay innocent. The alphabets come from Unicode character names (the same data the
//! fold table is generated from), not from a list of disguised words.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chat_rules::normalize::NormalizeOptions;
use chat_rules::{Policy, RuleType, Sender};

/// A letter in a class's alphabet, by its Unicode name (`None` when the class lacks it).
fn named(template: &str, letter: char) -> Option<String> {
    let name = template.replace('X', &letter.to_ascii_uppercase().to_string());
    unicode_names2::character(&name).map(String::from)
}

/// Writes `word` in one class's alphabet: each letter the class has is replaced, the
/// rest are kept (as trolls mix them); `None` if the class has fewer than half the letters.
type Render = fn(&str) -> Option<String>;

fn by_name(word: &str, templates: &[&str]) -> Option<String> {
    let mut out = String::new();
    let mut replaced = 0;
    for c in word.chars() {
        match templates.iter().find_map(|t| named(t, c)) {
            Some(s) => {
                replaced += 1;
                out.push_str(&s);
            }
            None => out.push(c),
        }
    }
    (replaced * 2 >= word.chars().count()).then_some(out)
}

const CLASSES: &[(&str, Render)] = &[
    ("small capitals", |w| {
        by_name(w, &["LATIN LETTER SMALL CAPITAL X"])
    }),
    ("modifier letters", |w| {
        by_name(w, &["MODIFIER LETTER SMALL X", "MODIFIER LETTER CAPITAL X"])
    }),
    // A word whose letter pairs are all real flags shows as flags (`🇦🇷🇸🇪` is Argentina and
    // Sweden) and is not read: only the others are expected to be caught.
    ("regional indicators", |w| {
        let letters: Vec<char> = w.chars().collect();
        let all_flags =
            letters.len().is_multiple_of(2) && letters.chunks(2).all(|p| is_flag(p[0], p[1]));
        if all_flags {
            return None;
        }
        by_name(w, &["REGIONAL INDICATOR SYMBOL LETTER X"])
    }),
    ("negative squared", |w| {
        by_name(w, &["NEGATIVE SQUARED LATIN CAPITAL LETTER X"])
    }),
    ("negative circled", |w| {
        by_name(w, &["NEGATIVE CIRCLED LATIN CAPITAL LETTER X"])
    }),
    ("parenthesized", |w| {
        by_name(w, &["PARENTHESIZED LATIN SMALL LETTER X"])
    }),
    ("squared", |w| {
        by_name(w, &["SQUARED LATIN CAPITAL LETTER X"])
    }),
    ("decimal entities", |w| {
        Some(w.chars().map(|c| format!("&#{};", c as u32)).collect())
    }),
    ("hex entities", |w| {
        Some(w.chars().map(|c| format!("&#x{:X};", c as u32)).collect())
    }),
];

/// The regional indicator for a letter.
fn indicator(c: char) -> String {
    named("REGIONAL INDICATOR SYMBOL LETTER X", c).unwrap()
}

/// Whether two letters are a real flag (Unicode's RGI flags, from the `emojis` crate).
fn is_flag(a: char, b: char) -> bool {
    emojis::get(&format!("{}{}", indicator(a), indicator(b))).is_some()
}

/// The whole-word terms (letters only, four or more) of the default policy's term rules.
fn default_terms() -> Vec<String> {
    let doc: toml::Value = toml::from_str(chat_rules::DEFAULT_POLICY_TOML).unwrap();
    let mut out = Vec::new();
    for rule in doc["rules"].as_array().unwrap() {
        if rule["type"].as_str() != Some("terms") {
            continue;
        }
        for t in rule["terms"].as_array().into_iter().flatten() {
            let t = t.as_str().unwrap().trim_matches('*');
            if t.len() >= 4 && t.bytes().all(|b| b.is_ascii_lowercase()) {
                out.push(t.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether a term rule fires (the spam heuristics judge a message's form, not its words:
/// a sentence of regional indicators is an emoji flood whatever it says).
fn caught(policy: &Policy, text: &str) -> bool {
    policy
        .review(text, Sender::anonymous())
        .fired()
        .iter()
        .any(|f| !f.shadow && f.kind == RuleType::Terms)
}

#[test]
fn every_class_catches_what_plain_text_catches() {
    let policy = Policy::default_policy();
    let terms = default_terms();
    assert!(terms.len() > 100, "{}", terms.len());
    let plain: Vec<&String> = terms.iter().filter(|t| caught(&policy, t)).collect();
    let mut report = Vec::new();
    for (class, render) in CLASSES {
        let mut tried = 0;
        let mut missed = Vec::new();
        for term in &plain {
            let Some(text) = render(term) else { continue };
            tried += 1;
            for message in [text.clone(), format!("you {text} lol")] {
                if !caught(&policy, &message) {
                    missed.push(message);
                }
            }
        }
        assert!(
            tried * 2 >= plain.len(),
            "{class}: only {tried} terms rendered"
        );
        if !missed.is_empty() {
            report.push(format!(
                "{class}: {} missed, e.g. {:?}",
                missed.len(),
                &missed[..missed.len().min(5)]
            ));
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}

/// Innocent messages written in the same alphabets stay innocent: every clean line of
/// the benchmark corpus, and every pair of regional indicators (country flags).
#[test]
fn innocent_text_in_every_class_stays_innocent() {
    let policy = Policy::default_policy();
    let corpus = include_str!("../benches/corpus.tsv");
    let clean: Vec<&str> = corpus
        .lines()
        .filter_map(|l| l.strip_prefix("clean\t"))
        .collect();
    assert!(clean.len() >= 50);
    let mut flagged = Vec::new();
    // Innocent sentences spelled in regional indicators are not a thing: flags are.
    for (class, render) in CLASSES.iter().filter(|(c, _)| *c != "regional indicators") {
        for line in &clean {
            let words: Vec<String> = line
                .split(' ')
                .map(|w| render(&w.to_ascii_lowercase()).unwrap_or_else(|| w.to_string()))
                .collect();
            let text = words.join(" ");
            if caught(&policy, &text) {
                flagged.push(format!("{class}: {line:?} as {text:?}"));
            }
        }
    }
    // Every pair of indicators alone, and every two real flags side by side.
    let pairs: Vec<(char, char)> = ('a'..='z')
        .flat_map(|a| ('a'..='z').map(move |b| (a, b)))
        .collect();
    for &(a, b) in &pairs {
        if caught(&policy, &format!("go {}{} go", indicator(a), indicator(b))) {
            flagged.push(format!("pair {a}{b}"));
        }
    }
    let flags: Vec<String> = pairs
        .iter()
        .filter(|&&(a, b)| is_flag(a, b))
        .map(|&(a, b)| format!("{}{}", indicator(a), indicator(b)))
        .collect();
    assert!(flags.len() > 250, "{}", flags.len());
    for f in &flags {
        for g in &flags {
            if caught(&policy, &format!("{f}{g} game")) {
                flagged.push(format!("flags {f}{g}"));
            }
        }
    }
    assert!(flagged.is_empty(), "{flagged:#?}");
}

/// Each class is switchable: with its step off, the alphabet is not read as letters.
#[test]
fn the_new_steps_can_be_switched_off() {
    let fuck = |template: &str| by_name("fuck", &[template]).unwrap();
    let off = |set: fn(&mut NormalizeOptions)| {
        let mut text = String::from(chat_rules::DEFAULT_POLICY_TOML);
        let mut o = NormalizeOptions::default();
        set(&mut o);
        text = text.replace(
            "letterlike = true\nentities = true",
            &format!("letterlike = {}\nentities = {}", o.letterlike, o.entities),
        );
        Policy::from_toml(&text).unwrap()
    };
    let no_letterlike = off(|o| o.letterlike = false);
    let no_entities = off(|o| o.entities = false);
    let squared = fuck("NEGATIVE SQUARED LATIN CAPITAL LETTER X");
    let entities: String = "fuck".chars().map(|c| format!("&#{};", c as u32)).collect();
    assert!(caught(&Policy::default_policy(), &squared));
    assert!(!caught(&no_letterlike, &squared));
    assert!(caught(&no_letterlike, &entities));
    assert!(!caught(&no_entities, &entities));
}

/// A masked entity-encoded word is masked over the whole of its references, and masked
/// text is never longer than the message.
#[test]
fn masks_cover_whole_references() {
    let policy = Policy::default_policy();
    let text = "ok &#x66;&#x75;&#x63;&#x6B; ok &amp; ok";
    let v = policy.review(text, Sender::anonymous());
    let out = v.content(text);
    assert_eq!(out, format!("ok {} ok &amp; ok", "*".repeat(24)));
    assert!(out.chars().count() <= text.chars().count());
}
