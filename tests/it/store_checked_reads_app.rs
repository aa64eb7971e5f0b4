//! More of the store's reads that the compiler checks (`sql/`: sign-in, repositories, vouch
//! lists, reviewers, leases, proposals and the App's inbox and outbox), each from known rows on
//! both backends, as `store_checked_reads` does: `<view>_<statement>::sqlite` and `…::postgres`
//! (which needs `OWP_TEST_DATABASE_URL`).

use std::collections::HashMap;

use owp::store::Store;
use owp::store::github::known_answers::KnownPull;
use owp::store::github::pulls::PrState;
use owp::store::now_ms;
use owp::store::signin::{NewSession, SessionKind};

use crate::store_support::*;

const HOUR: i64 = 3_600_000;

on_both_backends!(
    signin_sessions,
    signin_permission,
    signin_status_person,
    signin_installations_and_repos,
    repos_id,
    vouch_lists_entries_and_logins,
    reviewers_keys_and_known_accounts,
    leases_created_at,
    proposals_due,
    github_inbox,
    github_outbox,
    github_known_pull,
);

async fn repo_id(s: &Store, name: &str) -> i64 {
    s.repos()
        .get(name)
        .await
        .unwrap()
        .expect("the repository")
        .id
}

fn session<'a>(digest: &'a str, kind: SessionKind, ttl_ms: i64) -> NewSession<'a> {
    NewSession {
        digest,
        kind,
        login: (kind != SessionKind::Admin).then_some("Maya"),
        github_id: (kind != SessionKind::Admin).then_some(42),
        csrf: (kind == SessionKind::Web).then_some("csrf"),
        ttl_ms,
    }
}

/// A live session as written; an expired or ended one is neither read nor counted.
async fn signin_sessions(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    assert_eq!(s.signin().live_sessions().await.unwrap(), 0, "{label}");
    let expires_at = s
        .signin()
        .session_create(&session("web", SessionKind::Web, HOUR))
        .await
        .unwrap();
    s.signin()
        .session_create(&session("token", SessionKind::Token, HOUR))
        .await
        .unwrap();
    s.signin()
        .session_create(&session("old", SessionKind::Admin, -1))
        .await
        .unwrap();
    let web = s.signin().session("web").await.unwrap().expect("web");
    assert_eq!(web.kind, SessionKind::Web, "{label}");
    assert_eq!(web.login.as_deref(), Some("Maya"), "{label}");
    assert_eq!(web.github_id, Some(42), "{label}");
    assert_eq!(web.csrf.as_deref(), Some("csrf"), "{label}");
    assert_eq!(web.expires_at, expires_at, "{label}");
    let token = s.signin().session("token").await.unwrap().expect("token");
    assert_eq!(
        (token.kind, token.csrf),
        (SessionKind::Token, None),
        "{label}"
    );
    assert_eq!(s.signin().session("old").await.unwrap(), None, "{label}");
    assert_eq!(s.signin().session("none").await.unwrap(), None, "{label}");
    assert_eq!(s.signin().live_sessions().await.unwrap(), 2, "{label}");
    assert!(s.signin().session_end("token").await.unwrap(), "{label}");
    assert_eq!(s.signin().session("token").await.unwrap(), None, "{label}");
    assert_eq!(s.signin().live_sessions().await.unwrap(), 1, "{label}");
}

/// What GitHub said, while it is fresh enough, for that login and repository only.
async fn signin_permission(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    assert_eq!(
        s.signin().permission("maya", "g/a", HOUR).await.unwrap(),
        None
    );
    let before = now_ms();
    s.signin()
        .permission_save("maya", "g/a", "admin")
        .await
        .unwrap();
    let (permission, at) = s
        .signin()
        .permission("maya", "g/a", HOUR)
        .await
        .unwrap()
        .expect("fresh");
    assert_eq!(permission, "admin", "{label}");
    assert!(at >= before && at <= now_ms(), "{label}: {at}");
    assert_eq!(
        s.signin().permission("maya", "g/b", HOUR).await.unwrap(),
        None
    );
    assert_eq!(
        s.signin().permission("ravi", "g/a", HOUR).await.unwrap(),
        None
    );
    raw(
        &db,
        "UPDATE signin_permissions SET fetched_at = $1",
        &[before - 2 * HOUR],
    )
    .await;
    assert_eq!(
        s.signin().permission("maya", "g/a", HOUR).await.unwrap(),
        None,
        "{label}: stale"
    );
}

/// The person behind a task's newest status change; none when the newest is not a person's.
async fn signin_status_person(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    assert_eq!(
        s.signin().status_person("t1").await.unwrap(),
        None,
        "{label}"
    );
    let event = |actor: &str, kind: &str| {
        format!(
            "INSERT INTO events (kind, at, task_id, actor) VALUES ('{kind}', $1, 't1', '{actor}')"
        )
    };
    raw(&db, &event("github:maya", "task.status"), &[now_ms()]).await;
    raw(&db, &event("github:ravi", "task.comment"), &[now_ms()]).await;
    assert_eq!(
        s.signin().status_person("t1").await.unwrap().as_deref(),
        Some("maya"),
        "{label}"
    );
    raw(&db, &event("github:reconcile", "task.status"), &[now_ms()]).await;
    assert_eq!(
        s.signin().status_person("t1").await.unwrap(),
        None,
        "{label}"
    );
    raw(&db, &event("github:ravi-k", "task.status"), &[now_ms()]).await;
    assert_eq!(
        s.signin().status_person("t1").await.unwrap().as_deref(),
        Some("ravi-k"),
        "{label}"
    );
    assert_eq!(
        s.signin().status_person("t2").await.unwrap(),
        None,
        "{label}"
    );
}

/// The installations by id; a person's repositories and the installed ones by name, without a
/// repository the App left.
async fn signin_installations_and_repos(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    assert!(s.signin().known_installations().await.unwrap().is_empty());
    for id in [9, 3] {
        raw(
            &db,
            "INSERT INTO gh_installations (id, account, created_at, updated_at) \
             VALUES ($1, 'g', $2, $2)",
            &[id, now_ms()],
        )
        .await;
    }
    assert_eq!(
        s.signin().known_installations().await.unwrap(),
        [3, 9],
        "{label}"
    );
    for (repo, installation) in [("g/b", "9"), ("g/a", "3"), ("g/gone", "NULL")] {
        raw(
            &db,
            &format!(
                "INSERT INTO gh_repos (repo, installation_id, joined_at) \
                 VALUES ('{repo}', {installation}, $1)"
            ),
            &[now_ms()],
        )
        .await;
    }
    let pairs = |list: &[(&str, i64)]| {
        list.iter()
            .map(|(r, i)| (r.to_string(), *i))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        s.signin().installed_repos().await.unwrap(),
        pairs(&[("g/a", 3), ("g/b", 9)]),
        "{label}"
    );
    let grants = ["g/b", "g/gone", "g/a", "g/other"].map(|r| (r.to_string(), "admin".to_string()));
    s.signin().repos_replace("maya", &grants).await.unwrap();
    assert_eq!(
        s.signin().repos_of("maya").await.unwrap(),
        pairs(&[("g/a", 3), ("g/b", 9)]),
        "{label}"
    );
    assert!(
        s.signin().repos_of("ravi").await.unwrap().is_empty(),
        "{label}"
    );
}

/// A repository by name: its id for the vouch lists and proposals; nothing for an unknown name.
async fn repos_id(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    repo(s, "g/a", 10, false).await;
    assert!(s.vouch().lists("g/a").await.unwrap().is_empty(), "{label}");
    assert!(
        s.vouch().lists("g/none").await.unwrap().is_empty(),
        "{label}"
    );
    assert!(
        s.vouch().entries("g/none").await.unwrap().is_none(),
        "{label}"
    );
    let (rows, lists) = s.vouch().entries("g/a").await.unwrap().expect("g/a");
    assert!(rows.is_empty() && lists.is_empty(), "{label}");
    assert!(
        s.proposals()
            .open_in_repo("g/none", 5)
            .await
            .unwrap()
            .is_none()
    );
    let (open, total) = s
        .proposals()
        .open_in_repo("g/a", 5)
        .await
        .unwrap()
        .expect("g/a");
    assert!(open.is_empty() && total == 0, "{label}");
}

/// Each list's state by origin, the errors of every repository, the count of entries and the
/// logins with whether each is resolved.
async fn vouch_lists_entries_and_logins(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    repo(s, "g/a", 10, false).await;
    repo(s, "g/b", 10, false).await;
    let (a, b) = (repo_id(s, "g/a").await, repo_id(s, "g/b").await);
    assert!(s.vouch().list_errors().await.unwrap().is_empty(), "{label}");
    raw(
        &db,
        "INSERT INTO vouch_lists (repo_id, origin, path, error, read_at) VALUES \
         ($1, 'file', '.github/VOUCHED.td', NULL, $3), ($1, 'commands', NULL, 'a bad line', NULL), \
         ($2, 'file', NULL, 'not found', NULL)",
        &[a, b, 1234],
    )
    .await;
    let lists = s.vouch().lists("g/a").await.unwrap();
    let states: Vec<_> = lists
        .iter()
        .map(|l| {
            (
                l.origin.as_str(),
                l.path.as_deref(),
                l.error.as_deref(),
                l.read_at,
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("commands", None, Some("a bad line"), None),
            ("file", Some(".github/VOUCHED.td"), None, Some(1234)),
        ],
        "{label}"
    );
    let errors = s.vouch().list_errors().await.unwrap();
    let expected =
        [("g/a", "a bad line"), ("g/b", "not found")].map(|(r, e)| (r.to_string(), e.to_string()));
    assert_eq!(errors, expected, "{label}");
    for (login, account, source) in [
        ("maya", "7", "file"),
        ("maya", "NULL", "command"),
        ("ravi", "NULL", "file"),
        ("zoe", "8", "file"),
    ] {
        raw(
            &db,
            &format!(
                "INSERT INTO vouch_entries (repo_id, source, origin, login, account_id, vouched, \
                 denounced, updated_at) VALUES ($1, '{source}', '{source}', '{login}', {account}, \
                 1, 0, $2)"
            ),
            &[a, now_ms()],
        )
        .await;
    }
    let (_, total, lists) = s
        .vouch()
        .entries_first("g/a", 1)
        .await
        .unwrap()
        .expect("g/a");
    assert_eq!((total, lists.len()), (4, 2), "{label}");
    let expected: HashMap<String, bool> = [("maya", true), ("ravi", false), ("zoe", true)]
        .map(|(l, r)| (l.to_string(), r))
        .into();
    assert_eq!(s.vouch().logins("g/a").await.unwrap(), expected, "{label}");
    assert!(s.vouch().logins("g/b").await.unwrap().is_empty(), "{label}");
}

/// A repository's listed reviewers and whether each is resolved; the accounts known by a login,
/// none when it names two.
async fn reviewers_keys_and_known_accounts(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    repo(s, "g/a", 10, false).await;
    let a = repo_id(s, "g/a").await;
    raw(
        &db,
        "INSERT INTO repo_reviewers (repo_id, login_key, login, capacity, account_id, \
         account_login) VALUES ($1, 'maya', 'Maya', 2, 7, 'Maya'), \
         ($1, 'ravi', 'ravi', 2, NULL, NULL), ($1, 'old', 'old', 2, 8, 'Renamed')",
        &[a],
    )
    .await;
    let keys: HashMap<String, bool> = [("maya", true), ("ravi", false), ("old", true)]
        .map(|(l, r)| (l.to_string(), r))
        .into();
    assert_eq!(s.reviewers().keys("g/a").await.unwrap(), keys, "{label}");
    assert!(s.reviewers().keys("g/none").await.unwrap().is_empty());
    raw(
        &db,
        "INSERT INTO persons (account_id, login, first_seen_at) VALUES \
         (7, 'Maya', $1), (9, 'Twin', $1), (10, 'twin', $1)",
        &[now_ms()],
    )
    .await;
    let logins = ["MAYA", "renamed", "twin", "ravi"].map(String::from);
    let known = s.reviewers().known_accounts(&logins).await.unwrap();
    let expected: HashMap<String, i64> = [("maya", 7), ("renamed", 8)]
        .map(|(l, id)| (l.to_string(), id))
        .into();
    assert_eq!(known, expected, "{label}");
}

/// When a lease was granted; nothing for an unknown lease.
async fn leases_created_at(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    repo(s, "g/a", 10, false).await;
    s.tasks()
        .import("g/a", &[task("one")], "admin")
        .await
        .unwrap();
    let w = register(s, worker_input("w", &[], 5, 5)).await;
    let before = now_ms();
    let lease = claim(s, &w).await.expect("a lease");
    let at = s
        .comment_claims()
        .lease_created_at(&lease.lease_id)
        .await
        .unwrap()
        .expect("granted");
    assert!(at >= before - 1_000 && at <= now_ms(), "{label}: {at}");
    assert_eq!(
        s.comment_claims().lease_created_at("none").await.unwrap(),
        None,
        "{label}"
    );
}

/// The sweep of proposals finds nothing due in a pool without proposals.
async fn proposals_due(db: TestDb) {
    let s = &db.store;
    assert_eq!(s.proposals().sweep().await.unwrap(), 0, "{}", db.label);
}

/// The inbox's counts, the backlog and the earliest instant due.
async fn github_inbox(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    assert_eq!(s.inbox().count().await.unwrap(), 0, "{label}");
    assert_eq!(
        s.github_backlog().counts().await.unwrap(),
        (0, 0),
        "{label}"
    );
    assert_eq!(
        s.github_backlog().next_due().await.unwrap(),
        None,
        "{label}"
    );
    raw(
        &db,
        "INSERT INTO gh_deliveries (delivery_id, event, body, received_at, next_attempt_at, \
         state) VALUES ('d1', 'ping', '{}', $1, $2, 'pending'), \
         ('d2', 'ping', '{}', $1, 5, 'applied')",
        &[now_ms(), 500],
    )
    .await;
    assert!(s.inbox().known("d1").await.unwrap(), "{label}");
    assert!(s.inbox().known("d2").await.unwrap(), "{label}");
    assert!(!s.inbox().known("d3").await.unwrap(), "{label}");
    assert_eq!(s.inbox().count().await.unwrap(), 2, "{label}");
    assert_eq!(
        s.github_backlog().counts().await.unwrap(),
        (1, 0),
        "{label}"
    );
    assert_eq!(
        s.github_backlog().next_due().await.unwrap(),
        Some(500),
        "{label}"
    );
    assert!(
        !s.inbox().redelivery_requested("d9").await.unwrap(),
        "{label}"
    );
    s.inbox().record_redelivery("d9", 77).await.unwrap();
    assert!(
        s.inbox().redelivery_requested("d9").await.unwrap(),
        "{label}"
    );
}

/// An issue's outbox rows oldest first, in any state; the rows due, one per installation.
async fn github_outbox(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    let row = |uid: &str, installation: i64, issue: i64, kind: &str, state: &str| {
        format!(
            "INSERT INTO gh_outbox (uid, installation_id, repo, issue_number, kind, body, state, \
             next_attempt_at, created_at) VALUES ('{uid}', {installation}, 'g/a', {issue}, \
             '{kind}', 'body {uid}', '{state}', $1, $1)"
        )
    };
    raw(&db, &row("u1", 1, 5, "comment", "sent"), &[0]).await;
    raw(&db, &row("u2", 1, 5, "comment", "pending"), &[0]).await;
    raw(&db, &row("u3", 1, 5, "status", "pending"), &[0]).await;
    raw(&db, &row("u4", 2, 6, "comment", "pending"), &[0]).await;
    raw(
        &db,
        &row("u5", 2, 7, "comment", "pending"),
        &[now_ms() + HOUR],
    )
    .await;
    let of_issue: Vec<_> = s
        .outbox()
        .of_issue("g/a", 5)
        .await
        .unwrap()
        .into_iter()
        .map(|(kind, state, body)| format!("{kind} {state} {body}"))
        .collect();
    assert_eq!(
        of_issue,
        [
            "comment sent body u1",
            "comment pending body u2",
            "status pending body u3"
        ],
        "{label}"
    );
    assert!(s.outbox().of_issue("g/a", 8).await.unwrap().is_empty());
    assert_eq!(
        s.github_backlog().counts().await.unwrap(),
        (0, 4),
        "{label}"
    );
    assert_eq!(
        s.github_backlog().next_due().await.unwrap(),
        Some(0),
        "{label}"
    );
    let now = now_ms();
    let claimed = s
        .outbox()
        .claim("runner", now, now + HOUR, 10, &Default::default(), 1000)
        .await
        .unwrap();
    let mut uids: Vec<_> = claimed.iter().map(|r| r.uid.as_str()).collect();
    uids.sort();
    assert_eq!(
        uids,
        ["u3", "u4"],
        "{label}: status first, one per installation"
    );
    // Both installations now have a row claimed: nothing more goes out.
    let again = s
        .outbox()
        .claim("runner", now, now + HOUR, 10, &Default::default(), 1000)
        .await
        .unwrap();
    assert!(again.is_empty(), "{label}");
}

/// What GitHub said of a pull request, while fresh; a missing one has no state.
async fn github_known_pull(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    assert_eq!(
        s.known_answers().pull("g/a", 1, 0).await.unwrap(),
        None,
        "{label}"
    );
    let open = KnownPull {
        state: Some(PrState::Open),
        author_id: Some(7),
        author: Some("maya".into()),
        read_at: 1_000,
    };
    s.known_answers().note_pull("g/a", 1, &open).await.unwrap();
    let missing = KnownPull {
        state: None,
        author_id: None,
        author: None,
        read_at: 2_000,
    };
    s.known_answers()
        .note_pull("g/a", 2, &missing)
        .await
        .unwrap();
    assert_eq!(
        s.known_answers().pull("g/a", 1, 1_000).await.unwrap(),
        Some(open)
    );
    assert_eq!(
        s.known_answers().pull("g/a", 1, 1_001).await.unwrap(),
        None,
        "{label}"
    );
    assert_eq!(
        s.known_answers().pull("g/a", 2, 0).await.unwrap(),
        Some(missing),
        "{label}"
    );
    assert_eq!(
        s.known_answers().pull("g/b", 1, 0).await.unwrap(),
        None,
        "{label}"
    );
}
