//! The operations the endpoint serves, on the state, in the restJson1 shapes of
//! aws-sdk-ivschat, and its error answers.

use crate::seed::{Room, logging_arn, rfc3339};
use crate::{ACCOUNT, REGION, State, percent_decode};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use serde_json::{Map, Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) fn error(status: StatusCode, kind: &str, message: &str) -> Response<Full<Bytes>> {
    let body = json!({"__type": kind, "message": message}).to_string();
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(v) = kind.parse() {
        h.insert("x-amzn-errortype", v);
    }
    if let Ok(v) = "application/json".parse() {
        h.insert("content-type", v);
    }
    r
}

pub(crate) fn ok(body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    if let Ok(v) = "application/json".parse() {
        r.headers_mut().insert("content-type", v);
    }
    r
}

pub(crate) fn validation(message: &str) -> Response<Full<Bytes>> {
    error(StatusCode::BAD_REQUEST, "ValidationException", message)
}

pub(crate) fn not_found(what: &str) -> Response<Full<Bytes>> {
    error(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        &format!("{what} not found"),
    )
}

pub(crate) fn find_room<'a>(s: &'a State, input: &Map<String, Value>) -> Option<&'a Room> {
    let ident = input.get("identifier")?.as_str()?;
    let id = ident.rsplit('/').next().unwrap_or(ident);
    s.rooms.get(id)
}

/// `maxResults` (default 50), or `None` when it is out of 1..=50.
pub(crate) fn page_size(input: &Map<String, Value>) -> Option<usize> {
    match input.get("maxResults") {
        None => Some(50),
        Some(v) => match v.as_u64() {
            Some(n @ 1..=50) => Some(n as usize),
            _ => None,
        },
    }
}

pub(crate) fn list_rooms(s: &State, input: &Map<String, Value>) -> Response<Full<Bytes>> {
    let Some(size) = page_size(input) else {
        return validation("maxResults must be between 1 and 50");
    };
    let name = input.get("name").and_then(Value::as_str);
    let uri = input.get("messageReviewHandlerUri").and_then(Value::as_str);
    let logging = input
        .get("loggingConfigurationIdentifier")
        .and_then(Value::as_str);
    let mut rooms: Vec<&Room> = s
        .rooms
        .values()
        .filter(|r| name.is_none_or(|n| r.seed.name == n))
        .filter(|r| uri.is_none_or(|u| r.seed.handler.as_ref().is_some_and(|h| h.0 == u)))
        .filter(|r| logging.is_none_or(|l| r.seed.logging.iter().any(|x| x == l)))
        .collect();
    // Newest update first; the token is the position key of the last room returned, so a
    // room deleted mid-sweep does not shift the pages after it.
    if let Some(t) = input.get("nextToken").and_then(Value::as_str) {
        match parse_token(t) {
            Some((_, epoch)) if epoch != s.token_epoch => {
                return validation("nextToken has expired");
            }
            Some((key, _)) => rooms.retain(|r| r.updated_nanos < key),
            None => return validation("nextToken is not valid"),
        }
    }
    // The page is the `size` newest of what is left: selected, then sorted (a fleet of
    // 50,000 rooms is not sorted for every page).
    let newest_first = |a: &&Room, b: &&Room| b.updated_nanos.cmp(&a.updated_nanos);
    let more = rooms.len() > size;
    if more {
        rooms.select_nth_unstable_by(size, newest_first);
        rooms.truncate(size);
    }
    rooms.sort_unstable_by(newest_first);
    let page = rooms;
    let summaries = page
        .iter()
        .map(|r| {
            let mut v = r.summary();
            if s.no_summary_tags
                && let Some(obj) = v.as_object_mut()
            {
                obj.remove("tags");
            }
            v
        })
        .collect::<Vec<_>>();
    let mut out = json!({ "rooms": summaries });
    let next = if more {
        page.last().map(|last| last.updated_nanos)
    } else if s.endless {
        // Back to the first page: after a key newer than any room.
        Some(u128::MAX)
    } else {
        None
    };
    if let (Some(key), Some(obj)) = (next, out.as_object_mut()) {
        obj.insert(
            "nextToken".into(),
            json!(format!("after-{key}-e{}", s.token_epoch)),
        );
    }
    ok(out)
}

/// A ListRooms token's position key and epoch (`after-<key>-e<epoch>`).
pub(crate) fn parse_token(t: &str) -> Option<(u128, u64)> {
    let (key, epoch) = t.strip_prefix("after-")?.split_once("-e")?;
    Some((key.parse().ok()?, epoch.parse().ok()?))
}

pub(crate) fn update_room(s: &mut State, input: &Map<String, Value>) -> Response<Full<Bytes>> {
    let Some(id) = find_room(s, input).map(|r| r.seed.id.clone()) else {
        return not_found("room");
    };
    s.clock += 1;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let clock = s.clock;
    let Some(room) = s.rooms.get_mut(&id) else {
        return not_found("room");
    };
    if let Some(h) = input.get("messageReviewHandler") {
        let uri = h.get("uri").and_then(Value::as_str).unwrap_or("");
        let fb = h
            .get("fallbackResult")
            .and_then(Value::as_str)
            .unwrap_or("ALLOW");
        if !matches!(fb, "ALLOW" | "DENY") {
            return validation("fallbackResult must be ALLOW or DENY");
        }
        room.seed.handler = (!uri.is_empty()).then(|| (uri.to_string(), fb.to_string()));
    }
    if let Some(n) = input.get("maximumMessageLength") {
        match n.as_u64() {
            Some(v @ 1..=500) => room.seed.max_length = v as u32,
            _ => return validation("maximumMessageLength must be between 1 and 500"),
        }
    }
    if let Some(n) = input.get("maximumMessageRatePerSecond") {
        match n.as_u64() {
            Some(v @ 1..=100) => room.seed.max_rate = v as u32,
            _ => return validation("maximumMessageRatePerSecond must be between 1 and 100"),
        }
    }
    if let Some(n) = input.get("name").and_then(Value::as_str) {
        room.seed.name = n.to_string();
    }
    if let Some(ids) = input
        .get("loggingConfigurationIdentifiers")
        .and_then(Value::as_array)
    {
        if ids.len() > 3 {
            return validation("at most 3 logging configurations");
        }
        room.seed.logging = ids
            .iter()
            .filter_map(Value::as_str)
            .map(|x| x.rsplit('/').next().unwrap_or(x).to_string())
            .collect();
    }
    room.seed.updated = now;
    room.updated_nanos = u128::from(now) * 1_000_000_000 + clock;
    ok(room.full())
}

pub(crate) fn logging_json(id: &str, name: &str, state: &str) -> Value {
    json!({
        "arn": logging_arn(id),
        "id": id,
        "name": name,
        "state": state,
        "createTime": rfc3339(1_767_225_600),
        "updateTime": rfc3339(1_767_225_600),
        "destinationConfiguration": {"cloudWatchLogs": {"logGroupName": format!("/ivschat/{name}")}},
        "tags": {},
    })
}

pub(crate) fn list_logging(s: &State, input: &Map<String, Value>) -> Response<Full<Bytes>> {
    let Some(size) = page_size(input) else {
        return validation("maxResults must be between 1 and 50");
    };
    let mut ids: Vec<&String> = s.logging.keys().collect();
    ids.sort();
    let start = input
        .get("nextToken")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    let page: Vec<Value> = ids
        .iter()
        .skip(start)
        .take(size)
        .filter_map(|id| s.logging.get(*id).map(|(n, st)| logging_json(id, n, st)))
        .collect();
    let mut out = json!({"loggingConfigurations": page});
    if start + size < ids.len()
        && let Some(obj) = out.as_object_mut()
    {
        obj.insert("nextToken".into(), json!((start + size).to_string()));
    }
    ok(out)
}

pub(crate) fn tags(
    s: &mut State,
    op: &str,
    path: &str,
    query: &str,
    input: &Map<String, Value>,
) -> Response<Full<Bytes>> {
    let arn = percent_decode(path.trim_start_matches("/tags/"));
    let Some(id) = arn
        .strip_prefix(&format!("arn:aws:ivschat:{REGION}:{ACCOUNT}:room/"))
        .map(str::to_string)
    else {
        return validation("resourceArn is not a room ARN of this account");
    };
    let Some(room) = s.rooms.get_mut(&id) else {
        return not_found("resource");
    };
    match op {
        "ListTagsForResource" => ok(json!({"tags": room.seed.tags})),
        "TagResource" => {
            let Some(tags) = input.get("tags").and_then(Value::as_object) else {
                return validation("tags is required");
            };
            for (k, v) in tags {
                let v = v.as_str().unwrap_or("");
                if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
                    return validation("tag keys are 1..128 and values 0..256 characters");
                }
                if k.starts_with("aws:") {
                    return validation("the aws: prefix is reserved");
                }
            }
            let mut merged = room.seed.tags.clone();
            for (k, v) in tags {
                merged.insert(k.clone(), v.as_str().unwrap_or("").to_string());
            }
            if merged.len() > 50 {
                return validation("a resource has at most 50 tags");
            }
            room.seed.tags = merged;
            ok(json!({}))
        }
        _ => {
            let keys: Vec<String> = query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .filter(|(k, _)| *k == "tagKeys")
                .map(|(_, v)| percent_decode(v))
                .collect();
            if keys.is_empty() {
                return validation("tagKeys is required");
            }
            for k in keys {
                room.seed.tags.remove(&k);
            }
            ok(json!({}))
        }
    }
}
