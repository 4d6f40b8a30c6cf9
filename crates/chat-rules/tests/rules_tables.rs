//! Rule behaviour as data: each table row is a message and the outcome the default policy
//! (or a small policy) must give it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_rules::{Outcome, Policy, Sender};

fn outcome(policy: &Policy, text: &str) -> Outcome {
    policy.review(text, Sender::anonymous()).outcome()
}

#[test]
fn allow_list_words_pass_and_their_substrings_stay_blocked() {
    let p = Policy::default_policy();
    let pass = [
        "Scunthorpe",
        "assassin",
        "classic",
        "Cockburn",
        "Penistone",
        "Sussex",
        "therapist",
        "grapes",
        "the pen is mightier",
        "shiitake",
        "cocktail",
    ];
    for w in pass {
        assert_eq!(outcome(&p, w), Outcome::Allow, "{w}");
        assert_eq!(p.censor(w), w);
    }
    let blocked = [
        ("cunt", Outcome::Deny),
        ("ass", Outcome::Mask),
        ("cock", Outcome::Mask),
        ("shit", Outcome::Mask),
        ("you ass", Outcome::Mask),
        ("scunt", Outcome::Deny),
    ];
    for (w, want) in blocked {
        assert_eq!(outcome(&p, w), want, "{w}");
    }
}

/// Evasions of one term: each row must be caught (masked) by a policy that lists `shit`.
#[test]
fn evasion_table() {
    let p = Policy::from_toml(
        "version = 1\n[[rules]]\nid = \"t\"\ntype = \"terms\"\naction = \"mask\"\nterms = [\"shit\", \"fuck*\"]\n",
    )
    .unwrap();
    let rows = [
        ("shit", "****"),
        ("SHIT", "****"),
        ("sh1t", "****"),
        ("5h!t", "****"),
        ("$hit", "****"),
        ("s.h.i.t", "*******"),
        ("s h i t", "*******"),
        ("s_h_i_t", "*******"),
        ("shiiiiit", "********"),
        ("sh*t", "****"),
        ("sh#t", "****"),
        ("ｓｈｉｔ", "****"),
        ("𝐬𝐡𝐢𝐭", "****"),
        ("ѕһіт", "****"),
        ("shít", "****"),
        ("s\u{200B}hit", "*****"),
        ("s\u{00AD}hit", "*****"),
        ("fucking", "*******"),
        ("f**king", "*******"),
        ("f***k you", "***** you"),
        ("fu*k", "****"),
        ("f*cker", "******"),
        ("s**t", "****"),
        ("sh**", "****"),
        ("oh shit!", "oh ****!"),
    ];
    for (input, want) in rows {
        assert_eq!(p.censor(input), want, "{input:?}");
    }
    // Word boundaries: not inside other words.
    // Censor symbols that hide too much, or are arithmetic, are left alone.
    for clean in ["s***", "2*3=6", "a*b", "*shrug*", "f*", "sh*tty*"] {
        assert_eq!(p.censor(clean), clean, "{clean:?}");
    }
    // `shit` is whole-word here (no wildcard), so words containing it pass.
    for clean in ["shitake", "pushit", "mishits", "as", "hi shi"] {
        assert_eq!(p.censor(clean), clean, "{clean:?}");
    }
}

#[test]
fn wildcards_table() {
    let p = Policy::from_toml(
        "version = 1\n[[rules]]\nid = \"t\"\ntype = \"terms\"\naction = \"deny\"\nterms = [\"pre*\", \"*suf\", \"*mid*\", \"two words\"]\n",
    )
    .unwrap();
    let rows = [
        ("prefix", true),
        ("apre", false),
        ("nosuf", true),
        ("sufno", false),
        ("amidst", true),
        ("two words here", true),
        ("two  words", true),
        ("two", false),
    ];
    for (text, denied) in rows {
        assert_eq!(outcome(&p, text) == Outcome::Deny, denied, "{text}");
    }
}

#[test]
fn heuristics_table() {
    let p = Policy::default_policy();
    let rows = [
        ("HELLO EVERYONE WELCOME TO THE STREAM", Outcome::Flag),
        ("Hello everyone, welcome to the stream", Outcome::Allow),
        (
            "spam spam spam spam spam spam spam spam spam",
            Outcome::Deny,
        ),
        ("🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥", Outcome::Deny),
        ("z\u{0301}\u{0302}\u{0303}\u{0304}algo", Outcome::Deny),
        ("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", Outcome::Deny),
        ("@a @b @c @d @e @f", Outcome::Deny),
        ("go to www.example.org now", Outcome::Deny),
        ("watch at twitch.tv/streamer", Outcome::Allow),
        ("ip 10.0.0.1 is mine", Outcome::Deny),
    ];
    for (text, want) in rows {
        assert_eq!(outcome(&p, text), want, "{text}");
    }
}

#[test]
fn exemptions_and_shadow() {
    let p = Policy::default_policy();
    let moderator = [("role", "moderator")];
    let v = p.review("see example.com", Sender::new("m", &moderator));
    assert_eq!(v.outcome(), Outcome::Allow);
    let long = "word ".repeat(90);
    let v = p.review(&long, Sender::anonymous());
    assert!(
        v.fired()
            .iter()
            .any(|f| f.rule == "long-message" && f.shadow)
    );
}

#[test]
fn policy_errors_name_rule_line_and_fix() {
    let cases = [
        (
            "version = 1\n\n[[rules]]\nid = \"re\"\ntype = \"regex\"\naction = \"deny\"\npattern = \"(a\"\n",
            &["line 4", "rule `re`", "regex"][..],
        ),
        (
            "version = 1\n[[rules]]\nid = \"c\"\ntype = \"caps\"\naction = \"mask\"\n",
            &["rule `c`", "mask", "deny"][..],
        ),
        (
            "version = 1\n[[rules]]\nid = \"t\"\ntype = \"terms\"\naction = \"deny\"\nterms = [\"ok\", \"f*ck\"]\n",
            &["line 6", "f*ck", "wildcard"][..],
        ),
        ("version = 2\n", &["version", "1"][..]),
        (
            "# version 1 of our policy\nversion = 2\n",
            &["line 2", "version"][..],
        ),
        (
            "version = 1\nname = \"spam\"\n[[rules]]\nid = \"spam\"\ntype = \"caps\"\naction = \"mask\"\n",
            &["line 4", "rule `spam`"][..],
        ),
        (
            "version = 1\n[[rules]]\nid = \"x\"\ntype = \"caps\"\naction = \"deny\"\nmax_ration = 0.5\n",
            &["line 6", "max_ration"][..],
        ),
        (
            "version = 1\n[[rules]]\nid = \"x\"\ntype = \"caps\"\naction = \"deny\"\n[[rules]]\nid = \"x\"\ntype = \"caps\"\naction = \"deny\"\n",
            &["duplicate", "rule `x`", "line 7"][..],
        ),
        (
            "version = 1\n[[rules]]\nid = \"big\"\ntype = \"regex\"\naction = \"deny\"\npattern = \"\\\\w{1000}\\\\w{1000}\"\n[limits]\nregex_size_limit = 10000\n",
            &["rule `big`", "size limit"][..],
        ),
        (
            "{\"version\": 1, \"rules\": [{\"id\": \"j\", \"type\": \"terms\", \"action\": \"deny\"}]}",
            &["rule `j`", "terms"][..],
        ),
    ];
    for (text, needles) in cases {
        let err = Policy::parse(text).unwrap_err().to_string();
        for n in needles {
            assert!(err.contains(n), "{err:?} should mention {n:?}");
        }
    }
}

#[test]
fn lints_find_unreachable_and_shadowed_rules() {
    let p = Policy::from_toml(
        r#"
version = 1
[allow]
terms = ["heck"]
[[rules]]
id = "strong"
type = "terms"
action = "deny"
terms = ["darn", "frick"]
[[rules]]
id = "weak"
type = "terms"
action = "mask"
terms = ["darn"]
[[rules]]
id = "dead"
type = "terms"
action = "mask"
terms = ["heck"]
[[rules]]
id = "wider"
type = "terms"
action = "flag"
terms = ["frick*"]
[[rules]]
id = "wider-heck"
type = "terms"
action = "flag"
terms = ["heck*"]
"#,
    )
    .unwrap();
    let lints = p.lint();
    let has = |rule: &str, word: &str| {
        lints
            .iter()
            .any(|l| l.rule == rule && l.message.contains(word))
    };
    assert!(has("weak", "shadowed"), "{lints:?}");
    assert!(has("dead", "unreachable"), "{lints:?}");
    assert!(!lints.iter().any(|l| l.rule == "strong"), "{lints:?}");
    // `frick*` also matches `fricking`: not covered by the whole-word `frick`, nor by the
    // whole-word allow entry `heck`.
    assert!(
        !lints.iter().any(|l| l.rule.starts_with("wider")),
        "{lints:?}"
    );
}

#[test]
fn per_room_policies_from_a_directory() {
    let dir = std::env::temp_dir().join(format!("chat-rules-rooms-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("kids.toml"),
        "version = 1\nname = \"kids\"\nrooms = [\"KidsRoom0001\"]\n[[rules]]\nid = \"t\"\ntype = \"terms\"\naction = \"deny\"\nterms = [\"darn\"]\n",
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
    let set = chat_rules::PolicySet::from_dir(&dir, Policy::default_policy()).unwrap();
    let kids = set.for_room("arn:aws:ivschat:us-west-2:123456789012:room/KidsRoom0001");
    assert_eq!(kids.name(), "kids");
    assert_eq!(
        kids.review("darn it", Sender::anonymous()).outcome(),
        Outcome::Deny
    );
    let other = set.for_room("arn:aws:ivschat:us-west-2:123456789012:room/Other0000001");
    assert_eq!(other.name(), "default");
    assert_eq!(
        other.review("darn it", Sender::anonymous()).outcome(),
        Outcome::Allow
    );
    // A second policy claiming the same room is an error naming both.
    std::fs::write(
        dir.join("kids2.toml"),
        "version = 1\nname = \"kids2\"\nrooms = [\"KidsRoom0001\"]\n",
    )
    .unwrap();
    let err = chat_rules::PolicySet::from_dir(&dir, Policy::default_policy())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("kids") && err.contains("KidsRoom0001"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unicode_word_boundaries_in_regexes_are_linted() {
    let p = Policy::from_toml(
        r#"
version = 1
[[rules]]
id = "slow"
type = "regex"
action = "deny"
pattern = '\bcode\d+\b'
[[rules]]
id = "fast"
type = "regex"
action = "deny"
pattern = '(?-u:\b)promo[0-9]+(?-u:\b)'
"#,
    )
    .unwrap();
    let lints = p.lint();
    assert!(
        lints
            .iter()
            .any(|l| l.rule == "slow" && l.message.contains("Unicode word boundary")),
        "{lints:?}"
    );
    assert!(!lints.iter().any(|l| l.rule == "fast"), "{lints:?}");
}

#[test]
fn filler_cannot_push_a_slur_past_the_work_bounds() {
    let p = Policy::default_policy();
    for text in [
        format!("{} cunt", "fuckas".repeat(80)),
        format!("{}c*nt", "a*a ".repeat(70)),
        format!("{} cunt", "ass ".repeat(120)),
    ] {
        let text: String = text.chars().take(500).collect();
        let v = p.review(&text, Sender::anonymous());
        assert_eq!(v.outcome(), Outcome::Deny, "{text:?}: {:?}", v.fired());
    }
    // Ordinary messages never reach the bounds.
    let v = p.review("fuck fuck fuck what a game", Sender::anonymous());
    assert!(!v.fired().iter().any(|f| f.rule == chat_rules::LIMIT_RULE));
}
