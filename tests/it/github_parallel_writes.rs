//! The comment sender writes for many installations at once and for each one at a time: replies
//! to one issue keep their order, an installation GitHub tells to wait holds back only itself,
//! GitHub's per-installation limits refuse nothing, a slow GitHub costs one answer's time rather
//! than one per installation, and a process killed in the middle of a write neither loses nor
//! repeats a comment. Each runs on SQLite and, when `OWP_TEST_DATABASE_URL` names a server, on
//! PostgreSQL.

#[allow(unused_imports)]
use crate::github_support;

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use github_support::story::{ADMIN, SECRET, Story};
use github_support::{Comment, FailWhen, Failure, busiest};
use owp::store::github::outbox::OutboxTarget;
use owp::store::github::write_pacing::{IN_FLIGHT_RECHECK_MS, WritePacing};
use owp::store::{Store, Timing};

use crate::store_support::{fast_timing, on_each_backend};

/// An installation of the App with one repository, `org-N/repo`, and its issues.
struct Org {
    installation: u64,
    repo: String,
    issues: Vec<u64>,
}

/// Installs the App on `count` more accounts, each with one repository of `issues` issues, on
/// GitHub and in the pool's database.
async fn orgs(story: &Story, count: u64, issues: u64) -> Vec<Org> {
    let store = &story.running().store;
    let mut made = Vec::new();
    for i in 0..count {
        let installation = 500 + i;
        let account = format!("org-{i}");
        let repo = format!("{account}/repo");
        story.fake.install(installation, &account, &[&repo]);
        let numbers = (0..issues)
            .map(|n| {
                story
                    .fake
                    .create_issue(&repo, "someone", &format!("Issue {n}"), "Words.", &[])
            })
            .collect();
        let mut tx = store.begin().await.unwrap();
        tx.installations()
            .upsert(installation as i64, &account, false)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        made.push(Org {
            installation,
            repo,
            issues: numbers,
        });
    }
    made
}

/// Queues the replies `(org, issue, text)` in one transaction, in this order.
async fn queue(store: &Store, replies: &[(&Org, u64, String)]) {
    let mut tx = store.begin().await.unwrap();
    for (org, issue, text) in replies {
        let target = OutboxTarget {
            installation_id: org.installation as i64,
            repo: &org.repo,
            issue_number: *issue as i64,
        };
        tx.outbox()
            .enqueue_comment(&target, None, text)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

/// `say` to each issue of `orgs`: the replies `(org, issue, "{say} {repo}#{issue}.")`.
fn to_each_issue<'a>(orgs: &'a [Org], say: &str) -> Vec<(&'a Org, u64, String)> {
    orgs.iter()
        .flat_map(|org| {
            org.issues
                .iter()
                .map(move |&issue| (org, issue, format!("{say} {}#{issue}.", org.repo)))
        })
        .collect()
}

/// The App's comments on an issue that carry `text`.
fn posted(story: &Story, repo: &str, issue: u64, text: &str) -> Vec<Comment> {
    story
        .fake
        .bot_comments(repo, issue)
        .into_iter()
        .filter(|c| c.body.contains(text))
        .collect()
}

/// GitHub's refusals of the App's requests: `method path status`.
fn refusals(story: &Story) -> Vec<String> {
    story
        .fake
        .calls()
        .iter()
        .filter(|c| c.status == 403 || c.status == 429)
        .map(|c| format!("{} {} {}", c.method, c.path, c.status))
        .collect()
}

async fn replies_keep_their_order(postgres: bool) {
    // Writes a millisecond apart (so that each is paced, and one at a time, per installation).
    let story = Story::on(postgres, None, |c| {
        c.github.github_write_spacing_ms = Some(1);
    })
    .await;
    story.fake.set_latency(Duration::from_millis(20));
    let orgs = orgs(&story, 6, 3).await;
    // Four replies to each of three issues of six installations, interleaved.
    let replies: Vec<_> = (0..4)
        .flat_map(|k| to_each_issue(&orgs, &format!("Reply {k} to")))
        .collect();
    queue(&story.running().store, &replies).await;
    story.settle().await;

    for org in &orgs {
        for &issue in &org.issues {
            let comments = story.fake.bot_comments(&org.repo, issue);
            let order: Vec<usize> = comments
                .iter()
                .map(|c| {
                    (0..4)
                        .find(|k| c.body.contains(&format!("Reply {k} to")))
                        .expect("a reply of the story")
                })
                .collect();
            assert_eq!(order, [0, 1, 2, 3], "{}#{issue}: {comments:#?}", org.repo);
        }
    }
    assert_eq!(story.fake.overlapping_writes(), Vec::<u64>::new());
    assert_eq!(refusals(&story), Vec::<String>::new());
}

#[tokio::test]
async fn replies_to_one_issue_keep_their_order_while_installations_write_side_by_side_sqlite() {
    replies_keep_their_order(false).await;
}

#[tokio::test]
async fn replies_to_one_issue_keep_their_order_while_installations_write_side_by_side_postgres() {
    replies_keep_their_order(true).await;
}

async fn retry_after_holds_back_one(postgres: bool) {
    const WAIT: i64 = 3;
    let story = Story::on(postgres, None, |c| {
        c.github.github_write_spacing_ms = Some(1);
    })
    .await;
    story.fake.set_latency(Duration::from_millis(20));
    let orgs = orgs(&story, 3, 4).await;
    let (told, others) = (&orgs[0], &orgs[1..]);
    // GitHub tells the first installation to wait, at its first comment.
    story.fake.fail(
        FailWhen::on("POST", &format!("/repos/{}/issues/", told.repo)),
        1,
        Failure::SecondaryRateLimit {
            retry_after: WAIT as u64,
        },
    );
    queue(&story.running().store, &to_each_issue(&orgs, "Hello")).await;
    story.settle().await;

    let refused_at = story
        .fake
        .calls()
        .iter()
        .find(|c| c.status == 403 && c.path.contains(&told.repo))
        .expect("GitHub told the installation to wait")
        .at;
    let resumed = refused_at + TimeDelta::seconds(WAIT);
    // The installation told to wait wrote nothing before its time, then everything, once.
    for &issue in &told.issues {
        let comments = posted(&story, &told.repo, issue, "Hello");
        assert_eq!(comments.len(), 1, "{}#{issue}: {comments:#?}", told.repo);
        assert!(
            comments[0].created_at >= resumed,
            "{}#{issue} written at {}, before {resumed}",
            told.repo,
            comments[0].created_at
        );
    }
    // The others went on writing meanwhile.
    for org in others {
        for &issue in &org.issues {
            let comments = posted(&story, &org.repo, issue, "Hello");
            assert_eq!(comments.len(), 1, "{}#{issue}: {comments:#?}", org.repo);
            assert!(
                comments[0].created_at < resumed,
                "{}#{issue} waited for another installation: written at {}, the pause ended at \
                 {resumed}",
                org.repo,
                comments[0].created_at
            );
        }
    }
}

#[tokio::test]
async fn an_installation_told_to_wait_holds_back_only_itself_sqlite() {
    retry_after_holds_back_one(false).await;
}

#[tokio::test]
async fn an_installation_told_to_wait_holds_back_only_itself_postgres() {
    retry_after_holds_back_one(true).await;
}

async fn limits_refuse_nothing(postgres: bool) {
    // GitHub's limits shortened to 5 writes a "minute" of one second and 12 an "hour" of four;
    // the App keeps to 4 and 10 of them, per installation.
    let minute = TimeDelta::seconds(1);
    let story = Story::on(postgres, None, |c| {
        c.github.github_writes_per_minute = Some(4);
        c.github.github_writes_per_hour = Some(10);
        c.github.github_write_spacing_ms = Some(5);
        c.github.github_write_windows_ms = Some(vec![1000, 4000]);
    })
    .await;
    story
        .fake
        .set_content_limits(&[(5, minute), (12, TimeDelta::seconds(4))]);
    let orgs = orgs(&story, 8, 6).await;
    queue(&story.running().store, &to_each_issue(&orgs, "Hello")).await;
    story.settle().await;

    for org in &orgs {
        for &issue in &org.issues {
            let comments = posted(&story, &org.repo, issue, "Hello");
            assert_eq!(comments.len(), 1, "{}#{issue}: {comments:#?}", org.repo);
        }
        assert!(busiest(&story.fake.content_writes(org.installation), minute) <= 5);
    }
    assert_eq!(refusals(&story), Vec::<String>::new());
    assert_eq!(story.fake.overlapping_writes(), Vec::<u64>::new());
    // Together the installations wrote more in some second than one of them may.
    let all: Vec<DateTime<Utc>> = orgs
        .iter()
        .flat_map(|o| story.fake.content_writes(o.installation))
        .collect();
    assert!(busiest(&all, minute) > 5, "{}", busiest(&all, minute));
}

#[tokio::test]
async fn per_installation_limits_refuse_nothing_while_many_installations_write_sqlite() {
    limits_refuse_nothing(false).await;
}

#[tokio::test]
async fn per_installation_limits_refuse_nothing_while_many_installations_write_postgres() {
    limits_refuse_nothing(true).await;
}

/// How long GitHub saw the App take to post one reply to each of `orgs` (a new batch,
/// `round`): from the first reply's arrival to the last one's.
async fn one_reply_each(story: &Story, orgs: &[Org], round: u32) -> Duration {
    let replies: Vec<(&Org, u64, String)> = orgs
        .iter()
        .map(|o| (o, o.issues[0], format!("Round {round} for {}.", o.repo)))
        .collect();
    queue(&story.running().store, &replies).await;
    story.settle().await;
    let mut times = Vec::new();
    for org in orgs {
        let comments = posted(story, &org.repo, org.issues[0], &format!("Round {round} "));
        assert_eq!(comments.len(), 1, "{}: {comments:#?}", org.repo);
        times.push(comments[0].created_at);
    }
    let first = times.iter().min().unwrap();
    let last = times.iter().max().unwrap();
    (*last - *first).to_std().unwrap()
}

async fn slow_github_side_by_side(postgres: bool) {
    const ORGS: u32 = 16;
    const LATENCY: Duration = Duration::from_millis(100);
    let mut story = Story::on(postgres, None, |_| {}).await;
    let orgs = orgs(&story, u64::from(ORGS), 1).await;
    story.fake.set_latency(LATENCY);
    let side_by_side = one_reply_each(&story, &orgs, 1).await;
    // The same with one installation at a time (a new process, which asks for its tokens at
    // start, when it reconciles).
    story.fake.set_latency(Duration::ZERO);
    story.stop().await;
    story.config.github.github_outbox_concurrency = Some(1);
    story.boot().await;
    story.fake.set_latency(LATENCY);
    let one_at_a_time = one_reply_each(&story, &orgs, 2).await;
    eprintln!(
        "{ORGS} installations' replies, GitHub answering {LATENCY:?} late: from first to last \
         {side_by_side:?} side by side, {one_at_a_time:?} one at a time"
    );
    // One at a time, each installation's comment waits for the one before to be answered.
    assert!(one_at_a_time >= LATENCY * (ORGS - 1), "{one_at_a_time:?}");
    assert!(
        side_by_side * 4 < one_at_a_time,
        "{side_by_side:?} side by side, {one_at_a_time:?} one at a time"
    );
    assert_eq!(story.fake.overlapping_writes(), Vec::<u64>::new());
}

#[tokio::test]
async fn a_slow_github_costs_one_answer_not_one_per_installation_sqlite() {
    slow_github_side_by_side(false).await;
}

#[tokio::test]
async fn a_slow_github_costs_one_answer_not_one_per_installation_postgres() {
    slow_github_side_by_side(true).await;
}

/// The row of the outbox that sends `text`: (state, claimed_by, attempts, github_id).
async fn row_of(store: &Store, text: &str) -> (String, Option<String>, i64, Option<i64>) {
    sqlx::query_as(
        "SELECT state, claimed_by, attempts, github_id FROM gh_outbox WHERE body = $1 \
         AND kind = 'comment'",
    )
    .bind(text)
    .fetch_one(store.read_pool())
    .await
    .unwrap()
}

#[cfg(unix)]
async fn killed_mid_write(postgres: bool) {
    use crate::support::{Server, TestDatabase};

    const CLAIM_MS: &str = "1500";
    let mut story = Story::on(postgres, None, |c| {
        c.github.github_outbox_claim_ms = Some(1500);
    })
    .await;
    let orgs = orgs(&story, 2, 1).await;
    // The story's own process stops; another one, on the same database, takes the writes.
    story.stop().await;
    let store = Store::open(&story.config.database_url(), Timing::default())
        .await
        .unwrap();
    let (a, b) = (&orgs[0], &orgs[1]);
    let texts = ["First to org-0.", "Second to org-0.", "First to org-1."];
    queue(
        &store,
        &[
            (a, a.issues[0], texts[0].into()),
            (a, a.issues[0], texts[1].into()),
            (b, b.issues[0], texts[2].into()),
        ],
    )
    .await;
    // GitHub takes its time to answer: the comments exist before the sender hears of them.
    story.fake.set_latency(Duration::from_secs(5));
    let database = match &story.config.database_url {
        Some(url) => TestDatabase::Postgres {
            url: url.clone(),
            server_url: url.clone(),
            name: String::new(),
        },
        None => TestDatabase::Sqlite(story.config.db.clone()),
    };
    let app_id = story.fake.app_id().to_string();
    let env = [
        ("GITHUB_APP_ID", app_id.as_str()),
        ("GITHUB_PRIVATE_KEY", story.fake.private_key_pem()),
        ("GITHUB_WEBHOOK_SECRET", SECRET),
        ("GITHUB_API_URL", story.fake.url()),
        ("OWP_GITHUB_RECONCILE_CRON", github_support::story::NEVER),
        ("OWP_GITHUB_OUTBOX_CLAIM_MS", CLAIM_MS),
    ];
    let victim = Server::start_on(database, ADMIN, &env).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while posted(&story, &a.repo, a.issues[0], texts[0]).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the comments were never written:\n{}",
            victim.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Killed while GitHub has not answered yet.
    victim.kill_now();
    let (state, claimed_by, _, _) = row_of(&store, texts[0]).await;
    assert_eq!(state, "pending");
    assert!(claimed_by.is_some(), "the write was under way");
    story.fake.set_latency(Duration::ZERO);
    story.boot().await;

    // Every comment is there once, in order, and the outbox knows each.
    for (org, text) in [(a, texts[0]), (a, texts[1]), (b, texts[2])] {
        let comments = posted(&story, &org.repo, org.issues[0], text);
        assert_eq!(comments.len(), 1, "{text}: {comments:#?}");
        let (state, _, _, github_id) = row_of(&store, text).await;
        assert_eq!(state, "sent", "{text}");
        assert_eq!(github_id, Some(comments[0].id as i64), "{text}");
    }
    let on_a: Vec<String> = story
        .fake
        .bot_comments(&a.repo, a.issues[0])
        .into_iter()
        .map(|c| c.body)
        .collect();
    assert!(
        on_a.len() == 2 && on_a[0].contains(texts[0]) && on_a[1].contains(texts[1]),
        "{on_a:#?}"
    );
    drop(victim);
}

#[cfg(unix)]
#[tokio::test]
async fn a_process_killed_mid_write_neither_loses_nor_repeats_a_comment_sqlite() {
    killed_mid_write(false).await;
}

#[cfg(unix)]
#[tokio::test]
async fn a_process_killed_mid_write_neither_loses_nor_repeats_a_comment_postgres() {
    killed_mid_write(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_takes_one_row_per_installation_and_none_of_one_being_written_to() {
    on_each_backend(
        "a_claim_takes_one_row_per_installation_and_none_of_one_being_written_to",
        fast_timing(),
        |db| async move {
            let other = Store::open(&db.url, fast_timing()).await.unwrap();
            let mut tx = db.store.begin().await.unwrap();
            for id in [7, 8] {
                tx.installations()
                    .upsert(id, &format!("org-{id}"), false)
                    .await
                    .unwrap();
            }
            for (installation, issue, text) in [(7, 1, "a"), (7, 2, "b"), (8, 1, "c")] {
                let repo = format!("org-{installation}/repo");
                let target = OutboxTarget {
                    installation_id: installation,
                    repo: &repo,
                    issue_number: issue,
                };
                tx.outbox()
                    .enqueue_comment(&target, None, text)
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
            let now = owp::store::now_ms();
            let later = now + 60_000;
            let first = db
                .store
                .outbox()
                .claim("a", now, later, 10, &unpaced(), 0)
                .await
                .unwrap();
            let bodies: Vec<&str> = first.iter().map(|r| r.body.as_str()).collect();
            assert_eq!(bodies, ["a", "c"], "{}", db.label);
            // Installation 7 is being written to: another process takes nothing of it.
            let none = other
                .outbox()
                .claim("b", now, later, 10, &unpaced(), 0)
                .await
                .unwrap();
            assert!(none.is_empty(), "{}: {none:?}", db.label);
            // Its write has to wait: given back untried, it is not an attempt, and the
            // installation's other row waits as long.
            let soon = now + 200;
            db.store.outbox().wait(&first[0], "a", soon).await.unwrap();
            let none = other
                .outbox()
                .claim("b", now + 100, later, 10, &unpaced(), 0)
                .await;
            assert!(none.unwrap().is_empty(), "{}", db.label);
            let again = other
                .outbox()
                .claim("b", soon, later, 10, &unpaced(), 0)
                .await
                .unwrap();
            assert_eq!(again.len(), 1, "{}", db.label);
            assert_eq!((again[0].body.as_str(), again[0].attempts), ("a", 1));
            assert!(
                other
                    .outbox()
                    .sent(&again[0], "b", Some(1), Some(soon))
                    .await
                    .unwrap()
            );
            let next = db
                .store
                .outbox()
                .claim("a", soon, later, 10, &unpaced(), 0)
                .await
                .unwrap();
            let bodies: Vec<&str> = next.iter().map(|r| r.body.as_str()).collect();
            assert_eq!(bodies, ["b"], "{}", db.label);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_in_flight_holds_back_its_installation_in_every_process() {
    on_each_backend(
        "a_write_in_flight_holds_back_its_installation_in_every_process",
        fast_timing(),
        |db| async move {
            let other = Store::open(&db.url, fast_timing()).await.unwrap();
            let mut tx = db.store.begin().await.unwrap();
            for id in [1, 2, 3] {
                tx.installations()
                    .upsert(id, &format!("org-{id}"), false)
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
            let pacing = WritePacing {
                spacing_ms: 0,
                in_flight_ms: 30_000,
                ..WritePacing::default()
            };
            let first = crate::store_support::take_write(&db.store, 1, true, &pacing).await;
            let first = first.expect("the first write goes");
            // Until GitHub answers it, no other write of its installation goes, in any process…
            let Err(until) = crate::store_support::take_write(&other, 1, true, &pacing).await
            else {
                panic!("{}: two writes of one installation at once", db.label);
            };
            let now = owp::store::now_ms();
            assert!(
                until > first && until <= now + IN_FLIGHT_RECHECK_MS,
                "{until}"
            );
            // … while another installation writes.
            assert!(
                crate::store_support::take_write(&other, 2, true, &pacing)
                    .await
                    .is_ok()
            );
            crate::store_support::write_answered(&db.store, 1, first, first).await;
            assert!(
                crate::store_support::take_write(&other, 1, true, &pacing)
                    .await
                    .is_ok()
            );
            // A write never answered (its process died) holds its installation only so long.
            let short = WritePacing {
                in_flight_ms: 300,
                ..pacing
            };
            assert!(
                crate::store_support::take_write(&db.store, 3, true, &short)
                    .await
                    .is_ok()
            );
            assert!(
                crate::store_support::take_write(&other, 3, true, &short)
                    .await
                    .is_err()
            );
            tokio::time::sleep(Duration::from_millis(350)).await;
            assert!(
                crate::store_support::take_write(&other, 3, true, &short)
                    .await
                    .is_ok(),
                "{}",
                db.label
            );
        },
    )
    .await;
}

/// Asks for the status comment of `task_id` (issue 1 of `org-7/repo`), due at once.
async fn ask_status(store: &Store, task_id: &str) {
    let target = OutboxTarget {
        installation_id: 7,
        repo: "org-7/repo",
        issue_number: 1,
    };
    let mut tx = store.begin().await.unwrap();
    let now = tx.now;
    owp::store::github::outbox::enqueue_status(tx.conn(), now, &target, task_id, 0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_comment_is_remembered_in_the_transaction_marking_its_row_sent() {
    on_each_backend(
        "a_status_comment_is_remembered_in_the_transaction_marking_its_row_sent",
        fast_timing(),
        |db| async move {
            let store = &db.store;
            crate::store_support::repo(store, "org-7/repo", 5, false).await;
            let task = store
                .tasks()
                .import("org-7/repo", &[crate::store_support::task("one")], "admin")
                .await
                .unwrap()
                .remove(0);
            let mut tx = store.begin().await.unwrap();
            tx.installations().upsert(7, "org-7", false).await.unwrap();
            tx.issues()
                .upsert_task(&task.id, "org-7/repo", 1, &[])
                .await
                .unwrap();
            tx.commit().await.unwrap();
            ask_status(store, &task.id).await;
            let later = owp::store::now_ms() + 60_000;
            let now = owp::store::now_ms();
            let rows = store
                .outbox()
                .claim("a", now, later, 10, &unpaced(), 0)
                .await
                .unwrap();
            assert_eq!(rows.len(), 1, "{}", db.label);
            let sent = store
                .outbox()
                .status_sent(&rows[0], "a", &task.id, 42, "first", Some(now))
                .await
                .unwrap();
            assert!(sent, "{}", db.label);
            let gh = store.issues().task(&task.id).await.unwrap().unwrap();
            assert_eq!(gh.status_comment_id, Some(42), "{}", db.label);
            assert_eq!(gh.status_body.as_deref(), Some("first"), "{}", db.label);
            let states: Vec<String> = store
                .outbox()
                .of_issue("org-7/repo", 1)
                .await
                .unwrap()
                .into_iter()
                .map(|(_, state, _)| state)
                .collect();
            assert_eq!(states, ["sent"], "{}", db.label);
            // The task changes while its next edit is on its way: the edit is remembered, and
            // the row stays pending, to be sent again at once.
            ask_status(store, &task.id).await;
            let now = owp::store::now_ms();
            let rows = store
                .outbox()
                .claim("a", now, later, 10, &unpaced(), 0)
                .await
                .unwrap();
            assert_eq!(rows.len(), 1, "{}", db.label);
            ask_status(store, &task.id).await;
            let sent = store
                .outbox()
                .status_sent(&rows[0], "a", &task.id, 42, "second", Some(now))
                .await
                .unwrap();
            assert!(!sent, "{}", db.label);
            let gh = store.issues().task(&task.id).await.unwrap().unwrap();
            assert_eq!(gh.status_body.as_deref(), Some("second"), "{}", db.label);
            let states: Vec<String> = store
                .outbox()
                .of_issue("org-7/repo", 1)
                .await
                .unwrap()
                .into_iter()
                .map(|(_, state, _)| state)
                .collect();
            assert_eq!(states, ["sent", "pending"], "{}", db.label);
            let now = owp::store::now_ms();
            let again = store
                .outbox()
                .claim("a", now, later, 10, &unpaced(), 0)
                .await
                .unwrap();
            assert_eq!(again.len(), 1, "{}", db.label);
            assert!(again[0].revision > rows[0].revision, "{}", db.label);
        },
    )
    .await;
}

/// Pacing without a second between writes (budgets as GitHub's): the claims above are about
/// which rows may be taken, not when their writes go.
fn unpaced() -> WritePacing {
    WritePacing {
        spacing_ms: 0,
        ..WritePacing::default()
    }
}
