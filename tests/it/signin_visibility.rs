//! What a signed-in maintainer may not take from the operator (the contract's sections 10 and
//! 13): a repository GitHub says is private stays off the public board whatever a maintainer
//! posts, until the operator overrides it; a repository the operator archived stays archived.

use reqwest::Method;
use serde_json::{Value, json};

use crate::github_support::story::{INSTALLATION, REPO, Story, fixture};
use crate::signin::{MONA, browser, device_sign_in, story_with, with_token};

/// A `repository` delivery saying GitHub made the story's repository private or public (each a
/// new one: the same signed body twice is a replay, which the App drops).
async fn github_says(story: &Story, action: &str) {
    static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let base = fixture("issues.opened");
    let (owner, name) = REPO.split_once('/').unwrap();
    let mut repository = base["repository"].clone();
    repository["id"] = json!(story.fake.repo_id(REPO));
    repository["name"] = json!(name);
    repository["full_name"] = json!(REPO);
    repository["private"] = json!(action == "privatized");
    repository["owner"]["login"] = json!(owner);
    repository["updated_at"] = json!(format!("2026-11-26T08:00:{:02}Z", n % 60));
    let mut sender = base["sender"].clone();
    sender["login"] = json!("octo-owner");
    let payload = json!({
        "action": action,
        "changes": {},
        "repository": repository,
        "sender": sender,
        "installation": {"id": INSTALLATION, "node_id": format!("IN_{INSTALLATION}")},
    });
    story.send("repository", &payload).await;
}

/// The titles of the tasks the anonymous public board shows.
async fn board_titles(story: &Story) -> Vec<String> {
    let board: Value = browser()
        .get(format!("{}/board/state", story.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    board["tasks"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .filter_map(|t| t["title"].as_str().map(str::to_string))
        .collect()
}

/// A write collaborator of a repository GitHub made private posts `visibility: public`: refused
/// (`403 not_allowed`), nothing changes, and its tasks stay off the anonymous board. The
/// operator may override GitHub; the override holds while GitHub's answer stays the same, and a
/// new answer from GitHub is followed again.
#[tokio::test]
async fn a_maintainer_cannot_publish_what_github_says_is_private() {
    let story = story_with(false, |c| c.public_boards = true).await;
    let (status, body) = story
        .admin(
            Method::POST,
            "/v1/admin/tasks",
            Some(json!({"repo": REPO, "tasks": [{"key": "P-1", "title": "Rotate the signing keys"}]})),
        )
        .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    assert_eq!(board_titles(&story).await, ["Rotate the signing keys"]);

    github_says(&story, "privatized").await;
    assert!(story.policy().await.private);
    assert!(board_titles(&story).await.is_empty());

    let token = device_sign_in(&story, MONA).await;
    let publish = json!({"repo": REPO, "max_open_prs": 3, "visibility": "public"});
    let (status, problem) = with_token(
        &story,
        Method::POST,
        "/v1/admin/repos",
        &token,
        Some(publish.clone()),
    )
    .await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem["code"], "not_allowed", "{problem}");
    let policy = story.policy().await;
    assert!(policy.private, "nothing changed");
    assert_eq!(policy.max_open_prs, 3, "nothing changed");
    assert!(board_titles(&story).await.is_empty());
    // Her other changes to the repository still work, and so does keeping it private.
    let (status, body) = with_token(
        &story,
        Method::POST,
        "/v1/admin/repos",
        &token,
        Some(json!({"repo": REPO, "max_open_prs": 4, "visibility": "private"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["visibility"], "private");

    // The operator overrides GitHub, and the board follows the override.
    let (status, body) = story
        .admin(Method::POST, "/v1/admin/repos", Some(publish.clone()))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["visibility"], "public");
    assert_eq!(board_titles(&story).await, ["Rotate the signing keys"]);
    // GitHub repeating what it said does not undo the operator's choice…
    github_says(&story, "privatized").await;
    assert!(!story.policy().await.private);
    // …a change of GitHub's answer is followed again.
    github_says(&story, "publicized").await;
    github_says(&story, "privatized").await;
    assert!(story.policy().await.private);
    assert!(board_titles(&story).await.is_empty());
    // A repository GitHub says is public, she may make public again.
    github_says(&story, "publicized").await;
    let (status, body) = with_token(
        &story,
        Method::POST,
        "/v1/admin/repos",
        &token,
        Some(publish),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["visibility"], "public");
}

/// A maintainer posts the policy of a repository the operator archived: `403 not_allowed`, and
/// it stays archived; the operator brings it back.
#[tokio::test]
async fn a_maintainer_cannot_bring_back_what_the_operator_archived() {
    archive_stays_the_operators(&story_with(false, |_| {}).await).await;
}

#[tokio::test]
async fn pg_a_maintainer_cannot_bring_back_what_the_operator_archived() {
    if !crate::services::postgres_enabled(
        "pg_a_maintainer_cannot_bring_back_what_the_operator_archived",
    ) {
        return;
    }
    archive_stays_the_operators(&story_with(true, |_| {}).await).await;
}

async fn archive_stays_the_operators(story: &Story) {
    let (status, body) = story
        .admin(
            Method::POST,
            "/v1/admin/repos/archive",
            Some(json!({"repo": REPO})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(story.policy().await.archived);

    let token = device_sign_in(story, MONA).await;
    let (status, problem) = with_token(
        story,
        Method::POST,
        "/v1/admin/repos",
        &token,
        Some(json!({"repo": REPO, "max_open_prs": 9})),
    )
    .await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem["code"], "not_allowed", "{problem}");
    let policy = story.policy().await;
    assert!(policy.archived, "still archived");
    assert_ne!(policy.max_open_prs, 9, "nothing changed");

    let (status, body) = story
        .admin(
            Method::POST,
            "/v1/admin/repos",
            Some(json!({"repo": REPO, "max_open_prs": 9})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(!story.policy().await.archived);
}
