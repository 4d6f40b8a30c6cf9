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

mod operations;
mod seed;

use operations::{
    error, find_room, list_logging, list_rooms, logging_json, not_found, ok, tags, update_room,
    validation,
};
use seed::Room;
pub use seed::{RoomSeed, fleet_room, logging_arn, room_arn};

/// The account and region of the emulated resources.
pub const ACCOUNT: &str = "123456789012";
/// The region of the emulated resources.
pub const REGION: &str = "us-west-2";

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

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(super::seed::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::seed::rfc3339(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(super::seed::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(super::percent_decode("arn%3Aaws%2Fx"), "arn:aws/x");
    }
}
