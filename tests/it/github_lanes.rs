//! Webhook deliveries applied side by side, each in order within its lane: the deliveries of one
//! repository one after another, an installation's own events (`installation`,
//! `installation_repositories`) between its repositories' deliveries, everything else at once —
//! across several appliers and several processes, on SQLite and PostgreSQL. A slow or failing
//! repository holds only itself; a delivery held by a process that died, or waiting for a retry,
//! holds only its own lane.

#[allow(unused_imports)]
use crate::github_support;
use crate::store_support::*;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use github_support::story::{INSTALLATION, OWNER, SETTLE, Story};
use github_support::{FailWhen, Failure};
use owp::domain::TaskStatus;
use owp::store::github::inbox::{DeliveryLane, DeliveryOutcome, InboxDelivery};
use owp::store::{Store, StoreError};
use serde_json::{Value, json};

/// Long enough that a held request is let go by its story, not by the clock.
const HELD: Duration = Duration::from_secs(120);

// --- the claim, raced by several processes ---------------------------------------------------

/// The rule the claim keeps, said once more from outside: `a` and `b` are applied one after the
/// other when they share a repository, when either spans their installation, or when either
/// names no installation.
fn same_lane(a: DeliveryLane, b: DeliveryLane) -> bool {
    a.installation.is_none()
        || b.installation.is_none()
        || (a.repo.is_some() && a.repo == b.repo)
        || (a.installation == b.installation && (a.repo.is_none() || b.repo.is_none()))
}

fn lane(installation: Option<i64>, repo: Option<i64>) -> DeliveryLane {
    DeliveryLane { installation, repo }
}

async fn store_delivery(store: &Store, id: &str, lane: DeliveryLane) {
    let now = owp::store::now_ms();
    let stored = store
        .inbox()
        .store_delivery(id, "issues", "{}", None, lane, now)
        .await
        .unwrap();
    assert!(stored, "{id} stored");
}

async fn claim_at(store: &Store, runner: &str, now: i64) -> Option<InboxDelivery> {
    store
        .inbox()
        .claim(runner, now, now + 60_000)
        .await
        .unwrap()
}

async fn claim(store: &Store, runner: &str) -> Option<InboxDelivery> {
    claim_at(store, runner, owp::store::now_ms()).await
}

async fn finish(store: &Store, seq: i64) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    tx.inbox()
        .finish(seq, DeliveryOutcome::Applied, None)
        .await?;
    tx.commit().await?;
    Ok(())
}

fn delivery_id(d: &Option<InboxDelivery>) -> Option<&str> {
    d.as_ref().map(|d| d.delivery_id.as_str())
}

/// One delivery as the racing appliers saw it: its lane, and the ticks (of one clock shared by
/// every applier) at which it was claimed and at which its transaction was about to commit.
#[derive(Clone, Copy, Debug)]
struct Seen {
    seq: i64,
    lane: DeliveryLane,
    claimed: usize,
    committing: usize,
    process: usize,
}

/// Two processes with three appliers each drain 72 deliveries of two installations, their
/// repositories interleaved, with an installation-wide delivery and one of no installation in
/// between: no delivery is claimed before every earlier one of its lane has committed, and
/// deliveries of different lanes were applied at the same time, by both processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lanes_are_applied_side_by_side_and_each_in_order_across_processes() {
    on_each_backend(
        "lanes_are_applied_side_by_side_and_each_in_order_across_processes",
        fast_timing(),
        |db| async move {
            let label = db.label;
            let stores = [db.store.clone(), db.replica().await];
            let mut lanes = std::collections::HashMap::new();
            for i in 0..72i64 {
                let l = match i {
                    25 => lane(Some(1), None),
                    47 => lane(None, None),
                    _ => {
                        let installation = 1 + i % 2;
                        lane(Some(installation), Some(installation * 100 + (i / 2) % 4))
                    }
                };
                let id = format!("d-{i}");
                store_delivery(&stores[0], &id, l).await;
                lanes.insert(id, l);
            }
            let lanes = Arc::new(lanes);
            let clock = Arc::new(AtomicUsize::new(0));
            let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
            let mut appliers = Vec::new();
            for (process, store) in stores.iter().enumerate() {
                for applier in 0..3 {
                    let store = store.clone();
                    let (lanes, clock, seen) = (lanes.clone(), clock.clone(), seen.clone());
                    appliers.push(tokio::spawn(async move {
                        let runner = format!("process-{process}");
                        let deadline = Instant::now() + Duration::from_secs(60);
                        loop {
                            assert!(Instant::now() < deadline, "{label}: not drained");
                            if seen.lock().unwrap().len() == lanes.len() {
                                return;
                            }
                            let Some(d) = claim(&store, &runner).await else {
                                tokio::time::sleep(Duration::from_millis(2)).await;
                                continue;
                            };
                            let claimed = clock.fetch_add(1, Ordering::SeqCst);
                            // Applying takes a while (GitHub is read first).
                            let pause = 2 + (d.seq as u64 * 7 + applier) % 6;
                            tokio::time::sleep(Duration::from_millis(pause)).await;
                            let committing = clock.fetch_add(1, Ordering::SeqCst);
                            seen.lock().unwrap().push(Seen {
                                seq: d.seq,
                                lane: lanes[&d.delivery_id],
                                claimed,
                                committing,
                                process,
                            });
                            finish(&store, d.seq).await.unwrap();
                        }
                    }));
                }
            }
            for a in appliers {
                a.await.unwrap();
            }
            let seen = seen.lock().unwrap().clone();
            let mut seqs: Vec<i64> = seen.iter().map(|s| s.seq).collect();
            seqs.sort();
            seqs.dedup();
            assert_eq!(seqs.len(), 72, "{label}: each delivery applied once");
            let mut side_by_side = 0;
            for a in &seen {
                for b in &seen {
                    if a.seq < b.seq && same_lane(a.lane, b.lane) {
                        assert!(
                            a.committing < b.claimed,
                            "{label}: {b:?} was claimed before {a:?}, earlier in its lane, committed"
                        );
                    }
                    if a.seq < b.seq && b.claimed < a.committing {
                        side_by_side += 1;
                    }
                }
            }
            assert!(side_by_side > 10, "{label}: only {side_by_side} overlaps");
            for process in 0..2 {
                let n = seen.iter().filter(|s| s.process == process).count();
                assert!(n > 0, "{label}: process {process} applied nothing");
            }
        },
    )
    .await;
}

/// A delivery whose process died holds its repository until its claim runs out, and one waiting
/// for a retry holds it until it is tried again: later deliveries of that repository wait, those
/// of other repositories go. After the claim runs out it is applied by another process, once.
#[tokio::test]
async fn a_delivery_held_by_a_dead_process_or_a_retry_holds_only_its_repository() {
    on_each_backend(
        "a_delivery_held_by_a_dead_process_or_a_retry_holds_only_its_repository",
        fast_timing(),
        |db| async move {
            let label = db.label;
            let (dead, alive) = (db.store.clone(), db.replica().await);
            store_delivery(&dead, "a-1", lane(Some(1), Some(10))).await;
            store_delivery(&dead, "b-1", lane(Some(1), Some(20))).await;
            store_delivery(&dead, "a-2", lane(Some(1), Some(10))).await;
            store_delivery(&dead, "c-1", lane(Some(2), Some(30))).await;
            // The first process claims a-1 and dies (its claim stays for a minute).
            let held = claim(&dead, "dead").await;
            assert_eq!(delivery_id(&held), Some("a-1"), "{label}");
            drop(dead);
            // The other applies the other repositories, never a-2.
            let mut went = Vec::new();
            while let Some(d) = claim(&alive, "alive").await {
                went.push(d.delivery_id.clone());
                finish(&alive, d.seq).await.unwrap();
            }
            assert_eq!(went, ["b-1", "c-1"], "{label}");
            // The claim runs out: a-1 is applied by the living process, then a-2.
            let later = owp::store::now_ms() + 61_000;
            let retried = claim_at(&alive, "alive", later).await.expect("a-1 again");
            assert_eq!(
                (retried.delivery_id.as_str(), retried.attempts),
                ("a-1", 2),
                "{label}"
            );
            // GitHub fails it: it waits a while for its retry, and a-2 waits with it.
            alive
                .inbox()
                .retry(retried.seq, Some(later + 30_000), "GitHub failed")
                .await
                .unwrap();
            assert!(claim_at(&alive, "alive", later).await.is_none(), "{label}");
            store_delivery(&alive, "b-2", lane(Some(1), Some(20))).await;
            let other = claim_at(&alive, "alive", later).await;
            assert_eq!(delivery_id(&other), Some("b-2"), "{label}");
            finish(&alive, other.unwrap().seq).await.unwrap();
            let again = claim_at(&alive, "alive", later + 30_000).await;
            assert_eq!(delivery_id(&again), Some("a-1"), "{label}");
            finish(&alive, again.unwrap().seq).await.unwrap();
            let next = claim_at(&alive, "alive", later + 30_000).await;
            assert_eq!(delivery_id(&next), Some("a-2"), "{label}");
            finish(&alive, next.unwrap().seq).await.unwrap();
            let (applied, pending): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM gh_deliveries WHERE state = 'applied'), \
                        (SELECT COUNT(*) FROM gh_deliveries WHERE state = 'pending')",
            )
            .fetch_one(alive.read_pool())
            .await
            .unwrap();
            assert_eq!((applied, pending), (5, 0), "{label}");
        },
    )
    .await;
}

/// Deliveries stored before lanes existed have none: after the upgrade they are applied one at
/// a time in the order they arrived, before anything that came after them.
#[tokio::test]
async fn deliveries_stored_before_the_upgrade_are_applied_in_arrival_order() {
    for label in ["sqlite", "postgres"] {
        let Some(db) = TestDb::upgraded(
            label,
            50,
            &["INSERT INTO gh_deliveries (delivery_id, event, body, received_at, next_attempt_at) \
               VALUES ('old-1', 'issues', '{}', 1, 1), ('old-2', 'issues', '{}', 2, 2)"],
            fast_timing(),
        )
        .await
        else {
            continue;
        };
        let store = db.store.clone();
        store_delivery(&store, "new-1", lane(Some(1), Some(10))).await;
        let mut order = Vec::new();
        while let Some(d) = claim(&store, "p").await {
            assert!(
                claim(&store, "q").await.is_none(),
                "{label}: {} and another at once",
                d.delivery_id
            );
            order.push(d.delivery_id.clone());
            finish(&store, d.seq).await.unwrap();
        }
        assert_eq!(order, ["old-1", "old-2", "new-1"], "{label}");
    }
}

// --- stories against the fake GitHub -----------------------------------------------------------

/// Counts the delivery transactions of one process that changed a task.
#[derive(Default)]
struct AppliedHere(AtomicUsize);

impl owp::store::ChangeHook for AppliedHere {
    fn before_commit(
        &self,
        events: &[owp::domain::Event],
        _shown: &[String],
    ) -> Result<(), StoreError> {
        if events.iter().any(|e| e.task_id.is_some()) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// The payload of `fixture` about issue 1 of `repo` as the fake GitHub has it now.
fn issue_payload(story: &Story, fixture: &str, repo: &str) -> Value {
    let mut payload = story.issue_payload_in(fixture, repo, 1, "maintainer");
    if fixture == "issues.labeled" {
        payload["label"]["name"] = json!("pool:ready");
    }
    payload
}

/// A new repository of the story's installation with one ready issue.
fn ready_repo(story: &Story, repo: &str) {
    story.fake.add_repo(INSTALLATION, repo);
    story.fake.create_issue(
        repo,
        "maintainer",
        "Lanes",
        "What needs doing.",
        &["pool:ready"],
    );
}

/// Sends a delivery to the process at `to` (as if GitHub's load balancer chose it) without
/// waiting for it to be applied.
async fn send_to(story: &Story, to: std::net::SocketAddr, event: &str, payload: &Value) {
    let secret = github_support::story::SECRET;
    story
        .fake
        .set_webhook_target(&format!("http://{to}/github/webhook"), secret);
    let status = story.fake.send_webhook(event, payload).await;
    assert!((200..300).contains(&status), "answered {status}");
}

/// Twelve repositories, each sent labelled → closed → reopened (→ closed for every other one),
/// interleaved, to two replicas in turn, each applying four at a time while GitHub answers
/// slowly: each task ends as its last delivery says, and its history follows the arrival order.
async fn each_repository_in_arrival_order(postgres: bool) {
    let story = Story::on(postgres, None, |c| {
        c.github.github_appliers = Some(4);
    })
    .await;
    let second = owp::server::start(story.config.clone(), false)
        .await
        .unwrap();
    second.github.wait_idle(SETTLE).await.unwrap();
    let here = [
        Arc::new(AppliedHere::default()),
        Arc::new(AppliedHere::default()),
    ];
    story.running().store.add_hook(here[0].clone());
    second.store.add_hook(here[1].clone());
    let addrs = [story.running().addr, second.addr];

    let repos: Vec<String> = (0..12).map(|i| format!("{OWNER}/lane-{i:02}")).collect();
    let mut rounds: Vec<Vec<Value>> = vec![Vec::new(); 4];
    for (i, repo) in repos.iter().enumerate() {
        ready_repo(&story, repo);
        rounds[0].push(issue_payload(&story, "issues.labeled", repo));
        story.fake.close_issue(repo, 1);
        rounds[1].push(issue_payload(&story, "issues.closed.derived", repo));
        story.fake.reopen_issue(repo, 1);
        rounds[2].push(issue_payload(&story, "issues.reopened", repo));
        if i % 2 == 1 {
            story.fake.close_issue(repo, 1);
            rounds[3].push(issue_payload(&story, "issues.closed.derived", repo));
        }
    }
    // GitHub answers every request 40 ms late.
    story.fake.delay(FailWhen::any(), Duration::from_millis(40));
    let mut sent = 0;
    for round in &rounds {
        for payload in round {
            send_to(&story, addrs[sent % 2], "issues", payload).await;
            sent += 1;
        }
    }
    story.running().github.wait_idle(SETTLE).await.unwrap();
    second.github.wait_idle(SETTLE).await.unwrap();

    let store = &story.running().store;
    for (i, repo) in repos.iter().enumerate() {
        let task = store
            .tasks()
            .by_key(repo, &format!("{repo}#1"))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{repo}: no task"));
        let last = if i % 2 == 1 {
            TaskStatus::Cancelled
        } else {
            TaskStatus::Ready
        };
        assert_eq!(task.status, last, "{repo}");
        // The task's moves, as its audit events tell them, in the order they were written.
        let moves: Vec<String> = store
            .events()
            .of_task(&task.id)
            .await
            .unwrap()
            .iter()
            .filter_map(|e| match e.kind.as_str() {
                "task.created" => Some("created".to_string()),
                "task.status" => e.data["status"].as_str().map(str::to_string),
                _ => None,
            })
            .collect();
        let mut expected = vec!["created", "cancelled", "ready"];
        if i % 2 == 1 {
            expected.push("cancelled");
        }
        assert_eq!(moves, expected, "{repo}");
    }
    let counts = [
        here[0].0.load(Ordering::SeqCst),
        here[1].0.load(Ordering::SeqCst),
    ];
    assert!(
        counts.iter().all(|n| *n > 0),
        "both replicas applied deliveries: {counts:?}"
    );
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_repository_is_applied_in_arrival_order_by_two_replicas_sqlite() {
    each_repository_in_arrival_order(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_repository_is_applied_in_arrival_order_by_two_replicas_postgres() {
    each_repository_in_arrival_order(true).await;
}

/// The state of the inbox row of a delivery about issue 1 of `repo` sent `nth` (from 0).
async fn delivery_state(story: &Story, repo: &str, nth: i64) -> String {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT state FROM gh_deliveries WHERE body LIKE '%' || $1 || '%' ORDER BY seq",
    )
    .bind(format!("\"full_name\":\"{repo}\""))
    .fetch_all(story.running().store.read_pool())
    .await
    .unwrap();
    rows.get(usize::try_from(nth).unwrap())
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

/// Waits (up to [`SETTLE`]) until `check` holds.
async fn wait_for<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + SETTLE;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn task_status(story: &Story, repo: &str) -> Option<TaskStatus> {
    story
        .running()
        .store
        .tasks()
        .by_key(repo, &format!("{repo}#1"))
        .await
        .unwrap()
        .map(|t| t.status)
}

/// GitHub answers one repository's reads 8 s late, and fails three times (retried after 1, 2
/// and 4 s) to say a maintainer's permission on another: the deliveries of the other
/// repositories are applied meanwhile; each slow or failing repository's later delivery (its
/// issue closed) waits for the one held, and ends it.
async fn slow_repositories_hold_only_themselves(postgres: bool) {
    let story = Story::on(postgres, None, |_| {}).await;
    let slow = format!("{OWNER}/slow");
    let failing = format!("{OWNER}/failing");
    let fast: Vec<String> = (0..4).map(|i| format!("{OWNER}/fast-{i}")).collect();
    for repo in fast.iter().chain([&slow, &failing]) {
        ready_repo(&story, repo);
    }
    let slow_labeled = issue_payload(&story, "issues.labeled", &slow);
    let failing_labeled = issue_payload(&story, "issues.labeled", &failing);
    // A maintainer's command on the failing repository: their permission is read from GitHub.
    let command = story.fake.add_comment(
        &failing,
        1,
        "maintainer",
        "/owp block waiting for a decision",
    );
    let failing_command = story.comment_payload(command, "created", None);
    story.fake.close_issue(&slow, 1);
    story.fake.close_issue(&failing, 1);
    let slow_closed = issue_payload(&story, "issues.closed.derived", &slow);
    let failing_closed = issue_payload(&story, "issues.closed.derived", &failing);

    // The slow repository's reads are held until the story has seen the others go by.
    let slow_reads = FailWhen::on("GET", &format!("{slow}/"));
    story.fake.delay(slow_reads.clone(), HELD);
    story.fake.fail(
        FailWhen::on("GET", &format!("{failing}/collaborators/")),
        3,
        Failure::ServerError,
    );
    let addr = story.running().addr;
    let started = Instant::now();
    send_to(&story, addr, "issues", &slow_labeled).await;
    send_to(&story, addr, "issues", &failing_labeled).await;
    send_to(&story, addr, "issue_comment", &failing_command).await;
    send_to(&story, addr, "issues", &slow_closed).await;
    send_to(&story, addr, "issues", &failing_closed).await;
    for repo in &fast {
        let labeled = issue_payload(&story, "issues.labeled", repo);
        send_to(&story, addr, "issues", &labeled).await;
    }
    // Every fast repository's task is there while the slow one is still being read and the
    // failing one waits for its retry.
    for repo in &fast {
        wait_for(&format!("{repo} applied"), || async {
            task_status(&story, repo).await == Some(TaskStatus::Ready)
        })
        .await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "the fast repositories waited {:?}",
        started.elapsed()
    );
    assert_eq!(task_status(&story, &slow).await, None);
    assert_eq!(delivery_state(&story, &slow, 0).await, "pending");
    assert_eq!(delivery_state(&story, &slow, 1).await, "pending");
    // The failing repository's first delivery went; its command waits for a retry, and its
    // closing waits behind it.
    assert_eq!(task_status(&story, &failing).await, Some(TaskStatus::Ready));
    assert_eq!(delivery_state(&story, &failing, 1).await, "pending");
    assert_eq!(delivery_state(&story, &failing, 2).await, "pending");
    story.fake.delay(slow_reads, Duration::ZERO);
    story.settle().await;
    for repo in [&slow, &failing] {
        assert_eq!(
            task_status(&story, repo).await,
            Some(TaskStatus::Cancelled),
            "{repo}: closed after it was labelled"
        );
    }
    let attempts: i64 = sqlx::query_scalar(
        "SELECT MAX(attempts) FROM gh_deliveries WHERE body LIKE '%' || $1 || '%'",
    )
    .bind(format!("\"full_name\":\"{failing}\""))
    .fetch_one(story.running().store.read_pool())
    .await
    .unwrap();
    assert_eq!(attempts, 4, "three failures, then applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_or_failing_repository_holds_only_itself_sqlite() {
    slow_repositories_hold_only_themselves(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_or_failing_repository_holds_only_itself_postgres() {
    slow_repositories_hold_only_themselves(true).await;
}

/// An installation's own event waits for the earlier deliveries of its repositories (here a
/// slow one), and its later deliveries wait for it; another installation's go meanwhile.
async fn installation_events_are_ordered_with_their_repositories(postgres: bool) {
    const OTHER: u64 = 78;
    let story = Story::on(postgres, None, |_| {}).await;
    let slow = format!("{OWNER}/slow");
    let after = format!("{OWNER}/after");
    let elsewhere = "other-org/elsewhere";
    ready_repo(&story, &slow);
    ready_repo(&story, &after);
    // Another installation, on another account.
    story.fake.install(OTHER, "other-org", &[elsewhere]);
    let mut created = github_support::story::fixture("installation.created");
    created["installation"]["id"] = json!(OTHER);
    created["installation"]["account"]["login"] = json!("other-org");
    created["repositories"] = json!([{
        "id": story.fake.repo_id(elsewhere), "node_id": "R_elsewhere", "name": "elsewhere",
        "full_name": elsewhere, "private": false
    }]);
    story.send("installation", &created).await;
    story.fake.create_issue(
        elsewhere,
        "maintainer",
        "Elsewhere",
        "What needs doing.",
        &["pool:ready"],
    );
    let mut added = github_support::story::fixture("installation_repositories.added");
    added["installation"] = json!({"id": INSTALLATION});
    added["sender"]["login"] = json!(OWNER);
    added["repositories_added"] = json!([{
        "id": story.fake.repo_id(&after), "node_id": "R_after", "name": "after",
        "full_name": after, "private": false
    }]);
    added["repositories_removed"] = json!([]);
    let mut other = issue_payload(&story, "issues.labeled", elsewhere);
    other["installation"]["id"] = json!(OTHER);

    // The slow repository's reads are held until the story has seen the others go by.
    let slow_reads = FailWhen::on("GET", &format!("{slow}/"));
    story.fake.delay(slow_reads.clone(), HELD);
    let addr = story.running().addr;
    let [slow_labeled, after_labeled] =
        [&slow, &after].map(|repo| issue_payload(&story, "issues.labeled", repo));
    send_to(&story, addr, "issues", &slow_labeled).await;
    send_to(&story, addr, "installation_repositories", &added).await;
    send_to(&story, addr, "issues", &after_labeled).await;
    send_to(&story, addr, "issues", &other).await;

    wait_for("the other installation's delivery applied", || async {
        task_status(&story, elsewhere).await == Some(TaskStatus::Ready)
    })
    .await;
    assert_eq!(task_status(&story, &slow).await, None);
    assert_eq!(
        task_status(&story, &after).await,
        None,
        "behind the installation's event, behind the slow repository"
    );
    let installation_state: String = sqlx::query_scalar(
        "SELECT state FROM gh_deliveries WHERE event = 'installation_repositories'",
    )
    .fetch_one(story.running().store.read_pool())
    .await
    .unwrap();
    assert_eq!(installation_state, "pending");
    story.fake.delay(slow_reads, Duration::ZERO);
    story.settle().await;
    let finished: Vec<(String, i64)> = sqlx::query_as(
        "SELECT event, finished_at FROM gh_deliveries \
         WHERE event IN ('issues', 'installation_repositories') ORDER BY seq",
    )
    .fetch_all(story.running().store.read_pool())
    .await
    .unwrap();
    let at = |event: &str, nth: usize| {
        finished
            .iter()
            .filter(|(e, _)| e == event)
            .nth(nth)
            .map(|(_, t)| *t)
            .unwrap()
    };
    assert!(at("issues", 0) <= at("installation_repositories", 0));
    assert!(at("installation_repositories", 0) <= at("issues", 1));
    assert_eq!(task_status(&story, &after).await, Some(TaskStatus::Ready));
    assert_eq!(task_status(&story, &slow).await, Some(TaskStatus::Ready));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_installation_event_is_ordered_with_its_repositories_sqlite() {
    installation_events_are_ordered_with_their_repositories(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_installation_event_is_ordered_with_its_repositories_postgres() {
    installation_events_are_ordered_with_their_repositories(true).await;
}

/// Deliveries applied per second while GitHub answers every request 100 ms late: one delivery
/// for each of 40 repositories joining the pool (each reads the repository's settings, four
/// requests), with one applier (one at a time, as before lanes) and with the default eight.
/// Run with `cargo test --release --test it github_lanes::applied_per_second -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement"]
async fn applied_per_second_while_github_answers_in_100_ms() {
    for postgres in [false, true] {
        for appliers in [1, 8] {
            let story = Story::on(postgres, None, |c| {
                c.github.github_appliers = Some(appliers);
            })
            .await;
            story.stop_checking_comments();
            let repos: Vec<String> = (0..40).map(|i| format!("{OWNER}/many-{i:02}")).collect();
            let mut payloads = Vec::new();
            for repo in &repos {
                ready_repo(&story, repo);
                payloads.push(issue_payload(&story, "issues.labeled", repo));
            }
            story
                .fake
                .delay(FailWhen::any(), Duration::from_millis(100));
            let addr = story.running().addr;
            let started = Instant::now();
            for p in &payloads {
                send_to(&story, addr, "issues", p).await;
            }
            wait_for("every delivery applied", || async {
                story.pending_deliveries().await == 0
            })
            .await;
            let took = started.elapsed();
            let backend = if story.config.database_url.is_some() {
                "postgres"
            } else {
                "sqlite"
            };
            println!(
                "{backend}, {appliers} applier(s): 40 deliveries in {took:?}: {:.1}/s",
                40.0 / took.as_secs_f64()
            );
            story.fake.delay(FailWhen::any(), Duration::ZERO);
        }
    }
}
