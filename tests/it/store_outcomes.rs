//! Outcomes per repository (contract section 11) on every backend, from known data: tasks taken
//! through the store to merged or closed unmerged, then their claims and ends moved to chosen
//! times, so that the acceptance rate and the median lead time can be worked out by hand.

use crate::store_support::*;

use serde_json::{Map, json};
use sqlx::AnyPool;

use owp::domain::outcomes::RepoOutcomes;
use owp::domain::{Lease, TaskStatus, Visibility};
use owp::store::repos::RepoUpsert;
use owp::store::rows::WorkerRow;
use owp::store::workers::WorkerInput;
use owp::store::{Store, now_ms};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Imports one task into `repo` and lets `worker` claim it.
async fn claimed(s: &Store, repo: &str, title: &str, worker: &WorkerRow) -> Lease {
    s.tasks()
        .import(repo, &[task(title)], "admin")
        .await
        .unwrap();
    claim(s, worker).await.expect("the one ready task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acceptance_rate_and_median_lead_time_per_repository() {
    on_each_backend(
        "acceptance_rate_and_median_lead_time_per_repository",
        fast_timing(),
        |db| async move {
            let s = &db.store;
            let upsert = |name: &str| RepoUpsert {
                name: name.into(),
                max_open_prs: 10,
                area_locks_enabled: Some(false),
                extensions: Map::new(),
                ..Default::default()
            };
            s.repos()
                .upsert_with(&upsert("acme/busy"), Some(Visibility::Public), "admin")
                .await
                .unwrap();
            repo(s, "acme/private", 10, false).await;
            repo(s, "acme/quiet", 10, false).await;
            let ada = register(
                s,
                WorkerInput {
                    leaderboard_opt_in: true,
                    ..worker_input("ada", &[], 50, 50)
                },
            )
            .await;
            let bob = register(s, worker_input("bob", &[], 50, 50)).await;

            // Four merges (one of them 40 days ago), one pull request closed unmerged, and a
            // task still in progress.
            let one = claimed(s, "acme/busy", "one", &ada).await;
            // `two` is claimed by ada, given back, and claimed again by bob: its lead time
            // starts at ada's claim.
            let two_first = claimed(s, "acme/busy", "two", &ada).await;
            nack(s, &ada, &two_first).await.unwrap();
            let two = claim(s, &bob).await.expect("two again");
            assert_eq!(two.task.task_id, two_first.task.task_id);
            let three = claimed(s, "acme/busy", "three", &ada).await;
            let old = claimed(s, "acme/busy", "old", &ada).await;
            let closed = claimed(s, "acme/busy", "closed", &ada).await;
            let _open = claimed(s, "acme/busy", "open", &ada).await;
            let secret = claimed(s, "acme/private", "secret", &ada).await;
            // one says which tool made it; the others say nothing.
            let disclosed = json!({"pr_url": "https://example.invalid/pr/one",
                                   "disclosure": {"tool": "claude", "model": "opus"}});
            set_status(
                s,
                &ada,
                &one.task.task_id,
                TaskStatus::PrOpened,
                Some(disclosed),
            )
            .await
            .unwrap();
            for (lease, worker) in [
                (&two, &bob),
                (&three, &ada),
                (&old, &ada),
                (&closed, &ada),
                (&secret, &ada),
            ] {
                open_pr(s, worker, &lease.task.task_id).await;
            }
            for lease in [&one, &two, &three, &old, &secret] {
                admin_status(s, &lease.task.task_id, TaskStatus::Merged).await;
            }
            admin_status(s, &closed.task.task_id, TaskStatus::Ready).await;

            // The known times: claims and ends, relative to a moment an hour ago.
            sqlx::any::install_default_drivers();
            let pool = AnyPool::connect(&db.url).await.unwrap();
            let base = now_ms() - HOUR;
            let set_lease = |lease: &Lease, at: i64| {
                let pool = pool.clone();
                let id = lease.lease_id.clone();
                async move {
                    sqlx::query("UPDATE leases SET created_at = $1 WHERE id = $2")
                        .bind(at)
                        .bind(id)
                        .execute(&pool)
                        .await
                        .unwrap();
                }
            };
            let set_end = |lease: &Lease, at: i64| {
                let pool = pool.clone();
                let task = lease.task.task_id.clone();
                async move {
                    let done = sqlx::query("UPDATE outcomes SET at = $1 WHERE task_id = $2")
                        .bind(at)
                        .bind(task)
                        .execute(&pool)
                        .await
                        .unwrap();
                    assert!(done.rows_affected() >= 1);
                }
            };
            // one: claimed 1 h before its merge.
            set_lease(&one, base - HOUR).await;
            set_end(&one, base).await;
            // two: first claimed 5 h before the merge (bob's claim, 1 h before, is not the first).
            set_lease(&two_first, base - 5 * HOUR).await;
            set_lease(&two, base - HOUR).await;
            sqlx::query("UPDATE outcomes SET at = $1 WHERE task_id = $2 AND kind = 'merged'")
                .bind(base)
                .bind(&two.task.task_id)
                .execute(&pool)
                .await
                .unwrap();
            // three: 2 h; old: merged 40 days ago, outside the window; closed: within it.
            set_lease(&three, base - 2 * HOUR).await;
            set_end(&three, base).await;
            set_lease(&old, base - 41 * DAY).await;
            set_end(&old, base - 40 * DAY).await;
            set_end(&closed, base - DAY).await;
            set_lease(&secret, base - 3 * HOUR).await;
            set_end(&secret, base).await;

            let since = now_ms() - 30 * DAY;
            let all = s.outcomes().of_repo(since, false).await.unwrap();
            // By hand: merged one, two, three (old is outside the window) = 3; closed 1;
            // 3 / (3 + 1) = 0.75; lead times 1 h, 5 h, 2 h: median 2 h = 7200 s.
            let busy = &all["acme/busy"];
            assert_eq!(
                (busy.merged, busy.closed_unmerged),
                (3, 1),
                "{}: {busy:?}",
                db.label
            );
            assert_eq!(busy.acceptance_rate, Some(0.75), "{}", db.label);
            assert_eq!(busy.lead_time_seconds, Some(7200.0), "{}", db.label);
            // One merge of 3 h: rate 1, median 3 h.
            let private = &all["acme/private"];
            assert_eq!(
                (
                    private.merged,
                    private.acceptance_rate,
                    private.lead_time_seconds
                ),
                (1, Some(1.0), Some(10_800.0)),
                "{}",
                db.label
            );
            // Nothing decided: absent, read as nulls.
            assert!(!all.contains_key("acme/quiet"), "{}: {all:?}", db.label);
            let quiet = RepoOutcomes::empty();
            assert_eq!(
                (quiet.acceptance_rate, quiet.lead_time_seconds),
                (None, None)
            );
            // Public only: the private repository's figures are not read.
            let public = s.outcomes().of_repo(since, true).await.unwrap();
            let names: Vec<&String> = public.keys().collect();
            assert_eq!(names, ["acme/busy"], "{}", db.label);
            // A window of 50 days takes the old merge in: 4 merges, leads 1, 2, 5 h and 24 h:
            // the median of an even count is the mean of the middle two, (2 h + 5 h) / 2.
            let longer = s
                .outcomes()
                .of_repo(now_ms() - 50 * DAY, false)
                .await
                .unwrap();
            let busy = &longer["acme/busy"];
            assert_eq!(busy.merged, 4, "{}", db.label);
            assert_eq!(busy.acceptance_rate, Some(0.8), "{}", db.label);
            assert_eq!(busy.lead_time_seconds, Some(12_600.0), "{}", db.label);
            // The leaderboard's tools: ada's merged work disclosed one tool; bob is not listed.
            let tools = s
                .outcomes()
                .leaderboard_tools(None, since, false)
                .await
                .unwrap();
            assert_eq!(tools.len(), 1, "{}: {tools:?}", db.label);
            assert_eq!(tools[&ada.id], ["claude"], "{}", db.label);
            let public = s
                .outcomes()
                .leaderboard_tools(None, since, true)
                .await
                .unwrap();
            assert_eq!(public[&ada.id], ["claude"], "{}", db.label);
            pool.close().await;
        },
    )
    .await;
}
