//! GitHub as it really is: the fake refuses what GitHub's REST description refuses, links pages in
//! GitHub's `/repositories/{id}/…` form, lists pull requests without `merged`, shows deleted
//! accounts as `user: null`, and limits the App without saying for how long. The App copes with
//! each.

#[allow(unused_imports)]
use crate::github_support;

use github_support::story::{INSTALLATION, REPO, Story};
use github_support::{FailWhen, Failure, FakeGithub, github_http};
use owp::domain::TaskStatus;
use owp::github::api;
use owp::github::app_auth::GithubApp;
use serde_json::{Value, json};

async fn setup() -> (FakeGithub, GithubApp) {
    github_support::fake_with_app(INSTALLATION, REPO).await
}

// --- the fake is as strict as GitHub ----------------------------------------------------------

#[tokio::test]
async fn requests_github_does_not_serve_are_refused_and_recorded() {
    let (fake, app) = setup().await;
    let n = fake.create_issue(REPO, "alice", "Task", "", &[]);
    let token = app.installation_token(INSTALLATION).await.unwrap();
    let http = github_http();
    let url = |path: &str| format!("{}{path}", fake.url());

    // A route GitHub does not have.
    let status = http
        .get(url(&format!("/repos/{REPO}/issues/{n}/comment")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
    // A method GitHub does not serve on a route it has: a comment is edited with PATCH only.
    let id = fake.add_comment(REPO, n, "alice", "hello");
    let status = http
        .put(url(&format!("/repos/{REPO}/issues/comments/{id}")))
        .bearer_auth(&token)
        .json(&json!({"body": "x"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
    // A body the operation's schema refuses.
    let status = http
        .post(url(&format!("/repos/{REPO}/issues/{n}/comments")))
        .bearer_auth(&token)
        .json(&json!({"text": "no body field"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 422);
    let status = http
        .post(url(&format!(
            "/repos/{REPO}/issues/comments/{id}/reactions"
        )))
        .bearer_auth(&token)
        .json(&json!({"content": "thumbsup"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 422);
    // No User-Agent: GitHub refuses the request.
    let status = reqwest::Client::new()
        .get(url(&format!("/repos/{REPO}/issues")))
        .header("accept", "application/vnd.github+json")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403);
    // A query parameter the operation does not declare: GitHub ignores it, the fake records it.
    let status = http
        .get(url(&format!("/repos/{REPO}/issues?label=pool:ready")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);

    let violations = fake.take_violations();
    let expected = [
        "no such route",
        "GitHub serves only GET, PATCH",
        "does not match issues/create-comment",
        "does not match reactions/create-for-issue-comment",
        "User-Agent",
        "`label` is not a query parameter",
    ];
    assert_eq!(violations.len(), expected.len(), "{violations:#?}");
    for (violation, what) in violations.iter().zip(expected) {
        assert!(violation.contains(what), "{violation} should say {what}");
    }
    assert!(fake.take_violations().is_empty());
}

#[tokio::test]
#[should_panic(expected = "requests GitHub's REST description refuses")]
async fn a_fake_that_saw_a_refused_request_fails_its_test() {
    let (fake, _app) = setup().await;
    let _ = github_http()
        .get(format!("{}/repos/{REPO}/no-such-thing", fake.url()))
        .send()
        .await;
    drop(fake);
}

#[tokio::test]
async fn every_call_of_the_app_matches_githubs_description() {
    // Each REST call the App makes, against the strict fake; dropping the fake fails on any
    // call the description refuses.
    let (fake, app) = setup().await;
    let n = fake.create_issue(REPO, "alice", "Task", "", &["pool:ready"]);
    let pr = fake.open_pr(REPO, "bob", "Fix", "Fixes #1");
    fake.set_permission(REPO, "bob", "write");
    fake.set_file(REPO, ".github/owp.yml", "labels: {}\n");
    let client = app.installation(INSTALLATION).await.unwrap();
    let repo = REPO;
    let n = n as i64;
    let (id, _) = api::create_comment(&client, repo, n, "status")
        .await
        .unwrap();
    api::update_comment(&client, repo, id, "status, edited")
        .await
        .unwrap();
    api::react(&client, repo, id, "eyes").await.unwrap();
    api::issue_comments(&client, repo, n).await.unwrap();
    api::open_issues_with_label(&client, app.etags(), repo, "pool:ready")
        .await
        .unwrap();
    api::issue(&client, repo, n).await.unwrap();
    api::open_pulls(&client, app.etags(), repo).await.unwrap();
    api::pull(&client, repo, pr as i64).await.unwrap();
    api::permission(&client, repo, "bob").await.unwrap();
    api::file_text(&client, None, repo, ".github/owp.yml", 1000)
        .await
        .unwrap();
    api::installation_repos(&client, None, 50).await.unwrap();
    api::installations(&app, 50).await.unwrap();
    // More deliveries than one page: the second page is asked for by GitHub's opaque cursor.
    fake.record_deliveries(150);
    assert_eq!(api::deliveries(&app, 2).await.unwrap().len(), 150);
    // No such delivery (404), but a request GitHub serves.
    assert!(api::redeliver(&app, 999).await.is_err());
    assert!(fake.take_violations().is_empty());
}

#[tokio::test]
async fn every_request_names_the_app_as_its_user_agent() {
    // With its slug configured (the App setup page saves it), the App sends exactly that; the
    // strict fake has already refused any request without exactly one User-Agent.
    let story = Story::with(None, |c| {
        c.github.github_app_slug = Some("octo-pool".to_string());
    })
    .await;
    let n = story.label_issue("Named caller", &[]).await;
    story.expect_status(n, &["**Ready**"]);
    assert_eq!(story.fake.user_agents(), vec!["octo-pool".to_string()]);

    // Without a slug, the product's name and version; never octocrab's.
    let (fake, app) = setup().await;
    let client = app.installation(INSTALLATION).await.unwrap();
    api::issue_comments(&client, REPO, 1).await.ok();
    let agents = fake.user_agents();
    assert_eq!(agents.len(), 1, "{agents:?}");
    assert!(agents[0].starts_with("owp-pool/"), "{agents:?}");
}

// --- listings as GitHub sends them ------------------------------------------------------------

#[tokio::test]
async fn pages_link_in_githubs_repositories_form_and_are_followed() {
    let (fake, app) = setup().await;
    for i in 0..150 {
        fake.create_issue(REPO, "alice", &format!("Task {i}"), "", &["pool:ready"]);
    }
    let token = app.installation_token(INSTALLATION).await.unwrap();
    let response = github_http()
        .get(format!(
            "{}/repos/{REPO}/issues?state=open&labels=pool:ready&per_page=100",
            fake.url()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let link = response.headers()["link"].to_str().unwrap().to_string();
    let next = format!("{}/repositories/", fake.url());
    assert!(
        link.contains(&next) && !link.contains("/repos/"),
        "GitHub links pages by the repository's id: {link}"
    );

    let client = app.installation(INSTALLATION).await.unwrap();
    let issues = api::open_issues_with_label(&client, app.etags(), REPO, "pool:ready")
        .await
        .unwrap();
    assert_eq!(issues.len(), 150);
    assert!(fake.take_violations().is_empty());
}

#[tokio::test]
async fn pull_request_lists_carry_no_merged_field_and_the_app_does_not_need_it() {
    let (fake, app) = setup().await;
    let open = fake.open_pr(REPO, "bob", "Open", "");
    let merged = fake.open_pr(REPO, "bob", "Merged", "");
    fake.merge_pr(REPO, merged);
    let token = app.installation_token(INSTALLATION).await.unwrap();
    let listed: Vec<Value> = github_http()
        .get(format!("{}/repos/{REPO}/pulls?state=all", fake.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|p| p.get("merged").is_none()));
    assert!(listed.iter().any(|p| !p["merged_at"].is_null()));

    let client = app.installation(INSTALLATION).await.unwrap();
    let pulls = api::open_pulls(&client, app.etags(), REPO).await.unwrap();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].number, open);
    assert!(!pulls[0].merged);
    let single = api::pull(&client, REPO, merged as i64).await.unwrap();
    assert!(single.merged, "the single pull request answer says merged");
}

#[tokio::test]
async fn deleted_accounts_are_listed_as_null_users_and_read_as_ghost() {
    let (fake, app) = setup().await;
    let n = fake.create_issue(REPO, "gone-user", "Task", "", &["pool:ready"]);
    fake.add_comment(REPO, n, "gone-user", "hello");
    fake.open_pr(REPO, "gone-user", "Fix", "");
    fake.delete_account("gone-user");
    let token = app.installation_token(INSTALLATION).await.unwrap();
    let issues: Vec<Value> = github_http()
        .get(format!("{}/repos/{REPO}/issues", fake.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!issues.is_empty() && issues.iter().all(|i| i["user"].is_null()));

    let client = app.installation(INSTALLATION).await.unwrap();
    let ready = api::open_issues_with_label(&client, app.etags(), REPO, "pool:ready")
        .await
        .unwrap();
    assert_eq!(ready[0].author, owp::github::events::Actor::ghost());
    let pulls = api::open_pulls(&client, app.etags(), REPO).await.unwrap();
    assert_eq!(pulls[0].author.login, "ghost");
    let comments = api::issue_comments(&client, REPO, n as i64).await.unwrap();
    assert!(!comments[0].by_bot);
}

#[tokio::test]
async fn a_missing_permission_is_refused_as_github_refuses_it() {
    let (fake, app) = setup().await;
    let n = fake.create_issue(REPO, "alice", "Task", "", &[]);
    fake.fail(
        FailWhen::on("POST", "/comments"),
        1,
        Failure::NotAccessibleByIntegration,
    );
    let client = app.installation(INSTALLATION).await.unwrap();
    let refused = api::create_comment(&client, REPO, n as i64, "hello")
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, api::CallError::Permanent { status: 403, message } if message == "Resource not accessible by integration"),
        "{refused:?}"
    );
}

// --- stories ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_secondary_limit_without_retry_after_backs_off_exponentially_and_loses_nothing() {
    let wait_ms = 400;
    let story = Story::with(None, |c| c.github.github_limit_wait_ms = Some(wait_ms)).await;
    story.fake.fail(
        FailWhen::on("POST", "/comments"),
        3,
        Failure::SecondaryRateLimitWithoutRetryAfter,
    );
    let n = story.label_issue("Slow down", &[]).await;
    story.expect_status(n, &["**Ready**"]);
    let posts: Vec<_> = story
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.path.ends_with(&format!("/issues/{n}/comments")))
        .map(|c| c.at)
        .collect();
    assert_eq!(posts.len(), 4, "three limited attempts, then the comment");
    let gaps: Vec<i64> = posts
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds())
        .collect();
    let wait_ms = wait_ms as i64;
    assert!(
        gaps[0] >= wait_ms && gaps[1] >= 2 * wait_ms && gaps[2] >= 4 * wait_ms,
        "each repeated limit doubles the pause: {gaps:?}"
    );
    let failed: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM gh_outbox WHERE state = 'failed'")
        .fetch_one(story.running().store.read_pool())
        .await
        .unwrap();
    assert_eq!(failed.0, 0, "a rate limit never fails a comment");
}

#[tokio::test]
async fn deleted_accounts_in_listings_do_not_stop_a_reconcile() {
    let story = Story::start().await;
    // Labelled before anyone told the App, by an account deleted since; its comment and pull
    // request too. GitHub lists them with `user: null`.
    let n = story
        .fake
        .create_issue(REPO, "gone-user", "Left behind", "", &["pool:ready"]);
    story
        .fake
        .add_comment(REPO, n, "gone-user", "Still relevant");
    story
        .fake
        .open_pr(REPO, "gone-user", "Unrelated fix", "Typo.");
    story.fake.delete_account("gone-user");
    story.remember_number(n);

    story.running().github.reconcile_now().await.unwrap();
    story.settle().await;
    story.expect_status(n, &["**Ready**"]);
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
}

#[tokio::test]
async fn a_truncated_repository_listing_takes_nothing_out_of_the_pool() {
    let story = Story::with(None, |c| c.github.github_max_pages = Some(1)).await;
    let n = story.label_issue("Stays in the pool", &[]).await;
    story.expect_status(n, &["**Ready**"]);
    // 100 more repositories, listed before this one: its page is past what the App reads.
    for i in 0..100 {
        story
            .fake
            .add_repo(INSTALLATION, &format!("octo-org/aa-{i:03}"));
    }
    story.running().github.reconcile_now().await.unwrap();
    story.settle().await;
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    story.expect_no_new_comments(n);
}

#[tokio::test]
async fn a_write_the_app_has_no_permission_for_is_given_up_and_the_rest_goes_on() {
    let story = Story::start().await;
    let n = story.label_issue("Claim me", &[]).await;
    story.expect_status(n, &["**Ready**"]);
    // The installation lacks the permission to react: GitHub refuses with 403 for good.
    story.fake.fail(
        FailWhen::on("POST", "/reactions"),
        100,
        Failure::NotAccessibleByIntegration,
    );
    story.comment(n, "alice", "/owp claim").await;
    assert_eq!(story.task(n).await.status, TaskStatus::InProgress);
    story.expect_status(n, &["@alice"]);
    // A renewal is answered with 👍, which GitHub refuses.
    let c = story.comment(n, "alice", "/owp renew").await;
    assert_eq!(story.task(n).await.status, TaskStatus::InProgress);
    assert!(!story.reacted(c, "+1"));
    assert_eq!(
        story.fake.count_calls("POST", "/reactions"),
        1,
        "a refusal is not tried again"
    );
}
