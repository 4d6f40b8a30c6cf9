//! `chatmod`: review messages and events with a policy, check policies, run their examples.

use anyhow::{Context, Result, bail};
use chat_rules::{DEFAULT_POLICY_TOML, Policy, PolicySet};
use clap::{Parser, Subcommand};
use ivs_chat_review::{ReviewConfig, ReviewRequest, ReviewService, RuleReviewer};
use std::io::BufRead;
use std::time::Instant;

/// Review chat messages with a moderation policy, check policies and run their examples.
#[derive(Debug, Parser)]
#[command(name = "chatmod", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Review IVS review events (files) and typed messages, and print each verdict, the
    /// rules that fired and the response sent to IVS.
    Review(ReviewArgs),
    /// Check a policy or print the default one.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Show the normalised form the term matcher sees.
    Normalize {
        /// The message (several words are joined with spaces).
        #[arg(required = true)]
        text: Vec<String>,
    },
}

#[derive(Debug, clap::Args)]
struct ReviewArgs {
    /// A policy file (TOML or JSON); without it the embedded default policy is used.
    #[arg(long, value_name = "FILE")]
    policy: Option<String>,
    /// The room the messages are sent to (a room ARN), for per-room policies.
    #[arg(long, value_name = "ARN", default_value = "")]
    room: String,
    /// A message to review; repeat for more.
    #[arg(long = "text", short = 't', value_name = "MESSAGE")]
    texts: Vec<String>,
    /// Review each non-empty line of standard input as a message.
    #[arg(long)]
    stdin: bool,
    /// IVS message review events (JSON files).
    #[arg(value_name = "EVENT.json")]
    events: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Compile a policy (default: the embedded one), report its size, unreachable and
    /// shadowed rules, and run its examples; exits 1 if it does not compile or an example
    /// fails.
    #[command(visible_alias = "test")]
    Check {
        /// The policy file (TOML or JSON).
        #[arg(value_name = "FILE")]
        file: Option<String>,
    },
    /// Print the embedded default policy (a starting point for your own).
    PrintDefault,
}

/// `println!` that returns an error instead of panicking when stdout is closed
/// (`chatmod ... | head`).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

fn main() {
    if let Err(e) = run() {
        let broken_pipe = e
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe);
        if broken_pipe {
            return;
        }
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    match Cli::parse().command {
        Command::Review(args) => review(args),
        Command::Policy(PolicyCommand::Check { file }) => check(file.as_deref()),
        Command::Policy(PolicyCommand::PrintDefault) => {
            say!("{}", DEFAULT_POLICY_TOML.trim_end());
            Ok(())
        }
        Command::Normalize { text } => {
            let n = Policy::default_policy()
                .normalizer()
                .normalize(&text.join(" "));
            say!("{}", n.to_string_lossy());
            Ok(())
        }
    }
}

fn load(path: Option<&str>) -> Result<Policy> {
    match path {
        Some(p) => Policy::from_file(p).with_context(|| format!("policy {p}")),
        None => Ok(Policy::default_policy()),
    }
}

fn review(args: ReviewArgs) -> Result<()> {
    let ReviewArgs {
        policy,
        room,
        mut texts,
        stdin,
        events: files,
    } = args;
    if stdin {
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            if !line.trim().is_empty() {
                texts.push(line);
            }
        }
    }
    let reviewer = RuleReviewer::new(PolicySet::new(load(policy.as_deref())?));
    let service = ReviewService::new(reviewer, ReviewConfig::default());
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    for f in &files {
        let body = std::fs::read(f).with_context(|| format!("reading {f}"))?;
        let started = Instant::now();
        let resp = rt.block_on(service.handle_bytes(&body));
        let took = started.elapsed();
        let fired = ReviewRequest::from_slice(&body)
            .map(|r| service.reviewer().decide(&r).fired)
            .unwrap_or_else(|e| vec![format!("(invalid request: {e})")]);
        print_result(f, resp.review_result.as_str(), &fired, &resp, took)?;
    }
    for t in &texts {
        let mut req = ReviewRequest::new(t.clone());
        req.room_arn = room.clone();
        let started = Instant::now();
        let resp = rt.block_on(service.handle(serde_json::to_value(&req)?));
        let took = started.elapsed();
        let fired = service.reviewer().decide(&req).fired;
        print_result(
            &format!("{t:?}"),
            resp.review_result.as_str(),
            &fired,
            &resp,
            took,
        )?;
    }
    if files.is_empty() && texts.is_empty() {
        bail!("nothing to review: give event files, --text MESSAGE or --stdin");
    }
    Ok(())
}

fn print_result(
    what: &str,
    result: &str,
    fired: &[String],
    resp: &ivs_chat_review::ReviewResponse,
    took: std::time::Duration,
) -> Result<()> {
    let rules = if fired.is_empty() {
        "-".to_string()
    } else {
        fired.join(", ")
    };
    say!("{what}");
    say!(
        "  verdict  {result}   rules: {rules}   ({} us)",
        took.as_micros()
    );
    say!(
        "  response {}",
        serde_json::to_string(resp).unwrap_or_default()
    );
    Ok(())
}

fn check(path: Option<&str>) -> Result<()> {
    let started = Instant::now();
    let policy = load(path)?;
    let took = started.elapsed();
    let s = policy.stats();
    say!(
        "policy `{}` compiled in {:.1} ms: {} rules, {} terms ({} automaton patterns), {} allowed terms, {} regexes",
        policy.name(),
        took.as_secs_f64() * 1e3,
        s.rules,
        s.terms,
        s.patterns,
        s.allow_terms,
        s.regexes
    );
    for l in policy.lint() {
        say!("  note: rule `{}`: {}", l.rule, l.message);
    }
    let results = policy.check_examples();
    let failed: Vec<_> = results.iter().filter(|r| !r.passed()).collect();
    for r in &failed {
        say!(
            "  FAIL example {} {:?}: {} (fired: {})",
            r.index,
            r.text,
            r.failure.as_deref().unwrap_or(""),
            r.fired.join(", ")
        );
    }
    say!(
        "examples: {} passed, {} failed",
        results.len() - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        bail!("{} example(s) failed", failed.len());
    }
    Ok(())
}
