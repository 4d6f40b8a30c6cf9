//! `chatmod`: review messages and events with a policy, check policies, run their examples.

use anyhow::{Context, Result, bail};
use chat_rules::{DEFAULT_POLICY_TOML, Policy, PolicySet};
use ivs_chat_review::{ReviewConfig, ReviewRequest, ReviewService, RuleReviewer};
use std::io::BufRead;
use std::time::Instant;

const HELP: &str = "\
chatmod: review chat messages with a moderation policy

USAGE:
  chatmod review [--policy FILE] [--room ARN] [--text MESSAGE]... [EVENT.json]...
      Review IVS review events (files) and typed messages (--text, or lines on standard
      input with --stdin) and print each verdict, the rules that fired and the response.
      Without --policy the embedded default policy is used.
  chatmod policy check [FILE]
      Compile a policy (default: the embedded one), report its size, unreachable and
      shadowed rules, and run its examples. Exits 1 if it does not compile or an example
      fails.
  chatmod policy print-default
      Print the embedded default policy (a starting point for your own).
  chatmod normalize TEXT
      Show the normalised form the term matcher sees.
";

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
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("review") => review(&args[1..]),
        Some("policy") => match args.get(1).map(String::as_str) {
            Some("check") | Some("test") => check(args.get(2).map(String::as_str)),
            Some("print-default") => {
                say!("{}", DEFAULT_POLICY_TOML.trim_end());
                Ok(())
            }
            _ => bail!("usage: chatmod policy check [FILE] | chatmod policy print-default"),
        },
        Some("normalize") => {
            let text = args[1..].join(" ");
            let n = Policy::default_policy().normalizer().normalize(&text);
            say!("{}", n.to_string_lossy());
            Ok(())
        }
        Some("-h") | Some("--help") | Some("help") | None => {
            say!("{}", HELP.trim_end());
            Ok(())
        }
        Some(other) => bail!("unknown command {other:?}; see chatmod --help"),
    }
}

fn load(path: Option<&str>) -> Result<Policy> {
    match path {
        Some(p) => Policy::from_file(p).with_context(|| format!("policy {p}")),
        None => Ok(Policy::default_policy()),
    }
}

fn review(args: &[String]) -> Result<()> {
    let mut policy = None;
    let mut room = String::new();
    let mut texts = Vec::new();
    let mut files = Vec::new();
    let mut stdin = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--policy" => policy = Some(it.next().context("--policy needs a file")?.clone()),
            "--room" => room = it.next().context("--room needs an ARN")?.clone(),
            "--text" | "-t" => texts.push(it.next().context("--text needs a message")?.clone()),
            "--stdin" => stdin = true,
            f if f.starts_with('-') => bail!("unknown option {f}; see chatmod --help"),
            f => files.push(f.to_string()),
        }
    }
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
