//! The storage layer told as stories, run against every backend from the same code: SQLite always,
//! and PostgreSQL when `OWP_TEST_DATABASE_URL` names a server (each test then gets a fresh database,
//! dropped at the end).

use crate::store_support::*;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use owp::domain::{Priority, TaskStatus, Visibility, WorkerStatus};
use owp::store::repos::RepoUpsert;
use owp::store::{StoreError, Timing};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repos_are_private_unless_made_public_and_the_public_board_reads_only_public_ones() {
    on_each_backend(
        "repos_are_private_unless_made_public_and_the_public_board_reads_only_public_ones",
        fast_timing(),
        |db| async move {
            let s = &db.store;
            let upsert = |name: &str| RepoUpsert {
                name: name.into(),
                max_open_prs: 3,
                area_locks_enabled: None,
                extensions: Map::new(),
                ..Default::default()
            };
            let (row, _) = s
                .repos()
                .upsert(&upsert("acme/closed"), "admin")
                .await
                .unwrap();
            assert!(row.private, "{}: private by default", db.label);
            assert_eq!(row.to_api().visibility, Visibility::Private);
            let (row, _) = s
                .repos()
                .upsert_with(&upsert("acme/open"), Some(Visibility::Public), "admin")
                .await
                .unwrap();
            assert!(!row.private);
            // An update without a visibility keeps it.
            let (row, created) = s
                .repos()
                .upsert(&upsert("acme/open"), "admin")
                .await
                .unwrap();
            assert!(!created && !row.private, "{}: kept public", db.label);

            s.tasks()
                .import("acme/open", &[task("open work")], "admin")
                .await
                .unwrap();
            s.tasks()
                .import("acme/closed", &[task("closed work")], "admin")
                .await
                .unwrap();
            // A worker's registration names no repository: not on the public board.
            s.workers()
                .register(&worker_input("w", &[], 5, 5))
                .await
                .unwrap();
            let board = s.board().public(100).await.unwrap();
            let names: Vec<&str> = board.repos.iter().map(|r| r.name.as_str()).collect();
            assert_eq!(names, ["acme/open"], "{}", db.label);
            let titles: Vec<&str> = board.tasks.iter().map(|t| t.title.as_str()).collect();
            assert_eq!(titles, ["open work"]);
            assert!(!board.events.is_empty());
            assert!(
                board
                    .events
                    .iter()
                    .all(|e| e.repo.as_deref() == Some("acme/open")),
                "{}: {:?}",
                db.label,
                board.events
            );
            assert!(
                board.workers.is_empty(),
                "nobody works on a public task yet"
            );

            // GitHub says the closed repository is public after all, then private again.
            let mut tx = s.begin().await.unwrap();
            assert!(
                tx.repos()
                    .set_visibility("acme/closed", Visibility::Public, "github:octo")
                    .await
                    .unwrap()
            );
            assert!(
                !tx.repos()
                    .set_visibility("acme/closed", Visibility::Public, "github:octo")
                    .await
                    .unwrap(),
                "no change, no event"
            );
            assert!(
                !tx.repos()
                    .set_visibility("acme/unknown", Visibility::Public, "github:octo")
                    .await
                    .unwrap(),
                "an unknown repository is left alone"
            );
            tx.commit().await.unwrap();
            let public = s.board().public_repo_names().await.unwrap();
            assert_eq!(
                public,
                HashSet::from(["acme/open".to_string(), "acme/closed".to_string()])
            );
            let mut tx = s.begin().await.unwrap();
            tx.repos()
                .set_visibility("acme/closed", Visibility::Private, "github:octo")
                .await
                .unwrap();
            tx.commit().await.unwrap();
            let board = s.board().public(100).await.unwrap();
            assert_eq!(board.tasks.len(), 1, "{}", db.label);
            let updates: Vec<_> = s
                .events()
                .recent(100)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.kind == "repo.updated" && e.repo.as_deref() == Some("acme/closed"))
                .map(|e| e.data["visibility"].clone())
                .collect();
            assert_eq!(updates, [json!("public"), json!("private")]);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repos_and_imports_are_idempotent() {
    on_each_backend(
        "repos_and_imports_are_idempotent",
        fast_timing(),
        |db| async move {
            let s = &db.store;
            let (row, created) = s
                .repos()
                .upsert(
                    &RepoUpsert {
                        name: "acme/app".into(),
                        max_open_prs: 2,
                        area_locks_enabled: None,
                        extensions: Map::new(),
                        ..Default::default()
                    },
                    "admin",
                )
                .await
                .unwrap();
            assert!(created, "{}: first upsert creates", db.label);
            assert!(row.area_locks_enabled);
            let (row, created) = s
                .repos()
                .upsert(
                    &RepoUpsert {
                        name: "acme/app".into(),
                        max_open_prs: 5,
                        area_locks_enabled: Some(false),
                        extensions: Map::new(),
                        ..Default::default()
                    },
                    "admin",
                )
                .await
                .unwrap();
            assert!(!created);
            assert_eq!((row.max_open_prs, row.area_locks_enabled), (5, false));

            let mut a = task("first");
            a.key = Some("K-1".into());
            a.extensions.insert("x_origin".into(), json!({"n": 1}));
            let mut b = task("second");
            b.key = Some("K-2".into());
            let first = s
                .tasks()
                .import("acme/app", &[a.clone(), b], "admin")
                .await
                .unwrap();
            assert_eq!(first.len(), 2);
            assert!(first.iter().all(|t| t.status == TaskStatus::Ready));
            assert!(first[0].seq < first[1].seq, "list order is creation order");
            assert_eq!(first[0].extensions["x_origin"], json!({"n": 1}));

            a.title = "first, edited".into();
            a.priority = Priority::Critical;
            let again = s.tasks().import("acme/app", &[a], "admin").await.unwrap();
            assert_eq!(again[0].id, first[0].id, "same key, same task");
            assert_eq!(again[0].title, "first, edited");
            assert_eq!(again[0].priority, Priority::Critical);
            let all = s.tasks().list(&Default::default()).await.unwrap();
            assert_eq!(all.len(), 2, "{}: re-import never duplicates", db.label);

            let missing = s.tasks().import("nope/none", &[task("x")], "admin").await;
            assert!(matches!(
                missing,
                Err(StoreError::NotFound {
                    code: "repo_not_found",
                    ..
                })
            ));
            let mut bad = task("bad");
            bad.estimate_points = 0;
            let invalid = s.tasks().import("acme/app", &[bad], "admin").await;
            assert!(matches!(invalid, Err(StoreError::Invalid { .. })));
            // A failed import left nothing behind.
            assert_eq!(s.tasks().list(&Default::default()).await.unwrap().len(), 2);
            // Text a backend cannot store is the caller's mistake (PostgreSQL refuses NUL
            // characters, SQLite would keep them): both refuse it alike, before any statement.
            let nul = s
                .tasks()
                .import("acme/app", &[task("nul \0 inside")], "admin")
                .await;
            assert!(
                matches!(
                    nul,
                    Err(StoreError::Invalid {
                        code: "invalid_characters",
                        ..
                    })
                ),
                "{}: {nul:?}",
                db.label
            );
            let lookup = s.tasks().get("t_\0").await;
            assert!(
                matches!(lookup, Ok(None) | Err(StoreError::Invalid { .. })),
                "{}: {lookup:?}",
                db.label
            );
            db.store.close().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requirements_on_capabilities_hold_in_every_claim_path() {
    on_each_backend("requirements", fast_timing(), |db| async move {
        let s = &db.store;
        let label = db.label;
        repo(s, "r/req", 10, false).await;
        let needs = |title: &str, requires: Value| {
            let mut t = task(title);
            t.priority = Priority::Critical;
            t.requires = requires.as_object().unwrap().clone();
            t
        };
        let rows = s
            .tasks()
            .import(
                "r/req",
                &[
                    needs("tests", json!({"can_run_tests": true})),
                    needs("gpu", json!({"gpu": "a100", "cores": 8})),
                    task("free"),
                ],
                "admin",
            )
            .await
            .unwrap();
        assert_eq!(
            rows[0].requires,
            *json!({"can_run_tests": true}).as_object().unwrap()
        );
        assert!(rows[2].requires.is_empty());
        let with_caps = |name: &str, caps: Value| {
            let mut w = worker_input(name, &[], 10, 10);
            w.capabilities = caps;
            w
        };
        // No capabilities, or unequal values (a string is not a boolean, 7 is not 8): only the
        // free task is offered, although the others rank higher.
        let plain = register(s, worker_input("plain", &[], 10, 10)).await;
        assert_eq!(
            title_of(s, &claim(s, &plain).await).await.as_deref(),
            Some("free"),
            "{label}"
        );
        assert!(claim(s, &plain).await.is_none(), "{label}");
        let near = register(
            s,
            with_caps(
                "near",
                json!({"can_run_tests": "true", "gpu": "a100", "cores": 7}),
            ),
        )
        .await;
        assert!(claim(s, &near).await.is_none(), "{label}");
        // A named claim is refused with the missing names.
        let tests_id = rows[0].id.clone();
        let near_id = near.id.clone();
        let refused = s
            .write(|mut tx| {
                let (worker, task) = (near_id.clone(), tests_id.clone());
                async move {
                    let r = tx.claim_task(&worker, &task, false).await;
                    (tx, r)
                }
            })
            .await;
        match refused {
            Err(StoreError::Refused(refusals)) => {
                let [r] = refusals.as_slice() else {
                    panic!("{label}: expected one refusal, got {refusals:?}");
                };
                assert_eq!(r.code(), "capabilities_missing", "{label}");
                assert!(r.to_string().contains("can_run_tests"), "{label}: {r}");
            }
            other => panic!("{label}: expected a refusal, got {other:?}"),
        }
        // Equal values (numbers by value) get both.
        let able = register(
            s,
            with_caps(
                "able",
                json!({"can_run_tests": true, "gpu": "a100", "cores": 8.0, "other": 1}),
            ),
        )
        .await;
        let mut got = vec![
            title_of(s, &claim(s, &able).await).await,
            title_of(s, &claim(s, &able).await).await,
        ];
        got.sort();
        assert_eq!(
            got,
            [Some("gpu".to_string()), Some("tests".to_string())],
            "{label}"
        );
        assert!(claim(s, &able).await.is_none(), "{label}");
    })
    .await;
}

#[tokio::test]
async fn claims_follow_every_rule() {
    on_each_backend("claims_follow_every_rule", fast_timing(), |db| async move {
        let s = &db.store;
        let label = db.label;
        repo(s, "r/main", 10, true).await;

        // Priority first, then creation order.
        let mut low = task("low");
        low.priority = Priority::Low;
        let mut high1 = task("high-1");
        high1.priority = Priority::High;
        let mut high2 = task("high-2");
        high2.priority = Priority::High;
        s.tasks()
            .import("r/main", &[low, high1, high2], "admin")
            .await
            .unwrap();
        let w = register(s, worker_input("w", &[], 10, 10)).await;
        let l1 = claim(s, &w).await;
        let l2 = claim(s, &w).await;
        let l3 = claim(s, &w).await;
        assert_eq!(title_of(s, &l1).await.as_deref(), Some("high-1"), "{label}");
        assert_eq!(title_of(s, &l2).await.as_deref(), Some("high-2"), "{label}");
        assert_eq!(title_of(s, &l3).await.as_deref(), Some("low"), "{label}");
        assert!(claim(s, &w).await.is_none(), "{label}: queue is empty");
        for l in [l1, l2, l3].iter().flatten() {
            admin_status(s, &l.task.task_id, TaskStatus::Cancelled).await;
        }
        let w_row = s.workers().get(&w.id).await.unwrap().unwrap();
        assert_eq!((w_row.active_points, w_row.active_tasks), (0, 0), "{label}");

        // Rule 3: skills, case-insensitive.
        let mut rusty = task("needs rust");
        rusty.required_skills = vec!["Rust".into()];
        s.tasks().import("r/main", &[rusty], "admin").await.unwrap();
        let docs = register(s, worker_input("docs", &["docs"], 10, 10)).await;
        assert!(claim(s, &docs).await.is_none(), "{label}: missing skill");
        let rust = register(s, worker_input("rust", &["RUST", "docs"], 10, 10)).await;
        let l = claim(s, &rust).await.expect("rust worker gets it");
        admin_status(s, &l.task.task_id, TaskStatus::Cancelled).await;

        // Rule 7: tier ≤ trust level.
        let mut risky = task("risky");
        risky.tier = 2;
        s.tasks().import("r/main", &[risky], "admin").await.unwrap();
        assert!(claim(s, &w).await.is_none(), "{label}: tier above trust");
        update_worker(s, &w.id, Some(2), None).await;
        let w = s.workers().get(&w.id).await.unwrap().unwrap();
        let l = claim(s, &w).await.expect("trusted now");
        admin_status(s, &l.task.task_id, TaskStatus::Cancelled).await;

        // Rule 2: a paused worker gets nothing.
        s.tasks()
            .import("r/main", &[task("plain")], "admin")
            .await
            .unwrap();
        update_worker(s, &w.id, None, Some(WorkerStatus::Paused)).await;
        let paused = s.workers().get(&w.id).await.unwrap().unwrap();
        assert!(claim(s, &paused).await.is_none(), "{label}: paused");
        update_worker(s, &w.id, None, Some(WorkerStatus::Idle)).await;

        // Rule 4: capacity points and concurrent tasks.
        let small = register(s, worker_input("small", &[], 2, 1)).await;
        let mut big = task("big");
        big.estimate_points = 3;
        big.priority = Priority::Critical;
        s.tasks().import("r/main", &[big], "admin").await.unwrap();
        let l = claim(s, &small).await.expect("small gets the plain task");
        assert_eq!(
            l.task.title, "plain",
            "{label}: the 3-point task does not fit 2 points"
        );
        s.tasks()
            .import("r/main", &[task("another")], "admin")
            .await
            .unwrap();
        assert!(
            claim(s, &small).await.is_none(),
            "{label}: one task at a time"
        );
        admin_status(s, &l.task.task_id, TaskStatus::Cancelled).await;
        let big_lease = claim(s, &w).await.expect("w takes the big one");
        assert_eq!(big_lease.task.title, "big");
        admin_status(s, &big_lease.task.task_id, TaskStatus::Cancelled).await;
        let another = claim(s, &w).await.expect("another");
        admin_status(s, &another.task.task_id, TaskStatus::Cancelled).await;

        // Rule 1: a nacked task is not offered to the same worker again, but to others.
        s.tasks()
            .import("r/main", &[task("nackable")], "admin")
            .await
            .unwrap();
        let l = claim(s, &w).await.expect("nackable");
        let back = nack(s, &w, &l).await.unwrap();
        assert_eq!(back.status, TaskStatus::Ready);
        assert!(claim(s, &w).await.is_none(), "{label}: nacked by w");
        let other = claim(s, &small).await.expect("offered to another worker");
        assert_eq!(other.task.task_id, l.task.task_id);
        admin_status(s, &other.task.task_id, TaskStatus::Cancelled).await;

        // Rule 5: area locks hold from lease until merge.
        let mut a1 = task("area one");
        a1.area = Some("billing".into());
        let mut a2 = task("area two");
        a2.area = Some("billing".into());
        s.tasks()
            .import("r/main", &[a1, a2], "admin")
            .await
            .unwrap();
        let first = claim(s, &w).await.expect("area one");
        assert_eq!(first.task.title, "area one");
        assert!(
            claim(s, &rust).await.is_none(),
            "{label}: area held by a lease"
        );
        ack(s, &w, &first).await.unwrap();
        open_pr(s, &w, &first.task.task_id).await;
        assert!(
            claim(s, &rust).await.is_none(),
            "{label}: area held by an open PR"
        );
        let merged = admin_status(s, &first.task.task_id, TaskStatus::Merged).await;
        assert_eq!(merged.status, TaskStatus::Merged);
        let second = claim(s, &rust).await.expect("area free after merge");
        assert_eq!(second.task.title, "area two");
        admin_status(s, &second.task.task_id, TaskStatus::Cancelled).await;

        // Rule 6: the review budget counts open PRs and active leases.
        repo(s, "r/tight", 2, false).await;
        s.tasks()
            .import("r/tight", &[task("t1"), task("t2"), task("t3")], "admin")
            .await
            .unwrap();
        let a = claim(s, &w).await.expect("t1");
        let b = claim(s, &rust).await.expect("t2");
        assert_eq!(repo_figures(s, "r/tight").await, (0, 2));
        assert!(claim(s, &small).await.is_none(), "{label}: budget full");
        ack(s, &w, &a).await.unwrap();
        open_pr(s, &w, &a.task.task_id).await;
        assert_eq!(repo_figures(s, "r/tight").await, (1, 1));
        assert!(
            claim(s, &small).await.is_none(),
            "{label}: an open PR still counts"
        );
        admin_status(s, &a.task.task_id, TaskStatus::Merged).await;
        assert_eq!(repo_figures(s, "r/tight").await, (0, 1));
        let c = claim(s, &small).await.expect("room after the merge");
        assert_eq!(c.task.title, "t3");
        assert_eq!(repo_figures(s, "r/tight").await, (0, 2));
        nack(s, &rust, &b).await.unwrap();
        assert_eq!(repo_figures(s, "r/tight").await, (0, 1));

        // A worker's counters follow its leases.
        let w_row = s.workers().get(&small.id).await.unwrap().unwrap();
        assert_eq!((w_row.active_points, w_row.active_tasks), (1, 1), "{label}");
        db.store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_lifecycle_and_audit_log() {
    on_each_backend(
        "lease_lifecycle_and_audit_log",
        fast_timing(),
        |db| async move {
            let s = &db.store;
            let label = db.label;
            repo(s, "r/life", 3, true).await;
            let ids: Vec<String> = s
                .tasks()
                .import("r/life", &[task("one")], "admin")
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.id)
                .collect();
            let w = register(s, worker_input("w", &[], 5, 2)).await;
            let stranger = register(s, worker_input("stranger", &[], 5, 2)).await;
            let before = s.events().last_id().await.unwrap();
            let lease = claim(s, &w).await.expect("lease");
            assert_eq!(lease.task.task_id, ids[0]);
            assert_eq!(lease.task.status, TaskStatus::Leased);

            let err = ack(s, &stranger, &lease).await.unwrap_err();
            assert!(
                matches!(err, StoreError::Forbidden { .. }),
                "{label}: {err:?}"
            );
            let t = ack(s, &w, &lease).await.unwrap();
            assert_eq!(t.status, TaskStatus::InProgress);
            let acked_until = t.lease_expires_at.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            let renewed = s
                .write(|mut tx| async {
                    let r = tx.leases().renew(&w.id, &lease.lease_id).await;
                    (tx, r)
                })
                .await
                .unwrap();
            assert!(
                renewed.lease_expires_at.unwrap() > acked_until,
                "{label}: renew extends"
            );

            let no_url = set_status(s, &w, &ids[0], TaskStatus::PrOpened, Some(json!({}))).await;
            assert!(matches!(
                no_url,
                Err(StoreError::Invalid {
                    code: "missing_pr_url",
                    ..
                })
            ));
            let bad_move = set_status(s, &w, &ids[0], TaskStatus::Ready, None).await;
            assert!(
                matches!(bad_move, Err(StoreError::Conflict { .. })),
                "{label}: {bad_move:?}"
            );
            let pr = open_pr(s, &w, &ids[0]).await;
            assert_eq!(pr.status, TaskStatus::PrOpened);
            assert_eq!(pr.worker_id.as_deref(), Some(w.id.as_str()));
            assert!(
                pr.artifact.unwrap()["pr_url"]
                    .as_str()
                    .unwrap()
                    .contains("/pr/")
            );
            let w_row = s.workers().get(&w.id).await.unwrap().unwrap();
            assert_eq!(
                (w_row.active_points, w_row.active_tasks),
                (0, 0),
                "{label}: PR is not a lease"
            );
            assert_eq!(repo_figures(s, "r/life").await, (1, 0));
            // The lease has ended: ack and nack now conflict.
            let late = nack(s, &w, &lease).await.unwrap_err();
            assert!(
                matches!(late, StoreError::Conflict { .. }),
                "{label}: {late:?}"
            );
            let not_mine = set_status(s, &w, &ids[0], TaskStatus::Merged, None).await;
            assert!(
                matches!(
                    not_mine,
                    Err(StoreError::Forbidden {
                        code: "not_allowed",
                        ..
                    })
                ),
                "{label}: {not_mine:?}"
            );
            let merged = admin_status(s, &ids[0], TaskStatus::Merged).await;
            assert_eq!(merged.status, TaskStatus::Merged);
            assert_eq!(repo_figures(s, "r/life").await, (0, 0));

            // Every change left one audit event, in order, readable after the horizon.
            let events = s.events().after(before, 100).await.unwrap();
            let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
            assert_eq!(
                kinds,
                [
                    "task.leased",
                    "task.status",
                    "lease.renewed",
                    "task.status",
                    "task.status"
                ],
                "{label}"
            );
            assert!(events.windows(2).all(|p| p[0].id < p[1].id));
            assert_eq!(
                s.events().last_id().await.unwrap(),
                events.last().unwrap().id
            );

            // The bounded look-ups into a task's history (lead times) read the same events as
            // the whole history: its first event, and the newest ones below a given id.
            let history = s.events().of_task(&ids[0]).await.unwrap();
            let kinds: Vec<&str> = history.iter().map(|e| e.kind.as_str()).collect();
            assert_eq!(kinds[0], "task.created", "{label}: {kinds:?}");
            let first = s
                .events()
                .first_of_task(&ids[0])
                .await
                .unwrap()
                .expect("first");
            assert_eq!(first.id, history[0].id, "{label}");
            let merged_id = history.last().unwrap().id;
            let before = s
                .events()
                .of_task_before(&ids[0], merged_id, 2)
                .await
                .unwrap();
            let n = history.len();
            let expected: Vec<i64> = vec![history[n - 2].id, history[n - 3].id];
            assert_eq!(
                before.iter().map(|e| e.id).collect::<Vec<_>>(),
                expected,
                "{label}: newest first, below the given id"
            );
            assert_eq!(before[0].data["status"], "pr_opened", "{label}");
            let all_before = s
                .events()
                .of_task_before(&ids[0], merged_id, 100)
                .await
                .unwrap();
            assert_eq!(all_before.len(), n - 1, "{label}");
            assert!(s.events().first_of_task("t_none").await.unwrap().is_none());
            db.store.close().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_leases_return_and_then_block() {
    let timing = Timing {
        lease_ttl_ms: 60_000,
        accept_ttl_ms: 300,
        heartbeat_ttl_ms: 60_000,
        max_attempts: 2,
    };
    on_each_backend(
        "expired_leases_return_and_then_block",
        timing,
        |db| async move {
            let s = &db.store;
            let label = db.label;
            repo(s, "r/exp", 1, true).await;
            let mut t = task("slow");
            t.area = Some("core".into());
            let id = s.tasks().import("r/exp", &[t], "admin").await.unwrap()[0]
                .id
                .clone();
            let w = register(s, worker_input("w", &[], 5, 2)).await;

            let first = claim(s, &w).await.expect("lease 1");
            assert!(s.expiry().next_deadline().await.unwrap().is_some());
            tokio::time::sleep(Duration::from_millis(400)).await;
            // The worker's late ack finds the lease over, and the requeue is kept.
            let late = ack(s, &w, &first).await.unwrap_err();
            assert!(
                matches!(
                    late,
                    StoreError::Conflict {
                        code: "lease_expired",
                        ..
                    }
                ),
                "{label}: {late:?}"
            );
            let t = s.tasks().get(&id).await.unwrap().unwrap();
            assert_eq!((t.status, t.attempts), (TaskStatus::Ready, 1), "{label}");
            assert_eq!(
                repo_figures(s, "r/exp").await,
                (0, 0),
                "{label}: budget released"
            );
            let w_row = s.workers().get(&w.id).await.unwrap().unwrap();
            assert_eq!((w_row.active_points, w_row.active_tasks), (0, 0));

            // The second expiry is found by the sweep, and blocks the task (max_attempts = 2).
            let second = claim(s, &w).await.expect("lease 2 (area lock released)");
            assert_eq!(second.task.task_id, id);
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let n = s.expiry().due().await.unwrap();
                if n > 0 {
                    assert_eq!(n, 1);
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{label}: the sweep never expired the lease"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let t = s.tasks().get(&id).await.unwrap().unwrap();
            assert_eq!((t.status, t.attempts), (TaskStatus::Blocked, 2), "{label}");
            assert!(t.status_reason.is_some());
            assert_eq!(s.expiry().due().await.unwrap(), 0);
            assert!(s.expiry().next_deadline().await.unwrap().is_none());
            assert!(claim(s, &w).await.is_none());
            db.store.close().await;
        },
    )
    .await;
}

/// PostgreSQL: a due lease that another transaction holds (a sweep still committing its expiry,
/// in this process or another) is waited for by a request, which must not read the lease as
/// alive after its deadline, and skipped by the background sweep, which must not wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_wait_for_a_held_due_lease_and_sweeps_skip_it() {
    let timing = Timing {
        lease_ttl_ms: 60_000,
        accept_ttl_ms: 300,
        heartbeat_ttl_ms: 60_000,
        max_attempts: 5,
    };
    let Some(db) = TestDb::postgres(timing).await else {
        return;
    };
    let s = &db.store;
    repo(s, "r/held", 1, false).await;
    let id = s
        .tasks()
        .import("r/held", &[task("held")], "admin")
        .await
        .unwrap()[0]
        .id
        .clone();
    let w = register(s, worker_input("w", &[], 5, 1)).await;
    claim(s, &w).await.expect("lease");
    tokio::time::sleep(Duration::from_millis(400)).await;

    use sqlx::Connection;
    let mut other = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query("SELECT id FROM tasks WHERE id = $1 FOR UPDATE")
        .bind(&id)
        .execute(&mut other)
        .await
        .unwrap();
    assert_eq!(s.expiry().sweep().await.unwrap(), 0, "the sweep skips it");
    let request = tokio::spawn({
        let s = s.clone();
        async move { s.expiry().due().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!request.is_finished(), "the request waits for the holder");
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    assert_eq!(request.await.unwrap().unwrap(), 1);
    let t = s.tasks().get(&id).await.unwrap().unwrap();
    assert_eq!((t.status, t.attempts), (TaskStatus::Ready, 1));
    assert_eq!(repo_figures(s, "r/held").await, (0, 0));
    db.store.close().await;
}

/// Section 9: a worker never decides `merged` (403 `not_allowed`, nothing changes), and a task
/// its holder reports `blocked` takes a slot of the review budget (in `open_prs`, `throttled` and
/// every claim path) until an admin moves it on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holders_blocked_fills_the_budget_and_merged_is_not_the_workers() {
    on_each_backend(
        "a_holders_blocked_fills_the_budget_and_merged_is_not_the_workers",
        fast_timing(),
        |db| async move {
            let s = &db.store;
            repo(s, "acme/held", 2, false).await;
            s.tasks()
                .import(
                    "acme/held",
                    &[task("one"), task("two"), task("three")],
                    "admin",
                )
                .await
                .expect("import");
            let w = register(s, worker_input("w", &[], 10, 3)).await;
            // Through the grouped door (the HTTP path) and through a plain transaction alike.
            let first = claim(s, &w).await.expect("first lease");
            let request = owp::store::StatusRequest {
                task_id: first.task.task_id.clone(),
                to: TaskStatus::Merged,
                artifact: None,
                note: None,
            };
            let err = s.worker_ops().status(&w, request).await.unwrap_err();
            assert_eq!(code_of(&err), "not_allowed", "{}", db.label);
            let t = open_pr(s, &w, &first.task.task_id).await;
            let err = set_status(s, &w, &t.id, TaskStatus::Merged, None)
                .await
                .unwrap_err();
            assert_eq!(code_of(&err), "not_allowed", "{}", db.label);
            assert_eq!(
                s.tasks().get(&t.id).await.unwrap().unwrap().status,
                TaskStatus::PrOpened
            );
            assert_eq!(repo_figures(s, "acme/held").await, (1, 0), "{}", db.label);

            // The second task: its holder says it is blocked. It still takes a review slot.
            let second = claim(s, &w).await.expect("second lease");
            let request = owp::store::StatusRequest {
                task_id: second.task.task_id.clone(),
                to: TaskStatus::Blocked,
                artifact: None,
                note: Some("the spec is unclear".into()),
            };
            let blocked = s.worker_ops().status(&w, request).await.expect("blocked");
            assert!(blocked.awaits_maintainer, "{}", db.label);
            assert_eq!(
                blocked.status_reason.as_deref(),
                Some("the spec is unclear")
            );
            assert_eq!(repo_figures(s, "acme/held").await, (2, 0), "{}", db.label);
            let policy = s.repos().get("acme/held").await.unwrap().unwrap().to_api();
            assert!(policy.throttled, "{}", db.label);
            assert!(claim(s, &w).await.is_none(), "{}: budget full", db.label);

            // The admin moves it on: the slot is free again, and the third task can be claimed.
            let back = admin_status(s, &second.task.task_id, TaskStatus::Ready).await;
            assert!(!back.awaits_maintainer);
            assert_eq!(repo_figures(s, "acme/held").await, (1, 0), "{}", db.label);
            let again = claim(s, &w).await.expect("a slot is free again");
            assert_eq!(repo_figures(s, "acme/held").await, (1, 1), "{}", db.label);

            // An admin's own `blocked` waits for nobody: it takes no slot.
            admin_status(s, &first.task.task_id, TaskStatus::Merged).await;
            admin_status(s, &again.task.task_id, TaskStatus::Blocked).await;
            assert_eq!(repo_figures(s, "acme/held").await, (0, 0), "{}", db.label);
        },
    )
    .await;
}
