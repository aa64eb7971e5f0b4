//! The storage layer told as stories, run against every backend from the same code: SQLite always,
//! and PostgreSQL when `OWP_TEST_DATABASE_URL` names a server (each test then gets a fresh database,
//! dropped at the end).

use crate::store_support::*;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use owp::domain::{Lease, Priority, TaskStatus, Visibility, WorkerStatus};
use owp::store::repos::RepoUpsert;
use owp::store::rows::{TaskRow, WorkerRow};
use owp::store::tasks::TaskInput;
use owp::store::{Backend, NewEvent, Store, StoreError, Timing};

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
                .upsert_repo(&upsert("acme/closed"), "admin")
                .await
                .unwrap();
            assert!(row.private, "{}: private by default", db.label);
            assert_eq!(row.to_api().visibility, Visibility::Private);
            let (row, _) = s
                .upsert_repo_with(&upsert("acme/open"), Some(Visibility::Public), "admin")
                .await
                .unwrap();
            assert!(!row.private);
            // An update without a visibility keeps it.
            let (row, created) = s.upsert_repo(&upsert("acme/open"), "admin").await.unwrap();
            assert!(!created && !row.private, "{}: kept public", db.label);

            s.import_tasks("acme/open", &[task("open work")], "admin")
                .await
                .unwrap();
            s.import_tasks("acme/closed", &[task("closed work")], "admin")
                .await
                .unwrap();
            // A worker's registration names no repository: not on the public board.
            s.register_worker(&worker_input("w", &[], 5, 5))
                .await
                .unwrap();
            let board = s.public_board(100).await.unwrap();
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
                tx.set_repo_visibility("acme/closed", Visibility::Public, "github:octo")
                    .await
                    .unwrap()
            );
            assert!(
                !tx.set_repo_visibility("acme/closed", Visibility::Public, "github:octo")
                    .await
                    .unwrap(),
                "no change, no event"
            );
            assert!(
                !tx.set_repo_visibility("acme/unknown", Visibility::Public, "github:octo")
                    .await
                    .unwrap(),
                "an unknown repository is left alone"
            );
            tx.commit().await.unwrap();
            let public = s.public_repo_names().await.unwrap();
            assert_eq!(
                public,
                HashSet::from(["acme/open".to_string(), "acme/closed".to_string()])
            );
            let mut tx = s.begin().await.unwrap();
            tx.set_repo_visibility("acme/closed", Visibility::Private, "github:octo")
                .await
                .unwrap();
            tx.commit().await.unwrap();
            let board = s.public_board(100).await.unwrap();
            assert_eq!(board.tasks.len(), 1, "{}", db.label);
            let updates: Vec<_> = s
                .recent_events(100)
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
                .upsert_repo(
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
                .upsert_repo(
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
                .import_tasks("acme/app", &[a.clone(), b], "admin")
                .await
                .unwrap();
            assert_eq!(first.len(), 2);
            assert!(first.iter().all(|t| t.status == TaskStatus::Ready));
            assert!(first[0].seq < first[1].seq, "list order is creation order");
            assert_eq!(first[0].extensions["x_origin"], json!({"n": 1}));

            a.title = "first, edited".into();
            a.priority = Priority::Critical;
            let again = s.import_tasks("acme/app", &[a], "admin").await.unwrap();
            assert_eq!(again[0].id, first[0].id, "same key, same task");
            assert_eq!(again[0].title, "first, edited");
            assert_eq!(again[0].priority, Priority::Critical);
            let all = s.tasks(&Default::default()).await.unwrap();
            assert_eq!(all.len(), 2, "{}: re-import never duplicates", db.label);

            let missing = s.import_tasks("nope/none", &[task("x")], "admin").await;
            assert!(matches!(
                missing,
                Err(StoreError::NotFound {
                    code: "repo_not_found",
                    ..
                })
            ));
            let mut bad = task("bad");
            bad.estimate_points = 0;
            let invalid = s.import_tasks("acme/app", &[bad], "admin").await;
            assert!(matches!(invalid, Err(StoreError::Invalid { .. })));
            // A failed import left nothing behind.
            assert_eq!(s.tasks(&Default::default()).await.unwrap().len(), 2);
            // Text a backend cannot store is the caller's mistake (PostgreSQL refuses NUL
            // characters, SQLite would keep them): both refuse it alike, before any statement.
            let nul = s
                .import_tasks("acme/app", &[task("nul \0 inside")], "admin")
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
            let lookup = s.task("t_\0").await;
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
            .import_tasks(
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
                    let r = tx.claim_task(&worker, &task).await;
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
        s.import_tasks("r/main", &[low, high1, high2], "admin")
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
        let w_row = s.worker(&w.id).await.unwrap().unwrap();
        assert_eq!((w_row.active_points, w_row.active_tasks), (0, 0), "{label}");

        // Rule 3: skills, case-insensitive.
        let mut rusty = task("needs rust");
        rusty.required_skills = vec!["Rust".into()];
        s.import_tasks("r/main", &[rusty], "admin").await.unwrap();
        let docs = register(s, worker_input("docs", &["docs"], 10, 10)).await;
        assert!(claim(s, &docs).await.is_none(), "{label}: missing skill");
        let rust = register(s, worker_input("rust", &["RUST", "docs"], 10, 10)).await;
        let l = claim(s, &rust).await.expect("rust worker gets it");
        admin_status(s, &l.task.task_id, TaskStatus::Cancelled).await;

        // Rule 7: tier ≤ trust level.
        let mut risky = task("risky");
        risky.tier = 2;
        s.import_tasks("r/main", &[risky], "admin").await.unwrap();
        assert!(claim(s, &w).await.is_none(), "{label}: tier above trust");
        update_worker(s, &w.id, Some(2), None).await;
        let w = s.worker(&w.id).await.unwrap().unwrap();
        let l = claim(s, &w).await.expect("trusted now");
        admin_status(s, &l.task.task_id, TaskStatus::Cancelled).await;

        // Rule 2: a paused worker gets nothing.
        s.import_tasks("r/main", &[task("plain")], "admin")
            .await
            .unwrap();
        update_worker(s, &w.id, None, Some(WorkerStatus::Paused)).await;
        let paused = s.worker(&w.id).await.unwrap().unwrap();
        assert!(claim(s, &paused).await.is_none(), "{label}: paused");
        update_worker(s, &w.id, None, Some(WorkerStatus::Idle)).await;

        // Rule 4: capacity points and concurrent tasks.
        let small = register(s, worker_input("small", &[], 2, 1)).await;
        let mut big = task("big");
        big.estimate_points = 3;
        big.priority = Priority::Critical;
        s.import_tasks("r/main", &[big], "admin").await.unwrap();
        let l = claim(s, &small).await.expect("small gets the plain task");
        assert_eq!(
            l.task.title, "plain",
            "{label}: the 3-point task does not fit 2 points"
        );
        s.import_tasks("r/main", &[task("another")], "admin")
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
        s.import_tasks("r/main", &[task("nackable")], "admin")
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
        s.import_tasks("r/main", &[a1, a2], "admin").await.unwrap();
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
        s.import_tasks("r/tight", &[task("t1"), task("t2"), task("t3")], "admin")
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
        let w_row = s.worker(&small.id).await.unwrap().unwrap();
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
                .import_tasks("r/life", &[task("one")], "admin")
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.id)
                .collect();
            let w = register(s, worker_input("w", &[], 5, 2)).await;
            let stranger = register(s, worker_input("stranger", &[], 5, 2)).await;
            let before = s.last_event_id().await.unwrap();
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
                    let r = tx.renew(&w.id, &lease.lease_id).await;
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
            let w_row = s.worker(&w.id).await.unwrap().unwrap();
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
            let events = s.events_after(before, 100).await.unwrap();
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
            assert_eq!(s.last_event_id().await.unwrap(), events.last().unwrap().id);

            // The bounded look-ups into a task's history (lead times) read the same events as
            // the whole history: its first event, and the newest ones below a given id.
            let history = s.task_events(&ids[0]).await.unwrap();
            let kinds: Vec<&str> = history.iter().map(|e| e.kind.as_str()).collect();
            assert_eq!(kinds[0], "task.created", "{label}: {kinds:?}");
            let first = s.first_task_event(&ids[0]).await.unwrap().expect("first");
            assert_eq!(first.id, history[0].id, "{label}");
            let merged_id = history.last().unwrap().id;
            let before = s.task_events_before(&ids[0], merged_id, 2).await.unwrap();
            let n = history.len();
            let expected: Vec<i64> = vec![history[n - 2].id, history[n - 3].id];
            assert_eq!(
                before.iter().map(|e| e.id).collect::<Vec<_>>(),
                expected,
                "{label}: newest first, below the given id"
            );
            assert_eq!(before[0].data["status"], "pr_opened", "{label}");
            let all_before = s.task_events_before(&ids[0], merged_id, 100).await.unwrap();
            assert_eq!(all_before.len(), n - 1, "{label}");
            assert!(s.first_task_event("t_none").await.unwrap().is_none());
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
            let id = s.import_tasks("r/exp", &[t], "admin").await.unwrap()[0]
                .id
                .clone();
            let w = register(s, worker_input("w", &[], 5, 2)).await;

            let first = claim(s, &w).await.expect("lease 1");
            assert!(s.next_deadline().await.unwrap().is_some());
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
            let t = s.task(&id).await.unwrap().unwrap();
            assert_eq!((t.status, t.attempts), (TaskStatus::Ready, 1), "{label}");
            assert_eq!(
                repo_figures(s, "r/exp").await,
                (0, 0),
                "{label}: budget released"
            );
            let w_row = s.worker(&w.id).await.unwrap().unwrap();
            assert_eq!((w_row.active_points, w_row.active_tasks), (0, 0));

            // The second expiry is found by the sweep, and blocks the task (max_attempts = 2).
            let second = claim(s, &w).await.expect("lease 2 (area lock released)");
            assert_eq!(second.task.task_id, id);
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let n = s.expire_due().await.unwrap();
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
            let t = s.task(&id).await.unwrap().unwrap();
            assert_eq!((t.status, t.attempts), (TaskStatus::Blocked, 2), "{label}");
            assert!(t.status_reason.is_some());
            assert_eq!(s.expire_due().await.unwrap(), 0);
            assert!(s.next_deadline().await.unwrap().is_none());
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
        .import_tasks("r/held", &[task("held")], "admin")
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
    assert_eq!(s.sweep_expired().await.unwrap(), 0, "the sweep skips it");
    let request = tokio::spawn({
        let s = s.clone();
        async move { s.expire_due().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!request.is_finished(), "the request waits for the holder");
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    assert_eq!(request.await.unwrap().unwrap(), 1);
    let t = s.task(&id).await.unwrap().unwrap();
    assert_eq!((t.status, t.attempts), (TaskStatus::Ready, 1));
    assert_eq!(repo_figures(s, "r/held").await, (0, 0));
    db.store.close().await;
}

/// Two stores on one database (two processes, in effect) racing claims through the general
/// claim of a write transaction: every task goes to one worker, and no budget, area lock or
/// capacity is ever exceeded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_claims_from_two_stores_keep_every_rule() {
    on_each_backend(
        "racing_claims_from_two_stores_keep_every_rule",
        fast_timing(),
        |db| racing_claims(db, false),
    )
    .await;
}

/// The same race through the path of a worker's request (`Store::claim_for`): write groups on
/// SQLite, one statement per claim on PostgreSQL, which must lose its races (the last review
/// slot, a taken area) without breaking a rule. A quarter of the workers claim tasks by name
/// meanwhile (as `/owp claim` comments do), which takes its locks in another order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_requests_from_two_stores_keep_every_rule() {
    on_each_backend(
        "racing_requests_from_two_stores_keep_every_rule",
        fast_timing(),
        |db| racing_claims(db, true),
    )
    .await;
}

/// A named claim (`/owp claim`) of one of the ready tasks, tried from the `from`-th on; a
/// refusal or a lost race tries the next.
async fn claim_by_name(store: &Store, worker: &WorkerRow, from: usize) -> Option<Lease> {
    let tasks = store.tasks(&Default::default()).await.expect("tasks");
    let ready: Vec<&TaskRow> = tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Ready)
        .collect();
    for k in 0..ready.len().min(8) {
        let task_id = &ready[(from + k) % ready.len()].id;
        let named = store
            .write(|mut tx| async move {
                let r = tx.claim_task(&worker.id, task_id).await;
                (tx, r)
            })
            .await;
        match named {
            Ok(lease) => return Some(lease),
            Err(StoreError::Refused(_) | StoreError::Conflict { .. }) => continue,
            Err(e) => panic!("named claim: {e}"),
        }
    }
    None
}

async fn racing_claims(db: TestDb, requests: bool) {
    let label = db.label;
    let a = db.store.clone();
    let b = db.replica().await;
    repo(&a, "race/one", 3, true).await;
    repo(&a, "race/two", 100, true).await;
    let mut inputs = Vec::new();
    for i in 0..60 {
        let mut t = task(&format!("t{i}"));
        t.area = (i % 3 == 0).then(|| format!("area{}", i % 4));
        t.estimate_points = 1 + (i % 2);
        inputs.push(t);
    }
    a.import_tasks("race/one", &inputs[..30], "admin")
        .await
        .unwrap();
    a.import_tasks("race/two", &inputs[30..], "admin")
        .await
        .unwrap();
    let mut workers = Vec::new();
    for i in 0..16 {
        workers.push(register(&a, worker_input(&format!("w{i}"), &[], 3, 2)).await);
    }
    let stores = [a.clone(), b.clone()];
    let granted = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let barrier = Arc::new(tokio::sync::Barrier::new(workers.len()));
    let mut handles = Vec::new();
    for (i, w) in workers.iter().cloned().enumerate() {
        let store = stores[i % 2].clone();
        let granted = granted.clone();
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            for _ in 0..4 {
                let lease = if !requests {
                    claim(&store, &w).await
                } else if i % 4 != 0 {
                    store.claim_for(&w).await.expect("claim").0
                } else {
                    claim_by_name(&store, &w, i).await
                };
                if let Some(l) = lease {
                    granted
                        .lock()
                        .unwrap()
                        .push((l.task.task_id.clone(), w.id.clone()));
                }
            }
        }));
    }
    for h in handles {
        h.await.expect("claimer");
    }
    let granted = granted.lock().unwrap().clone();
    let unique: HashSet<&String> = granted.iter().map(|(t, _)| t).collect();
    assert_eq!(
        unique.len(),
        granted.len(),
        "{label}: a task was leased twice"
    );
    // No claim gave up while work it could take was ready: once the race is over, the pool
    // has nothing left for any of the workers that claimed the next task (their capacity, the
    // budget or the areas are used). Named claims try a few tasks only.
    for (i, w) in workers.iter().enumerate() {
        if requests && i % 4 == 0 {
            continue;
        }
        assert!(
            claim(&a, w).await.is_none(),
            "{label}: {} was refused during the race but could still claim ({} granted)",
            w.name,
            granted.len()
        );
    }

    let tasks = a.tasks(&Default::default()).await.unwrap();
    let repos = a.repos().await.unwrap();
    for r in &repos {
        let active = tasks
            .iter()
            .filter(|t| t.repo == r.name && t.status.is_active())
            .count() as i64;
        assert_eq!(
            active, r.active_leases,
            "{label}: {} counter drifted",
            r.name
        );
        assert!(active <= r.max_open_prs, "{label}: {} over budget", r.name);
        let mut areas = HashSet::new();
        for t in tasks
            .iter()
            .filter(|t| t.repo == r.name && t.status.holds_area())
        {
            if let Some(area) = &t.area {
                assert!(
                    areas.insert(area.clone()),
                    "{label}: area {area} held twice"
                );
            }
        }
    }
    for w in a.workers().await.unwrap() {
        let mine: Vec<&TaskRow> = tasks
            .iter()
            .filter(|t| t.worker_id.as_deref() == Some(w.id.as_str()) && t.status.is_active())
            .collect();
        let points: i64 = mine.iter().map(|t| t.estimate_points).sum();
        assert_eq!(
            points, w.active_points,
            "{label}: points counter of {}",
            w.name
        );
        assert!(
            points <= w.capacity_points,
            "{label}: {} over capacity",
            w.name
        );
        assert!(mine.len() as i64 <= w.max_concurrent_tasks);
    }
    // Every lease granted has its audit event (read up to the log's current horizon).
    a.event_horizon().await.unwrap();
    let leased = a
        .events_after(0, 10_000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == "task.leased")
        .count();
    assert_eq!(leased, granted.len(), "{label}: task.leased events");
    b.close().await;
    db.store.close().await;
}

/// Readers that continue after the last event id they saw never miss an event, even when
/// transactions commit out of id order (PostgreSQL) or roll back after drawing an id.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn event_readers_never_skip_an_event() {
    on_each_backend(
        "event_readers_never_skip_an_event",
        fast_timing(),
        |db| async move {
            let label = db.label;
            let s = db.store.clone();
            let start = s.last_event_id().await.unwrap();
            if s.backend() == Backend::Postgres {
                use sqlx::Connection;
                // A writer that has drawn an event id but not committed yet…
                let mut slow = sqlx::postgres::PgConnection::connect(&db.url)
                    .await
                    .unwrap();
                let mut slow_tx = slow.begin().await.unwrap();
                let held: i64 = sqlx::query_scalar(
                "INSERT INTO events (kind, at, actor) VALUES ('test.slow', 0, 'test') RETURNING id",
            )
            .fetch_one(&mut *slow_tx)
            .await
            .unwrap();
                // …and one that drew an id and rolled back.
                let mut gone = sqlx::postgres::PgConnection::connect(&db.url)
                    .await
                    .unwrap();
                let mut gone_tx = gone.begin().await.unwrap();
                let lost: i64 = sqlx::query_scalar(
                "INSERT INTO events (kind, at, actor) VALUES ('test.gone', 0, 'test') RETURNING id",
            )
            .fetch_one(&mut *gone_tx)
            .await
            .unwrap();
                gone_tx.rollback().await.unwrap();
                // A later transaction commits first.
                let mut tx = s.begin().await.unwrap();
                tx.event(NewEvent::new("test.fast", "test"));
                let fast = tx.commit().await.unwrap()[0].id;
                assert!(held < lost && lost < fast);
                assert!(
                    s.last_event_id().await.unwrap() < held,
                    "{label}: the horizon passed an id still being committed"
                );
                assert!(s.events_after(start, 100).await.unwrap().is_empty());
                slow_tx.commit().await.unwrap();
                let deadline = Instant::now() + Duration::from_secs(5);
                while s.last_event_id().await.unwrap() < fast {
                    assert!(
                        Instant::now() < deadline,
                        "{label}: the horizon never passed the rollback"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let ids: Vec<i64> = s
                    .events_after(start, 100)
                    .await
                    .unwrap()
                    .iter()
                    .map(|e| e.id)
                    .collect();
                assert_eq!(ids, vec![held, fast], "{label}");
            }

            // Many concurrent writers on two stores; a reader following the log sees each exactly once.
            let b = db.replica().await;
            let from = s.last_event_id().await.unwrap();
            let writers: Vec<_> = (0..8)
                .map(|i| {
                    let store = if i % 2 == 0 { s.clone() } else { b.clone() };
                    tokio::spawn(async move {
                        let mut ids = Vec::new();
                        for _ in 0..25 {
                            let mut tx = store.begin().await.unwrap();
                            tx.event(NewEvent::new("test.burst", "test"));
                            ids.push(tx.commit().await.unwrap()[0].id);
                        }
                        ids
                    })
                })
                .collect();
            let reader = {
                let s = b.clone();
                tokio::spawn(async move {
                    let mut last = from;
                    let mut seen = Vec::new();
                    let deadline = Instant::now() + Duration::from_secs(20);
                    while seen.len() < 200 && Instant::now() < deadline {
                        for e in s.events_after(last, 50).await.unwrap() {
                            assert!(e.id > last);
                            last = e.id;
                            seen.push(e.id);
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    seen
                })
            };
            let mut written = Vec::new();
            for w in writers {
                written.extend(w.await.unwrap());
            }
            let seen = reader.await.unwrap();
            written.sort();
            assert_eq!(
                seen, written,
                "{label}: the reader missed or repeated events"
            );
            b.close().await;
            db.store.close().await;
        },
    )
    .await;
}

/// A scheduled job's slot is taken by exactly one caller, across stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_slots_run_once() {
    on_each_backend("job_slots_run_once", fast_timing(), |db| async move {
        let b = db.replica().await;
        let a = db.store.clone();
        for slot in 1..=5 {
            let (x, y) = tokio::join!(
                a.claim_job_slot("reconcile", slot),
                b.claim_job_slot("reconcile", slot)
            );
            let won = [x.unwrap(), y.unwrap()];
            assert_eq!(
                won.iter().filter(|w| **w).count(),
                1,
                "{}: slot {slot}",
                db.label
            );
        }
        assert!(
            !a.claim_job_slot("reconcile", 3).await.unwrap(),
            "an old slot is gone"
        );
        assert!(
            a.claim_job_slot("other", 3).await.unwrap(),
            "jobs are independent"
        );
        b.close().await;
        db.store.close().await;
    })
    .await;
}

/// The code of a store error, for assertions.
fn code_of(e: &StoreError) -> &'static str {
    match e {
        StoreError::NotFound { code, .. }
        | StoreError::Conflict { code, .. }
        | StoreError::Forbidden { code, .. }
        | StoreError::Invalid { code, .. } => code,
        other => panic!("unexpected error {other:?}"),
    }
}

/// Claims, acks and status moves that arrive together share one transaction on SQLite (a write
/// group): every rule still holds as if each ran alone, every caller gets its own answer, and an
/// operation off its plain path (unknown lease, another worker's task, no PR URL) gets its own
/// error without disturbing the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operations_arriving_together_keep_every_rule_and_get_their_own_answers() {
    on_each_backend(
        "operations_arriving_together",
        fast_timing(),
        |db| async move {
            grouped_story(&db).await;
            // Without a change hook, SQLite's groups run on the direct connection.
            match db.store.backend() {
                Backend::Sqlite => assert!(db.store.direct_groups() > 0),
                Backend::Postgres => assert_eq!(db.store.direct_groups(), 0),
            }
        },
    )
    .await;
}

/// A change hook that records the events of every transaction it joins.
#[derive(Default)]
struct RecordingHook {
    seen: std::sync::Mutex<Vec<(i64, String)>>,
}

impl owp::store::ChangeHook for RecordingHook {
    fn before_commit<'a>(
        &'a self,
        conn: &'a mut sqlx::AnyConnection,
        events: &'a [owp::domain::Event],
    ) -> futures_util::future::BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            // The hook writes in the transaction it joins: the events it is told of are there.
            let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
            for id in &ids {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE id = $1")
                    .bind(*id)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(StoreError::Db)?;
                assert_eq!(n, 1, "event {id} is in the hook's transaction");
            }
            let mut seen = self.seen.lock().unwrap();
            seen.extend(events.iter().map(|e| (e.id, e.kind.clone())));
            Ok(())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_hook_joins_every_transaction_of_a_group() {
    on_each_backend("hook_joins_groups", fast_timing(), |db| async move {
        let hook = Arc::new(RecordingHook::default());
        db.store.add_hook(hook.clone());
        grouped_story(&db).await;
        // The hook saw every task event that committed, each once.
        let committed: Vec<(i64, String)> = db
            .store
            .events_after(0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind.starts_with("task.") || e.kind.starts_with("lease."))
            .map(|e| (e.id, e.kind))
            .collect();
        // (A transaction run again after a transient failure shows the hook its events twice,
        // once with the ids of the attempt that rolled back.)
        let seen: HashSet<(i64, String)> = hook.seen.lock().unwrap().iter().cloned().collect();
        // 12 tasks created, and in each of 5 rounds at least one lease, ack, PR and requeue.
        assert!(
            committed.len() >= 32,
            "{}: {} events",
            db.label,
            committed.len()
        );
        for event in &committed {
            assert!(seen.contains(event), "{}: the hook saw {event:?}", db.label);
        }
        // A hook cannot join the direct connection's transactions: groups ran through sqlx.
        assert_eq!(db.store.direct_groups(), 0, "{}", db.label);
    })
    .await;
}

/// Rounds of simultaneous claims, acks and status moves, with refusals mixed in; asserts every
/// rule and each caller's own answer.
async fn grouped_story(db: &TestDb) {
    use futures_util::future::join_all;
    let s = &db.store;
    let label = db.label;
    repo(s, "r/group", 6, true).await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let mut t = task(&format!("group task {i}"));
        if i < 4 {
            t.area = Some("docs".into());
        }
        if i % 3 == 2 {
            t.required_skills = vec!["rust".into()];
        }
        tasks.push(t);
    }
    s.import_tasks("r/group", &tasks, "admin").await.unwrap();
    let mut workers = Vec::new();
    for i in 0..16 {
        let skills: &[&str] = if i % 2 == 0 { &["rust"] } else { &["docs"] };
        workers.push(register(s, worker_input(&format!("g{i}"), skills, 5, 1)).await);
    }

    let mut grouped = s.grouped_operations();
    for round in 0..5 {
        // 16 claims at once, over a budget of 6 and an area lock on `docs`.
        let claims = join_all(workers.iter().map(|w| s.claim_for(w))).await;
        let mut held: Vec<(&WorkerRow, Lease)> = Vec::new();
        for (w, c) in workers.iter().zip(claims) {
            if let (Some(lease), _) = c.expect("claim") {
                held.push((w, lease));
            }
        }
        let (open, active) = repo_figures(s, "r/group").await;
        assert_eq!(active, held.len() as i64, "{label}: leases are counted");
        assert!(
            open + active <= 6,
            "{label}: the budget holds ({open} + {active})"
        );
        let ids: HashSet<&str> = held.iter().map(|(_, l)| l.task.task_id.as_str()).collect();
        assert_eq!(ids.len(), held.len(), "{label}: no task is leased twice");
        let docs = held
            .iter()
            .filter(|(_, l)| l.task.area.as_deref() == Some("docs"));
        assert!(docs.count() <= 1, "{label}: the area lock holds");
        for (w, l) in &held {
            for skill in &l.task.required_skills {
                assert!(w.skills.contains(skill), "{label}: skills match");
            }
        }
        assert!(!held.is_empty(), "{label}: round {round} leased nothing");

        // Acks together, with one for an unknown lease and one by the wrong worker.
        let (stranger, _) = held[0];
        let mut acks: Vec<_> = held
            .iter()
            .map(|(w, l)| s.ack_for(w, &l.lease_id))
            .collect();
        acks.push(s.ack_for(stranger, "l_unknown"));
        if held.len() > 1 {
            acks.push(s.ack_for(stranger, &held[1].1.lease_id));
        }
        let mut answers = join_all(acks).await.into_iter();
        for (_, l) in &held {
            let t = answers.next().unwrap().expect("ack");
            assert_eq!(t.id, l.task.task_id, "{label}: each ack gets its own task");
            assert_eq!(t.status, TaskStatus::InProgress);
        }
        let unknown = answers.next().unwrap().unwrap_err();
        assert_eq!(code_of(&unknown), "lease_not_found", "{label}");
        if held.len() > 1 {
            let other = answers.next().unwrap().unwrap_err();
            assert_eq!(code_of(&other), "not_lease_holder", "{label}");
        }

        // Status moves together: every holder opens a PR, except that the first one
        // forgets the URL in a first attempt, and a stranger tries to move a task.
        let move_of = |l: &Lease, url: bool| owp::store::StatusRequest {
            task_id: l.task.task_id.clone(),
            to: TaskStatus::PrOpened,
            artifact: Some(if url {
                json!({"pr_url": format!("https://example.invalid/pr/{}", l.task.task_id)})
            } else {
                json!({})
            }),
            note: None,
        };
        let mut moves: Vec<_> = held
            .iter()
            .skip(1)
            .map(|(w, l)| s.status_for(w, move_of(l, true)))
            .collect();
        moves.push(s.status_for(held[0].0, move_of(&held[0].1, false)));
        let outsider = workers
            .iter()
            .find(|w| held.iter().all(|(h, _)| h.id != w.id))
            .expect("a worker without a lease");
        moves.push(s.status_for(outsider, move_of(&held[0].1, true)));
        let mut answers = join_all(moves).await.into_iter();
        for (_, l) in held.iter().skip(1) {
            let t = answers.next().unwrap().expect("pr_opened");
            assert_eq!(t.id, l.task.task_id, "{label}: each move gets its own task");
            assert_eq!(t.status, TaskStatus::PrOpened);
        }
        let no_url = answers.next().unwrap().unwrap_err();
        assert_eq!(code_of(&no_url), "missing_pr_url", "{label}");
        let outsider_err = answers.next().unwrap().unwrap_err();
        assert_eq!(code_of(&outsider_err), "not_lease_holder", "{label}");
        open_pr(s, held[0].0, &held[0].1.task.task_id).await;
        let (open, active) = repo_figures(s, "r/group").await;
        assert_eq!(
            (open, active),
            (held.len() as i64, 0),
            "{label}: PRs are counted"
        );

        // The maintainer closes the PRs: the tasks go back to the queue.
        for (_, l) in &held {
            admin_status(s, &l.task.task_id, TaskStatus::Ready).await;
        }
        assert_eq!(repo_figures(s, "r/group").await, (0, 0), "{label}");
    }

    // Every change has its audit event.
    let events = s.events_after(0, 10_000).await.unwrap();
    let leased = events.iter().filter(|e| e.kind == "task.leased").count();
    let moved = events
        .iter()
        .filter(|e| e.kind == "task.status" && e.data["status"] == "pr_opened")
        .count();
    assert_eq!(leased, moved, "{label}: one pr_opened per lease");
    grouped = s.grouped_operations() - grouped;
    match db.store.backend() {
        Backend::Sqlite => assert!(grouped > 0, "{label}: some operations were grouped"),
        Backend::Postgres => assert_eq!(grouped, 0),
    }
}

/// A PostgreSQL store keeps at most the connections it was opened with (`OWP_DATABASE_POOL`):
/// replicas add theirs up on the database server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_store_keeps_the_pool_it_was_given() {
    let Some(db) = TestDb::postgres(fast_timing()).await else {
        return;
    };
    let small = Store::open_with(&db.url, fast_timing(), 3).await.unwrap();
    assert_eq!(small.read_pool().options().get_max_connections(), 3);
    // Work that wants more connections than that still completes, through the three.
    repo(&small, "pool/one", 50, false).await;
    let w = register(&small, worker_input("pooled", &[], 50, 50)).await;
    let tasks: Vec<TaskInput> = (0..20).map(|i| task(&format!("p{i}"))).collect();
    small
        .import_tasks("pool/one", &tasks, "admin")
        .await
        .unwrap();
    let claims = futures_util::future::join_all((0..20).map(|_| small.claim_for(&w))).await;
    let leased = claims
        .into_iter()
        .filter(|c| c.as_ref().expect("claim").0.is_some())
        .count();
    assert_eq!(leased, 20);
    assert!(small.read_pool().size() <= 3);
    small.close().await;
    db.store.close().await;
}

/// PostgreSQL: a claim that has not committed yet holds only the task it took (and its
/// repository's budget row). Another process's claim meanwhile gets a ready task of another
/// repository, not "nothing is ready". (On SQLite the second claim waits for the first, so the
/// story needs PostgreSQL.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_in_flight_holds_only_the_task_it_takes() {
    let Some(db) = TestDb::postgres(fast_timing()).await else {
        return;
    };
    let a = db.store.clone();
    let b = db.replica().await;
    // The first claim takes the one task of `flight/one` and keeps that repository's budget row
    // locked until it commits; the tasks of `flight/two` are free for anyone.
    repo(&a, "flight/one", 10, false).await;
    repo(&a, "flight/two", 10, false).await;
    a.import_tasks("flight/one", &[task("one")], "admin")
        .await
        .unwrap();
    let tasks: Vec<TaskInput> = (0..2).map(|i| task(&format!("two{i}"))).collect();
    a.import_tasks("flight/two", &tasks, "admin").await.unwrap();
    let first = register(&a, worker_input("first", &[], 5, 5)).await;
    let second = register(&a, worker_input("second", &[], 5, 5)).await;

    let taken = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let in_flight = {
        let (a, taken, release) = (a.clone(), taken.clone(), release.clone());
        tokio::spawn(async move {
            a.write(|mut tx| {
                let (first, taken, release) = (first.clone(), taken.clone(), release.clone());
                async move {
                    let r = tx.claim(&first).await;
                    taken.notify_one();
                    release.acquire().await.expect("release").forget();
                    (tx, r)
                }
            })
            .await
            .expect("first claim")
        })
    };
    taken.notified().await;
    let other = tokio::time::timeout(Duration::from_secs(10), claim(&b, &second))
        .await
        .expect("the second claim does not wait for the first");
    release.add_permits(1);
    let first_lease = in_flight
        .await
        .unwrap()
        .expect("the first claim took a task");
    let other = other.expect("the second claim got another ready task");
    assert_eq!(first_lease.task.repo, "flight/one");
    assert_eq!(other.task.repo, "flight/two");
    assert_eq!(repo_figures(&a, "flight/one").await, (0, 1));
    assert_eq!(repo_figures(&a, "flight/two").await, (0, 1));
    b.close().await;
    db.store.close().await;
}

/// A worker's ack and status move mark it seen when its last contact is older than the
/// granularity of presence (on PostgreSQL inside the operation's one statement), and a refused
/// operation still answers as the general code does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_mark_their_worker_seen() {
    on_each_backend(
        "requests_mark_their_worker_seen",
        fast_timing(),
        |db| async move {
            let label = db.label;
            let s = db.store.clone();
            repo(&s, "seen/one", 5, false).await;
            s.import_tasks("seen/one", &[task("seen")], "admin")
                .await
                .unwrap();
            let w = register(&s, worker_input("seen", &[], 5, 2)).await;
            let (lease, _) = s.claim_for(&w).await.unwrap();
            let lease = lease.expect("a lease");
            let seen_at = |s: Store, id: String| async move {
                s.worker(&id).await.unwrap().unwrap().last_seen_at.unwrap()
            };
            // The request is authenticated with the worker as it was read then.
            let stale = s.worker(&w.id).await.unwrap().unwrap();
            let gap = owp::store::rows::SEEN_GRANULARITY_MS as u64 + 50;
            tokio::time::sleep(Duration::from_millis(gap)).await;
            let before = seen_at(s.clone(), w.id.clone()).await;
            let acked = s.ack_for(&stale, &lease.lease_id).await.unwrap();
            assert_eq!(acked.status, TaskStatus::InProgress, "{label}");
            let after_ack = seen_at(s.clone(), w.id.clone()).await;
            assert!(after_ack > before, "{label}: the ack marked the worker seen");

            let stale = s.worker(&w.id).await.unwrap().unwrap();
            tokio::time::sleep(Duration::from_millis(gap)).await;
            let missing_url = s
                .status_for(
                    &stale,
                    owp::store::StatusRequest {
                        task_id: lease.task.task_id.clone(),
                        to: TaskStatus::PrOpened,
                        artifact: None,
                        note: None,
                    },
                )
                .await;
            assert!(
                matches!(&missing_url, Err(StoreError::Invalid { code, .. }) if *code == "missing_pr_url"),
                "{label}: {missing_url:?}"
            );
            let opened = s
                .status_for(
                    &stale,
                    owp::store::StatusRequest {
                        task_id: lease.task.task_id.clone(),
                        to: TaskStatus::PrOpened,
                        artifact: Some(json!({"pr_url": "https://example.invalid/pr/1"})),
                        note: None,
                    },
                )
                .await
                .unwrap();
            assert_eq!(opened.status, TaskStatus::PrOpened, "{label}");
            assert!(
                seen_at(s.clone(), w.id.clone()).await > after_ack,
                "{label}: the status move marked the worker seen"
            );
            let fresh = s.worker(&w.id).await.unwrap().unwrap();
            assert_eq!(fresh.active_tasks, 0, "{label}: the lease ended");
            assert_eq!(fresh.active_points, 0, "{label}");
            db.store.close().await;
        },
    )
    .await;
}

/// A worker found by its token is remembered for the next requests: with the contacts this
/// process commits, without any change committed through it since, and for a short time only
/// when the change came from another process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticated_workers_are_remembered_only_while_nothing_changed() {
    on_each_backend(
        "authenticated_workers_are_remembered_only_while_nothing_changed",
        fast_timing(),
        |db| async move {
            let label = db.label;
            let s = db.store.clone();
            repo(&s, "auth/one", 5, false).await;
            s.import_tasks("auth/one", &[task("auth")], "admin")
                .await
                .unwrap();
            let (w, token) = s
                .register_worker(&worker_input("auth", &[], 5, 2))
                .await
                .unwrap();
            let by_token = |t: String| {
                let s = s.clone();
                async move { s.worker_by_token(&t).await.unwrap() }
            };
            let read = by_token(token.clone()).await.expect("the token works");
            assert_eq!(read.id, w.id, "{label}");

            // A claim marks the worker seen: the remembered row carries that contact.
            tokio::time::sleep(Duration::from_millis(5)).await;
            let (_, seen_at) = s.claim_for(&read).await.unwrap();
            assert!(seen_at > read.last_seen_at.unwrap(), "{label}");
            let again = by_token(token.clone()).await.unwrap();
            assert_eq!(again.last_seen_at, Some(seen_at), "{label}");

            // A pause through this store is seen by the very next request.
            update_worker(&s, &w.id, None, Some(WorkerStatus::Paused)).await;
            assert!(by_token(token.clone()).await.unwrap().paused, "{label}");

            // A new token through this store: the old one stops working at once.
            let rotate = |s: Store| {
                let id = w.id.clone();
                async move {
                    s.write(|mut tx| {
                        let id = id.clone();
                        async move {
                            let r = tx.rotate_token(&id).await;
                            (tx, r)
                        }
                    })
                    .await
                    .unwrap()
                }
            };
            let second = rotate(s.clone()).await;
            assert!(by_token(token.clone()).await.is_none(), "{label}");
            assert_eq!(by_token(second.clone()).await.unwrap().id, w.id, "{label}");

            // A new token through another process: the old one stops working here within the
            // time a row is remembered.
            let other = db.replica().await;
            let third = rotate(other.clone()).await;
            tokio::time::sleep(owp::store::known_workers::MAX_AGE + Duration::from_millis(50))
                .await;
            assert!(by_token(second).await.is_none(), "{label}");
            assert_eq!(by_token(third.clone()).await.unwrap().id, w.id, "{label}");

            // A worker that asks to pause is paused, even when another process resumed it after
            // this one last read its row.
            update_worker(&other, &w.id, None, Some(WorkerStatus::Idle)).await;
            let row = by_token(third).await.unwrap();
            s.write(|mut tx| {
                let row = &row;
                async move {
                    let r = tx.heartbeat(row, true, Some(WorkerStatus::Paused)).await;
                    (tx, r)
                }
            })
            .await
            .unwrap();
            assert!(s.worker(&w.id).await.unwrap().unwrap().paused, "{label}");
            other.close().await;
            db.store.close().await;
        },
    )
    .await;
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
            s.import_tasks(
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
            let err = s.status_for(&w, request).await.unwrap_err();
            assert_eq!(code_of(&err), "not_allowed", "{}", db.label);
            let t = open_pr(s, &w, &first.task.task_id).await;
            let err = set_status(s, &w, &t.id, TaskStatus::Merged, None)
                .await
                .unwrap_err();
            assert_eq!(code_of(&err), "not_allowed", "{}", db.label);
            assert_eq!(
                s.task(&t.id).await.unwrap().unwrap().status,
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
            let blocked = s.status_for(&w, request).await.expect("blocked");
            assert!(blocked.awaits_maintainer, "{}", db.label);
            assert_eq!(
                blocked.status_reason.as_deref(),
                Some("the spec is unclear")
            );
            assert_eq!(repo_figures(s, "acme/held").await, (2, 0), "{}", db.label);
            let policy = s.repo("acme/held").await.unwrap().unwrap().to_api();
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
