//! A local [AWS Lambda Runtime API] endpoint, so tests can run a real function binary's
//! `lambda_runtime` loop without AWS: the function polls `GET /runtime/invocation/next`,
//! posts `/invocation/{id}/response` or `/invocation/{id}/error`, or reports
//! `/runtime/init/error`, exactly as in Lambda.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use runtime_api_emulator::{Outcome, RuntimeApi};
//! let api = RuntimeApi::start().await?;
//! // Start the function with AWS_LAMBDA_RUNTIME_API = api.address(), then:
//! match api.invoke(br#"{"Content":"hi"}"#.to_vec()).await {
//!     Some(Outcome::Response(body)) => println!("{}", String::from_utf8_lossy(&body)),
//!     other => println!("{other:?}"),
//! }
//! # Ok(()) }
//! ```
//!
//! [AWS Lambda Runtime API]: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The function posted this response body.
    Response(Bytes),
    /// The function posted this error (its JSON body).
    Error(serde_json::Value),
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Outcome>>>>;

struct State {
    next: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Bytes)>>,
    pending: Pending,
    init_error: watch::Sender<Option<serde_json::Value>>,
    deadline: Duration,
}

/// A running Runtime API endpoint on 127.0.0.1 (an ephemeral port). It stops when dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    queue: mpsc::UnboundedSender<(String, Bytes)>,
    pending: Pending,
    init_error: watch::Receiver<Option<serde_json::Value>>,
    counter: AtomicU64,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RuntimeApi {
    /// Starts the endpoint. Invocations get a 3 second deadline.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with_deadline(Duration::from_secs(3)).await
    }

    /// Starts the endpoint; each invocation's deadline is `deadline` after it is handed out.
    pub async fn start_with_deadline(deadline: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (queue, rx) = mpsc::unbounded_channel();
        let pending: Pending = Arc::default();
        let (init_tx, init_rx) = watch::channel(None);
        let state = Arc::new(State {
            next: tokio::sync::Mutex::new(rx),
            pending: pending.clone(),
            init_error: init_tx,
            deadline,
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(route(state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            addr,
            queue,
            pending,
            init_error: init_rx,
            counter: AtomicU64::new(0),
            task,
        })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API` (`127.0.0.1:port`).
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// A command that runs a function binary against this endpoint: a clean environment
    /// with `AWS_LAMBDA_RUNTIME_API` and the variables `lambda_runtime` requires, output
    /// discarded, and the process killed when the child handle is dropped. Add your own
    /// variables with `.env(..)` before spawning.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(program);
        cmd.env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", self.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", "local-function")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Queues an event and waits for the function's response or error. `None` if the
    /// endpoint stopped before the function answered.
    pub async fn invoke(&self, payload: impl Into<Bytes>) -> Option<Outcome> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let id = format!("req-{n:08}");
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id.clone(), tx);
        }
        self.queue.send((id, payload.into())).ok()?;
        rx.await.ok()
    }

    /// Waits up to `timeout` for the function to report an init error.
    pub async fn init_error(&self, timeout: Duration) -> Option<serde_json::Value> {
        let mut rx = self.init_error.clone();
        let wait = async {
            loop {
                if let Some(v) = rx.borrow().clone() {
                    return Some(v);
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.ok().flatten()
    }
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

async fn route(state: Arc<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return reply(StatusCode::NOT_FOUND, "not found");
    };
    match (method, rest) {
        (Method::GET, "invocation/next") => {
            let next = state.next.lock().await.recv().await;
            let Some((id, body)) = next else {
                return reply(StatusCode::GONE, "shutting down");
            };
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| (d + state.deadline).as_millis())
                .unwrap_or_default();
            let mut r = reply(StatusCode::OK, body);
            let h = r.headers_mut();
            let pairs = [
                ("lambda-runtime-aws-request-id", id.clone()),
                ("lambda-runtime-deadline-ms", deadline.to_string()),
                (
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:local".to_string(),
                ),
                ("lambda-runtime-trace-id", format!("Root=1-00000000-{id}")),
                ("content-type", "application/json".to_string()),
            ];
            for (k, v) in pairs {
                if let Ok(v) = v.parse() {
                    h.insert(k, v);
                }
            }
            r
        }
        (Method::POST, "init/error") => {
            let body = read_json(req).await;
            let _ = state.init_error.send(Some(body));
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        (Method::POST, other) => {
            let Some(rest) = other.strip_prefix("invocation/") else {
                return reply(StatusCode::NOT_FOUND, "not found");
            };
            let (id, kind) = match rest.rsplit_once('/') {
                Some((id, kind)) => (id.to_string(), kind.to_string()),
                None => return reply(StatusCode::NOT_FOUND, "not found"),
            };
            let waiter = state.pending.lock().ok().and_then(|mut p| p.remove(&id));
            let Some(waiter) = waiter else {
                return reply(StatusCode::BAD_REQUEST, "unknown request id");
            };
            let outcome = match kind.as_str() {
                "response" => Outcome::Response(read_bytes(req).await),
                "error" => Outcome::Error(read_json(req).await),
                _ => return reply(StatusCode::NOT_FOUND, "not found"),
            };
            let _ = waiter.send(outcome);
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        _ => reply(StatusCode::NOT_FOUND, "not found"),
    }
}

async fn read_bytes(req: Request<Incoming>) -> Bytes {
    match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    }
}

async fn read_json(req: Request<Incoming>) -> serde_json::Value {
    let b = read_bytes(req).await;
    serde_json::from_slice(&b)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&b).into_owned()))
}
