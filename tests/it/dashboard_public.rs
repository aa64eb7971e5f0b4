//! The dashboard's public board against a real `owp serve`: with `OWP_PUBLIC_BOARDS` off (the
//! default) a visitor without a session gets the sign-in page and no data; with it on, a visitor
//! reads the boards of public repositories (page, state and live stream) and never sees a name,
//! title or event of a private one; every write still needs the admin session and its CSRF token.

use crate::support;

use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::json;
use support::{EventStream, Server, task_doc};

const PUBLIC_REPO: &str = "acme/open-garden";
const PRIVATE_REPO: &str = "acme/vault-keeper";
const PUBLIC_TITLE: &str = "Document the garden API";
const PRIVATE_TITLE: &str = "Rotate the vault master key";
const PRIVATE_KEY: &str = "VAULT-1";

/// A client that shows redirects and cookies as they are, like a browser's first request.
fn raw_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

struct Page {
    status: u16,
    headers: HeaderMap,
    text: String,
}

async fn get(server: &Server, path: &str, cookie: Option<&str>) -> Page {
    let mut req = raw_client().get(server.url(path));
    if let Some(c) = cookie {
        req = req.header("Cookie", c);
    }
    let resp = req.send().await.unwrap();
    Page {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        text: resp.text().await.unwrap(),
    }
}

/// One public and one private repository, each with a task. Returns the private task's id.
async fn two_repos(server: &Server) -> String {
    let r = server
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": PUBLIC_REPO, "max_open_prs": 2, "visibility": "public"}),
        )
        .await;
    assert_eq!(r.expect(201)["visibility"], "public");
    let r = server
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": PRIVATE_REPO, "max_open_prs": 2}),
        )
        .await;
    assert_eq!(
        r.expect(201)["visibility"],
        "private",
        "a repository is private unless the admin says otherwise"
    );
    server
        .import(
            PUBLIC_REPO,
            json!([task_doc(PUBLIC_TITLE, json!({"key": "GARDEN-1"}))]),
        )
        .await;
    let ids = server
        .import_ids(
            PRIVATE_REPO,
            json!([task_doc(PRIVATE_TITLE, json!({"key": PRIVATE_KEY}))]),
        )
        .await;
    ids[0].clone()
}

/// Asserts that `text` holds nothing that names the private repository or its task.
fn assert_nothing_private(text: &str, private_task: &str, what: &str) {
    for secret in [PRIVATE_REPO, PRIVATE_TITLE, PRIVATE_KEY, private_task] {
        assert!(!text.contains(secret), "{what} shows `{secret}`:\n{text}");
    }
}

/// Signs in through the form; returns the session cookie pair and the page's CSRF token.
async fn sign_in(server: &Server) -> (String, String) {
    let host = server.base.trim_start_matches("http://").to_string();
    let resp = raw_client()
        .post(server.url("/login"))
        .header("Origin", &server.base)
        .header("Host", &host)
        .header("Content-Type", "application/x-www-form-urlencoded")
        // The test's admin token is `admin-<hex>`: nothing to escape.
        .body(format!("token={}", server.admin_token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(resp.headers()[LOCATION], "/");
    let set = resp.headers()[SET_COOKIE].to_str().unwrap();
    let pair = set.split(';').next().unwrap().to_string();
    let page = get(server, "/", Some(&pair)).await;
    let csrf = page
        .text
        .split(r#"<meta name="csrf-token" content=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the signed-in dashboard embeds a CSRF token")
        .to_string();
    (pair, csrf)
}

#[tokio::test]
async fn without_public_boards_a_visitor_gets_the_sign_in_page_and_no_data() {
    let server = Server::start().await;
    let private_task = two_repos(&server).await;

    let page = get(&server, "/", None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains(r#"action="/login""#), "the sign-in form");
    assert!(!page.text.contains("app.js"), "no data-loading script");
    assert!(!page.text.contains(PUBLIC_REPO));
    assert_nothing_private(&page.text, &private_task, "the sign-in page");
    assert!(
        !page.text.contains("Back to the public board"),
        "no public board to go back to"
    );

    // The public board's routes do not exist, and the API wants credentials.
    for path in ["/board/state", "/board/events"] {
        let r = server.req(Method::GET, path).send().await;
        assert_eq!(r.status, 404, "{}", r.describe());
    }
    for path in ["/v1/admin/state", "/v1/events"] {
        let r = server.req(Method::GET, path).send().await;
        assert_eq!(r.status, 401, "{}", r.describe());
        assert!(!r.text.contains(PUBLIC_REPO));
    }
    let login = get(&server, "/login", None).await;
    assert_eq!(login.status, 303, "GET /login goes back to the root");
    assert_eq!(login.headers[LOCATION], "/");
}

#[tokio::test]
async fn public_boards_show_public_repositories_to_anyone_and_nothing_of_private_ones() {
    let server = Server::start_with_env(&[("OWP_PUBLIC_BOARDS", "true")]).await;
    let private_task = two_repos(&server).await;
    // A worker works in both repositories: its lease in the private one must stay unseen.
    let (worker_id, token) = server.register_worker("gardener-bot", &[], 10, 5).await;
    let (_, first, _) = server.claim_ok(&token).await;
    let (_, second, _) = server.claim_ok(&token).await;
    assert!([&first, &second].contains(&&private_task));

    // The page: a read-only board, no session, no forms.
    let page = get(&server, "/", None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text
            .contains(r#"<meta name="owp-board" content="public">"#)
    );
    assert!(page.text.contains("/assets/app.js?v="));
    assert!(page.text.contains(r#"href="/login""#), "a way to sign in");
    for admin_only in [
        "csrf-token",
        r#"action="/logout""#,
        "repo-form",
        "import-form",
        "join-form",
        "id=\"workers\"",
    ] {
        assert!(
            !page.text.contains(admin_only),
            "the public board has no {admin_only}"
        );
    }
    assert_nothing_private(&page.text, &private_task, "the public board page");
    assert!(!page.text.contains(&server.admin_token));

    // The state: the public repository, its task, the name of the worker on it; nothing else.
    let state = server.req(Method::GET, "/board/state").send().await;
    assert_eq!(state.status, 200, "{}", state.describe());
    assert_nothing_private(&state.text, &private_task, "GET /board/state");
    let repos: Vec<&str> = state.json["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repo"].as_str().unwrap())
        .collect();
    assert_eq!(repos, [PUBLIC_REPO]);
    assert_eq!(state.json["repos"][0]["visibility"], "public");
    assert_eq!(state.json["repos"][0]["active_leases"], 1);
    let tasks = state.json["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["title"], PUBLIC_TITLE);
    assert_eq!(tasks[0]["status"], "leased");
    assert_eq!(
        state.json["workers"],
        json!([{"worker_id": worker_id, "name": "gardener-bot"}]),
        "only the names of workers on public tasks, without capacity or skills"
    );
    let events = state.json["events"].as_array().unwrap();
    assert!(!events.is_empty());
    for e in events {
        assert_eq!(e["repo"], PUBLIC_REPO, "event of another repository: {e}");
    }
    assert!(
        !events.iter().any(|e| e["kind"] == "worker.registered"),
        "worker events name no repository and stay private"
    );

    let one = server
        .req(Method::GET, "/board/state?events=1")
        .send()
        .await;
    assert_eq!(one.json["events"].as_array().map(Vec::len), Some(1));
    server
        .req(Method::GET, "/board/state?events=many")
        .send()
        .await
        .expect_problem(422);

    // The API itself still wants credentials.
    for path in [
        "/v1/admin/state",
        "/v1/events",
        &format!("/v1/tasks/{first}"),
    ] {
        let r = server.req(Method::GET, path).send().await;
        assert_eq!(r.status, 401, "{}", r.describe());
    }

    // The live stream carries public changes and nothing of private ones.
    let resp = raw_client()
        .get(server.url("/board/events"))
        .header("Accept", "text/event-stream")
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut stream = EventStream::new(resp);
    // Private changes first, then a public one: the stream must pass the private ones by.
    server
        .import(
            PRIVATE_REPO,
            json!([task_doc(
                "Audit the vault hinges",
                json!({"key": "VAULT-2"})
            )]),
        )
        .await;
    server
        .admin_post(
            &format!("/v1/admin/tasks/{private_task}/status"),
            json!({"status": "blocked", "reason": "vault closed"}),
        )
        .await
        .expect(200);
    server
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": PRIVATE_REPO, "max_open_prs": 4}),
        )
        .await
        .expect(200);
    server
        .import(
            PUBLIC_REPO,
            json!([task_doc(
                "Water the public seedlings",
                json!({"key": "GARDEN-2"})
            )]),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    let mut got_public = false;
    while let Some(ev) = stream.next(deadline).await {
        seen.push(ev.clone());
        if ev["kind"] == "task.created" && ev["repo"] == PUBLIC_REPO {
            got_public = true;
            break;
        }
    }
    assert!(got_public, "the public change arrived live: {seen:?}");
    while let Some(ev) = stream
        .next(Instant::now() + Duration::from_millis(500))
        .await
    {
        seen.push(ev);
    }
    for ev in &seen {
        assert_eq!(ev["repo"], PUBLIC_REPO, "the stream sent {ev}");
        assert_nothing_private(&ev.to_string(), &private_task, "GET /board/events");
    }
    assert_eq!(
        seen.len(),
        1,
        "only the public import reached the stream: {seen:?}"
    );

    // Made private, the repository leaves the board, and the stream says the board changed.
    server
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": PUBLIC_REPO, "max_open_prs": 2, "visibility": "private"}),
        )
        .await
        .expect(200);
    let changed = stream
        .next(Instant::now() + Duration::from_secs(10))
        .await
        .expect("a board.changed event");
    assert_eq!(changed, json!({}), "the change itself is not shown");
    let state = server.req(Method::GET, "/board/state").send().await;
    assert_eq!(state.status, 200);
    assert_eq!(
        state.json,
        json!({"repos": [], "tasks": [], "workers": [], "events": []}),
        "nothing is public any more"
    );
    assert_eq!(
        server.repo(PUBLIC_REPO).await["visibility"],
        "private",
        "the admin API shows the new visibility"
    );
}

#[tokio::test]
async fn with_public_boards_writes_still_need_the_admin_session_and_its_csrf_token() {
    let server = Server::start_with_env(&[("OWP_PUBLIC_BOARDS", "1")]).await;
    let private_task = two_repos(&server).await;

    // Anonymous writes are refused, whatever the board shows.
    let r = server
        .req(Method::POST, "/v1/admin/repos")
        .json(&json!({"repo": PUBLIC_REPO, "max_open_prs": 9}))
        .send()
        .await;
    assert_eq!(r.status, 401, "{}", r.describe());
    let r = server
        .req(
            Method::POST,
            &format!("/v1/admin/tasks/{private_task}/status"),
        )
        .json(&json!({"status": "cancelled"}))
        .send()
        .await;
    assert_eq!(r.status, 401, "{}", r.describe());
    let r = server.req(Method::POST, "/board/state").send().await;
    assert_eq!(r.status, 405, "the board is read-only: {}", r.describe());

    // The sign-in form is one link away, and leads back to the board.
    let login = get(&server, "/login", None).await;
    assert_eq!(login.status, 200);
    assert!(login.text.contains(r#"action="/login""#));
    assert!(
        login
            .text
            .contains(r#"<a href="/">Back to the public board</a>"#)
    );

    // Signed in: the full dashboard, which says the boards are public.
    let (cookie, csrf) = sign_in(&server).await;
    let page = get(&server, "/", Some(&cookie)).await;
    assert!(page.text.contains(r#"action="/logout""#));
    assert!(page.text.contains("Public boards are on"));
    assert!(!page.text.contains("owp-board"), "not the public board");
    let again = get(&server, "/login", Some(&cookie)).await;
    assert_eq!(again.status, 303, "a signed-in admin goes to the dashboard");

    // A cookie alone cannot write; with the page's CSRF token it can.
    let post = |csrf: Option<String>| {
        let mut req = server
            .req(Method::POST, "/v1/admin/repos")
            .header("Cookie", &cookie)
            .json(&json!({"repo": PRIVATE_REPO, "max_open_prs": 7, "visibility": "public"}));
        if let Some(t) = csrf {
            req = req.header("X-CSRF-Token", &t);
        }
        req.send()
    };
    assert_eq!(post(None).await.status, 401, "no CSRF token");
    assert_eq!(post(Some("0".repeat(64))).await.status, 401, "wrong token");
    let state = server.req(Method::GET, "/board/state").send().await;
    assert_nothing_private(&state.text, &private_task, "the board after refused writes");

    let r = post(Some(csrf)).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.json["visibility"], "public");
    // Now public by the admin's choice: its board is readable by anyone.
    let state = server.req(Method::GET, "/board/state").send().await;
    assert!(state.text.contains(PRIVATE_TITLE), "{}", state.describe());

    // An invalid visibility is refused.
    let r = server
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": PUBLIC_REPO, "max_open_prs": 2, "visibility": "everyone"}),
        )
        .await;
    r.expect_problem(422);
}

/// A visitor learns how to join from the board itself: the `owp worker join` command with this
/// server's own address, and a link to the guide (which the server serves). Whatever a client
/// puts in its `Host` header is shown escaped, or not at all.
#[tokio::test]
async fn the_public_board_says_how_to_join_this_server() {
    let server = Server::start_with_env(&[("OWP_PUBLIC_BOARDS", "true")]).await;
    let base = server.url("");
    let base = base.trim_end_matches('/');
    let page = get(&server, "/", None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("How to join"), "{}", page.text);
    assert!(
        page.text.contains(&format!("owp worker join {base}")),
        "the join command with the real base URL:\n{}",
        page.text
    );
    assert!(page.text.contains(r#"href="/join""#), "a link to the guide");

    let guide = get(&server, "/join", None).await;
    assert_eq!(guide.status, 200);
    assert!(guide.text.contains(&format!("owp worker join {base}")));
    assert!(guide.text.contains("--agent"));

    // A hostile Host header is never echoed as markup.
    for host in [r#"evil.test"><script>alert(1)</script>"#, "a b", "x\u{7f}"] {
        let resp = raw_client()
            .get(server.url("/"))
            .header("Host", host)
            .send()
            .await;
        let Ok(resp) = resp else { continue };
        let text = resp.text().await.unwrap();
        assert!(!text.contains("<script>alert"), "{text}");
        assert!(text.contains("How to join"), "{text}");
    }
    // Behind a TLS proxy the command says https.
    let text = raw_client()
        .get(server.url("/"))
        .header("Host", "pool.example.org")
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("owp worker join https://pool.example.org"),
        "{text}"
    );
}

/// Every link the dashboard's script makes from server data goes through its `http(s)` check: a
/// pull request URL of `javascript:…` is never a link, in the review panel as in the task table.
#[tokio::test]
async fn every_link_the_dashboard_script_makes_is_checked_for_http() {
    let server = Server::start_with_env(&[("OWP_PUBLIC_BOARDS", "true")]).await;
    let page = get(&server, "/", None).await;
    let paths: Vec<String> = page
        .text
        .split(r#"<script src=""#)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect();
    assert!(!paths.is_empty(), "the board loads its scripts");
    let mut links = 0;
    for path in paths {
        let script = get(&server, &path, None).await.text;
        for rest in script.split("href: ").skip(1) {
            links += 1;
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            assert!(
                !name.is_empty()
                    && script.contains(&format!("const {name} = webUrl("))
                    && script.contains("function webUrl("),
                "{path}: a link whose target `{name}` did not pass `webUrl`: href: {}",
                &rest[..rest.len().min(80)]
            );
        }
    }
    assert!(links >= 2, "the scripts make links");
}
