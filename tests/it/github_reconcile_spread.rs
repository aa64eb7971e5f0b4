//! Reconciliation for many installations: a scheduled run starts each installation at its own
//! place in the period, several at a time, and an installation's run stops reading before it
//! spends the share of the hour GitHub leaves it.

#[allow(unused_imports)]
use crate::github_support;

use std::time::Duration;

use github_support::CallAuth;
use github_support::story::{INSTALLATION, Story};
use owp::github::reconcile::{RESERVE_REMAINING, offset_in};

/// The installations the spread test adds beside the story's own.
const OTHERS: std::ops::Range<u64> = 101..111;

/// Every 10 seconds (a period that divides the minute, so every run's period is the same): a run
/// spreads its installations over 7.5 of them.
const EVERY_10_SECONDS: &str = "*/10 * * * * *";

/// When each installation listed its repositories (the first request of its reconciliation),
/// among the calls from `seen` on.
fn listings(story: &Story, seen: usize) -> Vec<(u64, chrono::DateTime<chrono::Utc>)> {
    story.fake.calls()[seen..]
        .iter()
        .filter(|c| c.method == "GET" && c.path == "/installation/repositories")
        .filter_map(|c| match c.auth {
            CallAuth::Installation(id) => Some((id, c.at)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_reconciliation_starts_each_installation_at_its_own_time() {
    let story = Story::with(None, |c| {
        c.github.github_reconcile_cron = Some(EVERY_10_SECONDS.into());
    })
    .await;
    for id in OTHERS {
        story
            .fake
            .install(id, &format!("org-{id}"), &[&format!("org-{id}/app")]);
    }
    // The first run that began after these were installed: it lists the App's installations.
    let installed = story.fake.calls().len();
    let everyone = OTHERS.count() + 1;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let listed = loop {
        let calls = story.fake.calls();
        let run = calls[installed..]
            .iter()
            .position(|c| c.method == "GET" && c.path == "/app/installations")
            .map(|i| installed + i);
        let listed = run.map(|seen| listings(&story, seen)).unwrap_or_default();
        let mut ids: Vec<u64> = listed.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() == everyone {
            break listed;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not every installation was reconciled: {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The run's window: three quarters of its 10-second period.
    let window = Duration::from_millis(7_500);
    let mut first: Vec<(u64, chrono::DateTime<chrono::Utc>)> = Vec::new();
    for (id, at) in listed {
        if !first.iter().any(|(seen, _)| *seen == id) {
            first.push((id, at));
        }
    }
    // Each installation started at the run's start plus its own offset: subtracting the offset
    // gives every installation the same start (within what a request takes).
    let starts: Vec<i64> = first
        .iter()
        .map(|(id, at)| {
            let offset = offset_in(i64::try_from(*id).unwrap(), window);
            at.timestamp_millis() - i64::try_from(offset.as_millis()).unwrap()
        })
        .collect();
    let (earliest, latest) = (starts.iter().min().unwrap(), starts.iter().max().unwrap());
    assert!(
        latest - earliest < 1_000,
        "installations did not start at their own offsets: {first:?} → starts {starts:?}"
    );
    // … and those offsets spread them: not all in one burst.
    let times: Vec<i64> = first.iter().map(|(_, at)| at.timestamp_millis()).collect();
    let span = times.iter().max().unwrap() - times.iter().min().unwrap();
    assert!(
        span >= 2_000,
        "{everyone} installations were reconciled within {span} ms of each other: {first:?}"
    );
    assert!(first.iter().any(|(id, _)| *id == INSTALLATION));
}

#[tokio::test]
async fn an_installation_low_on_its_hour_is_not_reconciled_further() {
    let story = Story::start().await;
    story.stop_checking_comments();
    let n = story.fake.create_issue(
        github_support::story::REPO,
        "maintainer",
        "Found by looking",
        "No webhook told of it.",
        &["pool:ready"],
    );
    // GitHub says less than the reserve is left of the installation's hour: the repository's
    // issues are not read, and the issue waits for a later run.
    story.fake.set_rate_remaining(RESERVE_REMAINING - 1);
    story.running().github.reconcile_now().await.unwrap();
    let tasks = |story: &Story| {
        let pool = story.running().store.read_pool().clone();
        async move {
            let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tasks")
                .fetch_one(&pool)
                .await
                .unwrap();
            count
        }
    };
    assert_eq!(
        tasks(&story).await,
        0,
        "issue {n} was read below the reserve"
    );
    // The hour renewed: the next run finds it.
    story.fake.set_rate_remaining(4_000);
    story.running().github.reconcile_now().await.unwrap();
    assert_eq!(tasks(&story).await, 1);
}
