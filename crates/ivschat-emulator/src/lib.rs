//! A local Amazon IVS Chat control-plane endpoint for tests and local runs.
//!
//! No emulator of IVS Chat exists (moto has `ivs`, LocalStack neither), so the ops
//! functions are tested against this one: real HTTP on 127.0.0.1, the request paths and
//! JSON shapes that `aws-sdk-ivschat` uses (restJson1), opaque pagination tokens, rooms
//! listed newest `updateTime` first, validation errors, `ThrottlingException` (429) above
//! a configurable rate per quota group, and injectable 5xx errors, access denial,
//! malformed responses and latency.
//!
//! Operations: `ListRooms`, `GetRoom`, `UpdateRoom`, `DeleteRoom`, `ListTagsForResource`,
//! `TagResource`, `UntagResource`, `ListLoggingConfigurations`, `GetLoggingConfiguration`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use ivschat_emulator::{Emulator, RoomSeed};
//! let emu = Emulator::builder().room_tps(5.0).start().await?;
//! emu.insert_room(RoomSeed::new("room0001").handler("arn:aws:lambda:us-west-2:123456789012:function:h", "DENY"));
//! // Point the SDK at emu.endpoint_url() with dummy credentials.
//! # Ok(()) }
//! ```

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;

/// The account and region of the emulated resources.
pub const ACCOUNT: &str = "123456789012";
/// The region of the emulated resources.
pub const REGION: &str = "us-west-2";

/// A room to seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSeed {
    /// Room id (the ARN ends with `room/<id>`).
    pub id: String,
    /// Room name.
    pub name: String,
    /// `messageReviewHandler` (uri, fallbackResult).
    pub handler: Option<(String, String)>,
    /// Logging configuration ids.
    pub logging: Vec<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// `maximumMessageLength`.
    pub max_length: u32,
    /// `maximumMessageRatePerSecond`.
    pub max_rate: u32,
    /// Seconds since the epoch of the last update (also the creation time).
    pub updated: u64,
}

impl RoomSeed {
    /// A room with defaults: no handler, no logging, no tags, 500 chars, 10 msg/s.
    pub fn new(id: impl Into<String>) -> Self {
        let id = id.into();
        Self {
            name: format!("room-{id}"),
            id,
            handler: None,
            logging: Vec::new(),
            tags: BTreeMap::new(),
            max_length: 500,
            max_rate: 10,
            updated: 1_767_225_600, // 2026-01-01
        }
    }
    /// Sets the review handler.
    pub fn handler(mut self, uri: &str, fallback: &str) -> Self {
        self.handler = Some((uri.to_string(), fallback.to_string()));
        self
    }
    /// Adds a tag.
    pub fn tag(mut self, k: &str, v: &str) -> Self {
        self.tags.insert(k.to_string(), v.to_string());
        self
    }
    /// Attaches a logging configuration.
    pub fn logging(mut self, id: &str) -> Self {
        self.logging.push(id.to_string());
        self
    }
    /// Sets the last update time (seconds since the epoch).
    pub fn updated(mut self, secs: u64) -> Self {
        self.updated = secs;
        self
    }
    /// Sets message limits.
    pub fn limits(mut self, max_length: u32, max_rate: u32) -> Self {
        self.max_length = max_length;
        self.max_rate = max_rate;
        self
    }
}

#[derive(Debug, Clone)]
struct Room {
    seed: RoomSeed,
    created: u64,
    /// Nanoseconds, for a strict order among rooms updated in the same second.
    updated_nanos: u128,
}

impl Room {
    fn arn(&self) -> String {
        room_arn(&self.seed.id)
    }
    fn summary(&self) -> Value {
        let mut v = json!({
            "arn": self.arn(),
            "id": self.seed.id,
            "name": self.seed.name,
            "createTime": rfc3339(self.created),
            "updateTime": rfc3339(self.seed.updated),
            "tags": self.seed.tags,
            "loggingConfigurationIdentifiers": self.seed.logging,
        });
        if let (Some((uri, fb)), Some(obj)) = (&self.seed.handler, v.as_object_mut()) {
            obj.insert(
                "messageReviewHandler".into(),
                json!({"uri": uri, "fallbackResult": fb}),
            );
        }
        v
    }
    fn full(&self) -> Value {
        let mut v = self.summary();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("maximumMessageLength".into(), json!(self.seed.max_length));
            obj.insert(
                "maximumMessageRatePerSecond".into(),
                json!(self.seed.max_rate),
            );
        }
        v
    }
}

/// Room `i` of the mixed fleet that [`Emulator::seed_fleet`] seeds: most rooms comply
/// with the default audit policy, and each kind of problem recurs with its own period so
/// every page holds a mix:
///
/// | period | problem |
/// |---|---|
/// | `i % 10 == 0` | no review handler |
/// | `i % 10 == 1` | fallbackResult ALLOW |
/// | `i % 10 == 2` | an unapproved handler (`function:legacy-filter`) |
/// | `i % 7 == 0` | no logging configuration |
/// | `i % 7 == 1` | logging configuration `oldlogs`, which is CREATE_FAILED |
/// | `i % 9 == 0` | no `owner` tag |
/// | `i % 11 == 0` | a `temp` tag |
/// | `i % 13 == 0` | `Owner` beside `owner` |
/// | `i % 17 == 0` | a name with a space |
/// | `i % 19 == 0` | last updated in 2024 (stale) |
///
/// Rooms are updated `base + i` seconds since the epoch (stale ones 400 days earlier).
pub fn fleet_room(i: u64, approved_handler: &str, base: u64) -> RoomSeed {
    let mut r = RoomSeed::new(format!("fleet{i:07}")).updated(base + i);
    r.name = format!("stream-{i}");
    match i % 10 {
        0 => {}
        1 => r = r.handler(approved_handler, "ALLOW"),
        2 => {
            r = r.handler(
                &format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:legacy-filter"),
                "DENY",
            )
        }
        _ => r = r.handler(approved_handler, "DENY"),
    }
    match i % 7 {
        0 => {}
        1 => r = r.logging("oldlogs"),
        _ => r = r.logging("chatlogs"),
    }
    if !i.is_multiple_of(9) {
        r = r.tag("owner", &format!("team-{}", i % 5));
    }
    if i.is_multiple_of(11) {
        r = r.tag("temp", "1");
    }
    if i.is_multiple_of(13) {
        r = r.tag("Owner", "someone");
    }
    if i.is_multiple_of(17) {
        r.name = format!("stream {i}");
    }
    if i.is_multiple_of(19) {
        r.updated = base.saturating_sub(400 * 86_400) + i;
    }
    r
}

/// The ARN of a room id in the emulated account.
pub fn room_arn(id: &str) -> String {
    format!("arn:aws:ivschat:{REGION}:{ACCOUNT}:room/{id}")
}

/// The ARN of a logging configuration id in the emulated account.
pub fn logging_arn(id: &str) -> String {
    format!("arn:aws:ivschat:{REGION}:{ACCOUNT}:logging-configuration/{id}")
}

/// RFC 3339 UTC timestamp of seconds since the epoch.
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// The quota groups of the IVS Chat control plane, each with its own rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    /// Create/Delete/Get/List/UpdateRoom: 5 TPS in AWS.
    Room,
    /// List/Tag/UntagResource: 10 TPS in AWS.
    Tag,
    /// *LoggingConfiguration: 3 TPS in AWS.
    Logging,
}

/// A fault to inject into the next matching requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 500 InternalServerException.
    ServerError,
    /// 403 AccessDeniedException.
    AccessDenied,
    /// 200 with a body that is not valid JSON.
    Malformed,
    /// 429 ThrottlingException, whatever the rate (a burst longer than a client's backoff).
    Throttle,
    /// The normal answer, this much later (a slow service, or a timeout for a client with
    /// a shorter attempt timeout).
    Slow(Duration),
}

struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64) -> Self {
        Self {
            rate,
            tokens: rate.max(1.0),
            last: Instant::now(),
        }
    }
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate.max(1.0));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Counts of what the endpoint served.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests per operation name.
    pub calls: BTreeMap<String, u64>,
    /// Requests answered with ThrottlingException.
    pub throttled: u64,
}

#[derive(Default)]
struct State {
    /// Summaries leave `tags` out (as a service may), so clients must ListTagsForResource.
    no_summary_tags: bool,
    /// (operation, call number, room id, replacement): remove or replace the room when
    /// that call arrives.
    removals: Vec<(String, u64, String, Option<RoomSeed>)>,
    /// (operation, call number): every page token issued so far expires when that call
    /// arrives.
    expiries: Vec<(String, u64)>,
    /// Tokens carry the epoch they were issued in; a token of an earlier epoch is expired.
    token_epoch: u64,
    /// The last page of ListRooms points back at the first: a listing that never ends.
    endless: bool,
    rooms: HashMap<String, Room>,
    logging: HashMap<String, (String, String)>, // id -> (name, state)
    buckets: HashMap<Group, Bucket>,
    /// (operation or any, fault, requests left, the operation's call number from which
    /// it applies).
    faults: Vec<(Option<String>, Fault, u32, u64)>,
    latency: Duration,
    stats: Stats,
    clock: u128,
}

/// Configures and starts an [`Emulator`].
#[derive(Debug, Clone, Default)]
pub struct Builder {
    rates: Vec<(Group, f64)>,
    latency: Duration,
    port: u16,
    no_summary_tags: bool,
}

impl Builder {
    /// Requests per second for the room operations (unlimited if unset).
    pub fn room_tps(mut self, tps: f64) -> Self {
        self.rates.push((Group::Room, tps));
        self
    }
    /// Requests per second for the tag operations.
    pub fn tag_tps(mut self, tps: f64) -> Self {
        self.rates.push((Group::Tag, tps));
        self
    }
    /// Requests per second for the logging configuration operations.
    pub fn logging_tps(mut self, tps: f64) -> Self {
        self.rates.push((Group::Logging, tps));
        self
    }
    /// Delay added to every response.
    pub fn latency(mut self, d: Duration) -> Self {
        self.latency = d;
        self
    }
    /// The port to listen on (default: an ephemeral one).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
    /// Leaves `tags` out of ListRooms summaries, so clients must call ListTagsForResource.
    pub fn without_summary_tags(mut self) -> Self {
        self.no_summary_tags = true;
        self
    }
    /// Starts the endpoint on 127.0.0.1.
    pub async fn start(self) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            latency: self.latency,
            no_summary_tags: self.no_summary_tags,
            buckets: self
                .rates
                .iter()
                .map(|&(g, r)| (g, Bucket::new(r)))
                .collect(),
            ..State::default()
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(serve(state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Emulator { addr, state, task })
    }
}

/// A running endpoint. It stops when dropped.
pub struct Emulator {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn insert(s: &mut State, seed: RoomSeed) {
    s.clock += 1;
    let nanos = u128::from(seed.updated) * 1_000_000_000 + s.clock;
    let room = Room {
        created: seed.updated,
        updated_nanos: nanos,
        seed,
    };
    s.rooms.insert(room.seed.id.clone(), room);
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    match state.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Emulator {
    /// A builder (no rate limits, no latency).
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The URL to give the SDK as `endpoint_url`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds or replaces a room.
    pub fn insert_room(&self, seed: RoomSeed) {
        insert(&mut lock(&self.state), seed);
    }

    /// Deletes a room (as another client would, for example mid-sweep).
    pub fn remove_room(&self, id: &str) -> bool {
        lock(&self.state).rooms.remove(id).is_some()
    }

    /// Adds a logging configuration with a state (`ACTIVE`, `CREATE_FAILED`, ...).
    pub fn insert_logging(&self, id: &str, name: &str, state: &str) {
        lock(&self.state)
            .logging
            .insert(id.to_string(), (name.to_string(), state.to_string()));
    }

    /// A room as the endpoint holds it now (handler, tags, limits...).
    pub fn room(&self, id: &str) -> Option<RoomSeed> {
        lock(&self.state).rooms.get(id).map(|r| r.seed.clone())
    }

    /// Injects `fault` into the next `count` requests of operation `op` (or any, if `None`).
    pub fn inject(&self, op: Option<&str>, fault: Fault, count: u32) {
        lock(&self.state)
            .faults
            .push((op.map(str::to_string), fault, count, 0));
    }

    /// Injects `fault` into `count` requests of `op` from its `n`th call on (counting
    /// from the start): a fault in the middle of a sweep.
    pub fn inject_from(&self, op: &str, n: u64, fault: Fault, count: u32) {
        lock(&self.state)
            .faults
            .push((Some(op.to_string()), fault, count, n));
    }

    /// Removes room `id` when the `n`th call (counting from the start) of `op` arrives,
    /// before it is served: a room deleted by its owner in the middle of a sweep.
    pub fn remove_room_on(&self, op: &str, n: u64, id: &str) {
        lock(&self.state)
            .removals
            .push((op.to_string(), n, id.to_string(), None));
    }

    /// Replaces a room with `seed` when the `n`th call of `op` arrives, before it is
    /// served: a room changed by its owner in the middle of a sweep.
    pub fn update_room_on(&self, op: &str, n: u64, seed: RoomSeed) {
        lock(&self.state)
            .removals
            .push((op.to_string(), n, seed.id.clone(), Some(seed)));
    }

    /// Expires every ListRooms page token issued so far (as a token kept between two
    /// scheduled runs may expire): the service answers it with ValidationException.
    pub fn expire_tokens(&self) {
        lock(&self.state).token_epoch += 1;
    }

    /// Expires every page token issued so far when the `n`th call of `op` arrives, before
    /// it is served (a token that expires on a later page of a sweep).
    pub fn expire_tokens_on(&self, op: &str, n: u64) {
        lock(&self.state).expiries.push((op.to_string(), n));
    }

    /// Makes ListRooms endless (`true`): its last page carries a token back to the first.
    pub fn endless_listing(&self, endless: bool) {
        lock(&self.state).endless = endless;
    }

    /// Seeds `n` rooms of a mixed fleet (see [`fleet_room`]) updated from a day ago, and
    /// its logging configurations.
    pub fn seed_fleet(&self, n: u64, approved_handler: &str) {
        let base = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
            .saturating_sub(86_400 + n);
        self.insert_logging("chatlogs", "chatlogs", "ACTIVE");
        self.insert_logging("oldlogs", "oldlogs", "CREATE_FAILED");
        let mut s = lock(&self.state);
        for i in 0..n {
            insert(&mut s, fleet_room(i, approved_handler, base));
        }
    }

    /// What the endpoint has served so far.
    pub fn stats(&self) -> Stats {
        lock(&self.state).stats.clone()
    }
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response<Full<Bytes>> {
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

fn ok(body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    if let Ok(v) = "application/json".parse() {
        r.headers_mut().insert("content-type", v);
    }
    r
}

fn validation(message: &str) -> Response<Full<Bytes>> {
    error(StatusCode::BAD_REQUEST, "ValidationException", message)
}

fn not_found(what: &str) -> Response<Full<Bytes>> {
    error(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        &format!("{what} not found"),
    )
}

/// Decodes `%XX` escapes of a path segment or query value.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn operation(method: &Method, path: &str) -> Option<(&'static str, Group)> {
    Some(match (method, path) {
        (&Method::POST, "/ListRooms") => ("ListRooms", Group::Room),
        (&Method::POST, "/GetRoom") => ("GetRoom", Group::Room),
        (&Method::POST, "/UpdateRoom") => ("UpdateRoom", Group::Room),
        (&Method::POST, "/DeleteRoom") => ("DeleteRoom", Group::Room),
        (&Method::POST, "/ListLoggingConfigurations") => {
            ("ListLoggingConfigurations", Group::Logging)
        }
        (&Method::POST, "/GetLoggingConfiguration") => ("GetLoggingConfiguration", Group::Logging),
        (&Method::GET, p) if p.starts_with("/tags/") => ("ListTagsForResource", Group::Tag),
        (&Method::POST, p) if p.starts_with("/tags/") => ("TagResource", Group::Tag),
        (&Method::DELETE, p) if p.starts_with("/tags/") => ("UntagResource", Group::Tag),
        _ => return None,
    })
}

async fn serve(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let Some((op, group)) = operation(&method, &path) else {
        return error(StatusCode::NOT_FOUND, "UnknownOperationException", &path);
    };
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let (mut latency, fault, throttled) = {
        let mut s = lock(&state);
        let n = {
            let c = s.stats.calls.entry(op.to_string()).or_default();
            *c += 1;
            *c
        };
        let due: Vec<(String, Option<RoomSeed>)> = s
            .removals
            .iter()
            .filter(|(o, at, _, _)| o == op && *at == n)
            .map(|(_, _, id, seed)| (id.clone(), seed.clone()))
            .collect();
        for (id, seed) in due {
            s.rooms.remove(&id);
            if let Some(seed) = seed {
                insert(&mut s, seed);
            }
        }
        if s.expiries.iter().any(|(o, at)| o == op && *at == n) {
            s.token_epoch += 1;
        }
        let throttled = s.buckets.get_mut(&group).is_some_and(|b| !b.take());
        if throttled {
            s.stats.throttled += 1;
        }
        let mut fault = None;
        if !throttled
            && let Some(slot) = s.faults.iter_mut().find(|(o, _, left, from)| {
                *left > 0 && n >= *from && o.as_deref().is_none_or(|o| o == op)
            })
        {
            slot.2 -= 1;
            fault = Some(slot.1.clone());
        }
        s.faults.retain(|(_, _, left, _)| *left > 0);
        (s.latency, fault, throttled)
    };
    if let Some(Fault::Slow(d)) = fault {
        latency += d;
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if throttled || fault == Some(Fault::Throttle) {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Rate exceeded",
        );
    }
    match fault {
        Some(Fault::ServerError) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerException",
                "injected failure",
            );
        }
        Some(Fault::AccessDenied) => {
            return error(
                StatusCode::FORBIDDEN,
                "AccessDeniedException",
                &format!("not authorized to perform ivschat:{op}"),
            );
        }
        Some(Fault::Malformed) => {
            let mut r = Response::new(Full::new(Bytes::from_static(b"{\"rooms\": [ {\"arn\": ")));
            if let Ok(v) = "application/json".parse() {
                r.headers_mut().insert("content-type", v);
            }
            return r;
        }
        Some(Fault::Throttle | Fault::Slow(_)) | None => {}
    }
    let input: Map<String, Value> = if body.is_empty() {
        Map::new()
    } else {
        match serde_json::from_slice(&body) {
            Ok(Value::Object(m)) => m,
            _ => return validation("request body is not a JSON object"),
        }
    };
    let mut s = lock(&state);
    match op {
        "ListRooms" => list_rooms(&s, &input),
        "GetRoom" => match find_room(&s, &input) {
            Some(r) => ok(r.full()),
            None => not_found("room"),
        },
        "UpdateRoom" => update_room(&mut s, &input),
        "DeleteRoom" => {
            let id = find_room(&s, &input).map(|r| r.seed.id.clone());
            match id {
                Some(id) => {
                    s.rooms.remove(&id);
                    ok(json!({}))
                }
                None => not_found("room"),
            }
        }
        "ListLoggingConfigurations" => list_logging(&s, &input),
        "GetLoggingConfiguration" => {
            let ident = input
                .get("identifier")
                .and_then(Value::as_str)
                .unwrap_or("");
            let id = ident.rsplit('/').next().unwrap_or(ident);
            match s.logging.get(id) {
                Some((name, st)) => ok(logging_json(id, name, st)),
                None => not_found("logging configuration"),
            }
        }
        _ => tags(&mut s, op, &path, &query, &input),
    }
}

fn find_room<'a>(s: &'a State, input: &Map<String, Value>) -> Option<&'a Room> {
    let ident = input.get("identifier")?.as_str()?;
    let id = ident.rsplit('/').next().unwrap_or(ident);
    s.rooms.get(id)
}

/// `maxResults` (default 50), or `None` when it is out of 1..=50.
fn page_size(input: &Map<String, Value>) -> Option<usize> {
    match input.get("maxResults") {
        None => Some(50),
        Some(v) => match v.as_u64() {
            Some(n @ 1..=50) => Some(n as usize),
            _ => None,
        },
    }
}

fn list_rooms(s: &State, input: &Map<String, Value>) -> Response<Full<Bytes>> {
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
fn parse_token(t: &str) -> Option<(u128, u64)> {
    let (key, epoch) = t.strip_prefix("after-")?.split_once("-e")?;
    Some((key.parse().ok()?, epoch.parse().ok()?))
}

fn update_room(s: &mut State, input: &Map<String, Value>) -> Response<Full<Bytes>> {
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

fn logging_json(id: &str, name: &str, state: &str) -> Value {
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

fn list_logging(s: &State, input: &Map<String, Value>) -> Response<Full<Bytes>> {
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

fn tags(
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

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(super::percent_decode("arn%3Aaws%2Fx"), "arn:aws/x");
    }
}
