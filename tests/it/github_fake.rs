//! The fake GitHub against the App's real client code: App JWT, installation tokens, the REST
//! endpoints the App uses, failures, webhook deliveries and the manifest conversion.

use crate::github_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use chrono::TimeDelta;
use github_support::{BOT_LOGIN, CallAuth, FailWhen, Failure, FakeGithub, OTHER_KEY};
use octocrab::models::reactions::ReactionContent;
use octocrab::params::State;
use owp::github::app_auth::{AppAuthError, AppCredentials, GithubApp};
use owp::github::raw_calls::{self, RepoPermission};
use owp::github::signature::WebhookSecrets;
use serde_json::{Value, json};

const REPO: &str = "octo-org/hello";
const INSTALLATION: u64 = 77;

async fn setup() -> (FakeGithub, GithubApp) {
    github_support::fake_with_app(INSTALLATION, REPO).await
}

// --- authentication -------------------------------------------------------------------------

#[tokio::test]
async fn installation_token_exchange_works() {
    let (fake, app) = setup().await;
    fake.create_issue(REPO, "alice", "First", "body", &["pool:ready"]);
    let client = app.installation(INSTALLATION).await.unwrap();
    let issue = client.issues("octo-org", "hello").get(1).await.unwrap();
    assert_eq!(issue.title, "First");
    assert_eq!(fake.issued_tokens(), 1);

    let calls = fake.calls();
    assert_eq!(
        calls[0].path,
        format!("/app/installations/{INSTALLATION}/access_tokens")
    );
    assert_eq!(calls[0].auth, CallAuth::AppJwt);
    assert_eq!(calls[0].status, 201);
    assert_eq!(calls[1].path, "/repos/octo-org/hello/issues/1");
    assert_eq!(calls[1].auth, CallAuth::Installation(INSTALLATION));
}

#[tokio::test]
async fn jwt_signed_with_another_key_is_refused() {
    let fake = FakeGithub::start().await;
    fake.install(INSTALLATION, "octo-org", &[REPO]);
    let wrong = AppCredentials::from_pem(fake.app_id(), OTHER_KEY.as_bytes()).unwrap();
    let app = GithubApp::new(wrong, fake.url()).unwrap();
    let err = app.installation(INSTALLATION).await.unwrap_err();
    assert!(matches!(err, AppAuthError::GitHub(_)), "{err:?}");
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].status, 401);
    assert!(
        matches!(&calls[0].auth, CallAuth::Refused(reason) if reason.contains("JWT")),
        "{:?}",
        calls[0].auth
    );
    assert_eq!(fake.issued_tokens(), 0);
}

#[tokio::test]
async fn jwt_of_another_app_is_refused() {
    let fake = FakeGithub::start().await;
    fake.install(INSTALLATION, "octo-org", &[REPO]);
    let other_app = AppCredentials::from_pem(1, fake.private_key_pem().as_bytes()).unwrap();
    let app = GithubApp::new(other_app, fake.url()).unwrap();
    assert!(app.installation(INSTALLATION).await.is_err());
    assert!(matches!(&fake.calls()[0].auth, CallAuth::Refused(r) if r.contains("issuer")));
}

#[tokio::test]
async fn installation_token_is_cached_per_installation() {
    let (fake, app) = setup().await;
    fake.install(78, "other-org", &["other-org/repo"]);
    for _ in 0..3 {
        app.installation(INSTALLATION).await.unwrap();
    }
    assert_eq!(fake.issued_tokens(), 1);
    app.installation(78).await.unwrap();
    assert_eq!(fake.issued_tokens(), 2);
    assert_eq!(app.cached_installations(), 2);
    // The same client (and token cache) is handed out each time.
    let a = app.installation(INSTALLATION).await.unwrap();
    let b = app.installation(INSTALLATION).await.unwrap();
    assert!(Arc::ptr_eq(&a, &b));
}

#[tokio::test]
async fn token_close_to_expiry_is_refreshed_before_use() {
    let (fake, app) = setup().await;
    // Shorter than the refresh margin: every use needs a new token.
    fake.set_token_lifetime(TimeDelta::minutes(4));
    let first = app.installation_token(INSTALLATION).await.unwrap();
    let second = app.installation_token(INSTALLATION).await.unwrap();
    assert_ne!(first, second);
    assert_eq!(fake.issued_tokens(), 2);
    // A token with an hour left is kept.
    fake.set_token_lifetime(TimeDelta::hours(1));
    let third = app.installation_token(INSTALLATION).await.unwrap();
    let fourth = app.installation_token(INSTALLATION).await.unwrap();
    assert_eq!(third, fourth);
    assert_eq!(fake.issued_tokens(), 3);
}

#[tokio::test]
async fn forgotten_installation_gets_a_new_client() {
    let (fake, app) = setup().await;
    app.installation(INSTALLATION).await.unwrap();
    app.forget_installation(INSTALLATION);
    assert_eq!(app.cached_installations(), 0);
    app.installation(INSTALLATION).await.unwrap();
    assert_eq!(fake.issued_tokens(), 2);
}

#[tokio::test]
async fn expired_or_unknown_tokens_are_refused() {
    let (fake, app) = setup().await;
    fake.set_token_lifetime(TimeDelta::seconds(-1));
    let expired = app.installation_token(INSTALLATION).await.unwrap();
    let http = github_support::github_http();
    let url = format!("{}/repos/{REPO}/issues", fake.url());
    let status = http
        .get(&url)
        .header("authorization", format!("token {expired}"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    let status = http
        .get(&url)
        .header("authorization", "token ghs_madeup")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    let status = http.get(&url).send().await.unwrap().status();
    assert_eq!(status, 401);
}

#[tokio::test]
async fn tokens_only_reach_their_installations_repositories() {
    let (fake, app) = setup().await;
    fake.install(78, "other-org", &["other-org/secret"]);
    fake.create_issue("other-org/secret", "eve", "Hidden", "", &[]);
    let client = app.installation(INSTALLATION).await.unwrap();
    let err = client
        .issues("other-org", "secret")
        .get(1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, octocrab::Error::GitHub { ref source, .. } if source.status_code == 404),
        "{err:?}"
    );
}

#[tokio::test]
async fn uninstalled_app_cannot_get_tokens() {
    let (fake, app) = setup().await;
    fake.uninstall(INSTALLATION);
    assert!(app.installation(INSTALLATION).await.is_err());
    assert_eq!(fake.calls()[0].status, 404);
}

#[tokio::test]
async fn app_endpoint_with_jwt() {
    let (fake, app) = setup().await;
    let me = app.app_client().current().app().await.unwrap();
    assert_eq!(me.id.0, fake.app_id());
    assert_eq!(fake.calls()[0].auth, CallAuth::AppJwt);
}

// --- issues, comments, reactions --------------------------------------------------------------

#[tokio::test]
async fn issues_listed_by_label_include_pull_requests_as_github_does() {
    let (fake, app) = setup().await;
    fake.create_issue(
        REPO,
        "alice",
        "Ready one",
        "",
        &["pool:ready", "estimate:2"],
    );
    fake.create_issue(REPO, "alice", "Not in pool", "", &["bug"]);
    let pr = fake.open_pr(REPO, "bob", "Fix", "fixes #1");
    fake.update_pr(REPO, pr, |p| p.labels.push("pool:ready".into()));
    let closed = fake.create_issue(REPO, "alice", "Closed", "", &["pool:ready"]);
    fake.close_issue(REPO, closed);

    let client = app.installation(INSTALLATION).await.unwrap();
    let page = client
        .issues("octo-org", "hello")
        .list()
        .labels(&["pool:ready".to_string()])
        .state(State::Open)
        .per_page(100)
        .send()
        .await
        .unwrap();
    let listed: Vec<(u64, bool)> = page
        .items
        .iter()
        .map(|i| (i.number, i.pull_request.is_some()))
        .collect();
    assert_eq!(listed, [(3, true), (1, false)]);
    let labels: Vec<&str> = page.items[1]
        .labels
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(labels, ["pool:ready", "estimate:2"]);
}

#[tokio::test]
async fn pagination_follows_next_links_with_credentials() {
    let (fake, app) = setup().await;
    for n in 0..5 {
        fake.create_issue(REPO, "alice", &format!("Issue {n}"), "", &["pool:ready"]);
    }
    let client = app.installation(INSTALLATION).await.unwrap();
    let first = client
        .issues("octo-org", "hello")
        .list()
        .labels(&["pool:ready".to_string()])
        .per_page(2)
        .send()
        .await
        .unwrap();
    assert!(first.next.is_some());
    let all = raw_calls::all_pages(&client, first).await.unwrap();
    let numbers: Vec<u64> = all.iter().map(|i| i.number).collect();
    assert_eq!(numbers, [5, 4, 3, 2, 1]);
}

#[tokio::test]
async fn octocrab_all_pages_drops_the_token_off_api_github_com() {
    // Why `raw_calls::all_pages` exists: octocrab only attaches an installation token to relative
    // requests or to api.github.com, so its own `all_pages` fails on every other host. If this
    // test starts failing, octocrab fixed it and `raw_calls::all_pages` may go.
    let (fake, app) = setup().await;
    for n in 0..3 {
        fake.create_issue(REPO, "alice", &format!("Issue {n}"), "", &[]);
    }
    let client = app.installation(INSTALLATION).await.unwrap();
    let first = client
        .issues("octo-org", "hello")
        .list()
        .per_page(2)
        .send()
        .await
        .unwrap();
    assert!(client.all_pages(first).await.is_err());
    assert_eq!(fake.calls().last().unwrap().auth, CallAuth::None);
}

#[tokio::test]
async fn comments_are_created_listed_and_updated() {
    let (fake, app) = setup().await;
    let n = fake.create_issue(REPO, "alice", "Task", "", &["pool:ready"]);
    fake.add_comment(REPO, n, "alice", "/owp claim");
    let client = app.installation(INSTALLATION).await.unwrap();
    let issues = client.issues("octo-org", "hello");

    let created = issues.create_comment(n, "status: ready").await.unwrap();
    assert_eq!(created.user.login, BOT_LOGIN);
    assert_eq!(created.user.r#type, "Bot");

    // octocrab's typed update sends POST; GitHub serves only PATCH on a comment (the App sends
    // PATCH): refused, and recorded as a request GitHub would not serve.
    assert!(
        issues
            .update_comment(created.id, "status: claimed")
            .await
            .is_err()
    );
    let violations = fake.take_violations();
    assert!(
        violations.len() == 1 && violations[0].contains("GitHub serves only GET, PATCH"),
        "{violations:?}"
    );
    owp::github::api::update_comment(&client, REPO, created.id.0 as i64, "status: claimed")
        .await
        .unwrap();

    let listed = issues.list_comments(n).send().await.unwrap();
    let bodies: Vec<&str> = listed
        .items
        .iter()
        .filter_map(|c| c.body.as_deref())
        .collect();
    assert_eq!(bodies, ["/owp claim", "status: claimed"]);
    assert_eq!(fake.bot_comments(REPO, n).len(), 1);
    assert_eq!(fake.bot_comments(REPO, n)[0].body, "status: claimed");
}

#[tokio::test]
async fn comment_updates_by_patch_work_too() {
    let (fake, app) = setup().await;
    let n = fake.create_issue(REPO, "alice", "Task", "", &[]);
    let id = fake.add_comment(REPO, n, BOT_LOGIN, "old");
    let token = app.installation_token(INSTALLATION).await.unwrap();
    let response = github_support::github_http()
        .patch(format!("{}/repos/{REPO}/issues/comments/{id}", fake.url()))
        .bearer_auth(token)
        .json(&json!({"body": "new"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(fake.comment(id).unwrap().body, "new");
}

#[tokio::test]
async fn reactions_on_command_comments() {
    let (fake, app) = setup().await;
    let n = fake.create_issue(REPO, "alice", "Task", "", &[]);
    let id = fake.add_comment(REPO, n, "alice", "/owp claim");
    let client = app.installation(INSTALLATION).await.unwrap();
    let reaction = client
        .issues("octo-org", "hello")
        .create_comment_reaction(id, ReactionContent::PlusOne)
        .await
        .unwrap();
    assert_eq!(reaction.content, ReactionContent::PlusOne);
    // Reacting twice is idempotent, as on GitHub (200 the second time).
    client
        .issues("octo-org", "hello")
        .create_comment_reaction(id, ReactionContent::PlusOne)
        .await
        .unwrap();
    let reactions = fake.reactions();
    assert_eq!(reactions.len(), 1);
    assert_eq!(
        (reactions[0].comment_id, reactions[0].content.as_str()),
        (id, "+1")
    );
}

#[tokio::test]
async fn open_pull_requests_are_listed() {
    let (fake, app) = setup().await;
    let open = fake.open_pr(REPO, "bob", "Open one", "Fixes #1");
    let merged = fake.open_pr(REPO, "bob", "Merged one", "Fixes #2");
    fake.merge_pr(REPO, merged);
    let client = app.installation(INSTALLATION).await.unwrap();
    let page = client
        .pulls("octo-org", "hello")
        .list()
        .state(State::Open)
        .send()
        .await
        .unwrap();
    let numbers: Vec<u64> = page.items.iter().map(|p| p.number).collect();
    assert_eq!(numbers, [open]);
    assert_eq!(page.items[0].body.as_deref(), Some("Fixes #1"));
    let all = client
        .pulls("octo-org", "hello")
        .list()
        .state(State::All)
        .send()
        .await
        .unwrap();
    let merged_pr = all.items.iter().find(|p| p.number == merged).unwrap();
    assert!(merged_pr.merged_at.is_some());
}

#[tokio::test]
async fn pull_request_files_are_paged_and_capped_like_github() {
    let (fake, app) = setup().await;
    let issue = fake.create_issue(REPO, "alice", "Not a pull request", "", &[]);
    let pr = fake.open_pr(REPO, "bob", "Big change", "Fixes #1");
    let names: Vec<String> = (0..3_100).map(|i| format!("src/f{i:04}.rs")).collect();
    let mut files: Vec<&str> = names.iter().map(String::as_str).collect();
    files[1] = "src/old.rs -> src/new.rs";
    fake.set_pr_files(REPO, pr, &files);
    let token = app.installation_token(INSTALLATION).await.unwrap();
    let http = github_support::github_http();
    let get = |query: String, token: Option<String>| {
        let mut req = http.get(format!("{}/repos/{REPO}/pulls/{query}", fake.url()));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let link = res
                .headers()
                .get("link")
                .map(|v| v.to_str().unwrap().to_string());
            (status, link, res.json::<Value>().await.unwrap())
        }
    };
    // 30 a page by default, with GitHub's links (by repository id) to the next and last page.
    let (status, link, body) = get(format!("{pr}/files"), Some(token.clone())).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 30);
    assert_eq!(body[0]["filename"], "src/f0000.rs");
    assert_eq!(body[1]["filename"], "src/new.rs");
    assert_eq!(body[1]["status"], "renamed");
    assert_eq!(body[1]["previous_filename"], "src/old.rs");
    let link = link.unwrap();
    let id = fake.repo_id(REPO);
    assert!(
        link.contains(&format!(
            "/repositories/{id}/pulls/{pr}/files?page=2>; rel=\"next\""
        )),
        "{link}"
    );
    assert!(link.contains("page=100>; rel=\"last\""), "{link}");
    // At most 100 a page, and 3,000 files in all: the 30th page of 100 is the last.
    let (_, link, body) = get(format!("{pr}/files?per_page=500"), Some(token.clone())).await;
    assert_eq!(body.as_array().unwrap().len(), 100);
    assert!(link.unwrap().contains("page=30>; rel=\"last\""));
    let (_, link, body) = get(
        format!("{pr}/files?per_page=100&page=30"),
        Some(token.clone()),
    )
    .await;
    assert_eq!(body.as_array().unwrap().len(), 100);
    assert_eq!(body[99]["filename"], "src/f2999.rs");
    assert!(!link.unwrap().contains("rel=\"next\""));
    let (_, _, body) = get(
        format!("{pr}/files?per_page=100&page=31"),
        Some(token.clone()),
    )
    .await;
    assert_eq!(body, json!([]));
    // An issue, or a number that is nothing, is not a pull request; credentials are required.
    assert_eq!(
        get(format!("{issue}/files"), Some(token.clone())).await.0,
        404
    );
    assert_eq!(get("999/files".into(), Some(token.clone())).await.0, 404);
    assert_eq!(get(format!("{pr}/files"), None).await.0, 401);

    // The App reads the pages GitHub gives one at a time, renamed files under both names.
    let client = app.installation(INSTALLATION).await.unwrap();
    let mut read = Vec::new();
    for page in 1.. {
        let (files, more) = owp::github::api::pull_files_page(&client, REPO, pr as i64, page)
            .await
            .unwrap();
        read.extend(files);
        if !more {
            break;
        }
    }
    assert_eq!(read.len(), 3_001);
    assert_eq!(read[1..3], ["src/new.rs", "src/old.rs"]);
    assert_eq!(read.last().unwrap(), "src/f2999.rs");
    assert_eq!(
        fake.count_calls("GET", &format!("/pulls/{pr}/files")),
        5 + 30
    );
}

#[tokio::test]
async fn collaborator_permissions() {
    let (fake, app) = setup().await;
    fake.set_permission(REPO, "maya", "maintain");
    fake.set_permission(REPO, "wes", "write");
    fake.set_permission(REPO, "tori", "triage");
    let client = app.installation(INSTALLATION).await.unwrap();
    let check = |login: &'static str| {
        let client = Arc::clone(&client);
        async move {
            raw_calls::collaborator_permission(&client, REPO, login)
                .await
                .unwrap()
        }
    };
    assert_eq!(check("maya").await, RepoPermission::Maintain);
    assert_eq!(check("wes").await, RepoPermission::Write);
    assert_eq!(check("tori").await, RepoPermission::Triage);
    // A person GitHub knows (here: an issue's author) without a role reads a public repository;
    // a login GitHub does not know is answered 404, which the App reads as no access.
    fake.create_issue(REPO, "stranger", "Hello", "", &[]);
    assert_eq!(check("stranger").await, RepoPermission::Read);
    assert_eq!(check("nobody-at-all").await, RepoPermission::None);
    assert_eq!(
        fake.calls().last().map(|c| c.status),
        Some(404),
        "GitHub answers 404 for an unknown login"
    );
    assert!(check("maya").await.is_maintainer());
    assert!(!check("tori").await.is_maintainer());
}

#[tokio::test]
async fn repo_config_file_is_read_raw() {
    let (fake, app) = setup().await;
    let yaml = "max_open_prs: 5\nclaim:\n  ttl_days: 3\n";
    fake.set_file(REPO, ".github/owp.yml", yaml);
    let client = app.installation(INSTALLATION).await.unwrap();
    let limit = owp::github::repo_config::MAX_CONFIG_BYTES;
    let text = raw_calls::file_text(&client, None, REPO, ".github/owp.yml", limit)
        .await
        .unwrap();
    assert_eq!(text, raw_calls::FileText::Text(yaml.to_string()));
    assert_eq!(
        raw_calls::file_text(&client, None, REPO, ".github/missing.yml", limit)
            .await
            .unwrap(),
        raw_calls::FileText::Missing
    );
    // A file over the limit is not read whole.
    fake.set_file(REPO, ".github/big.yml", &"#".repeat(limit * 4));
    assert!(matches!(
        raw_calls::file_text(&client, None, REPO, ".github/big.yml", limit)
            .await
            .unwrap(),
        raw_calls::FileText::TooLarge(n) if n > limit as u64
    ));
    let config = owp::github::repo_config::RepoConfig::parse(yaml).unwrap();
    assert_eq!(config.max_open_prs, Some(5));
}

#[tokio::test]
async fn contents_json_carries_wrapped_base64_like_github() {
    use base64::Engine as _;
    let (fake, app) = setup().await;
    let long = "x: 1\n".repeat(40);
    fake.set_file(REPO, ".github/owp.yml", &long);
    let token = app.installation_token(INSTALLATION).await.unwrap();
    let body: Value = github_support::github_http()
        .get(format!(
            "{}/repos/{REPO}/contents/.github/owp.yml",
            fake.url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let content = body["content"].as_str().unwrap();
    assert!(content.contains('\n'));
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(content.replace('\n', ""))
        .unwrap();
    assert_eq!(decoded, long.as_bytes());
}

// --- failures ---------------------------------------------------------------------------------

#[tokio::test]
async fn told_to_fail_it_fails_then_recovers() {
    let (fake, app) = setup().await;
    let n = fake.create_issue(REPO, "alice", "Task", "", &[]);
    let client = app.installation(INSTALLATION).await.unwrap();
    fake.fail(FailWhen::on("POST", "/comments"), 2, Failure::ServerError);
    let issues = client.issues("octo-org", "hello");
    for _ in 0..2 {
        let err = issues.create_comment(n, "hello").await.unwrap_err();
        assert!(
            matches!(err, octocrab::Error::GitHub { ref source, .. } if source.status_code == 500),
            "{err:?}"
        );
    }
    assert!(
        fake.comments(REPO, n).is_empty(),
        "a failed call creates nothing"
    );
    issues.create_comment(n, "hello").await.unwrap();
    assert_eq!(fake.comments(REPO, n).len(), 1);
    // The client did not retry on its own: exactly three POSTs reached GitHub.
    assert_eq!(fake.count_calls("POST", "/comments"), 3);
}

#[tokio::test]
async fn secondary_rate_limit_carries_retry_after() {
    let (fake, app) = setup().await;
    let n = fake.create_issue(REPO, "alice", "Task", "", &[]);
    let client = app.installation(INSTALLATION).await.unwrap();
    fake.fail(
        FailWhen::any(),
        1,
        Failure::SecondaryRateLimit { retry_after: 42 },
    );
    let response = client
        ._post(
            format!("/repos/{REPO}/issues/{n}/comments"),
            Some(&json!({"body": "hi"})),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.headers()["retry-after"], "42");
    let body = client.body_to_string(response).await.unwrap();
    assert!(body.contains("secondary rate limit"), "{body}");
}

#[tokio::test]
async fn content_limits_count_per_installation_and_say_when_to_retry() {
    // GitHub's "so many a minute and so many an hour", smaller and faster: 4 writes in any
    // 3 seconds and 6 in any 9 seconds here. What the waits must be is worked out from when the
    // writes were sent, so that a busy machine does not change the answer.
    let (fake, app) = setup().await;
    fake.install(78, "other-org", &["other-org/hello"]);
    fake.set_content_limits(&[(4, TimeDelta::seconds(3)), (6, TimeDelta::seconds(9))]);
    let n = fake.create_issue(REPO, "alice", "Task", "", &[]);
    let m = fake.create_issue("other-org/hello", "alice", "Task", "", &[]);
    // Tokens first, so that each write below is one request.
    let tokens = (
        app.installation_token(INSTALLATION).await.unwrap(),
        app.installation_token(78).await.unwrap(),
    );
    let post = |installation: u64, repo: &'static str, number: u64| {
        let url = fake.url().to_string();
        let token = if installation == INSTALLATION {
            tokens.0.clone()
        } else {
            tokens.1.clone()
        };
        async move {
            github_support::github_http()
                .post(format!("{url}/repos/{repo}/issues/{number}/comments"))
                .bearer_auth(token)
                .json(&json!({"body": "hi"}))
                .send()
                .await
                .unwrap()
        }
    };
    let retry_after = |r: &reqwest::Response| -> f64 {
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    // The wait a refusal names: until the write that opened the window leaves it. That write
    // was sent between `sent` and `answered`; the refusal between `asked` and now.
    let names_the_wait = |r: &reqwest::Response,
                          window: f64,
                          (sent, answered): (Instant, Instant),
                          asked: Instant| {
        let wait = retry_after(r);
        let least = window - Instant::now().duration_since(sent).as_secs_f64();
        let most = window - asked.duration_since(answered).as_secs_f64();
        assert!(
            wait >= least.floor().max(1.0) && wait <= most.ceil().max(1.0),
            "{wait} s, not within {least:.2}..{most:.2}: {r:?}"
        );
    };
    let sent = Instant::now();
    assert_eq!(post(INSTALLATION, REPO, n).await.status(), 201);
    let first = (sent, Instant::now());
    for _ in 0..3 {
        assert_eq!(post(INSTALLATION, REPO, n).await.status(), 201);
    }
    let fourth = Instant::now();
    // The fifth within 3 seconds: refused, as GitHub refuses content creation past its limit,
    // saying how long until the first of the four leaves the window.
    let asked = Instant::now();
    let refused = post(INSTALLATION, REPO, n).await;
    if first.0.elapsed() < Duration::from_secs(3) {
        assert_eq!(refused.status(), 403);
        names_the_wait(&refused, 3.0, first, asked);
        let body = refused.text().await.unwrap();
        assert!(body.contains("secondary rate limit"), "{body}");
    } else {
        // The machine was too slow for the short window to still hold the first write.
        assert_eq!(refused.status(), 201);
    }
    // Another installation has limits of its own.
    assert_eq!(post(78, "other-org/hello", m).await.status(), 201);
    // Once the four have left the short window, more fit until the 9-second window holds six;
    // then 429, and the wait is until the first write leaves it.
    tokio::time::sleep_until((fourth + Duration::from_millis(3100)).into()).await;
    while fake.content_writes(INSTALLATION).len() < 6 {
        assert_eq!(post(INSTALLATION, REPO, n).await.status(), 201);
    }
    let asked = Instant::now();
    let refused = post(INSTALLATION, REPO, n).await;
    assert!(
        first.0.elapsed() < Duration::from_secs(9),
        "the machine was too slow"
    );
    assert_eq!(refused.status(), 429);
    names_the_wait(&refused, 9.0, first, asked);
    assert_eq!(fake.content_writes(INSTALLATION).len(), 6);
    assert_eq!(fake.content_writes(78).len(), 1);
}

#[tokio::test]
async fn primary_rate_limit_headers() {
    let (fake, app) = setup().await;
    let client = app.installation(INSTALLATION).await.unwrap();
    fake.fail(
        FailWhen::on("GET", "/pulls"),
        1,
        Failure::RateLimited { reset_in: 60 },
    );
    let response = client
        ._get(format!("{}/repos/{REPO}/pulls", ""))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
    assert!(response.headers().contains_key("x-ratelimit-reset"));
}

// --- webhooks ---------------------------------------------------------------------------------

/// A stand-in for the App's webhook endpoint: checks signatures and keeps what arrived.
async fn webhook_receiver(secret: &str) -> (String, Arc<Mutex<Vec<(String, String, Value)>>>) {
    let received: Arc<Mutex<Vec<(String, String, Value)>>> = Arc::default();
    let secrets = WebhookSecrets::parse(secret).unwrap();
    let sink = Arc::clone(&received);
    let router = axum::Router::new().route(
        "/github/webhook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let sink = Arc::clone(&sink);
            let secrets = secrets.clone();
            async move {
                let signature = headers
                    .get("x-hub-signature-256")
                    .and_then(|v| v.to_str().ok());
                if secrets.verify(signature, &body).is_err() {
                    return StatusCode::UNAUTHORIZED;
                }
                let header = |name: &str| headers[name].to_str().unwrap().to_string();
                sink.lock().unwrap().push((
                    header("x-github-event"),
                    header("x-github-delivery"),
                    serde_json::from_slice(&body).unwrap(),
                ));
                StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/github/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, received)
}

#[tokio::test]
async fn signed_webhooks_parse_into_our_events() {
    use owp::github::events::{CommentAction, Event, IssueAction, parse_event};
    let (fake, _app) = setup().await;
    let (url, received) = webhook_receiver("s3cret").await;
    fake.set_webhook_target(&url, "s3cret");

    let n = fake.create_issue(REPO, "alice", "Task", "Do it", &["pool:ready"]);
    let payload = fake.issue_payload(REPO, n, "labeled", "maya", Some("pool:ready"));
    assert_eq!(fake.send_webhook("issues", &payload).await, 202);
    let comment = fake.add_comment(REPO, n, "alice", "/owp claim");
    let payload = fake.comment_payload(comment, "created", None);
    assert_eq!(fake.send_webhook("issue_comment", &payload).await, 202);
    let pr = fake.open_pr(REPO, "alice", "Fix", "Fixes #1");
    let payload = fake.pr_payload(REPO, pr, "opened", "alice", None);
    assert_eq!(fake.send_webhook("pull_request", &payload).await, 202);
    let payload = fake.installation_payload(INSTALLATION, "created");
    assert_eq!(fake.send_webhook("installation", &payload).await, 202);
    let payload = fake.installation_repositories_payload(INSTALLATION, &[REPO], &[]);
    assert_eq!(
        fake.send_webhook("installation_repositories", &payload)
            .await,
        202
    );

    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 5);
    let events: Vec<Event> = received
        .iter()
        .map(|(event, _, body)| parse_event(event, body.to_string().as_bytes()).unwrap())
        .collect();
    let Event::Issue(issue) = &events[0] else {
        panic!("{:?}", events[0])
    };
    assert_eq!(
        issue.action,
        IssueAction::Labeled {
            label: Some("pool:ready".into())
        }
    );
    assert_eq!(issue.installation_id, Some(INSTALLATION));
    assert_eq!(issue.repo.full_name, REPO);
    assert_eq!(issue.sender.login, "maya");
    let Event::IssueComment(c) = &events[1] else {
        panic!("{:?}", events[1])
    };
    assert_eq!(
        (c.action.clone(), c.comment.body.as_str()),
        (CommentAction::Created, "/owp claim")
    );
    let Event::PullRequest(p) = &events[2] else {
        panic!("{:?}", events[2])
    };
    assert_eq!(
        owp::github::closing_refs::closing_references(&p.pull_request.body, &p.repo.full_name)
            .iter()
            .map(|r| r.key())
            .collect::<Vec<_>>(),
        ["octo-org/hello#1"]
    );
    assert!(matches!(&events[3], Event::Installation(i) if i.repositories.len() == 1));
    assert!(matches!(&events[4], Event::InstallationRepositories(i) if i.added.len() == 1));
}

#[tokio::test]
async fn wrongly_signed_webhooks_are_refused_by_the_receiver() {
    let (fake, _app) = setup().await;
    let (url, received) = webhook_receiver("right").await;
    fake.set_webhook_target(&url, "wrong");
    fake.create_issue(REPO, "alice", "Task", "", &[]);
    let payload = fake.issue_payload(REPO, 1, "opened", "alice", None);
    assert_eq!(fake.send_webhook("issues", &payload).await, 401);
    assert!(received.lock().unwrap().is_empty());
    assert_eq!(fake.deliveries()[0].status_code, 401);
}

#[tokio::test]
async fn failed_deliveries_are_listed_and_redelivered_with_the_same_guid() {
    let (fake, app) = setup().await;
    let (url, received) = webhook_receiver("s3cret").await;
    let n = fake.create_issue(REPO, "alice", "Task", "", &["pool:ready"]);
    let payload = fake.issue_payload(REPO, n, "opened", "alice", None);
    let delivery = fake.add_failed_delivery("issues", &payload);

    let listed: Vec<Value> = app
        .app_client()
        .get("/app/hook/deliveries", Some(&json!({"per_page": 100})))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], delivery);
    assert_eq!(listed[0]["status"], "failed");
    assert_eq!(listed[0]["event"], "issues");
    let guid = listed[0]["guid"].as_str().unwrap().to_string();

    fake.set_webhook_target(&url, "s3cret");
    let response = app
        .app_client()
        ._post(
            format!("/app/hook/deliveries/{delivery}/attempts"),
            None::<&()>,
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(fake.redelivery_requests(), [delivery]);

    // The redelivery happens in the background, as on GitHub; wait for it with a deadline.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while received.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no redelivery");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (event, delivered_guid, _) = received.lock().unwrap()[0].clone();
    assert_eq!((event.as_str(), delivered_guid), ("issues", guid));
    let deliveries = fake.deliveries();
    assert!(deliveries.last().unwrap().redelivery);
}

#[tokio::test]
async fn manifest_code_converts_once_without_auth() {
    use owp::github::manifest::{ManifestError, convert};
    let fake = FakeGithub::start().await;
    let expected = fake.add_manifest_code("abc123");
    let http = reqwest::Client::new();
    let app = convert(&http, fake.url(), "abc123").await.unwrap();
    assert_eq!(app.id, fake.app_id());
    assert_eq!(app.slug.as_deref(), expected["slug"].as_str());
    assert_eq!(app.webhook_secret(), Some("test-webhook-secret"));
    assert!(fake.calls()[0].auth == CallAuth::None);
    // The credentials work.
    let creds = AppCredentials::from_pem(app.id, app.private_key_pem().as_bytes()).unwrap();
    fake.install(INSTALLATION, "octo-org", &[REPO]);
    GithubApp::new(creds, fake.url())
        .unwrap()
        .installation(INSTALLATION)
        .await
        .unwrap();
    // A code is single-use.
    assert!(matches!(
        convert(&http, fake.url(), "abc123").await,
        Err(ManifestError::Refused { status: 404 })
    ));
}
