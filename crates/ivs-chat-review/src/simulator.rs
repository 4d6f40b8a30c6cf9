//! A local model of what IVS Chat does with a handler's outcome: delivered (with what
//! content), denied, or the room's fallback (and why).
//!
//! ```
//! use ivs_chat_review::simulator::{Delivery, HandlerOutcome, RoomConfig, simulate};
//! use ivs_chat_review::{ReviewRequest, ReviewResult};
//! use std::time::Duration;
//!
//! let room = RoomConfig::default(); // fallback ALLOW, 500 code points
//! let request = ReviewRequest::new("hello");
//! let late = HandlerOutcome::Response(serde_json::json!({
//!     "Content": "hello", "ReviewResult": "DENY", "Attributes": {}
//! }));
//! let d = simulate(&room, &request, &late, Duration::from_millis(250));
//! assert!(matches!(d, Delivery::Fallback { result: ReviewResult::Allow, .. }));
//! ```

use crate::contract::{
    MAX_ATTRIBUTES_BYTES, ReviewRequest, ReviewResponse, ReviewResult, json_kind,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// The review handler's time budget, fixed by IVS.
pub const HANDLER_TIMEOUT: Duration = Duration::from_millis(200);

/// The parts of a room's configuration that decide delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomConfig {
    /// `messageReviewHandler.fallbackResult` (default ALLOW).
    pub fallback_result: ReviewResult,
    /// `maximumMessageLength` in code points (1..=500, default 500).
    pub maximum_message_length: usize,
}

impl Default for RoomConfig {
    fn default() -> Self {
        Self {
            fallback_result: ReviewResult::Allow,
            maximum_message_length: 500,
        }
    }
}

/// What the handler did.
#[derive(Debug, Clone, PartialEq)]
pub enum HandlerOutcome {
    /// It returned this JSON.
    Response(serde_json::Value),
    /// The function failed (an error response, a crash, a timeout inside Lambda).
    Error(String),
}

/// Why a response breaks the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContractViolation {
    /// Not a JSON object.
    #[error("response is {0}, not an object")]
    NotAnObject(&'static str),
    /// `ReviewResult` missing or not ALLOW/DENY.
    #[error("ReviewResult is missing or not \"ALLOW\"/\"DENY\"")]
    BadResult,
    /// `Content` missing or not a string.
    #[error("Content is missing or not a string")]
    MissingContent,
    /// `Content` empty.
    #[error("Content is empty")]
    EmptyContent,
    /// `Content` longer than the room allows.
    #[error("Content has {len} code points; the room allows {max}")]
    ContentTooLong {
        /// Code points in the content.
        len: usize,
        /// The room's maximum.
        max: usize,
    },
    /// `Attributes` not a map of strings.
    #[error("Attributes is not a map of strings")]
    BadAttributes,
    /// `Attributes` larger than 1 KB.
    #[error("Attributes take {0} bytes; at most 1024 are allowed")]
    AttributesTooLarge(usize),
}

/// Checks a handler's JSON response against the contract, as IVS would.
pub fn validate_response(
    value: &serde_json::Value,
    room: &RoomConfig,
) -> Result<ReviewResponse, ContractViolation> {
    let obj = value
        .as_object()
        .ok_or(ContractViolation::NotAnObject(json_kind(value)))?;
    let result = match obj.get("ReviewResult").and_then(|v| v.as_str()) {
        Some("ALLOW") => ReviewResult::Allow,
        Some("DENY") => ReviewResult::Deny,
        _ => return Err(ContractViolation::BadResult),
    };
    let content = obj
        .get("Content")
        .and_then(|v| v.as_str())
        .ok_or(ContractViolation::MissingContent)?;
    if content.is_empty() {
        return Err(ContractViolation::EmptyContent);
    }
    let len = content.chars().count();
    if len > room.maximum_message_length {
        return Err(ContractViolation::ContentTooLong {
            len,
            max: room.maximum_message_length,
        });
    }
    let mut attributes = BTreeMap::new();
    match obj.get("Attributes") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(m)) => {
            for (k, v) in m {
                let v = v.as_str().ok_or(ContractViolation::BadAttributes)?;
                attributes.insert(k.clone(), v.to_string());
            }
        }
        Some(_) => return Err(ContractViolation::BadAttributes),
    }
    let size = crate::contract::attributes_json_len(&attributes);
    if size > MAX_ATTRIBUTES_BYTES {
        return Err(ContractViolation::AttributesTooLarge(size));
    }
    Ok(ReviewResponse {
        content: content.to_string(),
        review_result: result,
        attributes,
    })
}

/// Why the room's fallback decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FallbackCause {
    /// The handler took longer than 200 ms.
    Timeout(Duration),
    /// The function failed.
    FunctionError(String),
    /// The response broke the contract.
    InvalidResponse(ContractViolation),
}

/// What IVS does with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Delivered to the room with this content and these attributes.
    Delivered {
        /// What everyone sees.
        content: String,
        /// The message's attributes.
        attributes: BTreeMap<String, String>,
    },
    /// Rejected; the sender gets error 406.
    Denied {
        /// The `Reason` attribute, if any.
        reason: Option<String>,
    },
    /// The room's fallback decided.
    Fallback {
        /// The room's fallbackResult.
        result: ReviewResult,
        /// Why.
        cause: FallbackCause,
    },
}

impl Delivery {
    /// The content everyone sees, if the message is delivered (by the handler or by an
    /// ALLOW fallback, which delivers the original).
    pub fn delivered_content<'a>(&'a self, request: &'a ReviewRequest) -> Option<&'a str> {
        match self {
            Delivery::Delivered { content, .. } => Some(content),
            Delivery::Fallback {
                result: ReviewResult::Allow,
                ..
            } => Some(&request.content),
            _ => None,
        }
    }
}

/// Says what IVS would do with `request` in `room` when the handler produced `outcome`
/// after `latency`.
pub fn simulate(
    room: &RoomConfig,
    request: &ReviewRequest,
    outcome: &HandlerOutcome,
    latency: Duration,
) -> Delivery {
    let _ = request;
    let fallback = |cause| Delivery::Fallback {
        result: room.fallback_result,
        cause,
    };
    if latency > HANDLER_TIMEOUT {
        return fallback(FallbackCause::Timeout(latency));
    }
    match outcome {
        HandlerOutcome::Error(e) => fallback(FallbackCause::FunctionError(e.clone())),
        HandlerOutcome::Response(v) => match validate_response(v, room) {
            Err(violation) => fallback(FallbackCause::InvalidResponse(violation)),
            Ok(r) if r.review_result == ReviewResult::Deny => Delivery::Denied {
                reason: r.attributes.get(crate::REASON_ATTRIBUTE).cloned(),
            },
            Ok(r) => Delivery::Delivered {
                content: r.content,
                attributes: r.attributes,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Each row: room fallback and max length, handler outcome, latency, expected delivery kind.
    #[test]
    fn delivery_table() {
        let req = ReviewRequest::new("hello");
        let deny_room = RoomConfig {
            fallback_result: ReviewResult::Deny,
            maximum_message_length: 10,
        };
        let ok = json!({"Content": "hello", "ReviewResult": "ALLOW", "Attributes": {}});
        let rows: Vec<(RoomConfig, HandlerOutcome, u64, &str)> = vec![
            (
                RoomConfig::default(),
                HandlerOutcome::Response(ok.clone()),
                5,
                "delivered",
            ),
            (
                deny_room,
                HandlerOutcome::Response(ok.clone()),
                201,
                "fallback-deny",
            ),
            (
                RoomConfig::default(),
                HandlerOutcome::Error("boom".into()),
                5,
                "fallback-allow",
            ),
            (
                deny_room,
                HandlerOutcome::Response(
                    json!({"Content": "x".repeat(11), "ReviewResult": "ALLOW"}),
                ),
                5,
                "fallback-deny",
            ),
            (
                RoomConfig::default(),
                HandlerOutcome::Response(json!({"Content": "", "ReviewResult": "DENY"})),
                5,
                "fallback-allow",
            ),
            (
                RoomConfig::default(),
                HandlerOutcome::Response(
                    json!({"Content": "hello", "ReviewResult": "DENY", "Attributes": {"Reason": "r"}}),
                ),
                5,
                "denied",
            ),
            (
                RoomConfig::default(),
                HandlerOutcome::Response(json!({"Content": "hello", "ReviewResult": "MAYBE"})),
                5,
                "fallback-allow",
            ),
            (
                RoomConfig::default(),
                HandlerOutcome::Response(
                    json!({"Content": "hello", "ReviewResult": "ALLOW", "Attributes": {"k": 1}}),
                ),
                5,
                "fallback-allow",
            ),
        ];
        for (room, outcome, ms, want) in rows {
            let d = simulate(&room, &req, &outcome, Duration::from_millis(ms));
            let got = match d {
                Delivery::Delivered { .. } => "delivered",
                Delivery::Denied { .. } => "denied",
                Delivery::Fallback {
                    result: ReviewResult::Allow,
                    ..
                } => "fallback-allow",
                Delivery::Fallback { .. } => "fallback-deny",
            };
            assert_eq!(got, want, "{outcome:?} after {ms} ms");
        }
    }
}
