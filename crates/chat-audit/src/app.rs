//! The glue the two ops functions share: configuration from the environment (and, on the
//! command line, from flags), clients built once, the Lambda handler for EventBridge
//! schedules, and a command-line mode that runs one sweep against any endpoint.
//!
//! | variable | meaning |
//! |---|---|
//! | `AUDIT_POLICY` / `AUDIT_POLICY_FILE` | the audit policy (TOML or JSON); default: embedded |
//! | `APPROVED_HANDLER_ARNS` | comma-separated handler ARNs added to `rooms.approved_handlers` |
//! | `REMEDIATION` | `off` (default), `dry-run` or `apply` |
//! | `ROOM_TPS`, `TAG_TPS`, `LOGGING_TPS` | request budget per quota group (defaults 1, 2, 0.5) |
//! | `CHECKPOINT_TABLE` | DynamoDB table for checkpoints (Lambda) |
//! | `CHECKPOINT_DIR` | directory for checkpoints (command line) |
//! | `DEADLINE_RESERVE_SECONDS` | time kept free before the Lambda deadline (default 10) |
//! | `METRICS_NAMESPACE` | CloudWatch namespace of the EMF metrics (default `IvsChatAudit`) |
//! | `AWS_ENDPOINT_URL_IVSCHAT` | another IVS Chat endpoint (the local emulator) |

use crate::checkpoint::{
    Checkpoint, CheckpointStore, DynamoDbStore, FileStore, NoStore, SeenPage, StoreError,
};
use crate::report::JsonLines;
use crate::sweep::{AuditError, Auditor, Mode, Options, now_ms};
use crate::{AuditPolicy, Scope, Summary, SweepStatus};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;
use std::time::{Duration, Instant};

/// The checkpoint store a function uses.
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// None: every invocation starts a new sweep.
    None(NoStore),
    /// A directory.
    File(FileStore),
    /// A DynamoDB table.
    DynamoDb(DynamoDbStore),
}

impl CheckpointStore for AnyStore {
    async fn load(&self, audit: &str) -> Result<(Option<Checkpoint>, u64), StoreError> {
        match self {
            AnyStore::None(s) => s.load(audit).await,
            AnyStore::File(s) => s.load(audit).await,
            AnyStore::DynamoDb(s) => s.load(audit).await,
        }
    }
    async fn save(&self, audit: &str, cp: &Checkpoint, expected: u64) -> Result<u64, StoreError> {
        match self {
            AnyStore::None(s) => s.save(audit, cp, expected).await,
            AnyStore::File(s) => s.save(audit, cp, expected).await,
            AnyStore::DynamoDb(s) => s.save(audit, cp, expected).await,
        }
    }
    async fn save_page(
        &self,
        audit: &str,
        cp: &Checkpoint,
        expected: u64,
        seen: SeenPage<'_>,
    ) -> Result<u64, StoreError> {
        match self {
            AnyStore::None(s) => s.save_page(audit, cp, expected, seen).await,
            AnyStore::File(s) => s.save_page(audit, cp, expected, seen).await,
            AnyStore::DynamoDb(s) => s.save_page(audit, cp, expected, seen).await,
        }
    }
    async fn load_seen(&self, audit: &str, sweep: i64, pages: u64) -> Result<Vec<u64>, StoreError> {
        match self {
            AnyStore::None(s) => s.load_seen(audit, sweep, pages).await,
            AnyStore::File(s) => s.load_seen(audit, sweep, pages).await,
            AnyStore::DynamoDb(s) => s.load_seen(audit, sweep, pages).await,
        }
    }
    async fn clear_seen(&self, audit: &str, sweep: i64) -> Result<(), StoreError> {
        match self {
            AnyStore::None(s) => s.clear_seen(audit, sweep).await,
            AnyStore::File(s) => s.clear_seen(audit, sweep).await,
            AnyStore::DynamoDb(s) => s.clear_seen(audit, sweep).await,
        }
    }
}

/// Configuration read from the environment (and flags).
#[derive(Debug, Clone)]
pub struct Config {
    /// The compiled policy, approved handlers added.
    pub policy: AuditPolicy,
    /// Sweep options.
    pub options: Options,
    /// `CHECKPOINT_TABLE`.
    pub checkpoint_table: Option<String>,
    /// `CHECKPOINT_DIR`.
    pub checkpoint_dir: Option<String>,
    /// `METRICS_NAMESPACE`.
    pub namespace: String,
    /// `--endpoint-url` (command line only).
    pub endpoint_url: Option<String>,
    /// `--region` (command line only).
    pub region: Option<String>,
    /// `--max-seconds` (command line only): stop like a Lambda invocation would.
    pub max_seconds: Option<u64>,
}

fn config_error(msg: impl Into<String>) -> AuditError {
    AuditError::Config(msg.into())
}

fn tps(name: &str, v: &str) -> Result<f64, AuditError> {
    match v.parse::<f64>() {
        Ok(t) if t.is_finite() && (crate::api::MIN_TPS..=100.0).contains(&t) => Ok(t),
        _ => Err(config_error(format!(
            "{name} = {v:?}: give requests per second, from {} to 100",
            crate::api::MIN_TPS
        ))),
    }
}

impl Config {
    /// Reads the variables in the module docs through `env`.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, AuditError> {
        let policy = match (env("AUDIT_POLICY"), env("AUDIT_POLICY_FILE")) {
            (Some(text), _) if !text.trim().is_empty() => {
                AuditPolicy::parse(&text).map_err(|e| config_error(format!("AUDIT_POLICY: {e}")))?
            }
            (_, Some(path)) if !path.is_empty() => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| config_error(format!("AUDIT_POLICY_FILE {path}: {e}")))?;
                AuditPolicy::parse(&text)
                    .map_err(|e| config_error(format!("AUDIT_POLICY_FILE {path}: {e}")))?
            }
            _ => AuditPolicy::default_policy(),
        };
        let approved = env("APPROVED_HANDLER_ARNS").unwrap_or_default();
        let policy = policy.approve_handlers(
            approved
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
        let mut options = Options::default();
        if let Some(m) = env("REMEDIATION") {
            options.mode = m.trim().parse().map_err(config_error)?;
        }
        for (name, slot) in [
            ("ROOM_TPS", &mut options.budget.room_tps),
            ("TAG_TPS", &mut options.budget.tag_tps),
            ("LOGGING_TPS", &mut options.budget.logging_tps),
        ] {
            if let Some(v) = env(name) {
                *slot = tps(name, &v)?;
            }
        }
        if let Some(v) = env("DEADLINE_RESERVE_SECONDS") {
            let secs: u64 = v.parse().map_err(|_| {
                config_error(format!(
                    "DEADLINE_RESERVE_SECONDS = {v:?}: give whole seconds"
                ))
            })?;
            options.reserve = Duration::from_secs(secs);
        }
        Ok(Self {
            policy,
            options,
            checkpoint_table: env("CHECKPOINT_TABLE").filter(|s| !s.is_empty()),
            checkpoint_dir: env("CHECKPOINT_DIR").filter(|s| !s.is_empty()),
            namespace: env("METRICS_NAMESPACE")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "IvsChatAudit".into()),
            endpoint_url: None,
            region: None,
            max_seconds: None,
        })
    }

    /// Applies command-line flags over the environment.
    pub fn with_args(mut self, args: &[String]) -> Result<Self, AuditError> {
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| config_error(format!("{flag} needs a value")))
            };
            match flag.as_str() {
                "--endpoint-url" => self.endpoint_url = Some(value()?),
                "--region" => self.region = Some(value()?),
                "--policy" => {
                    let path = value()?;
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| config_error(format!("--policy {path}: {e}")))?;
                    let approved = self.policy.approved_handlers().to_vec();
                    self.policy = AuditPolicy::parse(&text)
                        .map_err(|e| config_error(format!("--policy {path}: {e}")))?
                        .approve_handlers(approved);
                }
                "--approved-handler" => {
                    self.policy = self.policy.clone().approve_handlers([value()?]);
                }
                "--remediation" => self.options.mode = value()?.parse().map_err(config_error)?,
                "--dry-run" => self.options.mode = Mode::DryRun,
                "--room-tps" => self.options.budget.room_tps = tps(flag, &value()?)?,
                "--tag-tps" => self.options.budget.tag_tps = tps(flag, &value()?)?,
                "--checkpoint-dir" => self.checkpoint_dir = Some(value()?),
                "--restart" => self.options.restart = true,
                "--max-seconds" => {
                    let v = value()?;
                    self.max_seconds = Some(v.parse().map_err(|_| {
                        config_error(format!("--max-seconds {v:?}: give whole seconds"))
                    })?);
                }
                other => {
                    return Err(config_error(format!("unknown argument {other:?}\n{USAGE}")));
                }
            }
        }
        Ok(self)
    }
}

/// Command-line usage.
pub const USAGE: &str = "usage: room-audit|tag-audit [--endpoint-url URL] [--region REGION] [--policy FILE] [--approved-handler ARN]... [--remediation off|dry-run|apply | --dry-run] [--room-tps N] [--tag-tps N] [--checkpoint-dir DIR] [--restart] [--max-seconds N]
Findings and changes are printed as JSON lines, then the summary. The environment variables of the Lambda function apply too (see the README).";

fn is_local(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    let host = rest.split(['/', ':']).next().unwrap_or("");
    matches!(host, "127.0.0.1" | "localhost")
}

/// The clients, built once.
pub async fn clients(config: &Config) -> (aws_sdk_ivschat::Client, AnyStore) {
    use aws_config::{BehaviorVersion, Region, timeout::TimeoutConfig};
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(10))
            .build(),
    );
    if let Some(r) = &config.region {
        loader = loader.region(Region::new(r.clone()));
    }
    // A local endpoint needs no real credentials: give dummy ones if there are none.
    if let Some(url) = &config.endpoint_url
        && is_local(url)
        && std::env::var_os("AWS_ACCESS_KEY_ID").is_none()
    {
        loader = loader
            .credentials_provider(aws_sdk_ivschat::config::Credentials::new(
                "local",
                "local",
                None,
                None,
                "local-endpoint",
            ))
            .region(Region::new(
                config.region.clone().unwrap_or_else(|| "us-west-2".into()),
            ));
    }
    let shared = loader.load().await;
    let mut ivs = aws_sdk_ivschat::config::Builder::from(&shared);
    if let Some(url) = &config.endpoint_url {
        ivs = ivs.endpoint_url(url);
    }
    let client = aws_sdk_ivschat::Client::from_conf(ivs.build());
    let store = match (&config.checkpoint_table, &config.checkpoint_dir) {
        (Some(table), _) => AnyStore::DynamoDb(DynamoDbStore::new(
            aws_sdk_dynamodb::Client::new(&shared),
            table,
        )),
        (None, Some(dir)) => AnyStore::File(FileStore::new(dir)),
        (None, None) => AnyStore::None(NoStore),
    };
    (client, store)
}

impl From<AuditError> for lambda_runtime::Diagnostic {
    fn from(e: AuditError) -> Self {
        use crate::api::ApiError;
        let kind = match &e {
            AuditError::Api(ApiError::AccessDenied { .. }) => "AccessDenied",
            AuditError::Api(ApiError::Exhausted { .. }) => "RetriesExhausted",
            AuditError::Api(ApiError::Rejected { .. }) => "Rejected",
            AuditError::Api(_) => "Api",
            AuditError::Store(_) => "CheckpointStore",
            AuditError::Config(_) => "Configuration",
            AuditError::Listing(_) => "Listing",
        };
        lambda_runtime::Diagnostic {
            error_type: format!("AuditError.{kind}"),
            error_message: e.to_string(),
        }
    }
}

/// The time left before `deadline_ms`. Lambda sends milliseconds since the epoch;
/// `cargo lambda watch` sends the timeout itself (600000), which as an epoch time would
/// be in 1970: a value that small is taken as the time left.
///
/// Capped at a day, so no deadline value can overflow the clock.
pub fn time_left(deadline_ms: u64, now_ms: u64) -> Duration {
    const YEAR_2001_MS: u64 = 1_000_000_000_000;
    let left = if deadline_ms < YEAR_2001_MS {
        deadline_ms
    } else {
        deadline_ms.saturating_sub(now_ms)
    };
    Duration::from_millis(left.min(86_400_000))
}

/// What an invocation may ask for in the event's `detail` (a schedule sends `{}`).
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Detail {
    /// Discard a checkpointed sweep and start over.
    pub restart: bool,
    /// `off` or `dry-run`: lowers the configured remediation for this invocation (an
    /// event can never raise it to `apply`).
    pub remediation: Option<String>,
}

/// Runs one invocation: the sweep, findings and changes as JSON lines on `out`, the
/// EMF metrics when the sweep completes, and the summary.
pub async fn invoke<W: std::io::Write + Send>(
    auditor: &Auditor,
    store: &AnyStore,
    namespace: &str,
    event: &EventBridgeEvent<Value>,
    request_id: &str,
    deadline: Option<Instant>,
    out: W,
) -> Result<Summary, AuditError> {
    // An event detail that is not an object of known fields is ignored, not fatal: the
    // schedule must keep working whatever a manual invocation sends.
    let detail: Detail = serde_json::from_value(event.detail.clone()).unwrap_or_default();
    let mut options = auditor.options().clone();
    options.owner = request_id.to_string();
    options.restart |= detail.restart;
    match detail.remediation.as_deref() {
        Some("off") => options.mode = Mode::Off,
        Some("dry-run") if options.mode == Mode::Apply => options.mode = Mode::DryRun,
        _ => {}
    }
    let auditor = auditor.with_options(options);
    let mut report = JsonLines(out);
    let summary = auditor.run(store, &mut report, deadline).await?;
    let mut out = report.0;
    if summary.status == SweepStatus::Complete {
        for record in summary.emf_records(namespace, now_ms()) {
            let _ = writeln!(out, "{record}");
        }
    }
    let mut line = serde_json::json!({"record": "summary"});
    if let (Some(obj), Ok(Value::Object(s))) =
        (line.as_object_mut(), serde_json::to_value(&summary))
    {
        obj.extend(s);
    }
    let _ = writeln!(out, "{line}");
    Ok(summary)
}

/// The whole program of an audit function: in Lambda (when `AWS_LAMBDA_RUNTIME_API` is
/// set) it serves EventBridge events; otherwise it runs one sweep from the command line.
pub async fn main(scope: Scope) -> std::process::ExitCode {
    let in_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    if in_lambda {
        lambda_runtime::tracing::init_default_subscriber();
    } else {
        lambda_runtime::tracing::init_default_subscriber_with_writer(std::io::stderr);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return std::process::ExitCode::SUCCESS;
    }
    let config = match Config::from_env(|k| std::env::var(k).ok())
        .and_then(|c| if in_lambda { Ok(c) } else { c.with_args(&args) })
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "configuration");
            eprintln!("{}: {e}", scope.name());
            return std::process::ExitCode::FAILURE;
        }
    };
    let (client, store) = clients(&config).await;
    let auditor = match Auditor::new(client, config.policy.clone(), scope, config.options.clone()) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "configuration");
            eprintln!("{}: {e}", scope.name());
            return std::process::ExitCode::FAILURE;
        }
    };
    if in_lambda {
        let handler = lambda_runtime::service_fn(
            |event: lambda_runtime::LambdaEvent<EventBridgeEvent<Value>>| {
                let (auditor, store, namespace) = (&auditor, &store, config.namespace.as_str());
                async move {
                    let deadline = Instant::now() + time_left(event.context.deadline, now_ms());
                    let result = invoke(
                        auditor,
                        store,
                        namespace,
                        &event.payload,
                        &event.context.request_id,
                        Some(deadline),
                        std::io::stdout(),
                    )
                    .await;
                    if let Err(e) = &result {
                        tracing::error!(error = %e, "sweep stopped; the next invocation resumes from the checkpoint");
                    }
                    result
                }
            },
        );
        return match lambda_runtime::run(handler).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "runtime");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let event: EventBridgeEvent<Value> = match serde_json::from_value(serde_json::json!({
        "detail-type": "Command line", "source": "cli", "detail": {}
    })) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{}: {e}", scope.name());
            return std::process::ExitCode::FAILURE;
        }
    };
    let deadline = config
        .max_seconds
        .map(|s| Instant::now() + Duration::from_secs(s.min(7 * 86_400)));
    let owner = format!("cli-{}", std::process::id());
    match invoke(
        &auditor,
        &store,
        &config.namespace,
        &event,
        &owner,
        deadline,
        std::io::stdout(),
    )
    .await
    {
        Ok(summary) if summary.status == SweepStatus::Busy => {
            eprintln!("{}: another run holds the sweep", scope.name());
            std::process::ExitCode::from(3)
        }
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e}", scope.name());
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn deadlines_absolute_and_relative() {
        let now = 1_795_310_626_676;
        assert_eq!(time_left(now + 5_000, now), Duration::from_secs(5));
        assert_eq!(time_left(now - 5_000, now), Duration::ZERO);
        assert_eq!(time_left(600_000, now), Duration::from_secs(600));
        assert_eq!(time_left(u64::MAX, now), Duration::from_secs(86_400));
    }

    #[test]
    fn configuration_errors_name_the_variable() {
        let rows: &[(&[(&str, &str)], &str)] = &[
            (&[("ROOM_TPS", "fast")], "ROOM_TPS"),
            (&[("TAG_TPS", "0")], "TAG_TPS"),
            (&[("REMEDIATION", "yes")], "dry-run"),
            (
                &[("AUDIT_POLICY", "version = 2\n[rooms]\n")],
                "AUDIT_POLICY",
            ),
            (
                &[("AUDIT_POLICY_FILE", "/nonexistent/audit.toml")],
                "AUDIT_POLICY_FILE",
            ),
            (
                &[("DEADLINE_RESERVE_SECONDS", "-1")],
                "DEADLINE_RESERVE_SECONDS",
            ),
        ];
        for (vars, want) in rows {
            let err = Config::from_env(env(vars)).unwrap_err().to_string();
            assert!(err.contains(want), "{vars:?}: {err}");
        }
    }

    #[test]
    fn configuration_from_env_and_flags() {
        let c = Config::from_env(env(&[
            ("APPROVED_HANDLER_ARNS", " arn:a , arn:b,"),
            ("REMEDIATION", "dry-run"),
            ("ROOM_TPS", "0.5"),
            ("CHECKPOINT_TABLE", "audits"),
        ]))
        .unwrap();
        assert_eq!(c.policy.approved_handlers(), ["arn:a", "arn:b"]);
        assert_eq!(c.options.mode, Mode::DryRun);
        assert_eq!(c.options.budget.room_tps, 0.5);
        assert_eq!(c.checkpoint_table.as_deref(), Some("audits"));
        assert_eq!(c.namespace, "IvsChatAudit");
        let args: Vec<String> = [
            "--endpoint-url",
            "http://127.0.0.1:4510",
            "--remediation",
            "apply",
            "--approved-handler",
            "arn:c",
            "--restart",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let c = c.with_args(&args).unwrap();
        assert_eq!(c.options.mode, Mode::Apply);
        assert!(c.options.restart);
        assert_eq!(c.policy.approved_handlers(), ["arn:a", "arn:b", "arn:c"]);
        assert!(is_local(c.endpoint_url.as_deref().unwrap()));
        assert!(!is_local("https://ivschat.us-west-2.amazonaws.com"));
        let err = Config::from_env(env(&[]))
            .unwrap()
            .with_args(&["--bogus".to_string()])
            .unwrap_err();
        assert!(err.to_string().contains("usage"), "{err}");
    }
}
