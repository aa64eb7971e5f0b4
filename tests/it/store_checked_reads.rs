//! The store's reads that the compiler checks (`sql/`: readiness, the public board, promotion
//! rules, outcomes, account ages, shared settings, the App's tables, the presence sweep), each
//! from known rows on both backends: `<view>_<statement>::sqlite` and `…::postgres` (which needs
//! `OWP_TEST_DATABASE_URL`). The figures of `/metrics` are `store_gauges`.

use std::collections::{BTreeMap, HashSet};

use serde_json::Map;

use owp::domain::{Promotion, Visibility};
use owp::store::Store;
use owp::store::github::etags::EtagRow;
use owp::store::now_ms;
use owp::store::repos::RepoUpsert;

use crate::store_support::*;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

on_both_backends!(
    readiness_migrations_applied,
    board_public_repo_names,
    reputation_promotions,
    reputation_all_promotions,
    outcomes_decided_and_lead_times,
    accounts_account,
    accounts_to_read,
    shared_settings_value,
    github_installations,
    github_left_pool_ready,
    github_etags,
    presence_due_offline,
);

fn upsert(name: &str) -> RepoUpsert {
    RepoUpsert {
        name: name.into(),
        max_open_prs: 10,
        area_locks_enabled: Some(false),
        extensions: Map::new(),
        ..Default::default()
    }
}

async fn public_repo(s: &Store, name: &str) {
    s.repos()
        .upsert_with(&upsert(name), Some(Visibility::Public), "admin")
        .await
        .expect("public repo");
}

/// Archives `name` as the database holds it.
async fn archive(db: &TestDb, name: &str) {
    raw(
        db,
        &format!("UPDATE repos SET archived_at = $1 WHERE name = '{name}'"),
        &[now_ms()],
    )
    .await;
}

async fn repo_id(s: &Store, name: &str) -> i64 {
    s.repos()
        .get(name)
        .await
        .unwrap()
        .expect("the repository")
        .id
}

/// Ready while the schema answers; a store whose probe finds no migrations table says why.
async fn readiness_migrations_applied(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    assert_eq!(s.ready().await, Ok(()), "{label}");
    // A store of its own, so that no earlier answer serves it.
    let other = db.replica().await;
    raw(
        &db,
        "ALTER TABLE _sqlx_migrations RENAME TO _sqlx_migrations_away",
        &[],
    )
    .await;
    let why = other.ready().await.expect_err("no migrations table");
    raw(
        &db,
        "ALTER TABLE _sqlx_migrations_away RENAME TO _sqlx_migrations",
        &[],
    )
    .await;
    assert!(why.contains("does not answer"), "{label}: {why}");
    other.close().await;
}

/// Public, unarchived repositories alone, as they are at each read.
async fn board_public_repo_names(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    let names = |list: &[&str]| list.iter().map(|n| n.to_string()).collect::<HashSet<_>>();
    assert_eq!(
        s.board().public_repo_names().await.unwrap(),
        names(&[]),
        "{label}"
    );
    public_repo(s, "g/pub").await;
    repo(s, "g/priv", 10, false).await;
    public_repo(s, "g/gone").await;
    archive(&db, "g/gone").await;
    assert_eq!(
        s.board().public_repo_names().await.unwrap(),
        names(&["g/pub"]),
        "{label}"
    );
    public_repo(s, "g/priv").await;
    assert_eq!(
        s.board().public_repo_names().await.unwrap(),
        names(&["g/priv", "g/pub"]),
        "{label}"
    );
}

fn rule(level: i64, merged: i64) -> Promotion {
    Promotion { level, merged }
}

/// Two repositories with promotion rules and one without.
async fn promoting(s: &Store) {
    s.reputations()
        .upsert_repo_promoting(
            &upsert("g/one"),
            None,
            Some(&[rule(3, 9), rule(1, 2), rule(2, 5)]),
            "admin",
        )
        .await
        .expect("g/one");
    s.reputations()
        .upsert_repo_promoting(&upsert("g/two"), None, Some(&[rule(4, 1)]), "admin")
        .await
        .expect("g/two");
    repo(s, "g/none", 10, false).await;
}

/// One repository's rules, by level; none for a repository without.
async fn reputation_promotions(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    promoting(s).await;
    assert_eq!(
        s.reputations()
            .promotions(repo_id(s, "g/one").await)
            .await
            .unwrap(),
        [rule(1, 2), rule(2, 5), rule(3, 9)],
        "{label}"
    );
    assert_eq!(
        s.reputations()
            .promotions(repo_id(s, "g/two").await)
            .await
            .unwrap(),
        [rule(4, 1)],
        "{label}"
    );
    assert!(
        s.reputations()
            .promotions(repo_id(s, "g/none").await)
            .await
            .unwrap()
            .is_empty(),
        "{label}"
    );
}

/// Every repository's rules, each by level; a repository without has no entry.
async fn reputation_all_promotions(db: TestDb) {
    let s = &db.store;
    promoting(s).await;
    let all = s.reputations().all_promotions().await.unwrap();
    let expected = [
        (
            repo_id(s, "g/one").await,
            vec![rule(1, 2), rule(2, 5), rule(3, 9)],
        ),
        (repo_id(s, "g/two").await, vec![rule(4, 1)]),
    ];
    assert_eq!(
        all.into_iter().collect::<BTreeMap<_, _>>(),
        expected.into_iter().collect::<BTreeMap<_, _>>(),
        "{}",
        db.label
    );
}

/// Merged and closed tasks per repository, their lead times from the first claim, and the public
/// board's part of them (public, unarchived repositories).
async fn outcomes_decided_and_lead_times(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    public_repo(s, "g/pub").await;
    repo(s, "g/priv", 10, false).await;
    public_repo(s, "g/arch").await;
    let titles = [
        ("g/pub", ["m1", "m2", "closed", "early", "old"].as_slice()),
        ("g/priv", ["secret"].as_slice()),
        ("g/arch", ["shelved"].as_slice()),
    ];
    for (repo, tasks) in titles {
        let tasks: Vec<_> = tasks.iter().map(|t| task(t)).collect();
        s.tasks().import(repo, &tasks, "admin").await.unwrap();
    }
    let w = register(s, worker_input("w", &[], 20, 20)).await;
    for _ in 0..7 {
        claim(s, &w).await.expect("a task");
    }
    archive(&db, "g/arch").await;
    // Each task's first claim and its end, as offsets from an hour ago.
    let base = now_ms() - HOUR;
    let ends = [
        ("m1", "merged", -3 * HOUR, 0),
        ("m2", "merged", -HOUR, 0),
        ("closed", "closed_unmerged", -2 * HOUR, 0),
        // Claimed only after its merge: no lead time.
        ("early", "merged", HOUR, 0),
        // Outside a window of 30 days.
        ("old", "merged", -41 * DAY, -40 * DAY),
        ("secret", "merged", -5 * HOUR, 0),
        ("shelved", "merged", -4 * HOUR, 0),
    ];
    for (title, kind, claimed, ended) in ends {
        raw(
            &db,
            &format!(
                "UPDATE leases SET created_at = $1 \
                 WHERE task_seq = (SELECT seq FROM tasks WHERE title = '{title}')"
            ),
            &[base + claimed],
        )
        .await;
        raw(
            &db,
            &format!(
                "INSERT INTO outcomes (kind, task_id, lease_id, worker_id, repo_id, event_id, at) \
                 SELECT '{kind}', id, 'l_{title}', '{}', repo_id, 0, $1 FROM tasks \
                 WHERE title = '{title}'",
                w.id
            ),
            &[base + ended],
        )
        .await;
    }

    let since = now_ms() - 30 * DAY;
    let all = s.outcomes().of_repo(since, false).await.unwrap();
    let mut names: Vec<&String> = all.keys().collect();
    names.sort();
    assert_eq!(names, ["g/arch", "g/priv", "g/pub"], "{label}");
    // m1, m2 and early merged, one closed: 3 / 4; leads 3 h and 1 h: median 2 h.
    let public = &all["g/pub"];
    assert_eq!(
        (
            public.merged,
            public.closed_unmerged,
            public.acceptance_rate,
            public.lead_time_seconds
        ),
        (3, 1, Some(0.75), Some(7_200.0)),
        "{label}"
    );
    let secret = &all["g/priv"];
    assert_eq!(
        (
            secret.merged,
            secret.closed_unmerged,
            secret.lead_time_seconds
        ),
        (1, 0, Some(18_000.0)),
        "{label}"
    );
    assert_eq!(all["g/arch"].lead_time_seconds, Some(14_400.0), "{label}");

    let shown = s.outcomes().of_repo(since, true).await.unwrap();
    assert_eq!(shown.keys().collect::<Vec<_>>(), ["g/pub"], "{label}");
    assert_eq!(shown["g/pub"], all["g/pub"], "{label}");
    // A window of 50 days takes the old merge in: leads 1 h, 3 h and 24 h.
    let longer = s
        .outcomes()
        .of_repo(now_ms() - 50 * DAY, true)
        .await
        .unwrap();
    let public = &longer["g/pub"];
    assert_eq!(
        (public.merged, public.lead_time_seconds),
        (4, Some(10_800.0)),
        "{label}"
    );
}

/// Keeps what GitHub said of an account, in a transaction of its own.
async fn remember(s: &Store, account_id: i64, login: &str, created_at: Option<i64>) {
    s.write(|mut tx| async move {
        let r = tx.accounts().remember(account_id, login, created_at).await;
        (tx, r)
    })
    .await
    .expect("remember the account");
}

/// An account unknown, one whose age GitHub did not give, and one whose age it gave.
async fn accounts_account(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    assert_eq!(s.accounts().get(11).await.unwrap(), None, "{label}");
    let before = now_ms();
    remember(s, 11, "ann", None).await;
    remember(s, 12, "bo", Some(1_000)).await;
    let ann = s.accounts().get(11).await.unwrap().expect("ann");
    assert_eq!(ann.created_at, None, "{label}");
    assert!(ann.read_at >= before, "{label}: {ann:?}");
    let bo = s.accounts().get(12).await.unwrap().expect("bo");
    assert_eq!(bo.created_at, Some(1_000), "{label}");
}

/// Sets the GitHub login and account id a worker speaks for, as the database holds them.
async fn speaks_for(db: &TestDb, worker: &str, login: &str, account: Option<i64>) {
    let account = account.map_or("NULL".to_string(), |a| a.to_string());
    raw(
        db,
        &format!(
            "UPDATE workers SET github_login = '{login}', github_account_id = {account} \
             WHERE id = '{worker}'"
        ),
        &[],
    )
    .await;
}

/// The workers whose account's age is unknown and not asked lately, by id, once a repository asks
/// for a minimum age.
async fn accounts_to_read(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    repo(s, "g/one", 10, false).await;
    let mut listed = Vec::new();
    for (name, account) in [
        ("ann", Some(21)),
        ("bo", Some(22)),
        ("cy", Some(23)),
        ("di", None),
        ("ed", None),
    ] {
        let w = register(s, worker_input(name, &[], 5, 5)).await;
        speaks_for(&db, &w.id, name, account).await;
        listed.push((w.id, name, account));
    }
    register(s, worker_input("nobody", &[], 5, 5)).await;
    // bo's age is known; cy's was asked a moment ago; di's link has no account id yet; ed has
    // no link.
    remember(s, 22, "bo", Some(1_000)).await;
    remember(s, 23, "cy", None).await;
    let di = &listed[3].0;
    raw(
        &db,
        &format!(
            "INSERT INTO gh_links (worker_id, account_id, login, linked_at) \
             VALUES ('{di}', NULL, 'di', $1)"
        ),
        &[now_ms()],
    )
    .await;
    let read = |asked_before: i64, limit: i64| async move {
        s.accounts()
            .to_read(asked_before, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.worker_id, a.login, a.account_id))
            .collect::<Vec<_>>()
    };
    let expect = |names: &[&str]| {
        let mut rows: Vec<(String, String, Option<i64>)> = listed
            .iter()
            .filter(|(_, name, _)| names.contains(name))
            .map(|(id, name, account)| (id.clone(), name.to_string(), *account))
            .collect();
        rows.sort();
        rows
    };
    let asked_before = now_ms() - 60_000;
    assert!(
        read(asked_before, 10).await.is_empty(),
        "{label}: no repository asks"
    );
    raw(
        &db,
        "UPDATE repos SET min_account_age_days = 30 WHERE name = 'g/one'",
        &[],
    )
    .await;
    assert_eq!(
        read(asked_before, 10).await,
        expect(&["ann", "di"]),
        "{label}"
    );
    let unknown = expect(&["ann", "cy", "di"]);
    assert_eq!(
        read(now_ms() + 1, 10).await,
        unknown,
        "{label}: cy asked before now"
    );
    assert_eq!(
        read(now_ms() + 1, 1).await,
        unknown[..1],
        "{label}: the first by id"
    );
}

/// A value kept under a name, none under another.
async fn shared_settings_value(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    assert_eq!(
        s.shared_settings().get("one").await.unwrap(),
        None,
        "{label}"
    );
    assert_eq!(s.shared_settings().keep("one", "1").await.unwrap(), "1");
    assert_eq!(
        s.shared_settings().get("one").await.unwrap().as_deref(),
        Some("1"),
        "{label}"
    );
    assert!(s.shared_settings().replace("one", "1", "2").await.unwrap());
    assert_eq!(
        s.shared_settings().get("one").await.unwrap().as_deref(),
        Some("2"),
        "{label}"
    );
    assert_eq!(
        s.shared_settings().get("two").await.unwrap(),
        None,
        "{label}"
    );
}

/// The installations by id, a suspended one and a blocked one among them.
async fn github_installations(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    assert!(s.installations().all().await.unwrap().is_empty(), "{label}");
    for (id, account, suspended, blocked_until) in
        [(9, "nine", 0, 0), (3, "three", 1, 0), (5, "five", 0, 777)]
    {
        raw(
            &db,
            &format!(
                "INSERT INTO gh_installations \
                 (id, account, suspended, blocked_until, created_at, updated_at) \
                 VALUES ($1, '{account}', $2, $3, 0, 0)"
            ),
            &[id, suspended, blocked_until],
        )
        .await;
    }
    let got: Vec<_> = s
        .installations()
        .all()
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.id, i.account, i.suspended, i.blocked_until))
        .collect();
    let at = |id: i64, account: &str, suspended: bool, blocked: i64| {
        (id, account.to_string(), suspended, blocked)
    };
    assert_eq!(
        got,
        [
            at(3, "three", true, 0),
            at(5, "five", false, 777),
            at(9, "nine", false, 0)
        ],
        "{label}"
    );
}

/// Ready tasks whose issue left the pool; not one that is held, nor one whose issue stayed.
async fn github_left_pool_ready(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    repo(s, "g/one", 10, false).await;
    s.tasks()
        .import("g/one", &[task("held")], "admin")
        .await
        .unwrap();
    let w = register(s, worker_input("w", &[], 5, 5)).await;
    claim(s, &w).await.expect("held");
    let tasks: Vec<_> = ["left", "gone", "stayed"].map(task).into();
    s.tasks().import("g/one", &tasks, "admin").await.unwrap();
    for (title, left_pool) in [
        ("held", "'unlabelled'"),
        ("left", "'unlabelled'"),
        ("gone", "'closed'"),
        ("stayed", "NULL"),
    ] {
        raw(
            &db,
            &format!(
                "INSERT INTO gh_tasks (task_id, repo, issue_number, left_pool) \
                 SELECT id, 'g/one', seq, {left_pool} FROM tasks WHERE title = '{title}'"
            ),
            &[],
        )
        .await;
    }
    let mut got = s.issues().left_pool_ready().await.unwrap();
    got.sort();
    let mut expected = vec![
        (task_named(s, "left").await.id, "unlabelled".to_string()),
        (task_named(s, "gone").await.id, "closed".to_string()),
    ];
    expected.sort();
    assert_eq!(got, expected, "{label}");
}

/// GitHub's remembered answers, newest first, as many as asked for.
async fn github_etags(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    let row = |path: &str, next_page: Option<&str>| EtagRow {
        path: path.into(),
        etag: format!("\"{path}\""),
        body: format!("[{path}]"),
        next_page: next_page.map(Into::into),
    };
    let rows = [
        row("/a", None),
        row("/b", Some("/b?page=2")),
        row("/c", None),
    ];
    s.known_answers().save_etags(&rows).await.unwrap();
    // Their refresh times, as the database holds them: b the newest, then c, then a.
    for (path, ago) in [("/a", 3), ("/b", 1), ("/c", 2)] {
        raw(
            &db,
            &format!("UPDATE gh_etags SET updated_at = $1 WHERE path = '{path}'"),
            &[now_ms() - ago * 1_000],
        )
        .await;
    }
    let [a, b, c] = rows;
    assert_eq!(
        s.known_answers().etags(10).await.unwrap(),
        [b.clone(), c.clone(), a],
        "{label}"
    );
    assert_eq!(s.known_answers().etags(2).await.unwrap(), [b, c], "{label}");
}

/// The sweep logs offline the online workers whose last contact is past the TTL, once each.
async fn presence_due_offline(db: TestDb) {
    let s = &db.store;
    let label = db.label;
    let mut quiet = Vec::new();
    for name in ["a", "b", "c"] {
        let w = register(s, worker_input(name, &[], 5, 5)).await;
        if name != "b" {
            quiet.push(w.id);
        }
    }
    assert_eq!(
        s.workers().sweep_presence().await.unwrap(),
        0,
        "{label}: all seen"
    );
    let events = s.events().last_id().await.unwrap();
    for id in &quiet {
        raw(
            &db,
            &format!("UPDATE workers SET last_seen_at = $1 WHERE id = '{id}'"),
            &[now_ms() - HOUR],
        )
        .await;
    }
    assert_eq!(s.workers().sweep_presence().await.unwrap(), 2, "{label}");
    let mut offline: Vec<String> = s
        .events()
        .after(events, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "worker.offline")
        .filter_map(|e| e.worker_id)
        .collect();
    offline.sort();
    quiet.sort();
    assert_eq!(offline, quiet, "{label}");
    assert_eq!(
        s.workers().sweep_presence().await.unwrap(),
        0,
        "{label}: once each"
    );
}
