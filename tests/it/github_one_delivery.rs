//! One delivery, one transaction: an `issues.labeled` delivery about a repository the App has
//! not seen yet (it joins, its `.github/owp.yml` sets its budget, the issue becomes a task) that
//! fails just before its transaction commits leaves nothing of it behind, and the retry applies
//! all of it once, with one status comment.

#[allow(unused_imports)]
use crate::github_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use github_support::story::{INSTALLATION, Story};
use owp::store::StoreError;

const SECOND: &str = "octo-org/second";

/// Fails every transaction that changes a task of [`SECOND`] while `failing` is set: the
/// delivery's writes are all made, and the commit never comes (as when the database connection
/// breaks there).
#[derive(Default)]
struct FailBeforeCommit {
    failing: AtomicBool,
    failed: AtomicUsize,
}

impl owp::store::ChangeHook for FailBeforeCommit {
    fn before_commit(
        &self,
        events: &[owp::domain::Event],
        _shown: &[String],
    ) -> Result<(), StoreError> {
        let about_a_task =
            |e: &owp::domain::Event| e.task_id.is_some() && e.repo.as_deref() == Some(SECOND);
        if self.failing.load(Ordering::SeqCst) && events.iter().any(about_a_task) {
            self.failed.fetch_add(1, Ordering::SeqCst);
            let cut = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the link broke");
            return Err(StoreError::Db(sqlx::Error::Io(cut)));
        }
        Ok(())
    }
}

async fn count(story: &Story, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(SECOND)
        .fetch_one(story.running().store.read_pool())
        .await
        .unwrap()
}

async fn joining_delivery_is_applied_whole_or_not_at_all(postgres: bool) {
    let story = Story::on(postgres, None, |_| {}).await;
    let store = story.running().store.clone();
    let hook = Arc::new(FailBeforeCommit::default());
    hook.failing.store(true, Ordering::SeqCst);
    store.add_hook(hook.clone());

    // GitHub: the App's installation gains a repository (no webhook says so), whose file sets a
    // budget of 5; a maintainer labels an issue there.
    story.fake.add_repo(INSTALLATION, SECOND);
    story
        .fake
        .set_file(SECOND, ".github/owp.yml", "max_open_prs: 5\n");
    let number = story.fake.create_issue(
        SECOND,
        "maintainer",
        "Joins with its repository",
        "What needs doing.",
        &["pool:ready"],
    );
    let mut payload = story.issue_payload_in("issues.labeled", SECOND, number, "maintainer");
    payload["label"]["name"] = serde_json::json!("pool:ready");
    let status = story.fake.send_webhook("issues", &payload).await;
    assert_eq!(status, 202);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while hook.failed.load(Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the delivery was never applied"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Failed once: nothing of the delivery is there — not the repository, its settings, the
    // task, their audit events nor the status comment.
    assert!(
        store.repos().get(SECOND).await.unwrap().is_none(),
        "the repository did not join"
    );
    assert_eq!(
        count(
            &story,
            "SELECT COUNT(*) FROM gh_repos WHERE repo = $1 AND installation_id IS NOT NULL"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &story,
            "SELECT COUNT(*) FROM tasks WHERE key LIKE $1 || '#%'"
        )
        .await,
        0
    );
    assert_eq!(
        count(&story, "SELECT COUNT(*) FROM events WHERE repo = $1").await,
        0
    );
    assert_eq!(
        count(&story, "SELECT COUNT(*) FROM gh_outbox WHERE repo = $1").await,
        0
    );
    // The retry applies all of it, once.
    hook.failing.store(false, Ordering::SeqCst);
    story.settle().await;
    let policy = store
        .repos()
        .get(SECOND)
        .await
        .unwrap()
        .expect("the repository joined");
    assert_eq!(policy.max_open_prs, 5, "with the budget its file sets");
    assert_eq!(
        count(
            &story,
            "SELECT COUNT(*) FROM tasks WHERE key LIKE $1 || '#%'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &story,
            "SELECT COUNT(*) FROM events WHERE repo = $1 AND kind = 'github.repo_joined'"
        )
        .await,
        1
    );
    // One request for the status comment (never merged with a second one), and one comment.
    assert_eq!(
        count(
            &story,
            "SELECT COUNT(*) FROM gh_outbox WHERE repo = $1 AND kind = 'status' AND revision = 1"
        )
        .await,
        1
    );
    assert_eq!(
        count(&story, "SELECT COUNT(*) FROM gh_outbox WHERE repo = $1").await,
        1
    );
    let comments = story.fake.bot_comments(SECOND, number);
    assert_eq!(comments.len(), 1, "one status comment: {comments:#?}");
    assert!(comments[0].body.starts_with("<!-- owp:status task="));
}

#[tokio::test]
async fn a_delivery_cut_before_its_commit_is_applied_whole_on_retry_sqlite() {
    joining_delivery_is_applied_whole_or_not_at_all(false).await;
}

#[tokio::test]
async fn a_delivery_cut_before_its_commit_is_applied_whole_on_retry_postgres() {
    joining_delivery_is_applied_whole_or_not_at_all(true).await;
}
