//! Spam heuristics: one linear pass over the message gathers the counts every check needs;
//! links and mentions are found with a bounded scanner.

use regex::Regex;
use std::sync::LazyLock;

/// Counts gathered in one pass over a message.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Stats {
    /// Code points.
    pub chars: u32,
    /// Alphabetic characters.
    pub letters: u32,
    /// Upper-case letters.
    pub upper: u32,
    /// Characters that are neither alphanumeric, whitespace, emoji nor combining marks.
    pub symbols: u32,
    /// Pictographic emoji.
    pub emoji: u32,
    /// Combining marks in total.
    pub marks: u32,
    /// The most combining marks stacked on one base character.
    pub max_stack: u32,
    /// The longest run of one repeated character (whitespace excluded).
    pub max_run: u32,
    /// Words (whitespace separated).
    pub words: u32,
    /// Occurrences of the most repeated word (case-insensitive, 2+ characters).
    pub max_word_repeats: u32,
}

fn is_emoji(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x2190..=0x21FF
        | 0x2300..=0x23FF | 0x25A0..=0x25FF | 0x3030 | 0x303D | 0x3297 | 0x3299)
}

fn is_mark(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05BD | 0x0610..=0x061A | 0x064B..=0x065F
        | 0x0E31 | 0x0E34..=0x0E3A | 0x0E47..=0x0E4E | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF
        | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

impl Stats {
    pub(crate) fn of(text: &str) -> Self {
        let mut s = Stats::default();
        let mut prev: Option<char> = None;
        let mut run = 0u32;
        let mut stack = 0u32;
        for c in text.chars() {
            s.chars += 1;
            if is_mark(c) {
                s.marks += 1;
                stack += 1;
                s.max_stack = s.max_stack.max(stack);
                continue;
            }
            stack = 0;
            if prev == Some(c) && !c.is_whitespace() {
                run += 1;
            } else {
                run = 1;
            }
            s.max_run = s.max_run.max(run);
            prev = Some(c);
            if c.is_alphabetic() {
                s.letters += 1;
                if c.is_uppercase() {
                    s.upper += 1;
                }
            } else if is_emoji(c) {
                s.emoji += 1;
            } else if !c.is_alphanumeric() && !c.is_whitespace() && !is_invisible(c) {
                s.symbols += 1;
            }
        }
        let (words, repeats) = word_repeats(text);
        s.words = words;
        s.max_word_repeats = repeats;
        s
    }
}

fn is_invisible(c: char) -> bool {
    matches!(c as u32, 0x200B..=0x200F | 0x2060..=0x2064 | 0xFEFF | 0xFE00..=0xFE0F | 0x00AD)
}

/// Word count and the occurrences of the most frequent word of two or more characters,
/// by hashing words into a fixed number of slots (no allocation per word).
fn word_repeats(text: &str) -> (u32, u32) {
    let mut hashes: Vec<u64> = Vec::with_capacity(64);
    let mut words = 0u32;
    for w in text.split_whitespace() {
        words += 1;
        if w.chars().nth(1).is_none() {
            continue;
        }
        // FNV-1a over lower-cased characters.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for c in w.chars().flat_map(char::to_lowercase) {
            h ^= u64::from(c as u32);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        hashes.push(h);
    }
    hashes.sort_unstable();
    let mut best = 0u32;
    let mut i = 0;
    while i < hashes.len() {
        let mut j = i;
        while j < hashes.len() && hashes[j] == hashes[i] {
            j += 1;
        }
        best = best.max((j - i) as u32);
        i = j;
    }
    (words, best)
}

/// A link found in a message: its byte span and its host (lower case, no port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub start: usize,
    pub end: usize,
    pub host: String,
}

/// Top-level domains counted as links when written without a scheme. Two-letter country
/// codes that are common English words (`in`, `is`, `it`, `me`, `no`, `so`, `to`, `us`,
/// `am`, `at`, `be`, `by`, `do`, `go`, `he`, `hi`, `my`, `of`, `on`, `or`, `we`) are left
/// out so that a missing space after a full stop is not a link; with a scheme or `www.`
/// any top-level domain counts.
const TLDS: &[&str] = &[
    "ai", "app", "art", "biz", "blog", "ca", "cc", "cf", "ch", "click", "club", "cn", "co", "com",
    "de", "dev", "es", "eu", "fm", "fr", "ga", "gg", "gq", "gl", "info", "io", "jp", "kr", "ly",
    "ml", "mobi", "net", "nl", "nu", "online", "org", "pl", "pro", "pw", "ru", "sh", "shop",
    "site", "space", "store", "stream", "su", "tk", "tv", "uk", "ws", "xyz", "zip", "vip", "icu",
    "cam", "xxx", "sex", "porn", "bet", "casino", "tech",
];

/// Top-level domains accepted in spelled-out links (`example dot com`).
const SPELLED_TLDS: &[&str] = &[
    "com", "net", "org", "io", "gg", "tv", "xyz", "ru", "info", "biz", "co", "ly", "app",
];

static URL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        \b(?:https?://|www\.)[^\s/?\#<>]+[^\s<>]*              # scheme or www.
        | \b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,12}\b(?:/[^\s<>]*)?   # bare domain
        | \b[a-z0-9][a-z0-9-]{0,62}\s*(?:[\(\[\{]\s*(?:dot|\.)\s*[\)\]\}]|\s+dot\s+|\s+\.\s+)\s*[a-z]{2,6}\b  # spelled
        | \b(?:\d{1,3}\.){3}\d{1,3}\b                          # IPv4
        ",
    )
    .ok()
});

/// Compiles the link scanner now rather than on the first message (called when a policy
/// with a links rule is built, so the first review after a cold start is not slower).
pub(crate) fn warm_up() {
    let _ = URL.as_ref();
}

/// Finds links: URLs with a scheme or `www.`, bare domains with a known top-level domain,
/// spelled-out domains (`site dot com`, `site[.]com`, `site (dot) com`) and IPv4 addresses.
pub(crate) fn find_links(text: &str, out: &mut Vec<Link>) {
    // Fast exit: every form needs a dot or the word "dot".
    if !text.contains('.') && !contains_dot_word(text) {
        return;
    }
    let Some(re) = URL.as_ref() else { return };
    for m in re.find_iter(text) {
        let s = m.as_str();
        let lower = s.to_ascii_lowercase();
        let explicit = lower.starts_with("http://")
            || lower.starts_with("https://")
            || lower.starts_with("www.");
        let host = if explicit {
            let rest = lower
                .trim_start_matches("https://")
                .trim_start_matches("http://");
            // The authority ends at `/`, `?`, `#` or `\` (browsers read `\` as `/`); user
            // info before the last `@` is not the host; a port is not either.
            let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
            let authority = &rest[..end];
            let host = authority.rsplit('@').next().unwrap_or(authority);
            let host = host.split(':').next().unwrap_or(host);
            host.trim_end_matches('.').to_string()
        } else if lower.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            if !lower
                .split('.')
                .all(|o| o.parse::<u16>().is_ok_and(|v| v <= 255))
            {
                continue;
            }
            lower
        } else if let Some(host) = spelled_host(&lower) {
            host
        } else {
            let end = lower.find('/').unwrap_or(lower.len());
            let host = &lower[..end];
            let tld = host.rsplit('.').next().unwrap_or("");
            if !TLDS.contains(&tld) {
                continue;
            }
            host.to_string()
        };
        if host.is_empty() {
            continue;
        }
        // A host with characters no host name has is suspicious: it matches no allow list.
        let host = if host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            host
        } else {
            format!("invalid:{host}")
        };
        out.push(Link {
            start: m.start(),
            end: m.end(),
            host,
        });
    }
}

fn contains_dot_word(text: &str) -> bool {
    text.as_bytes()
        .windows(3)
        .any(|w| w.eq_ignore_ascii_case(b"dot"))
}

/// `site dot com`, `site[.]com`, `site (dot) com` to `site.com` (when the TLD is one
/// people spell out).
fn spelled_host(lower: &str) -> Option<String> {
    if lower.contains('.') && !lower.contains(['[', '(', '{']) && !lower.contains(" . ") {
        return None;
    }
    let name: String = lower
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let tld: String = lower
        .chars()
        .rev()
        .take_while(char::is_ascii_alphabetic)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if name.is_empty() || !SPELLED_TLDS.contains(&tld.as_str()) {
        return None;
    }
    Some(format!("{name}.{tld}"))
}

/// True when `host` is `domain` or a subdomain of it.
pub(crate) fn host_matches(host: &str, domain: &str) -> bool {
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

/// Byte spans of `@mentions`: an `@` at the start of a word followed by a name character.
pub(crate) fn find_mentions(text: &str, out: &mut Vec<(usize, usize)>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(off) = bytes
        .get(i..)
        .and_then(|b| b.iter().position(|&c| c == b'@'))
    {
        let at = i + off;
        let starts_word = at == 0 || bytes.get(at - 1).is_some_and(u8::is_ascii_whitespace);
        let mut end = at + 1;
        while bytes
            .get(end)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            end += 1;
        }
        if starts_word && end > at + 1 {
            out.push((at, end));
        }
        i = end.max(at + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(text: &str) -> Vec<String> {
        let mut v = Vec::new();
        find_links(text, &mut v);
        v.into_iter().map(|l| l.host).collect()
    }

    /// Each row: message, hosts found.
    const LINKS: &[(&str, &[&str])] = &[
        ("see https://Example.com/path?q=1 now", &["example.com"]),
        ("www.spam.ru", &["www.spam.ru"]),
        ("free skins at skins.gg", &["skins.gg"]),
        ("go to freestuff dot com", &["freestuff.com"]),
        ("freestuff(dot)com", &["freestuff.com"]),
        ("freestuff [.] net", &["freestuff.net"]),
        ("ping 192.168.0.1", &["192.168.0.1"]),
        ("version 1.2.3.999 is out", &[]),
        ("ok.so what", &[]),
        ("i.e. e.g. etc.", &[]),
        ("that was fun.lol", &[]),
        ("https://fun.lol", &["fun.lol"]),
        ("no links here", &[]),
        ("a dot on the map", &[]),
        ("https://evil.com\\.twitch.tv/x", &["evil.com"]),
        ("https://x@evil.com/", &["evil.com"]),
        ("https://twitch.tv@evil.com/", &["evil.com"]),
        ("http://evil.com:8080/x", &["evil.com"]),
    ];

    #[test]
    fn link_table() {
        for (text, want) in LINKS {
            assert_eq!(hosts(text), *want, "{text:?}");
        }
    }

    #[test]
    fn subdomains_match() {
        assert!(host_matches("clips.twitch.tv", "twitch.tv"));
        assert!(host_matches("twitch.tv", "twitch.tv"));
        assert!(!host_matches("nottwitch.tv", "twitch.tv"));
    }

    #[test]
    fn stats_table() {
        let s = Stats::of("HELLO THERE friend");
        assert_eq!((s.letters, s.upper), (16, 10));
        let s = Stats::of("z\u{0301}\u{0302}\u{0303}a");
        assert_eq!((s.marks, s.max_stack), (3, 3));
        let s = Stats::of("spam spam SPAM eggs");
        assert_eq!((s.words, s.max_word_repeats), (4, 3));
        let s = Stats::of("nooooooo");
        assert_eq!(s.max_run, 7);
        let s = Stats::of("🔥🔥🔥 lit");
        assert_eq!(s.emoji, 3);
    }

    #[test]
    fn mentions() {
        let mut v = Vec::new();
        find_mentions("@a @bob hi@there @ @_x", &mut v);
        assert_eq!(v, vec![(0, 2), (3, 7), (19, 22)]);
    }
}
