//! The IVS Chat message review contract: request and response payloads, exactly as IVS
//! sends and expects them (PascalCase JSON).

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// The most code points a chat message may have (a room's `maximumMessageLength` is
/// 1..=500).
pub const MAX_CONTENT_CHARS: usize = 500;

/// The most bytes of response attributes this crate returns, measured as sent: the
/// `Attributes` object serialised as JSON, escapes, quotes, colons, commas and braces
/// included (see [`attributes_json_len`]). IVS documents "about 1 KB"; we keep strictly
/// within 1024 bytes of what actually crosses the wire, so a value of control characters
/// (six bytes each once escaped) cannot slip past a count of raw bytes.
pub const MAX_ATTRIBUTES_BYTES: usize = 1024;

/// The length of `s` serialised as a JSON string (quotes included), as `serde_json` writes
/// it: `"` and `\\` and the five short escapes take two bytes, other control characters
/// six (`\u001f`), everything else its UTF-8 length.
///
/// ```
/// use ivs_chat_review::json_string_len;
/// for s in ["plain", "quote\"", "tab\t", "\u{1}", "é"] {
///     assert_eq!(json_string_len(s), serde_json::to_string(s).unwrap().len());
/// }
/// ```
pub fn json_string_len(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// The size of one attribute in a serialised `Attributes` object: key, colon, value and
/// the comma that separates it from the next.
pub(crate) fn attribute_json_len(key: &str, value: &str) -> usize {
    json_string_len(key) + 1 + json_string_len(value) + 1
}

/// The length of `attributes` serialised as a JSON object, as it is sent to IVS.
///
/// ```
/// use ivs_chat_review::attributes_json_len;
/// use std::collections::BTreeMap;
/// let a = BTreeMap::from([("k".to_string(), "v\u{0}".to_string())]);
/// assert_eq!(attributes_json_len(&a), serde_json::to_string(&a).unwrap().len());
/// ```
pub fn attributes_json_len(attributes: &BTreeMap<String, String>) -> usize {
    // Braces, minus the comma the last attribute does not have.
    let entries: usize = attributes
        .iter()
        .map(|(k, v)| attribute_json_len(k, v))
        .sum();
    2 + entries.saturating_sub(1)
}

/// Whether IVS delivers the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReviewResult {
    /// Deliver the message (with the response's content and attributes).
    Allow,
    /// Deliver it to no one; the sender gets error 406.
    Deny,
}

impl ReviewResult {
    /// `ALLOW` or `DENY`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewResult::Allow => "ALLOW",
            ReviewResult::Deny => "DENY",
        }
    }
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The sender of a message under review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Sender {
    /// Attributes from the sender's chat token (at most 1 KB).
    #[serde(default, deserialize_with = "null_as_default")]
    pub attributes: BTreeMap<String, String>,
    /// The sender's user id (1..=128 characters).
    #[serde(default, deserialize_with = "null_as_default")]
    pub user_id: String,
    /// The sender's IP address. Never logged unless content logging is enabled.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ip: String,
}

/// A message that IVS Chat asks the handler to review.
///
/// Unknown fields are ignored and missing or `null` attribute maps are empty, so future
/// additions to the payload do not break a deployed handler. `Content` is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReviewRequest {
    /// The message text (1..=500 code points).
    pub content: String,
    /// The message id (12 alphanumeric characters).
    #[serde(default, deserialize_with = "null_as_default")]
    pub message_id: String,
    /// The room's ARN.
    #[serde(default, deserialize_with = "null_as_default")]
    pub room_arn: String,
    /// The message's attributes, set by the sending client.
    #[serde(default, deserialize_with = "null_as_default")]
    pub attributes: BTreeMap<String, String>,
    /// Who sent it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub sender: Sender,
}

/// Why an event is not a valid review request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidRequest {
    /// The payload is not JSON, has the wrong shape or field types.
    #[error("not a review request: {0}")]
    Malformed(String),
    /// `Content` is an empty string.
    #[error("Content is empty")]
    EmptyContent,
    /// `Content` is longer than IVS allows.
    #[error("Content has {0} code points; IVS allows at most 500")]
    ContentTooLong(usize),
    /// The payload is larger than any review request can be.
    #[error("payload of {0} bytes is larger than any review request")]
    TooLarge(usize),
}

impl InvalidRequest {
    /// The reason with quoted values removed, for logs: serde's messages quote the
    /// offending value, which may be message content or an IP address.
    pub fn redacted(&self) -> String {
        let text = self.to_string();
        let mut out = String::with_capacity(text.len());
        let mut quoted = false;
        for c in text.chars() {
            if c == '"' {
                if !quoted {
                    out.push_str("\"…\"");
                }
                quoted = !quoted;
            } else if !quoted {
                out.push(c);
            }
        }
        out
    }
}

/// Decodes a raw event body into JSON: the one parse every review event goes through,
/// on the Lambda path and off it. Whatever it rejects (too large, not UTF-8, not JSON, a
/// lone surrogate escape, a number out of range, nesting deeper than 128) is an invalid
/// request that gets the configured verdict; whatever it accepts reaches the reviewer.
///
/// ```
/// use ivs_chat_review::{decode, InvalidRequest};
/// assert!(decode(br#"{"Content":"hi"}"#).is_ok());
/// assert!(matches!(decode(br#"{"Content":"hi","X":1e400}"#), Err(InvalidRequest::Malformed(_))));
/// ```
pub fn decode(body: &[u8]) -> Result<serde_json::Value, InvalidRequest> {
    if body.len() > crate::MAX_PAYLOAD_BYTES {
        return Err(InvalidRequest::TooLarge(body.len()));
    }
    serde_json::from_slice(body)
        .map_err(|e| InvalidRequest::Malformed(format!("payload is not a JSON value: {e}")))
}

/// The `Content` of a body that [`decode`] rejected, when it can still be read (a body
/// whose only fault lies in another field), so an ALLOW verdict for invalid requests can
/// deliver it. Never parses a body larger than [`MAX_PAYLOAD_BYTES`](crate::MAX_PAYLOAD_BYTES).
pub(crate) fn salvage_content(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct ContentOnly {
        #[serde(rename = "Content")]
        content: Option<String>,
    }
    if body.len() > crate::MAX_PAYLOAD_BYTES {
        return None;
    }
    serde_json::from_slice::<ContentOnly>(body)
        .ok()
        .and_then(|c| c.content)
}

impl ReviewRequest {
    /// A request with the given content and empty ids, for tests and local runs.
    pub fn new(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            message_id: String::new(),
            room_arn: String::new(),
            attributes: BTreeMap::new(),
            sender: Sender::default(),
        }
    }

    /// Parses and validates a request from a JSON value.
    pub fn from_value(value: serde_json::Value) -> Result<Self, InvalidRequest> {
        if !value.is_object() {
            return Err(InvalidRequest::Malformed(format!(
                "expected a JSON object, got {}",
                json_kind(&value)
            )));
        }
        let req: ReviewRequest =
            serde_json::from_value(value).map_err(|e| InvalidRequest::Malformed(e.to_string()))?;
        req.validate()?;
        Ok(req)
    }

    /// Parses and validates a request from JSON bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, InvalidRequest> {
        Self::from_value(decode(bytes)?)
    }

    /// Checks the constraints IVS guarantees, so a reviewer can rely on them.
    pub fn validate(&self) -> Result<(), InvalidRequest> {
        if self.content.is_empty() {
            return Err(InvalidRequest::EmptyContent);
        }
        let n = self.content.chars().count();
        if n > MAX_CONTENT_CHARS {
            return Err(InvalidRequest::ContentTooLong(n));
        }
        Ok(())
    }

    /// The room id: the part of the ARN after `room/`.
    pub fn room_id(&self) -> &str {
        self.room_arn.rsplit('/').next().unwrap_or("")
    }
}

pub(crate) fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The handler's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReviewResponse {
    /// The content to deliver (ALLOW) or the original (DENY): 1..=500 code points.
    pub content: String,
    /// ALLOW or DENY.
    pub review_result: ReviewResult,
    /// Attributes delivered with the message (they replace the message's own).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// The prefix of the attributes a moderating handler sets (`mod.flagged`, ...): a
/// client's own attributes with it are removed, and enforcement keeps them (with
/// [`REASON_ATTRIBUTE`]) over the client's when attributes must be dropped.
pub const MODERATION_PREFIX: &str = "mod.";

/// The attribute that carries a user-safe reason on DENY.
pub const REASON_ATTRIBUTE: &str = "Reason";

impl ReviewResponse {
    /// Deliver the message unchanged, keeping its attributes.
    pub fn allow(request: &ReviewRequest) -> Self {
        Self {
            content: request.content.clone(),
            review_result: ReviewResult::Allow,
            attributes: request.attributes.clone(),
        }
    }

    /// Deliver the message with new content (for example with words masked), keeping its
    /// attributes.
    pub fn rewrite(request: &ReviewRequest, content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            review_result: ReviewResult::Allow,
            attributes: request.attributes.clone(),
        }
    }

    /// Reject the message, with a short reason that is safe to show the sender.
    pub fn deny(request: &ReviewRequest, reason: impl Into<String>) -> Self {
        let mut attributes = BTreeMap::new();
        attributes.insert(REASON_ATTRIBUTE.to_string(), reason.into());
        Self {
            content: request.content.clone(),
            review_result: ReviewResult::Deny,
            attributes,
        }
    }

    /// Adds an attribute.
    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_ivs_shape() {
        let r = ReviewRequest::from_value(json!({
            "Content": "hi", "MessageId": "ABCDEFGHIJKL",
            "RoomArn": "arn:aws:ivschat:us-west-2:123456789012:room/abcdEFGH1234",
            "Attributes": {"a": "b"},
            "Sender": {"Attributes": {"role": "viewer"}, "UserId": "u1", "Ip": "192.0.2.1"},
            "Future": 1
        }))
        .unwrap();
        assert_eq!(r.room_id(), "abcdEFGH1234");
        assert_eq!(r.sender.attributes["role"], "viewer");
    }

    /// Each row: payload, whether it is a valid request.
    #[test]
    fn validation_table() {
        let rows = [
            (json!({"Content": "x"}), true),
            (
                json!({"Content": "x", "Attributes": null, "Sender": null}),
                true,
            ),
            (json!({"Content": ""}), false),
            (json!({"Content": 5}), false),
            (json!({}), false),
            (json!([1]), false),
            (json!("text"), false),
            (json!({"Content": "x".repeat(501)}), false),
            (json!({"Content": "é".repeat(500)}), true),
            (json!({"Content": "x", "Sender": {"UserId": 7}}), false),
        ];
        for (v, ok) in rows {
            assert_eq!(ReviewRequest::from_value(v.clone()).is_ok(), ok, "{v}");
        }
    }

    #[test]
    fn redacted_reasons_hide_values() {
        let e = ReviewRequest::from_value(json!({"Content": "x", "Sender": "203.0.113.9"}))
            .unwrap_err();
        assert!(e.to_string().contains("203.0.113.9"));
        assert!(!e.redacted().contains("203.0.113.9"), "{}", e.redacted());
    }

    #[test]
    fn response_serialises_in_pascal_case() {
        let r = ReviewResponse::deny(&ReviewRequest::new("x"), "no");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            json!({"Content": "x", "ReviewResult": "DENY", "Attributes": {"Reason": "no"}})
        );
    }
}
