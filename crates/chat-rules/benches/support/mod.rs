//! Inputs shared by the benchmarks: the labelled chat corpus, the hostile inputs, and a
//! large generated policy.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// (label, message) from `benches/corpus.tsv`.
pub fn corpus() -> Vec<(String, String)> {
    include_str!("../corpus.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once('\t'))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// (name, text) from `tests/data/hostile.json`.
pub fn hostile() -> Vec<(String, String)> {
    let list: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../../tests/data/hostile.json")).unwrap();
    list.iter()
        .map(|h| {
            let unit = h["unit"].as_str().unwrap();
            let n = h["count"].as_u64().unwrap() as usize;
            (h["name"].as_str().unwrap().to_string(), unit.repeat(n))
        })
        .collect()
}

/// A large policy: the default policy's terms plus generated words up to 10,000 terms,
/// 100 regexes, and every heuristic on. The regexes use ASCII word boundaries
/// (`(?-u:\b)`, as the policy lint advises) or, with `unicode_boundaries`, plain `\b`.
pub fn large_policy_toml(unicode_boundaries: bool) -> String {
    let b = if unicode_boundaries {
        "\\b"
    } else {
        "(?-u:\\b)"
    };
    let default = chat_rules::DEFAULT_POLICY_TOML;
    let mut terms: Vec<String> = Vec::new();
    // The default policy's terms (every quoted string inside a `terms = [...]` array).
    let mut in_terms = false;
    for line in default.lines() {
        if line.starts_with("terms = [") {
            in_terms = true;
            continue;
        }
        if in_terms && line.starts_with(']') {
            in_terms = false;
        }
        if in_terms {
            for part in line.split('"').skip(1).step_by(2) {
                terms.push(part.to_string());
            }
        }
    }
    // Generated pronounceable words, deterministic.
    let syll = [
        "ka", "zo", "ri", "mu", "te", "bla", "gor", "vex", "nup", "dri", "sko", "tha", "quo",
        "wim", "fen", "jar", "lux", "pry", "sna", "ulk",
    ];
    let mut i = 0usize;
    while terms.len() < 10_000 {
        let w = format!(
            "{}{}{}",
            syll[i % 20],
            syll[(i / 20) % 20],
            syll[(i / 400) % 20]
        );
        terms.push(if i.is_multiple_of(17) {
            format!("{w}*")
        } else {
            w
        });
        i += 1;
    }
    let mut out = String::from(
        "version = 1\nname = \"large\"\n[allow]\nterms = [\"scunthorpe\", \"cocktail*\"]\n",
    );
    out.push_str("[[rules]]\nid = \"terms\"\ntype = \"terms\"\naction = \"mask\"\nterms = [\n");
    for t in &terms {
        writeln!(
            out,
            "  \"{}\",",
            t.replace('\\', "\\\\").replace('"', "\\\"")
        )
        .unwrap();
    }
    out.push_str("]\n");
    for r in 0..100 {
        writeln!(
            out,
            "[[rules]]\nid = \"re{r}\"\ntype = \"regex\"\naction = \"deny\"\npattern = '{b}code{r}[a-z]?[0-9]{{2,6}}{b}'"
        )
        .unwrap();
    }
    for (id, kind, extra) in [
        ("caps", "caps", ""),
        ("symbols", "symbols", ""),
        ("emoji", "emoji", ""),
        ("zalgo", "zalgo", ""),
        ("runs", "repeated_chars", ""),
        ("words", "repeated_words", ""),
        ("links", "links", "allow_domains = [\"twitch.tv\"]\n"),
        ("mentions", "mentions", ""),
        ("length", "length", "max_length = 400\n"),
    ] {
        write!(
            out,
            "[[rules]]\nid = \"{id}\"\ntype = \"{kind}\"\naction = \"flag\"\n{extra}"
        )
        .unwrap();
    }
    out
}

/// Median time of `iters` runs of `f`.
pub fn median_of(iters: u32, mut f: impl FnMut()) -> Duration {
    let mut v: Vec<Duration> = (0..iters)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    v[v.len() / 2]
}

/// Keeps a value alive for the optimiser.
pub fn keep<T>(v: T) -> T {
    black_box(v)
}
