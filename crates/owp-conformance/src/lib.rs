//! `owp conformance URL --admin-token TOKEN` (or the `owp-conformance` command of this crate):
//! checks any OWP server against the protocol over HTTP alone (contract section 8).
//!
//! This module is a client of the protocol and nothing more: it imports nothing of the service
//! (`store`, `domain`, `http`, `github`, …), so that what it judges is what goes over the wire, and
//! so that it can judge an implementation written in any language. A test of this crate
//! (`tests/command.rs`) keeps it so.
//!
//! - [`client`]: the HTTP calls and the run's bookkeeping (the repositories, tasks and workers a run
//!   creates, all named with a fresh prefix, and the clean-up after each case).
//! - [`cases`]: the cases, one file per part of the protocol, each a named async function.
//!
//! A case returns `Ok(())` when the server behaved as the protocol says, `Err(Outcome::Failed)`
//! with what was expected and what came back, or `Err(Outcome::Skipped)` with the reason (an
//! optional feature the server does not list in `/v1/meta`, or a TTL longer than `--max-wait`).

pub mod cases;
pub mod client;
pub mod closed_pipe;

use std::collections::BTreeSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use futures_util::StreamExt as _;
use serde::Serialize;

pub use client::Ctx;

#[derive(Args, Debug, Clone)]
pub struct ConformanceArgs {
    /// Base URL of the OWP server to check (e.g. http://127.0.0.1:8787).
    #[arg(required_unless_present = "list")]
    pub url: Option<String>,
    /// The server's admin token (header `X-Admin-Token`), or `OWP_ADMIN_TOKEN`. Without either, for
    /// a server on this machine only, `OWP_ADMIN_TOKEN` from `env.local` (or `.env`) in the working
    /// directory, where `owp serve` saves the one it generated.
    #[arg(long, env = "OWP_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Print every case's name (and the optional feature it needs) and exit.
    #[arg(long)]
    pub list: bool,
    /// Run only the cases whose name contains this text.
    #[arg(long)]
    pub only: Option<String>,
    /// Write the results as JSON to this file (`-` for standard output).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Known failures, one case name a line (`#` starts a comment): they do not fail the run, and
    /// a listed case that passes does (the list is stale).
    #[arg(long)]
    pub expected_failures: Option<PathBuf>,
    /// Skip the cases that would wait longer than this for a TTL to run out.
    #[arg(long, default_value_t = 10)]
    pub max_wait: u64,
    /// The longest a single case may run before it counts as failed.
    #[arg(long, default_value_t = 60)]
    pub case_timeout: u64,
    /// How many cases run at once (1 to 16). A case that needs the server to itself (one that
    /// reaches a per-address limit, or times the server's answers) still runs alone; lines and
    /// the JSON report keep the listed order whatever the number.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub jobs: u16,
}

/// A run in which a case failed (its summary line says so); the command exits 1.
#[derive(Debug, thiserror::Error)]
#[error("conformance cases failed")]
pub struct RunFailed;

/// Why a case did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server broke the protocol: what was expected and what came back.
    Failed(String),
    /// The case does not apply to this server (an optional feature it does not list, a TTL
    /// longer than `--max-wait`).
    Skipped(String),
}

impl From<anyhow::Error> for Outcome {
    fn from(e: anyhow::Error) -> Self {
        Outcome::Failed(format!("{e:#}"))
    }
}

impl From<reqwest::Error> for Outcome {
    fn from(e: reqwest::Error) -> Self {
        Outcome::Failed(format!("HTTP error: {e}"))
    }
}

/// What a case returns.
pub type CaseResult = Result<(), Outcome>;

/// A case's body: an async function of the run's context.
pub type CaseFn = fn(Ctx) -> Pin<Box<dyn Future<Output = CaseResult> + Send>>;

/// One named case.
pub struct Case {
    /// `part.what`, e.g. `wire.problem_json`; stable, since expected-failure lists name it.
    pub name: &'static str,
    /// The optional feature (as listed in `/v1/meta`'s `features`) the case needs, if any.
    pub feature: Option<&'static str>,
    /// Whether the case runs with no other case at once under `--jobs`: it reaches a limit the
    /// server counts per address (every case shares the runner's), or it judges how soon the
    /// server answers, which other cases' load would blur.
    pub alone: bool,
    pub run: CaseFn,
}

/// Fails the case with a message unless the condition holds.
#[macro_export]
macro_rules! ensure_that {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::Outcome::Failed(format!($($msg)+)));
        }
    };
}

/// Fails the case with a message.
#[macro_export]
macro_rules! fail_case {
    ($($msg:tt)+) => {
        return Err($crate::Outcome::Failed(format!($($msg)+)))
    };
}

/// Builds a [`Case`] from an `async fn(Ctx) -> CaseResult`: `case!("part.what", f)`, with
/// `feature = "name"` before `f` for a case of an optional feature, and `alone` before `f` (after
/// any feature) for a case that runs with no other case at once (see [`Case::alone`]).
#[macro_export]
macro_rules! case {
    ($name:literal, $f:path) => {
        $crate::case!(@make $name, None, false, $f)
    };
    ($name:literal, alone, $f:path) => {
        $crate::case!(@make $name, None, true, $f)
    };
    ($name:literal, feature = $feature:literal, $f:path) => {
        $crate::case!(@make $name, Some($feature), false, $f)
    };
    ($name:literal, feature = $feature:literal, alone, $f:path) => {
        $crate::case!(@make $name, Some($feature), true, $f)
    };
    (@make $name:literal, $feature:expr, $alone:literal, $f:path) => {
        $crate::Case {
            name: $name,
            feature: $feature,
            alone: $alone,
            run: |ctx| Box::pin($f(ctx)),
        }
    };
}

#[derive(Serialize, Debug, Clone)]
pub struct CaseReport {
    pub name: String,
    /// `passed`, `failed` or `skipped`.
    pub status: &'static str,
    pub detail: String,
    /// True for a failure listed in `--expected-failures`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub expected: bool,
    pub millis: u128,
}

#[derive(Serialize, Debug)]
pub struct Report {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub cases: Vec<CaseReport>,
    /// The required parts of the claimed revisions that no case can check over HTTP, and why.
    pub not_checked: Vec<NotChecked>,
}

/// A required part of a revision that the runner cannot check over HTTP, and why.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotChecked {
    /// What is not checked.
    pub part: &'static str,
    /// The revision that requires it (the line is printed when the server claims it).
    pub revision: &'static str,
    /// Why no case can check it over HTTP.
    pub why: &'static str,
}

impl NotChecked {
    /// The line a run prints: `NOT_CHECKED part (revision R) — why`.
    pub fn line(&self) -> String {
        format!(
            "NOT_CHECKED {} (revision {}) — {}",
            self.part, self.revision, self.why
        )
    }
}

/// What the runner cannot check over HTTP without harming the server, locking itself out or
/// waiting minutes (the specification's "Profiles"): each line said on every run of a server
/// that claims its revision, so that a pass is never read as more.
pub const NOT_CHECKED: [NotChecked; 6] = [
    NotChecked {
        part: "per-address rate limits (Limits)",
        revision: "1.2",
        why: "every request of the run comes from one address, so reaching a limit refuses the \
              runner's own next requests for up to a minute; and the rates are the operator's \
              to set (0 turns one off), which /v1/meta does not state",
    },
    NotChecked {
        part: "the preview's per-address limit (Limits, part `preview`)",
        revision: "1.3",
        why: "it counts the previews of all the workers of one address together, the rate is \
              the operator's (60 a minute by default, 0 turns it off) and /v1/meta does not \
              state it; reaching it would refuse the run's own later previews",
    },
    NotChecked {
        part: "connection caps (Limits)",
        revision: "1.2",
        why: "reaching `OWP_MAX_CONNECTIONS` (4,096 by default) means holding that many \
              connections open, which refuses every other client of the server meanwhile",
    },
    NotChecked {
        part: "idle timeouts (Limits)",
        revision: "1.2",
        why: "a connection is closed after 60 s without a request by default, the operator's \
              to set and not stated by /v1/meta: a case would wait past --max-wait for a figure \
              it cannot know",
    },
    NotChecked {
        part: "webhook bodies read at once (Limits, GitHub profile)",
        revision: "1.2",
        why: "the runner is not GitHub: it holds no webhook secret to sign a delivery with, so \
              every delivery it sent would be refused before its body is read",
    },
    NotChecked {
        part: "the GitHub profile (section 15)",
        revision: "1.0",
        why: "the runner is not GitHub: issues, labels, comments and pull requests come from \
              GitHub's side, which no request to the server can stand in for",
    },
];

/// The lines of [`NOT_CHECKED`] for a server that claims `versions` (all of them for a server
/// that states none).
pub fn not_checked(versions: &[String]) -> Vec<NotChecked> {
    NOT_CHECKED
        .iter()
        .filter(|n| versions.is_empty() || versions.iter().any(|v| v == n.revision))
        .copied()
        .collect()
}

/// Runs the selected cases (one after another, or `--jobs` at a time), printing a line each in
/// the listed order; returns whether the run passed (nothing failed that was not expected, and
/// no expected failure passed).
pub async fn run(args: ConformanceArgs) -> anyhow::Result<bool> {
    if args.list {
        for case in cases::all() {
            match case.feature {
                Some(feature) => println!("{}  (feature {feature})", case.name),
                None => println!("{}", case.name),
            }
        }
        return Ok(true);
    }
    let Some(url) = &args.url else {
        anyhow::bail!("give the server's URL");
    };
    let admin_token = admin_token_for(url, args.admin_token.clone(), env_file_admin_token);
    let admin_token = admin_token.as_deref().unwrap_or("");
    let expected = match &args.expected_failures {
        Some(path) => read_expected(path)?,
        None => BTreeSet::new(),
    };
    let all = cases::all();
    let unknown: Vec<&String> = expected
        .iter()
        .filter(|name| !all.iter().any(|c| c.name == name.as_str()))
        .collect();
    if let Some(name) = unknown.first() {
        anyhow::bail!("--expected-failures names `{name}`, which is not a case of this runner");
    }
    let selected: Vec<&Case> = all
        .iter()
        .filter(|c| args.only.as_deref().is_none_or(|t| c.name.contains(t)))
        .collect();
    if selected.is_empty() {
        anyhow::bail!("no case matches --only {}", args.only.unwrap_or_default());
    }
    let ctx = Ctx::connect(url, admin_token, Duration::from_secs(args.max_wait)).await?;
    // A case that runs alone takes the gate to itself; the others share it, `--jobs` at a time.
    // The lock is fair, so a case waiting to run alone holds back those listed after it.
    let gate = tokio::sync::RwLock::new(());
    let timeout = Duration::from_secs(args.case_timeout);
    let mut results = futures_util::stream::iter(selected)
        .map(|case| run_case(case, &ctx, &gate, timeout))
        .buffered(usize::from(args.jobs));
    let mut reports = Vec::new();
    let mut stale = Vec::new();
    while let Some((case, result, millis)) = results.next().await {
        let listed = expected.contains(case.name);
        let (status, detail) = match result {
            Ok(()) => ("passed", String::new()),
            Err(Outcome::Failed(detail)) => ("failed", detail),
            Err(Outcome::Skipped(reason)) => ("skipped", reason),
        };
        if listed && status == "passed" {
            stale.push(case.name);
        }
        let report = CaseReport {
            name: case.name.to_string(),
            status,
            detail,
            expected: listed && status == "failed",
            millis,
        };
        print_line(&report, listed);
        reports.push(report);
    }
    drop(results);
    let count = |s: &str| reports.iter().filter(|r| r.status == s).count();
    let versions: Vec<String> = ctx.meta()["versions"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let report = Report {
        passed: count("passed"),
        failed: count("failed"),
        skipped: count("skipped"),
        cases: reports,
        not_checked: not_checked(&versions),
    };
    let unexpected = report
        .cases
        .iter()
        .filter(|r| r.status == "failed" && !r.expected)
        .count();
    for name in &stale {
        println!(
            "STALE {name}: listed in --expected-failures, but it passed; take it off the list"
        );
    }
    let expected_note = match report.failed - unexpected {
        0 => String::new(),
        n => format!(" ({n} expected)"),
    };
    for n in &report.not_checked {
        println!("{}", n.line());
    }
    println!(
        "conformance: {} passed, {} failed{expected_note}, {} skipped",
        report.passed, report.failed, report.skipped
    );
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        if path.as_os_str() == "-" {
            println!("{text}");
        } else {
            std::fs::write(path, text + "\n")
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(unexpected == 0 && stale.is_empty())
}

/// Runs one case, unless the server lacks its feature, and cleans up what it created; gives its
/// result and how long it ran (not counting its wait for the gate).
async fn run_case<'c>(
    case: &'c Case,
    ctx: &Ctx,
    gate: &tokio::sync::RwLock<()>,
    timeout: Duration,
) -> (&'c Case, CaseResult, u128) {
    if let Some(feature) = case.feature.filter(|f| !ctx.has_feature(f)) {
        let skipped = Outcome::Skipped(format!(
            "the server does not list `{feature}` in /v1/meta's features"
        ));
        return (case, Err(skipped), 0);
    }
    let _alone = if case.alone {
        Some(gate.write().await)
    } else {
        None
    };
    let _shared = if case.alone {
        None
    } else {
        Some(gate.read().await)
    };
    let started = Instant::now();
    let scoped = ctx.for_case(case.name);
    let outcome = match tokio::time::timeout(timeout, (case.run)(scoped.clone())).await {
        Ok(result) => result,
        Err(_) => Err(Outcome::Failed(format!(
            "no verdict within {} s (--case-timeout)",
            timeout.as_secs()
        ))),
    };
    scoped.clean_up().await;
    (case, outcome, started.elapsed().as_millis())
}

fn print_line(report: &CaseReport, listed: bool) {
    let tag = match (report.status, listed) {
        ("passed", _) => "PASS ",
        ("failed", true) => "XFAIL",
        ("failed", false) => "FAIL ",
        _ => "SKIP ",
    };
    if report.detail.is_empty() {
        println!("{tag} {}", report.name);
    } else {
        println!("{tag} {} — {}", report.name, report.detail);
    }
}

/// The case names of an expected-failure list (`--expected-failures`): one a line, with `#`
/// comments and blank lines left out.
pub fn read_expected(path: &Path) -> anyhow::Result<BTreeSet<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// The admin token to send to `url`: the one given (flag or environment), else the one the
/// working directory's env files hold (`read_file`), but only for a server on this machine. Those
/// files belong to the local service; a token from them never goes to another host.
pub fn admin_token_for(
    url: &str,
    given: Option<String>,
    read_file: impl FnOnce() -> Option<String>,
) -> Option<String> {
    given
        .filter(|t| !t.trim().is_empty())
        .or_else(|| on_this_machine(url).then(read_file).flatten())
}

/// `OWP_ADMIN_TOKEN` as `env.local`, else `.env`, in the working directory sets it (the files are
/// read, not loaded into the environment).
fn env_file_admin_token() -> Option<String> {
    ["env.local", ".env"].iter().find_map(|name| {
        dotenvy::from_filename_iter(name)
            .ok()?
            .flatten()
            .find(|(key, value)| key == "OWP_ADMIN_TOKEN" && !value.trim().is_empty())
            .map(|(_, value)| value)
    })
}

/// Whether `url` names a server on this machine (`localhost` or a loopback address).
fn on_this_machine(url: &str) -> bool {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
