//! An installation's hour of GitHub requests (docs/performance.md): what a task's whole life
//! writes, what a quiet scheduled reconciliation of 50 repositories costs and what the first
//! one after a restart costs, the settings file read again when a push changes it (and not
//! otherwise, by scheduled reconciliations and webhook deliveries alike), and the task lives one
//! installation carries in an hour under GitHub's limits.

use serde_json::{Value, json};

use crate::github_support::Call;
use crate::github_support::model::{FailWhen, Failure};
use crate::github_support::story::{INSTALLATION, OWNER, REPO, Story};

/// GitHub's content-creation limit per hour.
const GITHUB_WRITES_PER_HOUR: usize = 500;

/// Whether a call was a content-creating request GitHub accepted (a comment, an edit, a
/// reaction).
fn accepted_write(c: &Call) -> bool {
    matches!(c.method.as_str(), "POST" | "PATCH")
        && c.path.contains("/issues/")
        && (200..300).contains(&c.status)
}

/// The accepted writes among the calls since `seen`.
fn writes_since(story: &Story, seen: usize) -> Vec<String> {
    story.fake.calls()[seen..]
        .iter()
        .filter(|c| accepted_write(c))
        .map(|c| format!("{} {}", c.method, c.path))
        .collect()
}

/// One task's whole life — labelled, claimed, a pull request opened and merged — where the
/// claim follows the label, and the merge the pull request, within the status window (as when
/// a person claims a task they were waiting for, and a maintainer merges a small fix at once).
/// Returns the writes it cost.
async fn life_in_two_bursts(story: &Story, title: &str) -> Vec<String> {
    let n = story.open_issue(title, &[]).await;
    let seen = story.fake.calls().len();
    story.fake.add_label(REPO, n, "pool:ready");
    story
        .deliver("issues", &story.labeled_payload(n, "pool:ready"))
        .await;
    let claim = story.fake.add_comment(REPO, n, "alice", "/owp claim");
    story
        .deliver(
            "issue_comment",
            &story.comment_payload(claim, "created", None),
        )
        .await;
    story.settle().await;
    story.expect_status(n, &["alice"]);
    assert!(
        !story.reacted(claim, "+1"),
        "the status comment answers the claim"
    );
    let pr = story
        .fake
        .open_pr(REPO, "alice", "A fix", &format!("Fixes #{n}"));
    story.remember_number(pr);
    story
        .deliver(
            "pull_request",
            &story.pr_payload("pull_request.opened", pr, "alice"),
        )
        .await;
    story.fake.merge_pr(REPO, pr);
    story
        .deliver(
            "pull_request",
            &story.pr_payload("pull_request.closed.merged.derived", pr, "maintainer"),
        )
        .await;
    story.settle().await;
    story.expect_status(n, &["**Done**"]);
    writes_since(story, seen)
}

async fn a_task_life_costs_two_writes(postgres: bool) {
    // The default window is 3 s; a loaded test machine gets a little more.
    let story = Story::on(postgres, None, |c| {
        c.github.github_status_window_ms = Some(5_000);
    })
    .await;
    let writes = life_in_two_bursts(&story, "Fix the parser").await;
    println!("a task's whole life in two bursts: {} writes", writes.len());
    assert_eq!(
        writes.len(),
        2,
        "one status comment and one edit: {writes:#?}"
    );
    // GitHub's hourly content limit, spent on such lives only.
    let lives = GITHUB_WRITES_PER_HOUR / writes.len();
    println!("task lives per installation hour at GitHub's 500 writes: {lives}");
    assert!(lives >= 250, "{lives}");
}

#[tokio::test]
async fn a_task_life_costs_two_writes_when_its_changes_come_together() {
    a_task_life_costs_two_writes(false).await;
}

#[tokio::test]
async fn a_task_life_costs_two_writes_when_its_changes_come_together_postgres() {
    a_task_life_costs_two_writes(true).await;
}

#[tokio::test]
async fn a_spread_out_task_life_writes_each_change_once_and_nothing_else() {
    // Without a window, each change is written on its own: the status comment and three edits
    // (claimed, pull request, done) — and no thumbs-up on the claim, no edit that changes
    // nothing.
    let story = Story::start().await;
    let n = story.open_issue("Fix the lexer", &[]).await;
    let seen = story.fake.calls().len();
    story.add_label(n, "pool:ready").await;
    let claim = story.comment(n, "alice", "/owp claim").await;
    assert!(!story.reacted(claim, "+1"));
    story.expect_status(n, &["alice"]);
    let pr = story.open_pr("alice", &format!("Fixes #{n}")).await;
    story.merge_pr(pr).await;
    story.expect_status(n, &["**Done**"]);
    let writes = writes_since(&story, seen);
    println!("a spread-out task life: {} writes", writes.len());
    assert_eq!(writes.len(), 4, "{writes:#?}");
}

/// The installation of the reconciliation test: `repos` repositories (the story's own first)
/// with one ready issue each; every fifth has no settings file.
fn big_installation(story: &Story, repos: usize) {
    let mut names = vec![REPO.to_string()];
    for i in 1..repos {
        let name = format!("{OWNER}/project-{i:02}");
        story.fake.add_repo(INSTALLATION, &name);
        names.push(name);
    }
    for (r, name) in names.iter().enumerate() {
        if r % 5 != 0 {
            story
                .fake
                .set_file(name, ".github/owp.yml", "max_open_prs: 4\n");
        }
        story.fake.create_issue(
            name,
            "maintainer",
            "Task",
            "Something to do.",
            &["pool:ready"],
        );
    }
}

/// The requests sent since `seen` (the comment sender's included), and how many of them GitHub
/// counted against the rate limit (all but the `304 Not Modified` answers to conditional
/// requests).
fn counted_since(story: &Story, seen: usize) -> (Vec<Call>, usize) {
    let calls: Vec<Call> = story.fake.calls()[seen..].to_vec();
    let counted = calls.iter().filter(|c| c.status != 304).count();
    (calls, counted)
}

/// Calls grouped by what they ask for.
fn summary(calls: &[Call]) -> Vec<String> {
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for c in calls {
        let mut kind: Vec<&str> = c
            .path
            .split('/')
            .map(|p| {
                if !p.is_empty() && p.chars().all(|ch| ch.is_ascii_digit()) {
                    "N"
                } else {
                    p
                }
            })
            .collect();
        if kind.get(1) == Some(&"repos") && kind.len() > 3 {
            kind[2] = "{owner}";
            kind[3] = "{repo}";
        }
        let key = format!("{} {} {}", c.method, kind.join("/"), c.status);
        *kinds.entry(key).or_default() += 1;
    }
    kinds
        .into_iter()
        .map(|(k, n)| format!("{n} × {k}"))
        .collect()
}

async fn quiet_and_cold_reconciliations(postgres: bool) {
    const REPOS: usize = 50;
    let mut story = Story::on(postgres, None, |_| {}).await;
    story.stop_checking_comments();
    big_installation(&story, REPOS);
    // The installation's repositories join, each read in full; their tasks' status comments
    // change the listings, which the next scheduled reconciliation reads.
    story.running().github.reconcile_now().await.unwrap();
    story.settle().await;
    story
        .running()
        .github
        .reconcile_scheduled_now()
        .await
        .unwrap();

    // Nothing changed: the scheduled reconciliation reads no settings file (the database
    // remembers each, or that there is none) and every listing is answered 304.
    let seen = story.fake.calls().len();
    story
        .running()
        .github
        .reconcile_scheduled_now()
        .await
        .unwrap();
    story.settle().await;
    let (quiet, quiet_counted) = counted_since(&story, seen);
    println!(
        "quiet reconciliation of {REPOS} repositories: {} requests, {quiet_counted} counted: {:#?}",
        quiet.len(),
        summary(&quiet)
    );
    assert!(
        !quiet.iter().any(|c| c.path.contains("owp.yml")),
        "no settings file is read: {:#?}",
        summary(&quiet)
    );
    assert_eq!(
        quiet_counted,
        0,
        "a quiet reconciliation costs nothing counted: {:#?}",
        summary(&quiet)
    );

    // A restart: the start-up reconciliation asks with what the database remembers.
    story.stop().await;
    let seen = story.fake.calls().len();
    story.boot().await;
    let (cold, cold_counted) = counted_since(&story, seen);
    println!(
        "reconciliation after a restart, {REPOS} repositories: {} requests, {cold_counted} counted: {:#?}",
        cold.len(),
        summary(&cold)
    );
    // The App's own description, the failed-delivery listing and the installation's token.
    assert!(
        cold_counted <= 3,
        "{cold_counted} counted: {:#?}",
        summary(&cold)
    );
}

#[tokio::test]
async fn a_quiet_reconciliation_of_50_repositories_costs_no_counted_request() {
    quiet_and_cold_reconciliations(false).await;
}

#[tokio::test]
async fn a_quiet_reconciliation_of_50_repositories_costs_no_counted_request_postgres() {
    quiet_and_cold_reconciliations(true).await;
}

/// A push to the default branch of the story's repository that changes `path`.
fn push_payload(path: &str, after: &str) -> Value {
    let user = json!({"login": "octo-org", "id": 9_000_001, "type": "User"});
    json!({
        "ref": "refs/heads/main",
        "before": "0".repeat(40),
        "after": after,
        "repository": {"id": 4711, "name": "hello", "full_name": REPO,
                       "private": false, "default_branch": "main"},
        "commits": [{"id": after, "message": "Settings",
                     "added": [], "removed": [], "modified": [path]}],
        "head_commit": {"id": after, "message": "Settings",
                        "added": [], "removed": [], "modified": [path]},
        "pusher": {"name": "octo-org", "email": null},
        "sender": user,
        "installation": {"id": INSTALLATION},
    })
}

#[tokio::test]
async fn a_push_that_changes_the_settings_file_reads_it_again() {
    let story = Story::with(Some("max_open_prs: 4\n"), |_| {}).await;
    assert_eq!(story.policy().await.max_open_prs, 4);

    // The file changes, and the push is not seen: the scheduled reconciliation keeps what the
    // database remembers (the slow safety re-read comes a day later).
    story
        .fake
        .set_file(REPO, ".github/owp.yml", "max_open_prs: 7\n");
    story
        .running()
        .github
        .reconcile_scheduled_now()
        .await
        .unwrap();
    assert_eq!(story.policy().await.max_open_prs, 4);

    // A push that changes something else is not read.
    let seen = story.fake.calls().len();
    story
        .send("push", &push_payload("src/lib.rs", &"2".repeat(40)))
        .await;
    assert_eq!(story.fake.calls().len(), seen, "nothing is read");
    assert_eq!(story.policy().await.max_open_prs, 4);

    // The push that changes it: read at once.
    story
        .send("push", &push_payload(".github/owp.yml", &"3".repeat(40)))
        .await;
    assert_eq!(story.policy().await.max_open_prs, 7);

    // A push that GitHub cannot be asked about keeps the settings in force …
    story
        .fake
        .set_file(REPO, ".github/owp.yml", "max_open_prs: 9\n");
    story
        .fake
        .fail(FailWhen::on("GET", "owp.yml"), 100, Failure::ServerError);
    story
        .send("push", &push_payload(".github/owp.yml", &"4".repeat(40)))
        .await;
    assert_eq!(story.policy().await.max_open_prs, 7, "failing closed");
    // … and the next delivery reads it again.
    story.github_recovers();
    let seen = story.fake.count_calls("GET", "owp.yml");
    story.open_issue("Anything", &[]).await;
    assert_eq!(story.fake.count_calls("GET", "owp.yml"), seen + 1);
    assert_eq!(story.policy().await.max_open_prs, 9);
}

/// As if `ms` milliseconds had passed since the repository's settings were last read: the
/// database's record of that read moves that far back.
async fn settings_read_ago(story: &Story, ms: i64) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&story.config.database_url())
        .await
        .unwrap();
    sqlx::query("UPDATE gh_repos SET config_checked_at = config_checked_at - $1")
        .bind(ms)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

const MINUTE_MS: i64 = 60_000;

/// How often the settings file was asked for.
fn settings_reads(story: &Story) -> usize {
    story.fake.count_calls("GET", ".github/owp.yml")
}

/// A task's whole life by webhook deliveries: labelled, claimed, a pull request opened, merged.
async fn a_life(story: &Story, title: &str) {
    let n = story.label_issue(title, &[]).await;
    story.comment(n, "alice", "/owp claim").await;
    let pr = story.open_pr("alice", &format!("Fixes #{n}")).await;
    story.merge_pr(pr).await;
}

#[tokio::test]
async fn deliveries_use_the_remembered_settings_until_a_push_changes_them() {
    let story = Story::with(Some("max_open_prs: 4\n"), |_| {}).await;
    let joined = settings_reads(&story);
    assert_eq!(joined, 1, "read once, when the repository joined");
    // The file changes and no push is seen.
    story
        .fake
        .set_file(REPO, ".github/owp.yml", "max_open_prs: 7\n");

    // An hour of deliveries, a task's life every ten minutes: none reads the settings file (a
    // merge into the default branch neither: its push would say if it changed the file).
    for i in 0..6 {
        settings_read_ago(&story, 10 * MINUTE_MS).await;
        a_life(&story, &format!("Task {i}")).await;
    }
    assert_eq!(settings_reads(&story), joined, "no delivery read the file");
    assert_eq!(story.policy().await.max_open_prs, 4);

    // The slow safety re-read, the scheduled reconciliation's rule: a day after the last read,
    // the next delivery reads the file, once.
    settings_read_ago(&story, 24 * 60 * MINUTE_MS).await;
    a_life(&story, "Task 6").await;
    assert_eq!(settings_reads(&story), joined + 1);
    assert_eq!(story.policy().await.max_open_prs, 7);

    // A push that changes it: read at once, and not again by the deliveries after it.
    story
        .fake
        .set_file(REPO, ".github/owp.yml", "max_open_prs: 9\n");
    story
        .send("push", &push_payload(".github/owp.yml", &"5".repeat(40)))
        .await;
    assert_eq!(settings_reads(&story), joined + 2);
    assert_eq!(story.policy().await.max_open_prs, 9);
    settings_read_ago(&story, 10 * MINUTE_MS).await;
    a_life(&story, "Task 7").await;
    assert_eq!(settings_reads(&story), joined + 2);
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_repository_without_settings_costs_no_404_per_delivery() {
    // GitHub's 404 for a missing file carries no ETag: each read is a counted request.
    let story = Story::start().await;
    assert_eq!(settings_reads(&story), 1, "looked for once, when it joined");
    for i in 0..3 {
        settings_read_ago(&story, 10 * MINUTE_MS).await;
        a_life(&story, &format!("Task {i}")).await;
    }
    let missing = story
        .fake
        .calls()
        .iter()
        .filter(|c| c.path.ends_with(".github/owp.yml") && c.status == 404)
        .count();
    assert_eq!(missing, 1, "one 404, when it joined");
    story.stop_checking_comments();
}
