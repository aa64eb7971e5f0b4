//! Policy an agent can read (contract section 12): where a task's `contract` is shown (the task of
//! a lease, and `GET /v1/tasks/{id}` for its holder), `policy` says what the repository's
//! `.github/owp.yml` asks of the work: plans first, verified commits, disclosure. On both
//! backends, as a worker meets it over REST.

use serde_json::{Value, json};

use crate::github_support::story::Story;

/// A worker claims the one ready task of a repository with `settings`; returns the policy of the
/// lease's task, the policy its holder reads with `GET /v1/tasks/{id}`, and what another worker
/// reads there.
async fn policies(postgres: bool, settings: Option<&str>) -> (Value, Value, (u16, Value)) {
    let story = Story::on(postgres, settings, |_| {}).await;
    story.label_issue("Fix the parser", &[]).await;
    let token = story.register_worker("seat").await;
    let other = story.register_worker("other").await;
    let (status, answer) = story.post_json("/v1/work", Some(&token), json!({})).await;
    assert_eq!(status, 200, "{answer}");
    let task = &answer["lease"]["task"];
    let id = task["task_id"].as_str().unwrap();
    let (status, held) = story.get_json(&format!("/v1/tasks/{id}"), &token).await;
    assert_eq!(status, 200, "{held}");
    let elsewhere = story.get_json(&format!("/v1/tasks/{id}"), &other).await;
    // A listing of tasks shows no policy, as it shows no contract.
    let (status, listed) = story
        .admin(reqwest::Method::GET, "/v1/admin/state", None)
        .await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed["tasks"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .all(|t| t.get("policy").is_none() && t.get("contract").is_none()),
        "{listed:?}"
    );
    story.stop_checking_comments();
    (task["policy"].clone(), held["policy"].clone(), elsewhere)
}

const STRICT: &str = "claim:\n  approval: plan\n  approval_skip_trust: 0\n  proposal_days: 5\n  \
    verified_commits_below_trust: 2\ncontract:\n  test: make test\n  disclosure: required\n  pull_requests: draft\n";

async fn a_repository_that_asks_everything(postgres: bool) {
    let (leased, held, elsewhere) = policies(postgres, Some(STRICT)).await;
    let want = json!({
        "approval": "plan", "approval_skip_trust": 0, "proposal_days": 5,
        "verified_commits": "optional", "verified_commits_below_trust": 2,
        "disclosure": "required", "pull_requests": "draft"
    });
    assert_eq!(leased, want);
    assert_eq!(held, want);
    assert_eq!(elsewhere.0, 403, "{}", elsewhere.1);
    assert!(elsewhere.1.get("policy").is_none(), "{}", elsewhere.1);
}

async fn verified_commits_for_everyone(postgres: bool) {
    let settings = "claim:\n  verified_commits: required\n";
    let (leased, held, _) = policies(postgres, Some(settings)).await;
    let want = json!({
        "approval": "none", "approval_skip_trust": null, "verified_commits": "required",
        "verified_commits_below_trust": null, "disclosure": "optional",
        "pull_requests": "ready"
    });
    assert_eq!(leased, want);
    assert_eq!(held, want);
}

async fn a_repository_without_settings(postgres: bool) {
    let (leased, held, _) = policies(postgres, None).await;
    let want = json!({
        "approval": "none", "approval_skip_trust": null, "verified_commits": "optional",
        "verified_commits_below_trust": null, "disclosure": "optional",
        "pull_requests": "ready"
    });
    assert_eq!(leased, want);
    assert_eq!(held, want);
}

#[tokio::test]
async fn a_repository_that_asks_everything_on_sqlite() {
    a_repository_that_asks_everything(false).await;
}

#[tokio::test]
async fn a_repository_that_asks_everything_on_postgres() {
    a_repository_that_asks_everything(true).await;
}

#[tokio::test]
async fn verified_commits_for_everyone_on_sqlite() {
    verified_commits_for_everyone(false).await;
}

#[tokio::test]
async fn verified_commits_for_everyone_on_postgres() {
    verified_commits_for_everyone(true).await;
}

#[tokio::test]
async fn a_repository_without_settings_on_sqlite() {
    a_repository_without_settings(false).await;
}

#[tokio::test]
async fn a_repository_without_settings_on_postgres() {
    a_repository_without_settings(true).await;
}
