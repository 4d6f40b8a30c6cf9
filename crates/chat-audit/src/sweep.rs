//! The sweep: every room, page by page, within the request budget, resumable.

use crate::api::{ApiError, Budget, BudgetConfig, Group};
use crate::checkpoint::{CHECKPOINT_FORMAT, SeenPage};
use crate::checkpoint::{Checkpoint, CheckpointStore, StoreError};
use crate::listing::CLOCK_SKEW_MARGIN_SECS;
use crate::report::{Change, Outcome, Report};
use crate::seen::Seen;
use crate::{AuditPolicy, RoomView, Scope, Summary, SweepStatus};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What remediation does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Report only (the default).
    #[default]
    Off,
    /// Report the changes remediation would make, make none.
    DryRun,
    /// Make the changes.
    Apply,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" | "" => Ok(Mode::Off),
            "dry-run" => Ok(Mode::DryRun),
            "apply" => Ok(Mode::Apply),
            other => Err(format!(
                "remediation mode {other:?}: use off, dry-run or apply"
            )),
        }
    }
}

/// How a sweep runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Request-rate budget and retries.
    pub budget: BudgetConfig,
    /// Remediation mode (rules are enabled in the policy).
    pub mode: Mode,
    /// ListRooms page size (1..=50).
    pub page_size: i32,
    /// Time kept free before the deadline for the call in flight and the last checkpoint
    /// save: no call starts later than `deadline - min(reserve, a quarter of the time the
    /// invocation had)`. Keep it above the SDK's attempt timeout.
    pub reserve: Duration,
    /// Who holds the sweep while this invocation runs (request id, `cli-<pid>`).
    pub owner: String,
    /// Discard a checkpointed sweep and start from the newest room.
    pub restart: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            budget: BudgetConfig::default(),
            mode: Mode::Off,
            page_size: 50,
            reserve: Duration::from_secs(30),
            owner: format!("pid-{}", std::process::id()),
            restart: false,
        }
    }
}

/// Why a sweep stopped with an error. The checkpoint is saved first (at the start of the
/// page that failed), so the next invocation resumes there.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// An API call failed for good (access denied, retries exhausted, rejected).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The checkpoint could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The configuration cannot work; the message says how to fix it.
    #[error("{0}")]
    Config(String),
    /// The listing cannot be followed to its end (a token met twice, empty pages that
    /// keep a token, rooms listed again and again, or page tokens rejected repeatedly).
    #[error("ListRooms does not end: {0}")]
    Listing(String),
}

/// Audits the rooms of one account and Region.
///
/// ```no_run
/// # async fn demo(client: aws_sdk_ivschat::Client) -> Result<(), chat_audit::AuditError> {
/// use chat_audit::{AuditPolicy, Auditor, JsonLines, NoStore, Options, Scope};
/// let auditor = Auditor::new(client, AuditPolicy::default_policy(), Scope::Rooms, Options::default())?;
/// let summary = auditor.run(&NoStore, &mut JsonLines(std::io::stdout()), None).await?;
/// println!("{} rooms, {:?}", summary.rooms_scanned, summary.findings_by_rule);
/// # Ok(()) }
/// ```
pub struct Auditor {
    pub(crate) client: aws_sdk_ivschat::Client,
    pub(crate) policy: AuditPolicy,
    pub(crate) scope: Scope,
    pub(crate) options: Options,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What an invocation returns when another one took the sweep over while it ran: the
/// other saved last, so its checkpoint (and summary) is the sweep's; this one's unsaved
/// page is redone there.
fn superseded(audit: &str) -> Summary {
    tracing::warn!("another invocation took the sweep over; stopping without saving");
    Summary {
        audit: audit.into(),
        status: SweepStatus::Busy,
        ..Summary::default()
    }
}

/// Per-invocation state.
pub(crate) struct Run<'a, S, R> {
    pub(crate) audit: &'static str,
    /// How long a lease lasts from each save.
    lease: Duration,
    pub(crate) store: &'a S,
    report: &'a mut R,
    pub(crate) budget: Budget,
    pub(crate) summary: Summary,
    /// The summary's counters when this invocation started.
    base: Summary,
    started: Instant,
    version: u64,
    pub(crate) checkpoint: Checkpoint,
    pub(crate) logging: HashMap<String, String>,
    watermark: Option<i64>,
    pub(crate) now: i64,
    /// The rooms this sweep has checked.
    pub(crate) seen: Seen,
}

impl<S: CheckpointStore, R: Report> Run<'_, S, R> {
    /// Folds this invocation's call counts and time into the summary.
    pub(crate) fn sync(&mut self) {
        let b = &self.budget;
        let s = &mut self.summary;
        s.api_calls_by_operation = self.base.api_calls_by_operation.clone();
        for (op, n) in &b.calls {
            *s.api_calls_by_operation.entry(op.clone()).or_default() += n;
        }
        s.api_calls = self.base.api_calls + b.total_calls();
        s.throttles = self.base.throttles + b.throttles;
        s.retries = self.base.retries + b.retries;
        s.duration_ms = self.base.duration_ms + self.started.elapsed().as_millis() as u64;
    }

    /// Brings the checkpoint up to date before a save.
    fn prepare(&mut self) {
        self.sync();
        if self.checkpoint.lease_until_ms != 0 {
            // Renew the lease with every page: a long run without a deadline keeps it.
            self.checkpoint.lease_until_ms = now_ms() + self.lease.as_millis() as u64;
        }
        self.checkpoint.format = CHECKPOINT_FORMAT;
        self.checkpoint.summary = self.summary.clone();
    }

    pub(crate) async fn save(&mut self) -> Result<(), StoreError> {
        self.prepare();
        self.version = self
            .store
            .save(self.audit, &self.checkpoint, self.version)
            .await?;
        Ok(())
    }

    /// Saves the checkpoint with the rooms first checked on the page just done, as page
    /// `page` of the seen set (in one write: see [`CheckpointStore::save_page`]).
    pub(crate) async fn save_with_page(&mut self, page: u64) -> Result<(), StoreError> {
        self.prepare();
        let seen = SeenPage {
            sweep: self.summary.sweep_started,
            page,
            rooms: self.seen.page(),
        };
        self.version = self
            .store
            .save_page(self.audit, &self.checkpoint, self.version, seen)
            .await?;
        Ok(())
    }

    pub(crate) fn record_change(&mut self, change: Change) {
        *self.summary.changes.entry(change.outcome).or_default() += 1;
        tracing::info!(
            resource_arn = %change.resource_arn,
            action = change.action,
            outcome = ?change.outcome,
            before = %change.before,
            after = %change.after,
            "remediation"
        );
        self.report.change(&change);
    }

    pub(crate) fn changes_made(&self) -> u64 {
        [Outcome::Planned, Outcome::Applied]
            .iter()
            .filter_map(|k| self.summary.changes.get(k))
            .sum()
    }
}

impl Auditor {
    /// An auditor. The client's own retries are turned off: the auditor retries itself,
    /// so every attempt is paced by the budget and counted.
    pub fn new(
        client: aws_sdk_ivschat::Client,
        policy: AuditPolicy,
        scope: Scope,
        options: Options,
    ) -> Result<Self, AuditError> {
        if options.mode != Mode::Off
            && (policy.remediates("room.handler-missing")
                || policy.remediates("room.handler-unapproved"))
            && scope.rooms()
            && policy.approved_handlers().is_empty()
        {
            return Err(AuditError::Config(
                "remediation of room.handler-* needs an approved handler: set rooms.approved_handlers or APPROVED_HANDLER_ARNS".into(),
            ));
        }
        if !(1..=50).contains(&options.page_size) {
            return Err(AuditError::Config(format!(
                "page size {} is out of 1..=50",
                options.page_size
            )));
        }
        let conf = client
            .config()
            .to_builder()
            .retry_config(aws_sdk_ivschat::config::retry::RetryConfig::disabled())
            .build();
        Ok(Self {
            client: aws_sdk_ivschat::Client::from_conf(conf),
            policy,
            scope,
            options,
        })
    }

    /// The policy.
    pub fn policy(&self) -> &AuditPolicy {
        &self.policy
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The same auditor (client, policy, scope) with other options, for one invocation.
    pub fn with_options(&self, options: Options) -> Self {
        Self {
            client: self.client.clone(),
            policy: self.policy.clone(),
            scope: self.scope,
            options,
        }
    }

    /// Runs (or resumes) the sweep until it completes or `deadline` nears. Findings and
    /// changes go to `report` as they are made; the summary is returned. On an error the
    /// checkpoint is saved at the start of the failed page before the error is returned.
    pub async fn run<S: CheckpointStore, R: Report>(
        &self,
        store: &S,
        report: &mut R,
        deadline: Option<Instant>,
    ) -> Result<Summary, AuditError> {
        let started = Instant::now();
        let audit = self.scope.name();
        let now = now_secs();
        let (loaded, version) = store.load(audit).await?;
        let mut cp = loaded.unwrap_or_default();
        if cp.lease_until_ms > now_ms() && cp.lease_owner != self.options.owner {
            tracing::warn!(owner = %cp.lease_owner, "another invocation holds the sweep");
            return Ok(Summary {
                audit: audit.into(),
                status: SweepStatus::Busy,
                ..Summary::default()
            });
        }
        let mut resume = cp.in_progress && !self.options.restart;
        if resume && cp.format != CHECKPOINT_FORMAT {
            tracing::warn!(
                format = cp.format,
                "the sweep in progress was saved by another release; starting a new sweep"
            );
            resume = false;
        }
        let mut seen = Seen::default();
        if resume {
            match store
                .load_seen(audit, cp.summary.sweep_started, cp.pages)
                .await
            {
                Ok(rooms) => seen = Seen::from_rooms(rooms),
                Err(StoreError::Incomplete(why)) => {
                    tracing::warn!(%why, "the sweep's seen rooms are incomplete; starting a new sweep");
                    resume = false;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let mut summary = if resume {
            cp.summary.clone()
        } else {
            cp.next_token = None;
            cp.pages = 0;
            cp.catch_up_pass = 0;
            cp.catch_up_found = 0;
            cp.pass_pages = 0;
            Summary {
                audit: audit.into(),
                sweep_started: now,
                ..Summary::default()
            }
        };
        summary.audit = audit.into();
        summary.invocations += 1;
        summary.status = SweepStatus::InProgress;
        cp.in_progress = true;
        let lease_ms = deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(900));
        cp.lease_until_ms = now_ms() + lease_ms.as_millis() as u64 + 1_000;
        cp.lease_owner = self.options.owner.clone();
        // Keep the reserve, but never more than a quarter of the time there is (a short
        // local timeout must still get work done).
        let remaining = deadline.map(|d| d.saturating_duration_since(started));
        let stop_at = deadline.zip(remaining).map(|(d, left)| {
            d.checked_sub(self.options.reserve.min(left / 4))
                .unwrap_or(started)
        });
        let mut run = Run {
            audit,
            lease: lease_ms + Duration::from_secs(1),
            store,
            report,
            budget: Budget::new(self.options.budget, stop_at),
            base: summary.clone(),
            summary,
            started,
            version,
            // Rooms unchanged since the last complete sweep keep their limits, unless the
            // bounds the limits are checked against have changed since.
            // Less the clock-skew margin: the service's update times and ours may differ.
            watermark: cp
                .last_complete_started
                .filter(|_| cp.limits == self.policy.limits_fingerprint())
                .map(|t| t - CLOCK_SKEW_MARGIN_SECS),
            checkpoint: cp,
            logging: HashMap::new(),
            now,
            seen,
        };
        // Claim the sweep (a conflict means another invocation got there first).
        match run.save().await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Ok(Summary {
                    audit: audit.into(),
                    status: SweepStatus::Busy,
                    ..Summary::default()
                });
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(
            audit,
            resume,
            rooms_so_far = run.summary.rooms_scanned,
            remaining_ms = remaining.map(|r| r.as_millis() as u64),
            "sweep"
        );
        let result = self.pages(&mut run).await;
        if let Err((e, page_start)) = result {
            // The failed page is redone next time: its rooms and findings go back to the
            // page start, but changes already made stay counted (the cap holds, and the
            // redo finds those rooms compliant).
            let changes = std::mem::take(&mut run.summary.changes);
            run.summary = page_start;
            run.summary.changes = changes;
            run.checkpoint.lease_until_ms = 0;
            if matches!(e, AuditError::Api(ApiError::Deadline { .. })) {
                tracing::info!("stopping near the deadline; the next invocation resumes");
            } else if matches!(e, AuditError::Store(StoreError::Conflict)) {
                return Ok(superseded(audit));
            } else {
                tracing::error!(error = %e, "sweep stopped; the checkpoint points at the failed page");
                if let Err(save) = run.save().await {
                    tracing::error!(error = %save, "could not save the checkpoint either");
                }
                return Err(e);
            }
        }
        run.checkpoint.lease_until_ms = 0;
        if run.summary.status == SweepStatus::Complete {
            run.checkpoint.in_progress = false;
            run.checkpoint.next_token = None;
            run.checkpoint.last_complete_started = Some(run.summary.sweep_started);
            run.checkpoint.limits = self.policy.limits_fingerprint();
        }
        match run.save().await {
            Err(StoreError::Conflict) => return Ok(superseded(audit)),
            other => other?,
        }
        if run.summary.status == SweepStatus::Complete
            && let Err(e) = store.clear_seen(audit, run.summary.sweep_started).await
        {
            tracing::warn!(error = %e, "could not clear the finished sweep's seen rooms");
        }
        Ok(run.summary)
    }

    pub(crate) async fn logging_states(
        &self,
        budget: &mut Budget,
    ) -> Result<HashMap<String, String>, ApiError> {
        let mut states = HashMap::new();
        let mut token: Option<String> = None;
        loop {
            let page = budget
                .call(Group::Logging, "ListLoggingConfigurations", || {
                    self.client
                        .list_logging_configurations()
                        .max_results(50)
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            for c in page.logging_configurations() {
                if let (Some(id), Some(state)) = (c.id(), c.state()) {
                    states.insert(id.to_string(), state.as_str().to_string());
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(states);
            }
        }
    }

    /// Checks one room from a listing (and fixes it, if remediation is on). `Ok(false)`:
    /// there was nothing to check (no ARN, or the room vanished).
    pub(crate) async fn room<S: CheckpointStore, R: Report>(
        &self,
        run: &mut Run<'_, S, R>,
        summary: &aws_sdk_ivschat::types::RoomSummary,
    ) -> Result<bool, ApiError> {
        let mut view = RoomView::from_summary(summary);
        if view.arn.is_empty() {
            return Ok(false);
        }
        // Tags are in the summary; read them only if the service left them out.
        if self.scope.tags() && summary.tags().is_none() {
            match self.read_tags(&mut run.budget, &view.arn).await? {
                Some(tags) => view.tags = tags,
                None => {
                    run.summary.rooms_vanished += 1;
                    return Ok(false);
                }
            }
        }
        // Limits need GetRoom: only for rooms changed since the last complete sweep.
        let changed = match (run.watermark, view.updated) {
            (Some(mark), Some(updated)) => updated >= mark,
            _ => true,
        };
        if self.scope.rooms() && self.policy.needs_get_room() && changed {
            match self.read_room(&mut run.budget, &view.arn).await? {
                Some(out) => view = view.with_limits(&out),
                None => {
                    run.summary.rooms_vanished += 1;
                    return Ok(false);
                }
            }
        }
        let findings = self.policy.check(&view, self.scope, &run.logging, run.now);
        for f in &findings {
            run.report.finding(f);
        }
        run.summary.record(&findings);
        run.summary.rooms_scanned += 1;
        if self.options.mode != Mode::Off {
            if self.scope.rooms() {
                self.fix_handler(run, &view).await?;
            }
            if self.scope.tags() {
                self.fix_tags(run, &view).await?;
            }
        }
        Ok(true)
    }

    /// GetRoom; `None` when the room is gone.
    pub(crate) async fn read_room(
        &self,
        budget: &mut Budget,
        arn: &str,
    ) -> Result<Option<aws_sdk_ivschat::operation::get_room::GetRoomOutput>, ApiError> {
        let result = budget
            .call(Group::Room, "GetRoom", || {
                self.client.get_room().identifier(arn).send()
            })
            .await;
        match result {
            Ok(out) => Ok(Some(out)),
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// ListTagsForResource; `None` when the room is gone.
    pub(crate) async fn read_tags(
        &self,
        budget: &mut Budget,
        arn: &str,
    ) -> Result<Option<BTreeMap<String, String>>, ApiError> {
        let result = budget
            .call(Group::Tag, "ListTagsForResource", || {
                self.client
                    .list_tags_for_resource()
                    .resource_arn(arn)
                    .send()
            })
            .await;
        match result {
            Ok(out) => Ok(Some(out.tags().clone().into_iter().collect())),
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
