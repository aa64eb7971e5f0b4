//! Rotation without downtime, run as README.md's "Rotating secrets without downtime" writes it:
//! two `owp serve` replicas on one database behind one address, restarted one at a time,
//! against the fake GitHub (which verifies App JWTs with the App's active keys only). Also a
//! wrong App key found at start, and an attack on the wrong-credential limit that must lock
//! out no valid credential.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::github_support::{
    self, CallAuth, FakeGithub, OTHER_KEY, OTHER_PUBLIC_KEY, TEST_APP_ID, TEST_APP_KEY,
    TEST_APP_PUBLIC_KEY,
};
use crate::support::{Server, TestDatabase};

const SECRET: &str = "a-webhook-secret-for-rotation";
const INSTALLATION: u64 = 31;

/// `GET /readyz`: the status and the problem's `code` (empty on 200).
async fn readyz(server: &Server) -> (u16, String) {
    let r = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    (
        status,
        body["code"].as_str().unwrap_or_default().to_string(),
    )
}

/// Waits until `server`'s log says `said` (at most 20 s).
async fn wait_for_log(server: &Server, said: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.log().contains(said) {
        assert!(
            Instant::now() < deadline,
            "never said {said:?}:\n{}",
            server.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The environment of a replica in GitHub mode with `key` (`GITHUB_PRIVATE_KEY`).
fn app_env<'a>(fake: &'a FakeGithub, id: &'a str, key: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("GITHUB_API_URL", fake.url()),
        ("GITHUB_APP_ID", id),
        ("GITHUB_PRIVATE_KEY", key),
        ("GITHUB_WEBHOOK_SECRET", SECRET),
        // A reconciliation every two seconds: the App uses its key all the time.
        ("OWP_GITHUB_RECONCILE_CRON", "*/2 * * * * *"),
    ]
}

/// Whether GitHub accepts a JWT signed with `pem` right now (`GET /app`).
async fn github_takes(fake: &FakeGithub, pem: &str) -> u16 {
    let jwt = owp::github::app_auth::AppCredentials::from_pem(TEST_APP_ID, pem.as_bytes())
        .unwrap()
        .jwt()
        .unwrap();
    reqwest::Client::new()
        .get(format!("{}/app", fake.url()))
        .bearer_auth(jwt)
        .header("Accept", "application/vnd.github+json")
        .header("User-Agent", "owp-test")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// App JWT calls from `from` on (an index into the fake's calls): (accepted, refused).
fn app_jwt_calls(fake: &FakeGithub, from: usize) -> (usize, usize) {
    let calls = fake.calls();
    let mut counts = (0, 0);
    for c in &calls[from.min(calls.len())..] {
        match &c.auth {
            CallAuth::AppJwt => counts.0 += 1,
            CallAuth::Refused(why) if why.contains("JWT") => counts.1 += 1,
            _ => {}
        }
    }
    counts
}

/// Waits until the fake has seen `more` App JWT calls accepted after `from`, and returns how
/// many were refused meanwhile.
async fn app_keeps_acting(fake: &FakeGithub, from: usize, more: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (accepted, refused) = app_jwt_calls(fake, from);
        if accepted >= more {
            return refused;
        }
        assert!(Instant::now() < deadline, "the App stopped calling GitHub");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// README.md, "Rotating secrets without downtime", step 3, as written, on two replicas: generate a
/// new key on GitHub; give each replica both keys (new first) and restart it; delete the old key
/// on GitHub; give each replica the new key alone and restart it. At every step both replicas
/// are ready and GitHub refuses none of their JWTs; the fake refuses the old key once deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_key_rotates_across_replicas_as_written() {
    let fake = FakeGithub::start().await;
    fake.install(INSTALLATION, "octo-org", &["octo-org/hello"]);
    let id = TEST_APP_ID.to_string();
    let (old, new) = (TEST_APP_KEY, OTHER_KEY);
    let both = format!("{new}\n{old}");
    let mut first = Server::start_with_env(&app_env(&fake, &id, old)).await;
    let db: TestDatabase = first.database.clone();
    let token = first.admin_token.clone();
    let start = |key: String| {
        let (db, token, env) = (db.clone(), token.clone(), app_env(&fake, &id, ""));
        async move {
            let mut env = env;
            env.retain(|(k, _)| *k != "GITHUB_PRIVATE_KEY");
            env.push(("GITHUB_PRIVATE_KEY", key.as_str()));
            let s = Server::start_on(db, &token, &env).await;
            wait_for_log(&s, "GitHub accepts the App's key").await;
            s
        }
    };
    let mut a = start(old.to_string()).await;
    let mut b = start(old.to_string()).await;
    // It keeps the database for the test.
    first.stop();
    assert_eq!(github_takes(&fake, new).await, 401, "GitHub is strict");

    // 1. Generate a new private key in the App's settings.
    fake.add_app_key(OTHER_PUBLIC_KEY);
    assert_eq!(github_takes(&fake, new).await, 200);
    let mark = fake.calls().len();
    // 2. Both keys, the new one first, on each replica in turn.
    a.stop();
    a = start(both.clone()).await;
    assert!(
        a.log().contains("GitHub accepts the App's key 1 of 2"),
        "{}",
        a.log_tail(20)
    );
    for s in [&a, &b] {
        assert_eq!(readyz(s).await, (200, String::new()));
    }
    b.stop();
    b = start(both.clone()).await;
    // 3. Delete the old key on GitHub.
    fake.delete_app_key(TEST_APP_PUBLIC_KEY);
    assert_eq!(
        github_takes(&fake, old).await,
        401,
        "the old key is refused"
    );
    let deleted = fake.calls().len();
    assert_eq!(app_keeps_acting(&fake, deleted, 4).await, 0);
    // 4. The new key alone, on each replica in turn.
    for s in [&mut a, &mut b] {
        s.stop();
        *s = start(new.to_string()).await;
        assert_eq!(readyz(s).await, (200, String::new()));
    }
    let (accepted, refused) = app_jwt_calls(&fake, mark);
    assert!(accepted > 4, "the App acted throughout: {accepted}");
    // Only the `github_takes` probe with the deleted key was refused: no replica's.
    assert_eq!(
        refused, 1,
        "GitHub refused a replica's JWT during the rotation"
    );
    for s in [&a, &b] {
        assert!(!s.log().contains("PRIVATE KEY"), "the key is never logged");
    }
}

/// The old key first in the list (the steps done out of order) and then deleted on GitHub: the
/// replica falls back to the other key at the first refusal, remembers it, says so, and stays
/// ready, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_falls_back_to_the_next_and_sticks() {
    let fake = FakeGithub::start().await;
    fake.install(INSTALLATION, "octo-org", &["octo-org/hello"]);
    fake.add_app_key(OTHER_PUBLIC_KEY);
    let id = TEST_APP_ID.to_string();
    let old_first = format!("{TEST_APP_KEY}\n{OTHER_KEY}");
    let s = Server::start_with_env(&app_env(&fake, &id, &old_first)).await;
    wait_for_log(&s, "GitHub accepts the App's key 1 of 2").await;
    fake.delete_app_key(TEST_APP_PUBLIC_KEY);
    wait_for_log(&s, "key 2 of 2 signs from now on").await;
    let mark = fake.calls().len();
    assert_eq!(
        app_keeps_acting(&fake, mark, 4).await,
        0,
        "it sticks to key 2"
    );
    assert_eq!(readyz(&s).await, (200, String::new()));
}

/// A wrong key is found at start: one error line, and `/readyz` answers 503 `app_key_refused`
/// with the reason, so a deploy with it stops there; `/healthz` stays 200 and the API serves.
/// GitHub answering 500 at start blocks nothing: the check is tried again until it answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_app_key_fails_readiness_and_an_unreachable_github_does_not() {
    let fake = FakeGithub::start().await;
    let id = TEST_APP_ID.to_string();
    let wrong = Server::start_with_env(&app_env(&fake, &id, OTHER_KEY)).await;
    wait_for_log(&wrong, "GitHub refuses the App's key").await;
    let r = wrong.client.get(wrong.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let problem: serde_json::Value = r.json().await.unwrap();
    assert_eq!(problem["code"], "app_key_refused");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("GITHUB_PRIVATE_KEY"),
        "{problem}"
    );
    let line = wrong
        .log()
        .lines()
        .find(|l| l.contains("GitHub refuses the App's key"))
        .unwrap()
        .to_string();
    assert!(line.contains("ERROR"), "{line}");
    assert!(
        !wrong.log().contains("PRIVATE KEY"),
        "the key is never logged"
    );
    let health = wrong
        .client
        .get(wrong.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    wrong.admin_get("/v1/admin/state").await.expect_ok();

    drop(wrong);

    // GitHub cannot be reached at start: the replica is ready, and asks again and again.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let mut env = app_env(&fake, &id, TEST_APP_KEY);
    env.retain(|(k, _)| *k != "GITHUB_API_URL");
    env.push(("GITHUB_API_URL", closed.as_str()));
    let cut_off = Server::start_with_env(&env).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while cut_off.log().matches("asking again").count() < 2 {
        assert!(Instant::now() < deadline, "{}", cut_off.log_tail(20));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(readyz(&cut_off).await, (200, String::new()));
    assert!(!cut_off.log().contains("GitHub refuses the App's key"));
}

/// README.md, "Rotating secrets without downtime", step 2, as written, on two replicas that
/// GitHub's deliveries reach in turn: both secrets on each replica; the new secret on GitHub;
/// the new secret alone on each replica. No delivery is refused at any step; one signed with the
/// old secret is refused at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_secret_rotates_across_replicas_as_written() {
    let fake = FakeGithub::start().await;
    let id = TEST_APP_ID.to_string();
    let (old, new) = ("old-webhook-secret-1234", "new-webhook-secret-5678");
    let both = format!("{new},{old}");
    let mut first = Server::start_with_env(&[]).await;
    let db = first.database.clone();
    let token = first.admin_token.clone();
    let start = |secret: String| {
        let (db, token) = (db.clone(), token.clone());
        let (fake_url, id) = (fake.url().to_string(), id.clone());
        async move {
            let env = [
                ("GITHUB_API_URL", fake_url.as_str()),
                ("GITHUB_APP_ID", id.as_str()),
                ("GITHUB_PRIVATE_KEY", TEST_APP_KEY),
                ("GITHUB_WEBHOOK_SECRET", secret.as_str()),
                ("OWP_GITHUB_RECONCILE_CRON", github_support::story::NEVER),
            ];
            Server::start_on(db, &token, &env).await
        }
    };
    let ping: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/github/ping.json")).unwrap();
    let mut github_secret = old.to_string();
    let mut a = start(old.to_string()).await;
    let mut b = start(old.to_string()).await;
    let (mut now_a, mut now_b) = (old.to_string(), old.to_string());
    first.stop();
    let mut delivered = 0;
    for (step, (secret_a, secret_b, on_github)) in [
        (both.clone(), old.to_string(), None),
        (both.clone(), both.clone(), None),
        (both.clone(), both.clone(), Some(new)),
        (new.to_string(), both.clone(), None),
        (new.to_string(), new.to_string(), None),
    ]
    .into_iter()
    .enumerate()
    {
        if now_a != secret_a {
            a.stop();
            a = start(secret_a.clone()).await;
            now_a = secret_a;
        }
        if now_b != secret_b {
            b.stop();
            b = start(secret_b.clone()).await;
            now_b = secret_b;
        }
        if let Some(next) = on_github {
            github_secret = next.to_string();
        }
        for status in deliver(&fake, [&a, &b], &github_secret, &ping).await {
            assert!((200..300).contains(&status), "step {step}: {status}");
            delivered += 1;
        }
    }
    assert_eq!(delivered, 10);
    for status in deliver(&fake, [&a, &b], old, &ping).await {
        assert_eq!(status, 401, "the old secret is retired");
    }
}

/// A delivery signed with `secret` to each replica in turn (one load balancer): the statuses.
async fn deliver(
    fake: &FakeGithub,
    replicas: [&Server; 2],
    secret: &str,
    ping: &serde_json::Value,
) -> Vec<u16> {
    let mut statuses = Vec::new();
    for r in replicas {
        fake.set_webhook_target(&r.url("/github/webhook"), secret);
        statuses.push(fake.send_webhook("ping", ping).await);
    }
    statuses
}

/// An attack on the wrong-credential limit (`OWP_RATE_AUTH_FAILURES_PER_MINUTE`, 5 here): a
/// guesser behind the same address as the operator and two workers (one NAT) sends 120 wrong
/// admin and worker tokens. Its guesses stay at the rate (at most 5 + 1 are answered 401, the
/// rest 429 with `Retry-After`), while every request of the admin token (new and, during a
/// rotation, old) and of the workers between the guesses is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_behind_one_address_lock_out_no_valid_credential() {
    let old = format!("old-{}", uuid::Uuid::new_v4().simple());
    let new = format!("new-{}", uuid::Uuid::new_v4().simple());
    let strict = [("OWP_RATE_AUTH_FAILURES_PER_MINUTE", "5")];
    let first = Server::start_with_env(&strict).await;
    let s = Server::start_on(first.database.clone(), &format!("{new},{old}"), &strict).await;
    let (_, w1) = s.register_worker("w1", &["rust"], 5, 1).await;
    let (_, w2) = s.register_worker("w2", &["rust"], 5, 1).await;
    let (mut wrong, mut waited) = (0, 0);
    for i in 0..120 {
        let guess = if i % 2 == 0 {
            s.client
                .get(s.url("/v1/admin/state"))
                .header("X-Admin-Token", format!("guess-{i}"))
        } else {
            s.client
                .post(s.url("/v1/workers/heartbeat"))
                .bearer_auth(format!("owpw_guess_{i}"))
                .json(&json!({}))
        };
        let r = guess.send().await.unwrap();
        match r.status().as_u16() {
            401 => wrong += 1,
            429 => {
                assert!(r.headers().contains_key("retry-after"));
                waited += 1;
            }
            other => panic!("a guess got {other}"),
        }
        if i % 10 == 9 {
            for token in [&new, &old] {
                let r = s
                    .client
                    .get(s.url("/v1/admin/state"))
                    .header("X-Admin-Token", token.as_str())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 200, "the admin token was refused");
            }
            for w in [&w1, &w2] {
                let r = s.heartbeat(w, json!({})).await;
                assert_eq!(r.status, 200, "a worker was refused: {}", r.describe());
            }
        }
    }
    assert!(
        wrong <= 6,
        "{wrong} guesses were checked in a minute at a rate of 5"
    );
    assert_eq!(wrong + waited, 120);
}

/// The App as a replica has it with `pem` (one key or several).
fn app_with(fake: &FakeGithub, pem: &str) -> owp::github::app_auth::GithubApp {
    let creds =
        owp::github::app_auth::AppCredentials::from_pem(TEST_APP_ID, pem.as_bytes()).unwrap();
    owp::github::app_auth::GithubApp::new(creds, fake.url()).unwrap()
}

/// The webhook deliveries' listing and a redelivery fall back to the next key as the
/// installation token does: with the old key first and deleted on GitHub, each call is refused
/// once, the keys are checked, and it is made again with the key GitHub takes, which then signs
/// from on. With no key GitHub takes, the refusal is said (readiness reads it), not hidden.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deliveries_calls_fall_back_to_the_key_github_takes() {
    use owp::github::api::{self, CallError};
    use owp::github::app_auth::KeyState;
    let fake = FakeGithub::start().await;
    fake.add_app_key(OTHER_PUBLIC_KEY);
    fake.record_deliveries(3);
    fake.delete_app_key(TEST_APP_PUBLIC_KEY);
    let old_first = format!("{TEST_APP_KEY}\n{OTHER_KEY}");

    let listing = app_with(&fake, &old_first);
    let mark = fake.calls().len();
    let listed = api::deliveries(&listing, 1)
        .await
        .expect("listed with key 2");
    assert_eq!(listed.len(), 3);
    assert_eq!(listing.key_state(), KeyState::Accepted { index: 1 });
    let (accepted, refused) = app_jwt_calls(&fake, mark);
    // The listing and `GET /app` with key 1, refused; `GET /app` and the listing with key 2.
    assert_eq!((accepted, refused), (2, 2));

    let redelivering = app_with(&fake, &old_first);
    api::redeliver(&redelivering, listed[0].id)
        .await
        .expect("redelivered with key 2");
    assert_eq!(fake.redelivery_requests(), vec![listed[0].id as u64]);
    assert_eq!(redelivering.key_state(), KeyState::Accepted { index: 1 });
    // From then on key 2 signs at once: no refusal more.
    let mark = fake.calls().len();
    api::deliveries(&redelivering, 1).await.unwrap();
    assert_eq!(app_jwt_calls(&fake, mark), (1, 0));

    let refused_app = app_with(&fake, TEST_APP_KEY);
    let err = api::deliveries(&refused_app, 1).await.unwrap_err();
    assert!(matches!(err, CallError::Unauthorized(_)), "{err:?}");
    assert!(
        matches!(refused_app.key_state(), KeyState::Refused { .. }),
        "{:?}",
        refused_app.key_state()
    );
    let err = api::redeliver(&refused_app, listed[0].id)
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Unauthorized(_)), "{err:?}");
}
