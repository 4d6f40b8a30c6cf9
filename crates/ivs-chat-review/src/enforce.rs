//! Contract enforcement on the way out: every response sent to IVS is valid.

use crate::contract::{
    MAX_ATTRIBUTES_BYTES, MAX_CONTENT_CHARS, MODERATION_PREFIX, REASON_ATTRIBUTE, ReviewRequest,
    ReviewResponse, ReviewResult, attribute_json_len, attributes_json_len,
};
use std::collections::BTreeMap;

/// How the review framework behaves where the reviewer cannot decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewConfig {
    /// The verdict for an event that is not a valid review request. Default DENY: a
    /// runtime error would hand the decision to the room's fallback (ALLOW by default).
    pub on_invalid_request: ReviewResult,
    /// The verdict when the reviewer fails or returns a response that cannot be corrected.
    pub on_failure: ReviewResult,
    /// The room's `maximumMessageLength`, when it allows rewritten content longer than the
    /// original. `None` (the default): rewritten content is never longer than the request's.
    pub room_max_length: Option<usize>,
    /// Log message content and sender IP (off by default: logs are not a message archive).
    pub log_content: bool,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        Self {
            on_invalid_request: ReviewResult::Deny,
            on_failure: ReviewResult::Deny,
            room_max_length: None,
            log_content: false,
        }
    }
}

/// What enforcement changed in a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Correction {
    /// Content was longer than allowed and was cut at a character boundary.
    ContentTruncated,
    /// Content was empty on DENY and the original (or a placeholder) was put back.
    ContentRestored,
    /// ALLOW with empty content cannot be delivered: replaced by the failure verdict.
    EmptyAllowReplaced,
    /// Attributes exceeded 1 KB as serialised: the largest were dropped until they fit.
    AttributesDropped,
}

impl Correction {
    /// A short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Correction::ContentTruncated => "content_truncated",
            Correction::ContentRestored => "content_restored",
            Correction::EmptyAllowReplaced => "empty_allow_replaced",
            Correction::AttributesDropped => "attributes_dropped",
        }
    }
}

/// Placeholder content for a DENY that has no original content to return.
pub const PLACEHOLDER_CONTENT: &str = "-";

fn truncate_chars(s: &mut String, max: usize) -> bool {
    match s.char_indices().nth(max) {
        Some((i, _)) => {
            s.truncate(i);
            true
        }
        None => false,
    }
}

/// Drops attributes until the serialised object fits in [`MAX_ATTRIBUTES_BYTES`]: the
/// client's before the handler's own (`Reason`, `mod.*`), the largest first within each
/// group. One pass over the sizes (n log n for the order), whatever the number of keys.
fn trim_attributes(attributes: &mut BTreeMap<String, String>) {
    let mut size = attributes_json_len(attributes);
    if size <= MAX_ATTRIBUTES_BYTES {
        return;
    }
    let entries: Vec<(String, String)> = std::mem::take(attributes).into_iter().collect();
    let mut order: Vec<(bool, usize, usize)> = entries
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            let own = k == REASON_ATTRIBUTE || k.starts_with(MODERATION_PREFIX);
            (own, attribute_json_len(k, v), i)
        })
        .collect();
    // Entries are in key order, so the index breaks ties by key.
    order.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    let mut keep = vec![true; entries.len()];
    for (_, cost, i) in order {
        if size <= MAX_ATTRIBUTES_BYTES {
            break;
        }
        size -= cost;
        keep[i] = false;
    }
    // Still in key order: the map is rebuilt in one pass.
    *attributes = entries
        .into_iter()
        .zip(keep)
        .filter_map(|(entry, keep)| keep.then_some(entry))
        .collect();
}

impl ReviewConfig {
    /// The longest content (in code points) an ALLOW response may carry for `request`.
    pub fn content_limit(&self, request: Option<&ReviewRequest>) -> usize {
        let original = request.map_or(MAX_CONTENT_CHARS, |r| r.content.chars().count());
        let room = self.room_max_length.unwrap_or(0);
        original.max(room).clamp(1, MAX_CONTENT_CHARS)
    }

    /// Makes `response` valid for IVS, and says what was changed.
    ///
    /// - `Content` is 1..=limit code points ([`content_limit`](Self::content_limit));
    ///   DENY always carries content (the original).
    /// - ALLOW with empty content is replaced by the failure verdict.
    /// - Attributes are kept within 1 KB (the client's dropped before `Reason` and
    ///   `mod.*`, largest first).
    pub fn enforce(
        &self,
        request: Option<&ReviewRequest>,
        mut response: ReviewResponse,
    ) -> (ReviewResponse, Vec<Correction>) {
        let mut fixes = Vec::new();
        let limit = self.content_limit(request);
        if response.review_result == ReviewResult::Allow && response.content.is_empty() {
            fixes.push(Correction::EmptyAllowReplaced);
            response = self.failure(request, "the reviewer allowed a message with empty content");
        }
        if response.review_result == ReviewResult::Deny && response.content.is_empty() {
            response.content = request
                .map(|r| r.content.clone())
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| PLACEHOLDER_CONTENT.to_string());
            fixes.push(Correction::ContentRestored);
        }
        if truncate_chars(&mut response.content, limit) {
            fixes.push(Correction::ContentTruncated);
        }
        if attributes_json_len(&response.attributes) > MAX_ATTRIBUTES_BYTES {
            fixes.push(Correction::AttributesDropped);
            trim_attributes(&mut response.attributes);
        }
        (response, fixes)
    }

    /// The configured failure verdict for `request`.
    pub fn failure(&self, request: Option<&ReviewRequest>, _why: &str) -> ReviewResponse {
        self.verdict(self.on_failure, request, "Message could not be reviewed.")
    }

    /// The configured verdict for an invalid request (whose content, if any, is given).
    pub fn invalid(&self, content: Option<&str>) -> ReviewResponse {
        let request = content
            .filter(|c| !c.is_empty())
            .map(|c| ReviewRequest::new(c.chars().take(MAX_CONTENT_CHARS).collect::<String>()));
        // A message without content cannot be delivered, whatever the setting.
        let result = if request.is_some() {
            self.on_invalid_request
        } else {
            ReviewResult::Deny
        };
        self.verdict(result, request.as_ref(), "Message could not be reviewed.")
    }

    fn verdict(
        &self,
        result: ReviewResult,
        request: Option<&ReviewRequest>,
        reason: &str,
    ) -> ReviewResponse {
        match (result, request) {
            (ReviewResult::Allow, Some(r)) if !r.content.is_empty() => ReviewResponse::allow(r),
            (_, Some(r)) => ReviewResponse::deny(r, reason),
            (_, None) => ReviewResponse::deny(&ReviewRequest::new(PLACEHOLDER_CONTENT), reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &str) -> ReviewRequest {
        ReviewRequest::new(s)
    }

    #[test]
    fn rewritten_content_never_grows_past_the_original() {
        let cfg = ReviewConfig::default();
        let r = req("short");
        let (out, fixes) = cfg.enforce(Some(&r), ReviewResponse::rewrite(&r, "much longer text"));
        assert_eq!(out.content, "much ");
        assert_eq!(fixes, vec![Correction::ContentTruncated]);
    }

    #[test]
    fn room_limit_allows_longer_rewrites() {
        let cfg = ReviewConfig {
            room_max_length: Some(20),
            ..ReviewConfig::default()
        };
        let r = req("short");
        let (out, _) = cfg.enforce(Some(&r), ReviewResponse::rewrite(&r, "x".repeat(30)));
        assert_eq!(out.content.len(), 20);
    }

    #[test]
    fn empty_allow_becomes_failure_verdict() {
        let cfg = ReviewConfig::default();
        let r = req("hello");
        let (out, fixes) = cfg.enforce(Some(&r), ReviewResponse::rewrite(&r, ""));
        assert_eq!(out.review_result, ReviewResult::Deny);
        assert_eq!(out.content, "hello");
        assert!(fixes.contains(&Correction::EmptyAllowReplaced));
    }

    #[test]
    fn deny_keeps_content() {
        let cfg = ReviewConfig::default();
        let r = req("hello");
        let mut resp = ReviewResponse::deny(&r, "no");
        resp.content.clear();
        let (out, _) = cfg.enforce(Some(&r), resp);
        assert_eq!(out.content, "hello");
    }

    #[test]
    fn attributes_fit_in_1kb_and_reason_survives() {
        let cfg = ReviewConfig::default();
        let r = req("x");
        let resp = ReviewResponse::deny(&r, "no")
            .with_attribute("big", "y".repeat(900))
            .with_attribute("bigger", "z".repeat(950));
        let (out, fixes) = cfg.enforce(Some(&r), resp);
        assert!(out.attributes.contains_key("Reason"));
        let resp = ReviewResponse::allow(&r)
            .with_attribute("client", "c".repeat(600))
            .with_attribute("mod.rules", "r".repeat(500));
        let (out, _) = cfg.enforce(Some(&r), resp);
        assert!(out.attributes.contains_key("mod.rules") && !out.attributes.contains_key("client"));
        assert!(attributes_json_len(&out.attributes) <= MAX_ATTRIBUTES_BYTES);
        assert_eq!(fixes, vec![Correction::AttributesDropped]);
    }

    /// The bound holds for what is sent: escapes count, so 1,000 control characters (6 KB
    /// once serialised) do not pass as 1,000 bytes.
    #[test]
    fn attribute_bound_counts_the_serialised_form() {
        let cfg = ReviewConfig::default();
        let r = req("x");
        for value in ["\u{1}".repeat(1000), "\"".repeat(600), "\\".repeat(600)] {
            let resp = ReviewResponse::allow(&r)
                .with_attribute("client", value)
                .with_attribute("mod.flagged", "true");
            let (out, fixes) = cfg.enforce(Some(&r), resp);
            assert_eq!(fixes, vec![Correction::AttributesDropped]);
            let sent = serde_json::to_string(&out.attributes).unwrap();
            assert!(sent.len() <= MAX_ATTRIBUTES_BYTES, "{}", sent.len());
            assert!(out.attributes.contains_key("mod.flagged"));
        }
        // Exactly at the bound is kept; one byte more is not.
        let fill = |n: usize| {
            let mut a = BTreeMap::new();
            a.insert("k".to_string(), "v".repeat(n));
            a
        };
        let at = MAX_ATTRIBUTES_BYTES - serde_json::to_string(&fill(0)).unwrap().len();
        for (n, kept) in [(at, true), (at + 1, false)] {
            let mut resp = ReviewResponse::allow(&r);
            resp.attributes = fill(n);
            let (out, _) = cfg.enforce(Some(&r), resp);
            assert_eq!(out.attributes.contains_key("k"), kept, "{n}");
        }
    }

    /// Thousands of keys are trimmed to the bound keeping the handler's own, and the size
    /// function agrees with serde_json on every kind of character.
    #[test]
    fn many_attributes_trim_to_the_bound() {
        let cfg = ReviewConfig::default();
        let r = req("x");
        let mut resp = ReviewResponse::deny(&r, "no");
        for i in 0..3_000 {
            resp.attributes.insert(format!("k{i}"), format!("\n{i}é"));
        }
        let (out, _) = cfg.enforce(Some(&r), resp);
        let sent = serde_json::to_string(&out.attributes).unwrap().len();
        assert!(
            sent <= MAX_ATTRIBUTES_BYTES && sent > MAX_ATTRIBUTES_BYTES - 20,
            "{sent}"
        );
        assert!(out.attributes.contains_key(REASON_ATTRIBUTE));
        let all: String = (0u32..0x800).filter_map(char::from_u32).collect();
        let mut a = BTreeMap::new();
        for (i, c) in all.chars().enumerate() {
            a.insert(format!("{c}{i}"), c.to_string());
        }
        assert_eq!(
            attributes_json_len(&a),
            serde_json::to_string(&a).unwrap().len()
        );
        assert_eq!(attributes_json_len(&BTreeMap::new()), 2);
    }

    #[test]
    fn invalid_without_content_is_always_deny() {
        let cfg = ReviewConfig {
            on_invalid_request: ReviewResult::Allow,
            ..ReviewConfig::default()
        };
        assert_eq!(cfg.invalid(None).review_result, ReviewResult::Deny);
        assert_eq!(cfg.invalid(Some("hi")).review_result, ReviewResult::Allow);
    }
}
