//! The labels a repository needs before people can put issues into the pool: the App reads the
//! repository's labels from GitHub when it joins and at each reconciliation, and says which are
//! missing in `owp admin state`, the admin state's JSON and the dashboard; it never creates one,
//! and says "unknown" rather than "missing" when GitHub does not list them.

#[allow(unused_imports)]
use crate::github_support;

use github_support::story::{ADMIN, REPO, Story};
use github_support::{FailWhen, Failure};
use serde_json::{Value, json};

/// What `owp admin state` prints for the story's service.
pub(crate) async fn admin_state(story: &Story) -> String {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .args(["admin", "state", "--server", &story.url()])
        .env("OWP_ADMIN_TOKEN", ADMIN)
        .env_remove("OWP_SERVER")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The story's repository in `GET /v1/admin/state`.
pub(crate) async fn repo_state(story: &Story) -> Value {
    let (status, state) = story
        .admin(reqwest::Method::GET, "/v1/admin/state", None)
        .await;
    assert_eq!(status, 200);
    state["repos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo"] == REPO)
        .expect("the repository joined")
        .clone()
}

async fn shown(story: &Story) -> Value {
    repo_state(story).await["x_github_labels_missing"].clone()
}

#[tokio::test]
async fn a_repository_that_joins_is_told_which_labels_it_lacks() {
    // A new repository has GitHub's default labels only. (On PostgreSQL when a server is named.)
    let story = Story::on(true, None, |_| {}).await;
    assert_eq!(
        shown(&story).await,
        json!([
            "pool:ready",
            "estimate:N",
            "priority:LEVEL",
            "skills:NAME",
            "area:NAME",
            "tier:N"
        ])
    );
    let state = admin_state(&story).await;
    assert!(
        state.contains(&format!(
            "! {REPO}: labels not in the repository yet: pool:ready, estimate:N, priority:LEVEL, \
             skills:NAME, area:NAME, tier:N (people can pick only labels that exist; create the \
             ones you use: gh label create NAME --repo {REPO})"
        )),
        "{state}"
    );

    // The maintainer creates some; the next reconciliation sees them.
    for label in ["pool:ready", "estimate:2", "priority:high", "skills:rust"] {
        story.fake.create_label(REPO, label);
    }
    story.running().github.reconcile_now().await.unwrap();
    story.settle().await;
    assert_eq!(shown(&story).await, json!(["area:NAME", "tier:N"]));
    story.fake.create_label(REPO, "area:cli");
    story.fake.create_label(REPO, "Tier:1");
    story.running().github.reconcile_now().await.unwrap();
    story.settle().await;
    assert_eq!(shown(&story).await, json!([]));
    let state = admin_state(&story).await;
    assert!(!state.contains("labels not in the repository"), "{state}");

    // The App never made one: the labels are the defaults and the maintainer's.
    assert_eq!(story.fake.repo_labels(REPO).len(), 9 + 6);
    assert!(
        story
            .fake
            .calls()
            .iter()
            .all(|c| !(c.path.contains("/labels") && c.method != "GET")),
        "the App writes no label"
    );

    // GitHub does not answer: unknown, not missing.
    story.fake.fail(
        FailWhen::on("GET", &format!("/repos/{REPO}/labels")),
        20,
        Failure::ServerError,
    );
    story.running().github.reconcile_now().await.unwrap();
    story.settle().await;
    assert_eq!(shown(&story).await, json!("unknown"));
    let state = admin_state(&story).await;
    assert!(
        state.contains(&format!(
            "? {REPO}: GitHub did not list its labels; whether the pool's labels exist is unknown"
        )),
        "{state}"
    );
    assert!(!state.contains("labels not in the repository"), "{state}");
    story.check_all_comments_asserted();
}

#[tokio::test]
async fn labels_renamed_in_the_settings_file_are_the_ones_looked_for() {
    let story = Story::with(Some("labels:\n  ready: \"help wanted\"\n"), |_| {}).await;
    let missing = shown(&story).await;
    assert_eq!(
        missing,
        json!([
            "estimate:N",
            "priority:LEVEL",
            "skills:NAME",
            "area:NAME",
            "tier:N"
        ]),
        "`help wanted` is one of GitHub's default labels"
    );
}

#[tokio::test]
async fn a_long_label_list_that_lacks_a_label_in_what_was_read_is_unknown() {
    let story = Story::start().await;
    // More than the App reads (10 pages of 100), none of them the pool's.
    for n in 0..1_000 {
        story.fake.create_label(REPO, &format!("team:{n}"));
    }
    story.running().github.reconcile_now().await.unwrap();
    story.settle().await;
    assert_eq!(shown(&story).await, json!("unknown"));
}
