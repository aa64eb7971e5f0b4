//! One delivery's route in commits: an `issues.opened` delivery of a `pool:ready` issue, from
//! the webhook to its status comment on GitHub, commits at most five times (storing it, the
//! applier's claim, applying it, the sender's claim with its write's turn, the comment sent with
//! the write settled). PostgreSQL's wake-up of the other processes (`NOTIFY`, at most one every
//! 20 ms however many commits there were) writes nothing and is not counted. Counted by the store ([`owp::store::Store::commits`]), on SQLite and, when
//! `OWP_TEST_DATABASE_URL` names a server, on PostgreSQL.

#[allow(unused_imports)]
use crate::github_support;

use std::time::Duration;

use github_support::story::{REPO, Story};

/// The most commits one delivery may take to its status comment.
const MOST: u64 = 5;

/// The commits the service makes while `quiet` passes with nothing to do: what the count of a
/// delivery must not include.
async fn idle_commits(story: &Story, quiet: Duration) -> u64 {
    let before = story.running().store.commits();
    tokio::time::sleep(quiet).await;
    story.running().store.commits() - before
}

/// The status comments of issue `number` sent.
async fn sent_status(story: &Story, number: u64) -> usize {
    let rows = story
        .running()
        .store
        .outbox()
        .of_issue(REPO, i64::try_from(number).unwrap())
        .await
        .unwrap();
    rows.iter()
        .filter(|(kind, state, _)| kind == "status" && state == "sent")
        .count()
}

async fn a_delivery_takes_five_commits_to_its_status_comment(postgres: bool) {
    let story = Story::on(postgres, None, |_| {}).await;
    story.settle().await;
    // The repository's first issue also reads its settings and labels: the second is the
    // delivery every later one is like.
    let first = story.open_issue("First", &["pool:ready"]).await;
    assert_eq!(
        sent_status(&story, first).await,
        1,
        "the status comment was posted"
    );
    let idle = idle_commits(&story, Duration::from_millis(500)).await;
    assert_eq!(
        idle, 0,
        "the service commits while idle; the count below would be off"
    );
    let before = story.running().store.commits();
    let second = story.open_issue("Second", &["pool:ready"]).await;
    let took = story.running().store.commits() - before;
    assert_eq!(
        sent_status(&story, second).await,
        1,
        "the status comment was posted"
    );
    assert!(
        took <= MOST,
        "one delivery took {took} commits to its status comment (at most {MOST})"
    );
    // Counted, not assumed: the delivery did commit (stored, applied, sent).
    assert!(took >= 3, "only {took} commits were counted");
    eprintln!("one issues.opened delivery: {took} commits");
    // What the comments say is the other stories' to check.
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_delivery_takes_five_commits_to_its_status_comment_sqlite() {
    a_delivery_takes_five_commits_to_its_status_comment(false).await;
}

#[tokio::test]
async fn a_delivery_takes_five_commits_to_its_status_comment_postgres() {
    a_delivery_takes_five_commits_to_its_status_comment(true).await;
}
