//! Maintainers sign in with GitHub (the contract's section 10), over the fake GitHub: the web flow
//! (state + PKCE, a session cookie), the device flow (an `owpm_…` token), what each maintainer
//! sees and may change, and the hostile cases, each failing without its defence.

use reqwest::Method;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::github_support::story::{ADMIN, INSTALLATION, REPO, Story};
use crate::github_support::{TEST_CLIENT_ID, TEST_CLIENT_SECRET};

/// A second repository of the same installation, which the maintainer does not maintain.
pub(crate) const OTHER: &str = "octo-org/other";
/// The person who maintains [`REPO`] (write) and only reads [`OTHER`].
pub(crate) const MONA: &str = "mona";

/// A client that never follows redirects (a browser's hops are the test's to make).
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A story with sign-in on, two repositories of the installation, and Mona maintaining one.
pub(crate) async fn story_with(
    postgres: bool,
    configure: impl FnOnce(&mut owp::config::ServeConfig),
) -> Story {
    story_with_settings(postgres, None, configure).await
}

/// [`story_with`], the repository's `.github/owp.yml` being `settings` (when given).
pub(crate) async fn story_with_settings(
    postgres: bool,
    settings: Option<&str>,
    configure: impl FnOnce(&mut owp::config::ServeConfig),
) -> Story {
    let mut story = Story::on(postgres, settings, |_| {}).await;
    story.stop().await;
    story.config.github.github_client_id = Some(TEST_CLIENT_ID.into());
    story.config.github.github_client_secret =
        Some(owp::domain::secret::Secret::new(TEST_CLIENT_SECRET));
    story.config.github.github_web_url = Some(story.fake.web_url().to_string());
    configure(&mut story.config);
    story.boot().await;
    story
        .fake
        .set_callback_urls(&[&format!("{}/auth/github/callback", story.url())]);
    story.fake.add_repo(INSTALLATION, OTHER);
    let payload = story
        .fake
        .installation_repositories_payload(INSTALLATION, &[OTHER], &[]);
    story.send("installation_repositories", &payload).await;
    story.fake.set_permission(REPO, MONA, "write");
    story.fake.set_permission(OTHER, MONA, "read");
    story.fake.set_device_interval(1);
    story
}

pub(crate) async fn story() -> Story {
    story_with(false, |_| {}).await
}

/// A signed-in browser: its session cookie and the dashboard's CSRF token.
pub(crate) struct WebSession {
    pub(crate) cookie: String,
    csrf: String,
}

/// A browser starts a web sign-in: GitHub's authorize address, and the cookie `GET /auth/github`
/// set (as `name=value`, ready for a `Cookie` header).
pub(crate) async fn start_web(b: &reqwest::Client, url: &str) -> (String, String) {
    start_web_at(b, &format!("{url}/auth/github")).await
}

/// [`start_web`] from this address (`{url}/auth/github?…`).
pub(crate) async fn start_web_at(b: &reqwest::Client, start_url: &str) -> (String, String) {
    let start = b.get(start_url).send().await.unwrap();
    assert_eq!(start.status(), 302);
    let authorize = start.headers()[LOCATION].to_str().unwrap().to_string();
    let cookie = start
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("owp_signin="))
        .expect("GET /auth/github binds the state to this browser with a cookie");
    (authorize, cookie.split(';').next().unwrap().to_string())
}

/// Mona signs in on the dashboard: `/auth/github`, GitHub's page, the callback.
pub(crate) async fn web_sign_in(story: &Story, login: &str) -> WebSession {
    let b = browser();
    let (authorize, flow_cookie) = start_web(&b, &story.url()).await;
    story.fake.sign_in_browser(login);
    let callback = story
        .fake
        .visit_authorize(&authorize)
        .await
        .expect("GitHub sends the browser back");
    let back = b
        .get(&callback)
        .header(COOKIE, &flow_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 302, "{:?}", back.text().await);
    assert_eq!(back.headers()[LOCATION], "/");
    let set = back
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("owp_session="))
        .expect("a session cookie");
    for part in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(part), "{set} lacks {part}");
    }
    let max_age: u64 = set
        .split("Max-Age=")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(max_age <= 8 * 3600, "{set}");
    let cookie = set.split(';').next().unwrap().to_string();
    let page = b
        .get(format!("{}/", story.url()))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split(r#"<meta name="csrf-token" content=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the dashboard embeds a CSRF token")
        .to_string();
    assert!(
        page.contains(&format!("Signed in as {login} (GitHub)")),
        "the dashboard says who"
    );
    WebSession { cookie, csrf }
}

/// A device sign-in for `login`: start, pending, approve on GitHub, the token.
pub(crate) async fn device_sign_in(story: &Story, login: &str) -> String {
    let b = browser();
    let start: Value = b
        .post(format!("{}/v1/auth/device", story.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let device_code = start["device_code"].as_str().unwrap().to_string();
    let user_code = start["user_code"].as_str().unwrap();
    assert!(
        start["verification_uri"]
            .as_str()
            .unwrap()
            .starts_with(story.fake.web_url())
    );
    let poll = || async {
        b.post(format!("{}/v1/auth/device/token", story.url()))
            .json(&json!({"device_code": device_code}))
            .send()
            .await
            .unwrap()
    };
    let pending = poll().await;
    assert_eq!(pending.status(), 428);
    let problem: Value = pending.json().await.unwrap();
    assert_eq!(problem["code"], "authorization_pending");
    story.fake.approve_device(user_code, login).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let done = poll().await;
    assert_eq!(done.status(), 201);
    let body: Value = done.json().await.unwrap();
    assert_eq!(body["login"], login);
    let token = body["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("owpm_"), "{token}");
    token
}

/// A request with a maintainer token.
pub(crate) async fn with_token(
    story: &Story,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = browser()
        .request(method, format!("{}{path}", story.url()))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A request of a signed-in browser (with the CSRF token when `csrf`).
pub(crate) async fn with_cookie(
    story: &Story,
    method: Method,
    path: &str,
    session: &WebSession,
    csrf: bool,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = browser()
        .request(method, format!("{}{path}", story.url()))
        .header(COOKIE, &session.cookie);
    if csrf {
        req = req.header("x-csrf-token", &session.csrf);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn repos_of(state: &Value) -> Vec<String> {
    state["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repo"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_maintainer_signs_in_on_the_web_and_steers_only_their_repository() {
    let story = story().await;
    let meta: Value = browser()
        .get(format!("{}/v1/meta", story.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        meta["features"]
            .as_array()
            .unwrap()
            .contains(&json!("signin"))
    );

    let sign_in_page = browser()
        .get(format!("{}/", story.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        sign_in_page.contains(r#"href="/auth/github""#),
        "a Sign in with GitHub button"
    );
    let calls = story.fake.calls().len();
    let started = std::time::Instant::now();
    let mona = web_sign_in(&story, MONA).await;
    // The browser's visit to GitHub's page, the code exchange, `GET /user`,
    // `GET /user/installations` and the one installation's repositories (one page).
    let sign_in_calls = story.fake.calls().len() - calls;
    eprintln!(
        "web sign-in against the fake: {:?}, {sign_in_calls} requests to GitHub",
        started.elapsed()
    );
    assert_eq!(
        sign_in_calls, 5,
        "{sign_in_calls} requests to GitHub for one sign-in"
    );
    let (status, me) = with_cookie(&story, Method::GET, "/v1/me", &mona, false, None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["kind"], "maintainer");
    assert_eq!(me["login"], MONA);
    assert_eq!(me["repos"], json!([{"repo": REPO, "permission": "write"}]));

    let (status, state) =
        with_cookie(&story, Method::GET, "/v1/admin/state", &mona, false, None).await;
    // Within five minutes of signing in, what GitHub listed at sign-in stands: the dashboard's
    // reads ask GitHub nothing about Mona.
    let asked = || story.fake.count_calls("GET", "/collaborators/");
    let calls = asked();
    assert_eq!(calls, 0, "the sign-in's own answer is GitHub's answer");
    for _ in 0..5 {
        with_cookie(&story, Method::GET, "/v1/admin/state", &mona, false, None).await;
    }
    assert_eq!(asked(), calls, "reads within the cache ask GitHub nothing");
    assert_eq!(status, 200);
    assert_eq!(
        repos_of(&state),
        vec![REPO.to_string()],
        "only the repository Mona maintains"
    );

    // A write needs the CSRF token.
    let budget = json!({"repo": REPO, "max_open_prs": 7});
    let (status, _) = with_cookie(
        &story,
        Method::POST,
        "/v1/admin/repos",
        &mona,
        false,
        Some(budget.clone()),
    )
    .await;
    assert_eq!(status, 401);
    let (status, policy) = with_cookie(
        &story,
        Method::POST,
        "/v1/admin/repos",
        &mona,
        true,
        Some(budget),
    )
    .await;
    assert_eq!(status, 200, "{policy}");
    assert_eq!(policy["max_open_prs"], 7);

    // The event log says who did it.
    let (_, state) = story.admin(Method::GET, "/v1/admin/state", None).await;
    let actors: Vec<&str> = state["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["repo"] == REPO)
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert!(actors.contains(&"github:mona"), "{actors:?}");

    // The other repository, and one that does not exist, get the same refusal.
    let (status, refused) = with_cookie(
        &story,
        Method::POST,
        "/v1/admin/repos",
        &mona,
        true,
        Some(json!({"repo": OTHER, "max_open_prs": 9})),
    )
    .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (403, Some("not_maintainer"))
    );
    let (status, missing) = with_cookie(
        &story,
        Method::POST,
        "/v1/admin/repos",
        &mona,
        true,
        Some(json!({"repo": "octo-org/nope", "max_open_prs": 9})),
    )
    .await;
    assert_eq!(
        (status, &missing["detail"]),
        (403, &refused["detail"]),
        "reveals nothing"
    );
    // Operator routes stay the admin's.
    let (status, body) = with_cookie(
        &story,
        Method::POST,
        "/v1/admin/repos",
        &mona,
        true,
        Some(json!({"repo": "local-pool", "max_open_prs": 1})),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("not_allowed")));

    // Signing out ends the session at once.
    let (status, _) = with_cookie(&story, Method::POST, "/v1/auth/logout", &mona, true, None).await;
    assert_eq!(status, 204);
    let (status, _) = with_cookie(&story, Method::GET, "/v1/me", &mona, false, None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_maintainer_token_from_the_device_flow_is_scoped_by_id_key_stream_and_import() {
    let story = story().await;
    let number = story.label_issue("Mine", &[]).await;
    let mine = story.task(number).await;
    let (status, other) = story
        .admin(
            Method::POST,
            "/v1/admin/tasks",
            Some(json!({"repo": OTHER, "tasks": [{"key": "o-1", "title": "Theirs"}]})),
        )
        .await;
    assert_eq!(status, 201, "{other}");
    let other_id = other["tasks"][0]["task_id"].as_str().unwrap().to_string();

    let token = device_sign_in(&story, MONA).await;
    // The token is kept only as its digest: nothing in the database opens a session by itself.
    let pool = story.running().store.read_pool().clone();
    let (plain,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM signin_sessions WHERE digest = $1 OR csrf = $1 OR login = $1",
    )
    .bind(&token)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(plain, 0);
    let digest = owp::http::principal::digest(&token);
    let (hashed,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM signin_sessions WHERE digest = $1")
            .bind(&digest)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(hashed, 1);
    let (status, state) = with_token(&story, Method::GET, "/v1/admin/state", &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(repos_of(&state), vec![REPO.to_string()]);
    let tasks: Vec<&str> = state["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].as_str().unwrap())
        .collect();
    assert!(
        tasks.contains(&mine.id.as_str()) && !tasks.contains(&other_id.as_str()),
        "{tasks:?}"
    );
    assert!(
        state["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["repo"] == REPO),
        "events of the other repo leak"
    );

    // By id: forcing the other repository's task, or one that does not exist.
    let block = json!({"status": "blocked", "reason": "not yours"});
    let (status, a) = with_token(
        &story,
        Method::POST,
        &format!("/v1/admin/tasks/{other_id}/status"),
        &token,
        Some(block.clone()),
    )
    .await;
    assert_eq!((status, a["code"].as_str()), (403, Some("not_maintainer")));
    let (status, b) = with_token(
        &story,
        Method::POST,
        "/v1/admin/tasks/t_nope/status",
        &token,
        Some(block.clone()),
    )
    .await;
    assert_eq!((status, &b["detail"]), (403, &a["detail"]));
    // By key: an import into the other repository that would update its task.
    let (status, c) = with_token(
        &story,
        Method::POST,
        "/v1/admin/tasks",
        &token,
        Some(json!({"repo": OTHER, "tasks": [{"key": "o-1", "title": "Mine now"}]})),
    )
    .await;
    assert_eq!((status, c["code"].as_str()), (403, Some("not_maintainer")));
    // By the event stream's filter.
    let (status, d) = with_token(
        &story,
        Method::GET,
        &format!("/v1/events?repo={OTHER}"),
        &token,
        None,
    )
    .await;
    assert_eq!((status, d["code"].as_str()), (403, Some("not_maintainer")));
    // State of the other repository.
    let (status, _) = with_token(
        &story,
        Method::GET,
        &format!("/v1/admin/state?repo={OTHER}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 403);
    // Worker trust stays the operator's.
    let (status, e) = with_token(
        &story,
        Method::POST,
        "/v1/admin/workers/w_x",
        &token,
        Some(json!({"trust_level": 3})),
    )
    .await;
    assert_eq!((status, e["code"].as_str()), (403, Some("not_allowed")));

    // Their own task: blocked, in Mona's name.
    let (status, task) = with_token(
        &story,
        Method::POST,
        &format!("/v1/admin/tasks/{}/status", mine.id),
        &token,
        Some(json!({"status": "blocked", "reason": "needs a design"})),
    )
    .await;
    assert_eq!(
        (status, task["status"].as_str()),
        (200, Some("blocked")),
        "{task}"
    );
    let (_, state) = with_token(&story, Method::GET, "/v1/admin/state", &token, None).await;
    assert!(
        state["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == "github:mona" && e["task_id"] == mine.id.as_str())
    );
    story.settle().await;
    // The status comment names the maintainer who blocked it.
    story.expect_status(
        number,
        &["**Blocked** by maintainer `mona`: needs a design."],
    );

    // The operator revokes Mona: the token stops at once.
    let (status, revoked) = story
        .admin(
            Method::POST,
            "/v1/admin/signin/revoke",
            Some(json!({"login": MONA})),
        )
        .await;
    assert_eq!((status, revoked["ended"].as_u64()), (200, Some(1)));
    let (status, _) = with_token(&story, Method::GET, "/v1/me", &token, None).await;
    assert_eq!(status, 401);
    // Revoking is the operator's alone.
    let token = device_sign_in(&story, MONA).await;
    let (status, _) = with_token(
        &story,
        Method::POST,
        "/v1/admin/signin/revoke",
        &token,
        Some(json!({"login": MONA})),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn without_a_client_id_sign_in_is_off() {
    let story = Story::start().await;
    let b = browser();
    let meta: Value = b
        .get(format!("{}/v1/meta", story.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !meta["features"]
            .as_array()
            .unwrap()
            .contains(&json!("signin"))
    );
    for (method, path) in [
        (Method::GET, "/auth/github"),
        (Method::GET, "/auth/github/callback?code=a&state=b"),
        (Method::POST, "/v1/auth/device"),
        (Method::POST, "/v1/auth/device/token"),
    ] {
        let status = b
            .request(method, format!("{}{path}", story.url()))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 404, "{path}");
    }
    // The admin is still the admin.
    let me: Value = b
        .get(format!("{}/v1/me", story.url()))
        .header("x-admin-token", ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["kind"], "admin");
}

#[tokio::test]
async fn pg_two_replicas_share_one_signed_in_session() {
    if !crate::services::postgres_enabled("pg_two_replicas_share_one_signed_in_session") {
        return;
    }
    let story = story_with(true, |_| {}).await;
    let mona = web_sign_in(&story, MONA).await;
    let token = device_sign_in(&story, MONA).await;
    let mut second = story.config.clone();
    second.port = 0;
    let replica = owp::server::start(second, false).await.unwrap();
    let url = format!("http://{}", replica.addr);
    let me: Value = browser()
        .get(format!("{url}/v1/me"))
        .header(COOKIE, &mona.cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["login"], MONA, "the second replica knows the session");
    let status = browser()
        .post(format!("{url}/v1/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    let (status, _) = with_token(&story, Method::GET, "/v1/me", &token, None).await;
    assert_eq!(status, 401, "signed out on one replica, out on every one");
    replica.stop().await;
}

/// `owp` as a person runs it, with its config folder in `home` and no admin token around.
fn owp_cli(home: &std::path::Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"));
    cmd.env("OWP_CONFIG_DIR", home)
        .env_remove("OWP_ADMIN_TOKEN")
        .env_remove("OWP_SERVER")
        .current_dir(home)
        .kill_on_drop(true);
    cmd
}

#[tokio::test]
async fn owp_login_then_owp_admin_state_shows_only_the_maintained_repository() {
    use tokio::io::AsyncBufReadExt;
    let story = story().await;
    let home = tempfile::tempdir().unwrap();
    let mut login = owp_cli(home.path())
        .args(["login", &story.url()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(login.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
        .await
        .expect("owp login prints the code")
        .unwrap()
        .unwrap();
    assert!(
        first.starts_with(&format!("Open {}/login/device", story.fake.web_url())),
        "{first}"
    );
    let code = first.rsplit(' ').next().unwrap().to_string();
    story.fake.approve_device(&code, MONA).unwrap();
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), login.wait())
        .await
        .expect("owp login finishes once approved")
        .unwrap();
    assert!(status.success());
    let saved = home.path().join("maintainer.json");
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(text.contains("owpm_") && text.contains(MONA));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the token is readable only by its owner");
    }

    // Without `--server`, `owp admin` goes to the server of the sign-in, and says so.
    let state = owp_cli(home.path())
        .args(["admin", "state", "--json"])
        .output()
        .await
        .unwrap();
    assert!(state.status.success(), "{state:?}");
    let said = String::from_utf8_lossy(&state.stderr);
    assert!(
        said.contains(&format!(
            "using {}, where `owp login` signed you in as {MONA}",
            story.url()
        )),
        "{said}"
    );
    let state: Value = serde_json::from_slice(&state.stdout).unwrap();
    assert_eq!(repos_of(&state), vec![REPO.to_string()]);

    // The operator revokes Mona from the CLI; her `owp admin` stops working.
    let revoke = owp_cli(home.path())
        .args([
            "admin",
            "revoke",
            MONA,
            "--server",
            &story.url(),
            "--admin-token",
            ADMIN,
        ])
        .output()
        .await
        .unwrap();
    assert!(revoke.status.success(), "{revoke:?}");
    let refused = owp_cli(home.path())
        .args(["admin", "state", "--server", &story.url()])
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
    let logout = owp_cli(home.path())
        .args(["logout"])
        .output()
        .await
        .unwrap();
    assert!(logout.status.success(), "{logout:?}");
    assert!(!saved.exists());
}

#[tokio::test]
async fn the_obsidian_plugin_signs_in_with_github_and_sees_only_the_maintained_repository() {
    let plugin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/obsidian");
    if !plugin.join("node_modules/esbuild").is_dir() {
        crate::services::missing(
            "node",
            "the_obsidian_plugin_signs_in_with_github_and_sees_only_the_maintained_repository",
            "clients/obsidian/node_modules is missing: run `npm ci --prefix clients/obsidian`",
        );
        return;
    }
    let story = story().await;
    let node = tokio::process::Command::new("node")
        .args(["scripts/test.mjs", "signin"])
        .current_dir(&plugin)
        .env("OWP_TEST_SERVER", story.url())
        .env("OWP_TEST_REPO", REPO)
        .kill_on_drop(true)
        .output();
    tokio::pin!(node);
    // Meanwhile the person at GitHub's device page approves whatever code the plugin shows.
    let out = loop {
        tokio::select! {
            out = &mut node => break out.expect("run node"),
            () = tokio::time::sleep(std::time::Duration::from_millis(100)) => {
                for code in story.fake.user_codes() {
                    let _ = story.fake.approve_device(&code, MONA);
                }
            }
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("pass 1") && text.contains("skipped 0"),
        "the plugin's sign-in test failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_maintainers_event_stream_carries_only_their_repositories() {
    let story = story().await;
    let token = device_sign_in(&story, MONA).await;
    // Changes in both repositories, before and after the stream opens.
    story
        .admin(
            Method::POST,
            "/v1/admin/repos",
            Some(json!({"repo": OTHER, "max_open_prs": 4})),
        )
        .await;
    let mut res = browser()
        .get(format!("{}/v1/events?after=0", story.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    story
        .admin(
            Method::POST,
            "/v1/admin/repos",
            Some(json!({"repo": OTHER, "max_open_prs": 5})),
        )
        .await;
    let (status, _) = with_token(
        &story,
        Method::POST,
        "/v1/admin/repos",
        &token,
        Some(json!({"repo": REPO, "max_open_prs": 6})),
    )
    .await;
    assert_eq!(status, 200);
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !text.contains("github:mona") {
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .expect("Mona's change arrives on her stream")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let repos: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .map(|e| e["repo"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(!repos.is_empty());
    assert!(repos.iter().all(|r| r == REPO), "{repos:?}");
}

/// A maintainer signed in with GitHub sees the leaderboard of the repositories they maintain
/// (the dashboard showed "No leaderboard": 401), and nothing of the others.
#[tokio::test]
async fn a_maintainer_sees_the_leaderboard_of_the_repositories_they_maintain() {
    let story = story().await;
    // alice's worker, linked to her GitHub account on an issue outside the pool.
    let issue = story.fake.create_issue(REPO, "alice", "Hello", "", &[]);
    story.remember_number(issue);
    let worker = story
        .linked_worker(
            issue,
            "alice",
            json!({"name": "owl", "skills": [], "capacity_points": 10,
                   "max_concurrent_tasks": 2, "leaderboard_opt_in": true}),
        )
        .await;
    for (n, repo) in [(1, REPO), (2, OTHER)] {
        let (status, imported) = story
            .admin(
                Method::POST,
                "/v1/admin/tasks",
                Some(json!({"repo": repo, "tasks": [{"key": format!("L-{n}"), "title": format!("task {n}")}]})),
            )
            .await;
        assert_eq!(status, 201, "{imported}");
        let (status, claim) = story.post_json("/v1/work", Some(&worker), json!({})).await;
        assert_eq!(status, 200, "{claim}");
        let task = claim["lease"]["task"]["task_id"]
            .as_str()
            .unwrap()
            .to_string();
        let pr = story
            .fake
            .open_pr(repo, "alice", &format!("task {n}"), "A change.");
        let (status, moved) = story
            .post_json(
                &format!("/v1/tasks/{task}/status"),
                Some(&worker),
                json!({"status": "pr_opened",
                       "artifact": {"pr_url": format!("https://github.com/{repo}/pull/{pr}")}}),
            )
            .await;
        assert_eq!(status, 200, "{moved}");
        let (status, merged) = story
            .admin(
                Method::POST,
                &format!("/v1/admin/tasks/{task}/status"),
                Some(json!({"status": "merged"})),
            )
            .await;
        assert_eq!(status, 200, "{merged}");
    }
    let (status, all) = story.admin(Method::GET, "/v1/leaderboard", None).await;
    assert_eq!(status, 200);
    assert_eq!(all["workers"][0]["merged"], 2, "{all}");

    let token = device_sign_in(&story, MONA).await;
    let (status, board) = with_token(&story, Method::GET, "/v1/leaderboard", &token, None).await;
    assert_eq!(status, 200, "{board}");
    // A person's row is shown by their GitHub login, whichever worker merged.
    assert_eq!(board["workers"][0]["name"], "alice", "{board}");
    assert_eq!(
        board["workers"][0]["merged"], 1,
        "only {REPO} counts: {board}"
    );
    let (status, other) = with_token(
        &story,
        Method::GET,
        &format!("/v1/leaderboard?repo={OTHER}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(other["workers"], json!([]), "{other}");
    // Nobody signed in, with public boards off: still 401.
    let anonymous = reqwest::get(format!("{}/v1/leaderboard", story.url()))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}
