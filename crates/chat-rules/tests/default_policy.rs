//! The term lists of the default policy are generated from `data/profanity_en.csv`. This
//! test regenerates them and fails if `policies/default.toml` is stale; run it with
//! `UPDATE_GENERATED=1` to rewrite the generated section after editing the CSV or the
//! wildcard list below.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

const MARKER: &str = "# ---- GENERATED: everything below is rewritten by the generator ----\n";

/// Roots that are profane inside any word (`*x*`) or at the start of one (`x*`). Words
/// that merely contain them (Scunthorpe, cocktail, shiitake) are on the allow list.
const WILDCARDS: &[(&str, &str)] = &[
    ("fuck", "*fuck*"),
    ("cunt", "*cunt*"),
    ("nigger", "*nigger*"),
    ("nigga", "*nigga*"),
    ("faggot", "*faggot*"),
    ("shit", "shit*"),
    ("bitch", "bitch*"),
    ("cock", "cock*"),
    ("whore", "whore*"),
    ("slut", "slut*"),
    ("retard", "retard*"),
];

/// Canonical forms of the data set that are not rows of their own, added at the tier
/// given. Chosen by hand: the data's other canonical forms include identity terms and
/// everyday words (`gay`, `jew`, `monkey`, `meat`, `trash`), which must never be
/// blocked on their own.
const SUPPLEMENT: &[(&str, &str)] = &[
    ("piss", "Mild"),
    ("dick", "Mild"),
    ("cum", "Mild"),
    ("dildo", "Mild"),
    ("clit", "Mild"),
    ("ballsack", "Mild"),
    ("turd", "Strong"),
    ("choad", "Strong"),
    ("blumpkin", "Strong"),
    ("retarded", "Severe"),
];

struct Tier {
    id: &'static str,
    action: &'static str,
    severity: &'static str,
    reason: Option<&'static str>,
    comment: &'static str,
}

const TIERS: &[(&str, Tier)] = &[
    (
        "Mild",
        Tier {
            id: "profanity-mild",
            action: "mask",
            severity: "low",
            reason: None,
            comment: "Mild: masked.",
        },
    ),
    (
        "Strong",
        Tier {
            id: "profanity-strong",
            action: "mask",
            severity: "medium",
            reason: None,
            comment: "Strong: masked.",
        },
    ),
    (
        "Severe",
        Tier {
            id: "profanity-severe",
            action: "deny",
            severity: "high",
            reason: Some("This message contains hateful or severe language and was not sent."),
            comment: "Severe (slurs, the most explicit terms): the message is denied.",
        },
    ),
];

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn generate() -> String {
    let csv = include_str!("../data/profanity_en.csv");
    let mut tiers: BTreeMap<&str, std::collections::BTreeSet<String>> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let (Some(text), Some(desc)) = (cols.first(), cols.get(8)) else {
            continue;
        };
        let term = text.trim().to_lowercase();
        let desc = desc.trim();
        // Inner `*` spellings are matched automatically; numbers alone are too ambiguous.
        if term.is_empty()
            || term.trim_matches('*').contains('*')
            || term.chars().all(|c| c.is_ascii_digit())
        {
            continue;
        }
        let term = WILDCARDS
            .iter()
            .find(|(root, _)| *root == term)
            .map_or(term.clone(), |(_, w)| (*w).to_string());
        tiers.entry(desc).or_default().insert(term);
    }
    for (term, desc) in SUPPLEMENT {
        tiers.entry(desc).or_default().insert((*term).to_string());
    }
    let mut out = String::from(MARKER);
    for (desc, tier) in TIERS {
        let terms = tiers.get(desc).cloned().unwrap_or_default();
        writeln!(out, "\n# {} {} terms.", tier.comment, terms.len()).unwrap();
        writeln!(out, "[[rules]]\nid = \"{}\"\ntype = \"terms\"", tier.id).unwrap();
        writeln!(
            out,
            "action = \"{}\"\nseverity = \"{}\"",
            tier.action, tier.severity
        )
        .unwrap();
        if let Some(r) = tier.reason {
            writeln!(out, "reason = {}", quote(r)).unwrap();
        }
        out.push_str("terms = [\n");
        let mut line = String::from(" ");
        for t in terms {
            let q = quote(&t);
            if line.len() + q.len() + 2 > 92 {
                out.push_str(line.trim_end());
                out.push('\n');
                line = String::from(" ");
            }
            line.push(' ');
            line.push_str(&q);
            line.push(',');
        }
        if !line.trim().is_empty() {
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push_str("]\n");
    }
    out
}

#[test]
fn default_policy_terms_are_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/default.toml");
    let have = std::fs::read_to_string(path).unwrap();
    let head = &have[..have.find(MARKER).expect("the GENERATED marker is missing")];
    let want = format!("{head}{}", generate());
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::write(path, &want).unwrap();
        return;
    }
    assert!(
        have == want,
        "policies/default.toml is stale: run UPDATE_GENERATED=1 cargo test -p chat-rules --test default_policy"
    );
}
