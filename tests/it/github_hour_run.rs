//! An installation's hour, run: task lives — labelled `pool:ready`, claimed, a pull request
//! opened and merged — driven through one installation for one hour against the fake GitHub,
//! which enforces GitHub's secondary limits on content-creating requests per installation (80 a
//! minute and 500 an hour, refused with `403`/`429` and `retry-after` past them). The clock runs
//! [`SPEED`] times faster: the fake's minute and hour and the App's own pacing (its minute, hour
//! and spacing between writes, through their settings) are shortened alike. It counts the lives
//! whose `Done` reached GitHub within the hour and the writes each cost, and checks that GitHub
//! refused none and that the App kept to its budget.
//!
//! The runs of the test suite use a fifth of every budget (GitHub's and the App's alike, so
//! their ratios stay): driving an hour's worth of lives at the whole budgets (250) within the
//! run's 24 s needs a quiet machine (`a_whole_installation_hour_of_task_lives`, run by hand).
//!
//! The status window (`OWP_GITHUB_STATUS_WINDOW_MS`, 3 s) is not shortened by the same factor:
//! applying a delivery takes as long on a fast clock as on a slow one, and a window of 3 s /
//! [`SPEED`] would be shorter than the time between the label's and the claim's deliveries
//! being applied on a busy test machine. Each run's window is long enough for a burst of
//! changes (the label and the claim; the pull request and its merge) to come together, as they
//! do within 3 s on GitHub's clock. Each person opens their pull request only once GitHub shows
//! their claim, so a life is two bursts: what a life costs does not depend on how fast the
//! machine is, only how many lives are driven within the hour does.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::TimeDelta;

use crate::github_support::Call;
use crate::github_support::story::{REPO, Story};

/// How many times faster than GitHub's the clock runs: an hour of 24 s.
const SPEED: u32 = 150;
/// The hour and the minute on that clock, in milliseconds.
const HOUR_MS: u32 = 3_600_000 / SPEED;
const MINUTE_MS: u32 = 60_000 / SPEED;
/// The App's spacing between writes on that clock (GitHub asks for about a second).
const SPACING_MS: u32 = 1_000 / SPEED;
/// GitHub's content-creation limits per installation.
const GITHUB_PER_MINUTE: u32 = 80;
const GITHUB_PER_HOUR: u32 = 500;
/// The App's own budgets (its defaults: GitHub's minute and hour; a write counts until GitHub
/// answered it, so the App may use the whole hour).
const APP_PER_MINUTE: u32 = 80;
const APP_PER_HOUR: u32 = 500;

/// One run: the share of the limits it uses, the people at work and the status window.
struct Run {
    /// Every budget, GitHub's and the App's, is divided by this (1: the real figures). A share
    /// keeps the limits' ratios, and the lives counted are a share of an hour's.
    share: u32,
    /// People working at once, each on one task at a time.
    people: usize,
    /// The status window of the run, in milliseconds (see the module's text).
    window_ms: u32,
}

impl Run {
    fn app_per_hour(&self) -> u32 {
        APP_PER_HOUR / self.share
    }
}

/// The marker of a status comment.
const STATUS: &str = "<!-- owp:status task=";

/// Whether a call was a content-creating request (a comment, an edit, a reaction).
fn write(c: &Call) -> bool {
    matches!(c.method.as_str(), "POST" | "PATCH") && c.path.contains("/issues/")
}

/// Waits until the status comment of issue `n` shows `text`; false when the hour ends first.
async fn shown(story: &Story, n: u64, text: &str, end: Instant) -> bool {
    loop {
        let comments = story.fake.bot_comments(REPO, n);
        if comments
            .iter()
            .any(|c| c.body.starts_with(STATUS) && c.body.contains(text))
        {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends a delivery as GitHub does (without waiting for its effects).
async fn deliver(story: &Story, event: &str, payload: &serde_json::Value) {
    let status = story.fake.send_webhook(event, payload).await;
    assert!((200..300).contains(&status), "{event}: {status}");
}

/// One person's hour: task after task, each labelled by a maintainer and claimed at once, a
/// pull request opened once the claim shows, merged at once. Returns the issues whose `Done`
/// GitHub showed within the hour.
async fn person(
    story: &Story,
    login: String,
    start: Duration,
    end: Instant,
    issues: &Mutex<Vec<u64>>,
) -> Vec<u64> {
    tokio::time::sleep(start).await;
    let mut done = Vec::new();
    while Instant::now() < end {
        let n = story
            .fake
            .create_issue(REPO, "maintainer", "A task", "Something to do.", &[]);
        issues.lock().unwrap().push(n);
        story.fake.add_label(REPO, n, "pool:ready");
        deliver(story, "issues", &story.labeled_payload(n, "pool:ready")).await;
        let claim = story.fake.add_comment(REPO, n, &login, "/owp claim");
        let payload = story.comment_payload(claim, "created", None);
        deliver(story, "issue_comment", &payload).await;
        if !shown(story, n, &login, end).await {
            break;
        }
        let pr = story
            .fake
            .open_pr(REPO, &login, "A fix", &format!("Fixes #{n}"));
        let payload = story.pr_payload("pull_request.opened", pr, &login);
        deliver(story, "pull_request", &payload).await;
        story.fake.merge_pr(REPO, pr);
        let payload = story.pr_payload("pull_request.closed.merged.derived", pr, "maintainer");
        deliver(story, "pull_request", &payload).await;
        if !shown(story, n, "**Done**", end).await {
            break;
        }
        done.push(n);
    }
    done
}

/// The issue a write was about (its comment's issue, for an edit or a reaction).
fn issue_of(story: &Story, c: &Call) -> Option<u64> {
    let parts: Vec<&str> = c.path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["repos", _, _, "issues", n, "comments"] => n.parse().ok(),
        ["repos", _, _, "issues", "comments", id, ..] => {
            story.fake.comment(id.parse().ok()?).map(|c| c.number)
        }
        _ => None,
    }
}

async fn an_hour_of_task_lives(postgres: bool, run: Run) {
    let share = run.share;
    let story = Story::on(postgres, Some("max_open_prs: 100\n"), |c| {
        c.github.github_write_windows_ms = Some(vec![MINUTE_MS, HOUR_MS]);
        c.github.github_write_spacing_ms = Some(SPACING_MS);
        c.github.github_status_window_ms = Some(run.window_ms);
        c.github.github_writes_per_minute = Some(APP_PER_MINUTE / share);
        c.github.github_writes_per_hour = Some(APP_PER_HOUR / share);
    })
    .await;
    story.stop_checking_comments();
    let minute = TimeDelta::milliseconds(i64::from(MINUTE_MS));
    let hour = TimeDelta::milliseconds(i64::from(HOUR_MS));
    story.fake.set_content_limits(&[
        ((GITHUB_PER_MINUTE / share) as usize, minute),
        ((GITHUB_PER_HOUR / share) as usize, hour),
    ]);
    let seen = story.fake.calls().len();

    let started = Instant::now();
    let hour_began = chrono::Utc::now();
    let end = started + Duration::from_millis(u64::from(HOUR_MS));
    let issues = Mutex::new(Vec::new());
    // People start one after another, as they would, not all in one instant.
    let people = (0..run.people).map(|i| {
        let start = Duration::from_millis(u64::from(run.window_ms) / 4 * i as u64);
        person(&story, format!("dev-{i:02}"), start, end, &issues)
    });
    let done: Vec<u64> = futures_util::future::join_all(people)
        .await
        .into_iter()
        .flatten()
        .collect();
    let calls: Vec<Call> = story.fake.calls()[seen..].to_vec();

    let violations = story.fake.take_violations();
    assert!(
        violations.is_empty(),
        "requests GitHub's REST description refuses: {violations:#?}"
    );
    // GitHub refused no write of the App.
    let refused: Vec<String> = calls
        .iter()
        .filter(|c| write(c) && matches!(c.status, 403 | 429))
        .map(|c| format!("{} {} {}", c.method, c.path, c.status))
        .collect();
    assert!(refused.is_empty(), "GitHub refused: {refused:#?}");
    let writes: Vec<&Call> = calls
        .iter()
        .filter(|c| write(c) && (200..300).contains(&c.status))
        .collect();
    let reads = calls.iter().filter(|c| c.method == "GET").count();
    // The settings the repository joined with are remembered: no delivery reads them again.
    let settings: Vec<&Call> = calls
        .iter()
        .filter(|c| c.path.contains("owp.yml"))
        .collect();
    assert!(settings.is_empty(), "settings read again: {settings:#?}");
    // When the App's hourly budget was spent, on the hour's clock.
    let spent_ms = writes
        .last()
        .filter(|_| writes.len() >= run.app_per_hour() as usize)
        .map(|c| (c.at - hour_began).num_milliseconds());

    // What each life whose `Done` GitHub showed cost.
    let mut per_life = std::collections::BTreeMap::<u64, usize>::new();
    for c in &writes {
        if let Some(n) = issue_of(&story, c)
            && done.contains(&n)
        {
            *per_life.entry(n).or_default() += 1;
        }
    }
    let lives = done.len();
    let life_writes: usize = per_life.values().sum();
    let started_lives = issues.lock().unwrap().len();
    let budget = run.app_per_hour() as usize;
    println!(
        "one installation hour ({HOUR_MS} ms at {SPEED}x) at 1/{share} of the limits \
         ({} writes a minute, {} an hour; the App {} and {budget}), {} people: {lives} task lives \
         done ({started_lives} started), {} writes accepted ({life_writes} by the lives done: \
         {:.2} a life), none refused; {reads} reads ({:.2} a life); the App's budget spent \
         after {spent_ms:?} ms",
        GITHUB_PER_MINUTE / share,
        GITHUB_PER_HOUR / share,
        APP_PER_MINUTE / share,
        run.people,
        writes.len(),
        life_writes as f64 / lives.max(1) as f64,
        reads as f64 / lives.max(1) as f64,
    );
    println!(
        "task lives per installation hour: {} run (the lives done, times {share}); the App's \
         {APP_PER_HOUR} writes an hour carry {} such lives, GitHub's {GITHUB_PER_HOUR} would carry {}",
        lives * share as usize,
        APP_PER_HOUR as usize * lives / life_writes.max(1),
        GITHUB_PER_HOUR as usize * lives / life_writes.max(1)
    );
    assert!(
        per_life.values().all(|&w| w <= 2),
        "a life costs at most its two bursts: {:?}",
        per_life.iter().filter(|(_, w)| **w > 2).collect::<Vec<_>>()
    );
    assert!(
        writes.len() <= budget,
        "the App keeps to its {budget} an hour: {}",
        writes.len()
    );
    // The App's hourly budget, two writes a life; the people still at work when it is spent
    // have had one write of theirs (their `Done` is written the next hour).
    let least = (budget - run.people) / 2;
    assert!(
        lives >= least,
        "{lives} task lives in the hour, fewer than {least}: {} writes",
        writes.len()
    );
}

/// A fifth of every budget (GitHub's 16 writes a minute and 100 an hour, the App's alike),
/// so that the hour's lives fit in its 24 s on a busy machine.
fn fifth() -> Run {
    Run {
        share: 5,
        people: 8,
        window_ms: 800,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_hour_carries_the_task_lives_its_write_budget_allows() {
    an_hour_of_task_lives(false, fifth()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_hour_carries_the_task_lives_its_write_budget_allows_postgres() {
    an_hour_of_task_lives(true, fifth()).await;
}

/// GitHub's and the App's whole budgets: 250 lives have to be driven within the 24 s, which a
/// quiet machine does on SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement at the whole budgets; needs a quiet machine"]
async fn a_whole_installation_hour_of_task_lives() {
    an_hour_of_task_lives(
        false,
        Run {
            share: 1,
            people: 20,
            window_ms: 600,
        },
    )
    .await;
}
