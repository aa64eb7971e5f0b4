//! Applying webhook deliveries and writing comments do not wait for each other: while GitHub
//! holds every comment the App writes, deliveries are still applied, all of them; while a
//! delivery's reads are held (and with it the process's only applier), the comments already
//! asked for still go out. Nothing here is timed: GitHub holds a request until the story ends,
//! and the stories look at what was done meanwhile, and in which order. Each runs on SQLite
//! and, when `OWP_TEST_DATABASE_URL` names a server, on PostgreSQL.

#[allow(unused_imports)]
use crate::github_support;

use std::time::{Duration, Instant};

use github_support::FailWhen;
use github_support::story::{REPO, Story};
use owp::store::github::outbox::OutboxTarget;
use serde_json::json;

/// Longer than any story here: a request GitHub holds is answered after the story ended.
const HELD: Duration = Duration::from_secs(600);

/// How long a story waits for what must happen (only a broken build waits this long).
const PATIENCE: Duration = Duration::from_secs(90);

async fn count(story: &Story, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(story.running().store.read_pool())
        .await
        .unwrap()
}

/// Waits until `sql` counts at least `n`; panics with `what` after [`PATIENCE`].
async fn until_count(story: &Story, sql: &'static str, n: i64, what: &str) -> i64 {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let seen = count(story, sql).await;
        if seen >= n {
            return seen;
        }
        assert!(Instant::now() < deadline, "{what}: {seen} of {n}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The comments GitHub answered (a held one is not answered yet).
fn comments_posted(story: &Story) -> usize {
    story
        .fake
        .calls()
        .iter()
        .filter(|c| c.method == "POST" && c.path.ends_with("/comments"))
        .count()
}

async fn deliveries_applied_while_every_comment_is_held(postgres: bool) {
    const ISSUES: u64 = 12;
    let story = Story::on(postgres, None, |c| {
        c.github.github_write_spacing_ms = Some(1);
    })
    .await;
    story.stop_checking_comments();
    // GitHub holds every comment the App writes from now on.
    story.fake.delay(FailWhen::on("POST", "/comments"), HELD);
    let numbers: Vec<u64> = (0..ISSUES)
        .map(|k| {
            story.fake.create_issue(
                REPO,
                "maintainer",
                &format!("Task {k}"),
                "Something to do.",
                &["pool:ready"],
            )
        })
        .collect();
    let tasks_before = count(&story, "SELECT COUNT(*) FROM tasks").await;
    for &n in &numbers {
        let payload = story.labeled_payload(n, "pool:ready");
        let status = story.fake.send_webhook("issues", &payload).await;
        assert!((200..300).contains(&status), "delivery answered {status}");
    }
    // Every delivery is applied: each issue is a task, each task asks for its status comment.
    let deadline = Instant::now() + PATIENCE;
    while count(
        &story,
        "SELECT COUNT(*) FROM gh_deliveries WHERE state = 'pending'",
    )
    .await
        > 0
    {
        assert!(Instant::now() < deadline, "deliveries left unapplied");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let tasks = count(&story, "SELECT COUNT(*) FROM tasks").await - tasks_before;
    assert_eq!(tasks, ISSUES as i64, "every delivery made its task");
    // The sender was writing meanwhile, and GitHub has answered none of its comments.
    until_count(
        &story,
        "SELECT COUNT(*) FROM gh_outbox WHERE state = 'pending' AND claimed_by IS NOT NULL",
        1,
        "a comment being written",
    )
    .await;
    assert_eq!(
        comments_posted(&story),
        0,
        "no comment was answered before every delivery was applied"
    );
    let asked = count(
        &story,
        "SELECT COUNT(*) FROM gh_outbox WHERE kind = 'status' AND state = 'pending'",
    )
    .await;
    assert!(
        asked >= ISSUES as i64,
        "each new task waits for its status comment ({asked})"
    );
}

async fn comments_sent_while_applying_is_held(postgres: bool) {
    const REPLIES: u64 = 8;
    const SLOW_INSTALLATION: u64 = 600;
    const SLOW_REPO: &str = "slow-org/repo";
    // One applier: a delivery whose reads GitHub holds holds every other delivery of the process.
    let story = Story::on(postgres, None, |c| {
        c.github.github_write_spacing_ms = Some(1);
        c.github.github_appliers = Some(1);
    })
    .await;
    story.stop_checking_comments();
    story
        .fake
        .install(SLOW_INSTALLATION, "slow-org", &[SLOW_REPO]);
    // A repository the App does not know yet: its first delivery reads its settings file, which
    // GitHub holds.
    story.fake.delay(FailWhen::on("GET", "/slow-org/"), HELD);
    let slow_issue = story.fake.create_issue(
        SLOW_REPO,
        "maintainer",
        "Held",
        "Its reads are held.",
        &["pool:ready"],
    );
    let mut payload = story.issue_payload_in("issues.labeled", SLOW_REPO, slow_issue, "maintainer");
    payload["label"]["name"] = json!("pool:ready");
    payload["repository"]["id"] = json!(4_712);
    payload["installation"]["id"] = json!(SLOW_INSTALLATION);
    let status = story.fake.send_webhook("issues", &payload).await;
    assert!((200..300).contains(&status), "delivery answered {status}");
    until_count(
        &story,
        "SELECT COUNT(*) FROM gh_deliveries WHERE state = 'pending' AND claimed_by IS NOT NULL",
        1,
        "the held delivery being applied",
    )
    .await;

    // Replies asked for meanwhile, on the story's repository, go out.
    let numbers: Vec<u64> = (0..REPLIES)
        .map(|k| {
            story
                .fake
                .create_issue(REPO, "someone", &format!("Issue {k}"), "Words.", &[])
        })
        .collect();
    let store = &story.running().store;
    let mut tx = store.begin().await.unwrap();
    for &n in &numbers {
        let target = OutboxTarget {
            installation_id: github_support::story::INSTALLATION as i64,
            repo: REPO,
            issue_number: n as i64,
        };
        tx.outbox()
            .enqueue_comment(&target, None, &format!("Reply to #{n}."))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let deadline = Instant::now() + PATIENCE;
    while comments_posted(&story) < REPLIES as usize {
        assert!(
            Instant::now() < deadline,
            "{} of {REPLIES} replies posted",
            comments_posted(&story)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Every reply went out while the delivery was still being applied.
    let pending = count(
        &story,
        "SELECT COUNT(*) FROM gh_deliveries WHERE state = 'pending' AND claimed_by IS NOT NULL",
    )
    .await;
    assert_eq!(pending, 1, "the held delivery is still being applied");
    for &n in &numbers {
        let posted = story.fake.bot_comments(REPO, n);
        assert_eq!(posted.len(), 1, "one reply on #{n}");
    }
}

#[tokio::test]
async fn deliveries_are_applied_while_github_holds_every_comment() {
    deliveries_applied_while_every_comment_is_held(false).await;
}

#[tokio::test]
async fn deliveries_are_applied_while_github_holds_every_comment_postgres() {
    deliveries_applied_while_every_comment_is_held(true).await;
}

#[tokio::test]
async fn comments_go_out_while_github_holds_a_delivery_being_applied() {
    comments_sent_while_applying_is_held(false).await;
}

#[tokio::test]
async fn comments_go_out_while_github_holds_a_delivery_being_applied_postgres() {
    comments_sent_while_applying_is_held(true).await;
}
