//! What the replicas of one pool share, run as an operator runs them: two `owp serve` processes
//! on one database, each in a directory of its own (another machine's). One admin token for
//! every replica after a first start without one; the GitHub App's setup link and its saved
//! credentials reachable from any replica; an admin token rotated without a refusal.
//!
//! The PostgreSQL tests run when `OWP_TEST_DATABASE_URL` names a server (otherwise they say why
//! they skipped and pass); the rotation runs on whichever backend the suite uses.

use crate::github_support;
use crate::services::postgres_enabled;
use crate::support::{Server, TestDatabase};

/// `GET /v1/admin/state` on `server` with `token`: the status.
async fn state_with(server: &Server, token: &str) -> u16 {
    server
        .client
        .get(server.url("/v1/admin/state"))
        .header("X-Admin-Token", token)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

fn env_local_token(server: &Server) -> Option<String> {
    let path = server.dir().join("env.local");
    dotenvy::from_path_iter(path)
        .ok()?
        .flatten()
        .find(|(k, _)| k == "OWP_ADMIN_TOKEN")
        .map(|(_, v)| v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_on_postgresql_makes_one_admin_token_for_every_replica() {
    if !postgres_enabled("a_first_start_on_postgresql_makes_one_admin_token_for_every_replica") {
        return;
    }
    let a = Server::start_preferring_postgres_without_admin_token().await;
    assert!(matches!(a.database, TestDatabase::Postgres { .. }));
    let b = a.start_replica(None, &[]).await;
    let token = env_local_token(&a).expect("the first replica saves the token it generated");
    assert_eq!(
        env_local_token(&b),
        None,
        "the second replica generates none of its own"
    );
    assert_eq!(state_with(&a, &token).await, 200);
    assert_eq!(state_with(&b, &token).await, 200, "{}", b.log_tail(20));
    assert_eq!(state_with(&b, "owpa_not-the-token-at-all").await, 401);
    let said = b.log();
    assert!(
        said.contains("replica that first started on this database"),
        "{said}"
    );
    assert!(!said.contains(&token), "the token is never printed");
    drop(b);
    drop(a);
}

/// Three wrong credentials a minute lock an address out: a rotation must cause none.
const STRICT: [(&str, &str); 1] = [("OWP_RATE_AUTH_FAILURES_PER_MINUTE", "3")];

/// A step of README.md's admin token rotations: the tokens replicas `a` and `b` run with (empty:
/// the one each started with), and the token clients switch to after it, if they do.
type Step = (String, String, Option<String>);

/// Two replicas of one pool as an operator rotates its admin token, one replica at a time: the
/// token each runs with, and the one clients send.
struct Replicas {
    db: TestDatabase,
    a: (Server, String),
    b: (Server, String),
    client: String,
}

impl Replicas {
    /// Takes `step`: each replica whose token changes is restarted with its new one (on
    /// [`STRICT`]), clients switch, and each replica then answers them `rounds` times.
    async fn take(&mut self, step: usize, (token_a, token_b, client_after): Step, rounds: usize) {
        for ((replica, now), token) in [(&mut self.a, token_a), (&mut self.b, token_b)] {
            if *now != token {
                replica.stop();
                *replica = Server::start_on(self.db.clone(), &token, &STRICT).await;
                *now = token;
            }
        }
        if let Some(next) = client_after {
            self.client = next;
        }
        for _ in 0..rounds {
            for replica in [&self.a.0, &self.b.0] {
                assert_eq!(state_with(replica, &self.client).await, 200, "step {step}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_token_rotates_across_replicas_without_a_refusal() {
    let old = format!("old-{}", uuid::Uuid::new_v4().simple());
    let new = format!("new-{}", uuid::Uuid::new_v4().simple());
    let both = format!("{new},{old}");
    let first = Server::start_preferring_postgres(&STRICT).await;
    let db = first.database.clone();
    let mut pool = Replicas {
        a: (
            Server::start_on(db.clone(), &old, &STRICT).await,
            old.clone(),
        ),
        b: (
            Server::start_on(db.clone(), &old, &STRICT).await,
            old.clone(),
        ),
        db,
        client: old.clone(),
    };
    // The steps of README.md's "Rotating the admin token", one replica at a time.
    for (step, change) in [
        (both.clone(), old.clone(), None),
        (both.clone(), both.clone(), Some(new.clone())),
        (new.clone(), both.clone(), None),
        (new.clone(), new.clone(), None),
    ]
    .into_iter()
    .enumerate()
    {
        pool.take(step, change, 5).await;
    }
    for s in [&pool.a.0, &pool.b.0] {
        assert_eq!(state_with(s, &old).await, 401, "the old token is retired");
        assert_eq!(state_with(s, &new).await, 200);
    }
    drop(pool);
    drop(first);
}

/// The value `shared_settings` keeps for the generated admin token's digest.
async fn kept_digest(server: &Server) -> Option<String> {
    let TestDatabase::Postgres { url, .. } = &server.database else {
        panic!("a PostgreSQL test");
    };
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    sqlx::query_scalar("SELECT value FROM shared_settings WHERE name = 'admin_token_sha256'")
        .fetch_optional(&mut conn)
        .await
        .unwrap()
}

/// README.md's "Retiring the generated admin token", as written, on two replicas: a pool first
/// started without `OWP_ADMIN_TOKEN` (its generated token known to the database by its
/// digest) moves to a token of the operator's. `OWP_ADMIN_TOKEN=NEW,GENERATED` on each replica,
/// clients switched, then `OWP_ADMIN_TOKEN=NEW` on each: no request is refused on the way; the
/// first replica restarted with `NEW` alone deletes the digest, every replica restarted since
/// refuses the generated token, and a replica started without `OWP_ADMIN_TOKEN` refuses to
/// start rather than generate another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_admin_token_is_retired_across_replicas_as_written() {
    if !postgres_enabled("a_generated_admin_token_is_retired_across_replicas_as_written") {
        return;
    }
    let mut first = Server::start_preferring_postgres_without_admin_token().await;
    let generated = env_local_token(&first).expect("the first start generates a token");
    let digest = owp::config::AdminTokens::digest_hex(&generated);
    assert_eq!(kept_digest(&first).await.as_deref(), Some(digest.as_str()));
    let new = format!("new-{}", uuid::Uuid::new_v4().simple());
    let both = format!("{new},{generated}");
    let db = first.database.clone();
    let mut pool = Replicas {
        a: (
            Server::start_on(db.clone(), &generated, &STRICT).await,
            generated.clone(),
        ),
        b: (first.start_replica(None, &STRICT).await, String::new()),
        db: db.clone(),
        client: generated.clone(),
    };
    // The first machine is replaced by `a` (it keeps the database for the test).
    first.stop();
    for (step, change) in [
        (both.clone(), String::new(), None),
        (both.clone(), both.clone(), Some(new.clone())),
        (new.clone(), both.clone(), None),
        (new.clone(), new.clone(), None),
    ]
    .into_iter()
    .enumerate()
    {
        pool.take(step, change, 3).await;
        let kept = kept_digest(&pool.a.0).await;
        if step < 2 {
            assert_eq!(
                kept.as_deref(),
                Some(digest.as_str()),
                "step {step}: still in use"
            );
        } else {
            assert_eq!(
                kept.as_deref(),
                Some("retired"),
                "step {step}: the digest is deleted"
            );
        }
    }
    for s in [&pool.a.0, &pool.b.0] {
        assert_eq!(
            state_with(s, &generated).await,
            401,
            "the generated token is retired"
        );
        assert_eq!(state_with(s, &new).await, 200);
    }
    assert!(
        pool.a
            .0
            .log()
            .contains("the admin token generated at this pool's first start is retired")
    );

    // A replica started without OWP_ADMIN_TOKEN now refuses to start, and says why.
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_owp"));
    cmd.arg("serve")
        .args(db.serve_args())
        .args(["--host", "127.0.0.1", "--port", "0"])
        .current_dir(dir.path());
    for (key, _) in std::env::vars() {
        if key.starts_with("OWP_") || key.starts_with("GITHUB_") {
            cmd.env_remove(key);
        }
    }
    let log = dir.path().join("serve.log");
    cmd.stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "owp serve started: {}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(!status.success());
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(said.contains("was retired"), "{said}");
    assert!(
        !dir.path().join("env.local").exists(),
        "no new token generated"
    );
    assert_eq!(kept_digest(&pool.a.0).await.as_deref(), Some("retired"));
    drop(pool);
    drop(first);
}

/// The setup link `owp serve` printed (with its key).
fn setup_link(server: &Server) -> String {
    let log = server.log();
    log.split_whitespace()
        .find(|w| w.contains("/github/setup?key="))
        .unwrap_or_else(|| panic!("no setup link: {log}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_setup_and_its_credentials_reach_every_replica() {
    if !postgres_enabled("the_app_setup_and_its_credentials_reach_every_replica") {
        return;
    }
    let fake = github_support::FakeGithub::start().await;
    let api = fake.url().to_string();
    let env = [("GITHUB_API_URL", api.as_str())];
    let a = Server::start_preferring_postgres(&env).await;
    let mut b = a.start_replica(Some(&a.admin_token), &env).await;
    let link_a = setup_link(&a);
    let key = link_a.split("?key=").nth(1).unwrap().to_string();
    let link_b = setup_link(&b);
    assert!(
        link_b.ends_with(&format!("?key={key}")),
        "one key: {link_b}"
    );

    // The page is shown by one replica; GitHub sends the person back to the other.
    let http = reqwest::Client::new();
    let page = http
        .get(a.url(&format!("/github/setup?key={key}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let action = format!("{api}/settings/apps/new?state=");
    let state = html
        .split(&action)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form that creates the App")
        .to_string();
    assert_eq!(
        http.get(b.url(&format!("/github/setup?key={key}")))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "the other replica answers the same link"
    );
    fake.add_manifest_code("code-shared");
    let done = http
        .get(b.url(&format!(
            "/github/setup/callback?code=code-shared&state={state}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("kept in the database"));
    for s in [&a, &b] {
        assert!(
            !s.dir().join("env.local").exists(),
            "no replica's file holds the App"
        );
    }
    // A second setup, on either replica, is refused: the first App stays.
    let again = http
        .get(a.url(&format!("/github/setup?key={key}")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);

    // Restarted, every replica runs the App from the database.
    b.stop();
    let b = a.start_replica(Some(&a.admin_token), &env).await;
    let c = a.start_replica(Some(&a.admin_token), &env).await;
    for s in [&b, &c] {
        let log = s.log();
        assert!(
            log.contains("GitHub App credentials read from the database"),
            "{log}"
        );
        assert!(log.contains("GitHub App   on"), "{log}");
        assert!(
            !log.contains("BEGIN RSA PRIVATE KEY"),
            "the key is never logged"
        );
    }
    drop(c);
    drop(b);
    drop(a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_app_key_is_said_at_start_in_one_line() {
    use github_support::{OTHER_KEY, TEST_APP_ID, TEST_APP_KEY};
    const SECRET_FOR_START: &str = "a-webhook-secret-for-this-test";
    let fake = github_support::FakeGithub::start().await;
    let id = TEST_APP_ID.to_string();
    for (key, said) in [
        (OTHER_KEY, "GitHub refuses the App's key"),
        (TEST_APP_KEY, "GitHub accepts the App's key"),
    ] {
        let env = [
            ("GITHUB_API_URL", fake.url()),
            ("GITHUB_APP_ID", id.as_str()),
            ("GITHUB_PRIVATE_KEY", key),
            ("GITHUB_WEBHOOK_SECRET", SECRET_FOR_START),
        ];
        let server = Server::start_with_env(&env).await;
        let mut log = String::new();
        for _ in 0..100 {
            log = server.log();
            if log.contains(said) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(log.matches(said).count(), 1, "{log}");
        assert!(!log.contains("PRIVATE KEY"), "the key is never logged");
    }
}
