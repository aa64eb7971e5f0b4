//! Repositories and issues that move on GitHub: renamed and transferred repositories, transferred
//! issues, deleted and archived repositories. GitHub keeps a repository's id through a rename or
//! a transfer and redirects its old addresses (301, as the fake GitHub does); the pool must keep
//! its tasks, claims, budgets and the one status comment of each issue through all of it.

#[allow(unused_imports)]
use crate::github_support;

use github_support::Comment;
use github_support::story::{INSTALLATION, REPO, Story, fixture};
use owp::domain::TaskStatus;
use owp::store::rows::TaskRow;
use serde_json::{Value, json};

fn is_status(c: &Comment) -> bool {
    c.body.starts_with("<!-- owp:status task=")
}

/// The App's status comments on issue `n` of `repo`.
fn statuses(story: &Story, repo: &str, n: u64) -> Vec<Comment> {
    story
        .fake
        .bot_comments(repo, n)
        .into_iter()
        .filter(is_status)
        .collect()
}

/// The one status comment of issue `n` of `repo`.
fn one_status(story: &Story, repo: &str, n: u64) -> Comment {
    let found = statuses(story, repo, n);
    assert_eq!(
        found.len(),
        1,
        "{repo}#{n} should have exactly one status comment: {found:#?}"
    );
    found.into_iter().next().unwrap()
}

async fn task_in(story: &Story, repo: &str, n: u64) -> Option<TaskRow> {
    story
        .running()
        .store
        .tasks()
        .by_key(repo, &format!("{repo}#{n}"))
        .await
        .unwrap()
}

/// The events of a kind, newest first.
async fn events_of(story: &Story, kind: &str) -> Vec<Value> {
    story
        .running()
        .store
        .events()
        .recent(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.data)
        .collect()
}

/// A `repository` delivery about `repo` (as it is named now) of the story's installation.
fn repository_payload(story: &Story, action: &str, repo: &str, changes: Value) -> Value {
    let base = fixture("issues.opened");
    let (owner, name) = repo.split_once('/').unwrap();
    let mut repository = base["repository"].clone();
    repository["id"] = json!(story.fake.repo_id(repo));
    repository["name"] = json!(name);
    repository["full_name"] = json!(repo);
    repository["private"] = json!(action == "privatized");
    repository["html_url"] = json!(format!("https://github.com/{repo}"));
    repository["owner"]["login"] = json!(owner);
    let mut sender = base["sender"].clone();
    sender["login"] = json!("maintainer");
    json!({
        "action": action,
        "changes": changes,
        "repository": repository,
        "sender": sender,
        "installation": {"id": INSTALLATION, "node_id": format!("IN_{INSTALLATION}")},
    })
}

/// Two tasks, one claimed by alice; their task rows and status comments.
async fn two_tasks(story: &Story) -> [(u64, TaskRow, Comment); 2] {
    let a = story.label_issue("Fix the parser", &[]).await;
    let b = story.label_issue("Write the docs", &[]).await;
    story.comment(a, "alice", "/owp claim").await;
    let status_a = story.expect_status(a, &["alice"]);
    let status_b = story.expect_status(b, &["**Ready**"]);
    [
        (a, story.task(a).await, status_a),
        (b, story.task(b).await, status_b),
    ]
}

/// After a rename to `renamed`: the same tasks (ids, status, holder), the same budget, the same
/// one status comment per issue, nothing cancelled, nothing left under the old name.
async fn expect_carried_over(story: &Story, renamed: &str, before: &[(u64, TaskRow, Comment)]) {
    for (n, task, status) in before {
        let now = task_in(story, renamed, *n)
            .await
            .unwrap_or_else(|| panic!("#{n} is no task of {renamed}"));
        assert_eq!(now.id, task.id, "the task keeps its id");
        assert_eq!(now.status, task.status, "and its status");
        assert_eq!(now.worker_id, task.worker_id, "and its holder");
        assert_eq!(now.lease_id, task.lease_id, "and its lease");
        assert!(task_in(story, REPO, *n).await.is_none());
        assert_eq!(one_status(story, renamed, *n).id, status.id);
    }
    let policy = story
        .running()
        .store
        .repos()
        .get(renamed)
        .await
        .unwrap()
        .expect("the policy follows the name");
    assert_eq!(policy.active_leases, 1, "alice's claim still counts");
    assert!(
        story
            .running()
            .store
            .repos()
            .get(REPO)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        events_of(story, "task.cancelled").await.is_empty(),
        "nothing was cancelled"
    );
}

#[tokio::test]
async fn a_renamed_repository_keeps_its_tasks_claims_and_status_comments() {
    let story = Story::start().await;
    let before = two_tasks(&story).await;
    let renamed = "octo-org/hello-world";
    story.fake.rename_repo(REPO, renamed);
    let payload = repository_payload(
        &story,
        "renamed",
        renamed,
        json!({"repository": {"name": {"from": "hello"}}}),
    );
    story.send("repository", &payload).await;
    expect_carried_over(&story, renamed, &before).await;
    let renames = events_of(&story, "github.repo_renamed").await;
    assert_eq!(renames, vec![json!({"from": REPO, "to": renamed})]);

    // Reconciliation sees the same repository under its new name: nothing changes.
    story.running().github.reconcile_now().await.unwrap();
    story.settle().await;
    expect_carried_over(&story, renamed, &before).await;

    // The claim goes on there, and the same status comment is edited.
    let (a, task_a, status_a) = &before[0];
    story.comment_in(renamed, *a, "alice", "/owp release").await;
    let released = task_in(&story, renamed, *a).await.unwrap();
    assert_eq!(released.id, task_a.id);
    assert_eq!(released.status, TaskStatus::Ready);
    let status = one_status(&story, renamed, *a);
    assert_eq!(status.id, status_a.id);
    assert!(status.body.contains("**Ready**"), "{}", status.body);
    // A lease handed out now names the repository by its new name.
    let lease_repo = released.repo;
    assert_eq!(lease_repo, renamed);
}

#[tokio::test]
async fn a_rename_seen_only_by_reconciliation_cancels_nothing() {
    let story = Story::start().await;
    let before = two_tasks(&story).await;
    // The `repository` delivery never arrives: the installation's listing shows the new name
    // with the same id.
    let renamed = "octo-org/hello-renamed";
    story.fake.rename_repo(REPO, renamed);
    story.running().github.reconcile_now().await.unwrap();
    story.settle().await;
    expect_carried_over(&story, renamed, &before).await;
    assert!(events_of(&story, "github.repo_left").await.is_empty());
}

#[tokio::test]
async fn a_transferred_repository_follows_its_new_owner() {
    let story = Story::start().await;
    let before = two_tasks(&story).await;
    let moved = "new-owner/hello";
    story.fake.rename_repo(REPO, moved);
    let payload = repository_payload(
        &story,
        "transferred",
        moved,
        json!({"owner": {"from": {"user": {"login": "octo-org", "id": 1, "type": "User"}}}}),
    );
    story.send("repository", &payload).await;
    expect_carried_over(&story, moved, &before).await;
    // The App no longer uses the old address (which GitHub redirects).
    let seen = story.fake.calls().len();
    story.running().github.reconcile_now().await.unwrap();
    story.settle().await;
    let old_name: Vec<String> = story.fake.calls()[seen..]
        .iter()
        .filter(|c| c.path.starts_with(&format!("/repos/{REPO}/")))
        .map(|c| format!("{} {} {}", c.method, c.path, c.status))
        .collect();
    assert!(old_name.is_empty(), "{old_name:?}");
    expect_carried_over(&story, moved, &before).await;
}

#[tokio::test]
async fn an_issue_transferred_to_a_pooled_repository_takes_its_task_along() {
    let story = Story::start().await;
    let other = "octo-org/other";
    story.fake.add_repo(INSTALLATION, other);
    story.running().github.reconcile_now().await.unwrap();
    let n = story.label_issue("Move me", &[]).await;
    story.comment(n, "alice", "/owp claim").await;
    let status = story.expect_status(n, &["alice"]);
    let task = story.task(n).await;

    // No webhook: reconciliation reads the issue, and GitHub answers with a redirect to its new
    // place, another repository's issue under another number.
    let m = story.fake.transfer_issue(REPO, n, other);
    assert_ne!(
        m,
        n + 1,
        "the numbers differ from the old repository's next one"
    );
    story.running().github.reconcile_now().await.unwrap();
    story.settle().await;
    assert!(
        story
            .fake
            .calls()
            .iter()
            .any(|c| c.status == 301 && c.path == format!("/repos/{REPO}/issues/{n}")),
        "the old address was read and redirected"
    );
    let moved = task_in(&story, other, m)
        .await
        .expect("the task came along");
    assert_eq!(moved.id, task.id);
    assert_eq!(moved.status, TaskStatus::InProgress, "alice keeps it");
    assert_eq!(moved.worker_id, task.worker_id);
    assert!(task_in(&story, REPO, n).await.is_none());
    assert!(
        task_in(&story, REPO, m).await.is_none(),
        "the redirected answer is not taken for an issue of the old repository"
    );
    assert_eq!(one_status(&story, other, m).id, status.id);
    let carried = events_of(&story, "github.issue_transferred").await;
    assert_eq!(carried.len(), 1, "{carried:?}");
    assert_eq!(carried[0]["carried_over"], json!(true));
    assert_eq!(carried[0]["to"], json!(format!("{other}#{m}")));
    let budgets = (
        story
            .running()
            .store
            .repos()
            .get(REPO)
            .await
            .unwrap()
            .unwrap(),
        story
            .running()
            .store
            .repos()
            .get(other)
            .await
            .unwrap()
            .unwrap(),
    );
    assert_eq!(
        (budgets.0.active_leases, budgets.1.active_leases),
        (0, 1),
        "alice's claim counts where the issue is now"
    );

    // alice finishes it there: the same status comment is edited.
    story.comment_in(other, m, "alice", "/owp release").await;
    assert_eq!(
        task_in(&story, other, m).await.unwrap().status,
        TaskStatus::Ready
    );
    let edited = one_status(&story, other, m);
    assert_eq!(edited.id, status.id);
    assert!(edited.body.contains("**Ready**"), "{}", edited.body);
}

#[tokio::test]
async fn an_issue_transferred_out_of_the_pool_ends_its_task_saying_where_it_went() {
    let story = Story::start().await;
    let n = story.label_issue("Leave", &[]).await;
    story.expect_status(n, &["**Ready**"]);
    let task = story.task(n).await;
    // A repository the App is not installed on.
    let elsewhere = "someone/elsewhere";
    story.fake.add_repo(INSTALLATION, elsewhere);
    story.fake.remove_repo(elsewhere);
    let m = story.fake.transfer_issue(REPO, n, elsewhere);
    let mut payload = story.issue_payload_in("issues.transferred", elsewhere, m, "maintainer");
    // The delivery is about the old issue, in the old repository.
    payload["repository"]["full_name"] = json!(REPO);
    payload["repository"]["name"] = json!("hello");
    payload["repository"]["id"] = json!(story.fake.repo_id(REPO));
    payload["issue"]["number"] = json!(n);
    payload["changes"]["new_issue"]["number"] = json!(m);
    payload["changes"]["new_repository"]["full_name"] = json!(elsewhere);
    payload["changes"]["new_repository"]["id"] = json!(story.fake.repo_id(elsewhere));
    story.send("issues", &payload).await;

    let ended = story
        .running()
        .store
        .tasks()
        .get(&task.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.status, TaskStatus::Cancelled);
    let reason = ended.status_reason.unwrap_or_default();
    assert!(
        reason.contains(&format!("{elsewhere}#{m}")) && reason.contains("not in the pool"),
        "{reason}"
    );
    let events = events_of(&story, "github.issue_transferred").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["carried_over"], json!(false));
}

#[tokio::test]
async fn deleted_and_archived_repositories_leave_and_visibility_follows_github() {
    let story = Story::start().await;
    let n = story.label_issue("Some work", &[]).await;
    story.expect_status(n, &["**Ready**"]);

    let payload = repository_payload(&story, "privatized", REPO, json!({}));
    story.send("repository", &payload).await;
    assert!(story.policy().await.private);
    let payload = repository_payload(&story, "publicized", REPO, json!({}));
    story.send("repository", &payload).await;
    assert!(!story.policy().await.private);

    let payload = repository_payload(&story, "archived", REPO, json!({}));
    story.send("repository", &payload).await;
    let task = story.task(n).await;
    assert_eq!(task.status, TaskStatus::Cancelled);
    assert_eq!(
        task.status_reason.as_deref(),
        Some("the repository was archived")
    );
    let left = events_of(&story, "github.repo_left").await;
    assert_eq!(left[0]["reason"], json!("the repository was archived"));

    // Unarchived: it joins again and its ready issue is a task again.
    let payload = repository_payload(&story, "unarchived", REPO, json!({}));
    story.send("repository", &payload).await;
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    story.expect_status(n, &["**Ready**"]);

    let payload = repository_payload(&story, "deleted", REPO, json!({}));
    story.send("repository", &payload).await;
    let task = story.task(n).await;
    assert_eq!(task.status, TaskStatus::Cancelled);
    assert_eq!(
        task.status_reason.as_deref(),
        Some("the repository was deleted")
    );
}
