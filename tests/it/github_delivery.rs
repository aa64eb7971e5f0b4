//! The GitHub App's deliveries, story by story against the fake GitHub: redelivered and forged
//! webhooks, GitHub failing for a while, restarts with work pending, webhook answers that never
//! wait for GitHub, and the App's tables shared by several processes.

#[allow(unused_imports)]
use crate::github_support;

use std::time::Duration;

use github_support::story::{INSTALLATION, REPO, SECRET, Story, fixture};
use github_support::{FailWhen, Failure};
use owp::domain::TaskStatus;
use serde_json::{Value, json};

// --- webhooks: redeliveries and forgeries -----------------------------------------------------

#[tokio::test]
async fn a_redelivered_webhook_changes_nothing() {
    let story = Story::start().await;
    let n = story.label_issue("Once only", &[]).await;
    story.comment(n, "alice", "/owp claim").await;
    story.comment(n, "bob", "/owp claim").await;
    story.expect_comment(n, "already claimed by @alice");
    let events_before = story
        .running()
        .store
        .events()
        .of_task(&story.task(n).await.id)
        .await
        .unwrap()
        .len();

    // GitHub sends the last two deliveries again (same X-GitHub-Delivery).
    let deliveries = story.fake.deliveries();
    for d in deliveries.iter().rev().take(2) {
        assert_eq!(
            story.fake.resend_webhook(d.id).await,
            200,
            "a repeated delivery is acknowledged"
        );
    }
    story.settle().await;
    assert_eq!(
        story
            .running()
            .store
            .events()
            .of_task(&story.task(n).await.id)
            .await
            .unwrap()
            .len(),
        events_before
    );
    story.expect_status(n, &["claimed by @alice"]);
    story.expect_no_new_comments(n);
}

#[tokio::test]
async fn a_forged_signature_is_refused_and_nothing_is_stored() {
    let story = Story::with(None, |c| {
        // Two secrets while the old one is rotated out.
        c.github.github_webhook_secret = Some(owp::domain::secret::Secret::new(format!(
            "{SECRET},retired-secret"
        )));
    })
    .await;
    let stored = story.running().store.inbox().count().await.unwrap();
    let mut payload = fixture("issues.labeled");
    payload["installation"] = json!({"id": INSTALLATION});
    let body = serde_json::to_vec(&payload).unwrap();
    let url = format!("{}/github/webhook", story.url());
    let send = |signature: Option<String>, delivery: &str| {
        let mut req = story
            .http
            .post(&url)
            .header("x-github-event", "issues")
            .header("x-github-delivery", delivery)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(sig) = signature {
            req = req.header("x-hub-signature-256", sig);
        }
        req.send()
    };
    for (signature, delivery) in [
        (
            Some(owp::github::signature::sign(b"not the secret", &body)),
            "forged-1",
        ),
        (None, "forged-2"),
        (Some("sha256=nothex".to_string()), "forged-3"),
    ] {
        let res = send(signature, delivery).await.unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["code"], "invalid_signature");
    }
    assert_eq!(
        story.running().store.inbox().count().await.unwrap(),
        stored,
        "nothing stored"
    );

    // The secret being rotated out still verifies.
    let res = send(
        Some(owp::github::signature::sign(b"retired-secret", &body)),
        "rotated-1",
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 202);
    story.settle().await;
    assert_eq!(
        story.running().store.inbox().count().await.unwrap(),
        stored + 1
    );
}

/// An issue title (or body) holding terminal escapes and other control characters is taken
/// without them: GitHub sends what people type, and a task file would be refused for it.
#[tokio::test]
async fn control_characters_in_issue_titles_are_dropped() {
    let story = Story::start().await;
    let n = story
        .label_issue("Fix \u{1b}[2Jthe\u{7} parser\u{9b}", &[])
        .await;
    assert_eq!(story.task(n).await.title, "Fix [2Jthe parser");
    story.expect_status(n, &["**Ready**"]);
    story.retitle_issue(n, "Still\u{1b}]8;;x\u{7} fine").await;
    assert_eq!(story.task(n).await.title, "Still]8;;x fine");
    story.expect_no_new_comments(n);
}

/// GitHub sends whatever people type, NUL characters included (`\u0000` in the JSON). PostgreSQL
/// cannot store them in text and SQLite can; on both, the delivery is stored as it came and
/// applied, with each NUL read as U+FFFD.
#[tokio::test]
async fn a_nul_character_from_github_is_stored_as_a_replacement_character() {
    let story = Story::start().await;
    let n = story.label_issue("Broken\u{0}title", &[]).await;
    let task = story.task(n).await;
    assert_eq!(task.title, "Broken\u{FFFD}title");
    story.expect_status(n, &["**Ready**"]);
    story.comment(n, "alice", "/owp claim\nthanks\u{0}").await;
    story.expect_status(n, &["claimed by @alice"]);
    story.retitle_issue(n, "\u{0}Still\u{0}broken").await;
    assert_eq!(story.task(n).await.title, "\u{FFFD}Still\u{FFFD}broken");
    story.expect_status(n, &["claimed by @alice"]);

    let deliveries: Vec<(String, String, String, Option<String>)> =
        sqlx::query_as("SELECT event, body, state, error FROM gh_deliveries ORDER BY seq")
            .fetch_all(story.running().store.read_pool())
            .await
            .unwrap();
    let failed: Vec<_> = deliveries
        .iter()
        .filter(|(_, _, state, _)| state != "applied" && state != "ignored")
        .map(|(event, _, state, error)| (event, state, error))
        .collect();
    assert!(failed.is_empty(), "deliveries not applied: {failed:?}");
    // The inbox keeps the body as GitHub sent it: the NUL stays a JSON escape.
    let with_nul = deliveries
        .iter()
        .filter(|(_, body, _, _)| body.contains("\\u0000"))
        .count();
    assert!(
        with_nul >= 3,
        "{with_nul} stored bodies hold the escaped NUL"
    );
    story.expect_no_new_comments(n);
}

// --- GitHub failing, restarts -----------------------------------------------------------------

#[tokio::test]
async fn while_github_fails_for_a_while_the_comment_arrives_exactly_once() {
    let story = Story::start().await;
    story
        .fake
        .fail(FailWhen::on("POST", "/comments"), 3, Failure::ServerError);
    let n = story.label_issue("Survive outages", &[]).await;
    story.expect_status(n, &["**Ready**"]);
    assert_eq!(
        story
            .fake
            .count_calls("POST", &format!("/issues/{n}/comments")),
        4
    );

    // A secondary rate limit: the App waits as long as GitHub says, then posts once.
    story.fake.fail(
        FailWhen::on("POST", "/comments"),
        1,
        Failure::SecondaryRateLimit { retry_after: 1 },
    );
    let started = std::time::Instant::now();
    story.comment(n, "bob", "/owp clam").await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    story.expect_comment(n, "Did you mean `/owp claim`?");
}

#[tokio::test]
async fn a_restart_with_a_pending_outbox_posts_nothing_twice() {
    let mut story = Story::start().await;
    // GitHub refuses every comment until further notice; the status comment waits in the outbox.
    story.fake.fail(
        FailWhen::on("POST", "/comments"),
        1_000,
        Failure::ServerError,
    );
    let n = story
        .fake
        .create_issue(REPO, "maintainer", "Outlive a restart", "", &["pool:ready"]);
    story.remember_number(n);
    let payload = story.labeled_payload(n, "pool:ready");
    assert_eq!(story.fake.send_webhook("issues", &payload).await, 202);
    story
        .eventually("a first attempt", Duration::from_secs(10), |s| {
            s.fake.count_calls("POST", &format!("/issues/{n}/comments")) >= 1
        })
        .await;
    story.stop().await;
    story.github_recovers();
    story.boot().await;
    story.expect_status(n, &["**Ready**"]);

    // GitHub answered, but the process stopped before it recorded the answer: after the restart
    // the App finds its comments by their hidden markers instead of posting them again.
    story.comment(n, "bob", "/owp clam").await;
    story.expect_comment(n, "Did you mean");
    story.stop().await;
    story.forget_sent_comments(n).await;
    let posts = story
        .fake
        .count_calls("POST", &format!("/issues/{n}/comments"));
    story.boot().await;
    story.expect_status(n, &["**Ready**"]);
    story.expect_no_new_comments(n);
    assert_eq!(
        story
            .fake
            .count_calls("POST", &format!("/issues/{n}/comments")),
        posts,
        "nothing was posted again"
    );
    assert!(
        story
            .fake
            .count_calls("GET", &format!("/issues/{n}/comments"))
            >= 2,
        "the markers were looked for"
    );
}

#[tokio::test]
async fn an_issue_labelled_while_the_service_was_down_is_picked_up() {
    let mut story = Story::start().await;
    story.stop().await;
    // Meanwhile on GitHub: an issue is labelled; the delivery fails (nobody answers).
    let n = story.fake.create_issue(
        REPO,
        "maintainer",
        "Labelled during the outage",
        "",
        &["pool:ready", "estimate:2"],
    );
    story.remember_number(n);
    let missed = story.labeled_payload(n, "pool:ready");
    let failed = story.fake.add_failed_delivery("issues", &missed);

    story.boot().await;
    let task = story.task(n).await;
    assert_eq!(task.status, TaskStatus::Ready);
    assert_eq!(task.estimate_points, 2);
    story.expect_status(n, &["**Ready**", "Estimate: 2 points"]);
    assert_eq!(
        story.fake.redelivery_requests(),
        vec![failed],
        "the failed delivery was redelivered"
    );
    story
        .eventually("the redelivery", Duration::from_secs(10), |s| {
            s.fake
                .deliveries()
                .iter()
                .any(|d| d.redelivery && d.status_code == 202)
        })
        .await;
    story.settle().await;
    story.expect_status(n, &["**Ready**"]);
    story.expect_no_new_comments(n);
}

// --- the webhook answer path --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_answers_do_not_wait_for_github() {
    let story = Story::start().await;
    // GitHub is slow to take comments: that must not slow the webhook answers.
    story
        .fake
        .fail(FailWhen::on("POST", "/comments"), 50, Failure::ServerError);
    let url = format!("{}/github/webhook", story.url());
    let mut payload = fixture("ping");
    payload["zen"] = json!("Keep it logically awesome.");
    let body = serde_json::to_vec(&payload).unwrap();
    let signature = owp::github::signature::sign(SECRET.as_bytes(), &body);
    let started = std::time::Instant::now();
    let mut senders = Vec::new();
    for s in 0..10 {
        let http = story.http.clone();
        let (url, body, signature) = (url.clone(), body.clone(), signature.clone());
        senders.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for i in 0..20 {
                let t = std::time::Instant::now();
                let res = http
                    .post(&url)
                    .header("x-github-event", "ping")
                    .header("x-github-delivery", format!("bench-{s}-{i}"))
                    .header("x-hub-signature-256", &signature)
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 202);
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for s in senders {
        all.extend(s.await.unwrap());
    }
    all.sort();
    let p = |q: f64| all[((all.len() as f64 - 1.0) * q) as usize];
    eprintln!(
        "webhook answers: {} deliveries in {:?}; p50 {:?}, p99 {:?}, max {:?}",
        all.len(),
        started.elapsed(),
        p(0.5),
        p(0.99),
        all[all.len() - 1]
    );
    story.settle().await;
    assert_eq!(
        story.running().store.inbox().count().await.unwrap(),
        1 + 200
    );
    story.github_recovers();
}

/// Webhook answer latency under load: signed `issues.labeled` deliveries at 500 per second from
/// 25 concurrent senders, while the inbox applies them and the outbox writes status comments.
/// Run with `cargo test --release --test it github_delivery -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run on purpose in release mode"]
async fn webhook_latency_at_500_deliveries_per_second() {
    const SENDERS: usize = 25;
    const PER_SENDER: usize = 80; // 2,000 deliveries
    const RATE: f64 = 500.0;
    let story = Story::with(Some("max_open_prs: 1000\n"), |_| {}).await;
    let mut bodies = Vec::new();
    for i in 0..SENDERS * PER_SENDER {
        let n = story.fake.create_issue(
            REPO,
            "maintainer",
            &format!("Task {i}"),
            "",
            &["pool:ready"],
        );
        story.remember_number(n);
        let payload = story.labeled_payload(n, "pool:ready");
        let body = serde_json::to_vec(&payload).unwrap();
        let signature = owp::github::signature::sign(SECRET.as_bytes(), &body);
        bodies.push((body, signature));
    }
    let url = format!("{}/github/webhook", story.url());
    let interval = Duration::from_secs_f64(SENDERS as f64 / RATE);
    let started = std::time::Instant::now();
    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let http = story.http.clone();
        let url = url.clone();
        let mine: Vec<(Vec<u8>, String)> =
            bodies.iter().skip(s).step_by(SENDERS).cloned().collect();
        senders.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tokio::time::sleep(interval.mul_f64(s as f64 / SENDERS as f64)).await;
            let mut latencies = Vec::new();
            for (i, (body, signature)) in mine.into_iter().enumerate() {
                tick.tick().await;
                let t = std::time::Instant::now();
                let res = http
                    .post(&url)
                    .header("x-github-event", "issues")
                    .header("x-github-delivery", format!("load-{s}-{i}"))
                    .header("x-hub-signature-256", signature)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 202);
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for s in senders {
        all.extend(s.await.unwrap());
    }
    let sent_in = started.elapsed();
    all.sort();
    let p = |q: f64| all[((all.len() as f64 - 1.0) * q).round() as usize];
    eprintln!(
        "{} signed deliveries in {sent_in:?} ({:.0}/s): p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        all.len(),
        all.len() as f64 / sent_in.as_secs_f64(),
        p(0.50),
        p(0.90),
        p(0.99),
        all[all.len() - 1]
    );
    // The inbox applies them all (the status comments then leave at GitHub's pace of at most 80
    // a minute, so the outbox is not waited for).
    let applied = std::time::Instant::now();
    loop {
        let deliveries = story.pending_deliveries().await;
        if deliveries == 0 {
            break;
        }
        assert!(
            applied.elapsed() < Duration::from_secs(300),
            "{deliveries} deliveries left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "the inbox applied every delivery {:?} after the last answer; {} tasks",
        applied.elapsed(),
        story
            .running()
            .store
            .tasks()
            .list(&Default::default())
            .await
            .unwrap()
            .len()
    );
    story.stop_checking_comments();
}

// --- the App's tables, under several processes -------------------------------------------------

async fn two_stores() -> (tempfile::TempDir, owp::store::Store, owp::store::Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("owp.db").display());
    let a = owp::store::Store::open(&url, owp::store::Timing::default())
        .await
        .unwrap();
    let b = owp::store::Store::open(&url, owp::store::Timing::default())
        .await
        .unwrap();
    (dir, a, b)
}

/// [`two_stores`] of a database that knows installation 1 (`octo-org`).
async fn two_stores_of_one_installation()
-> (tempfile::TempDir, owp::store::Store, owp::store::Store) {
    let (dir, store, other) = two_stores().await;
    let mut tx = store.begin().await.unwrap();
    tx.installations()
        .upsert(1, "octo-org", false)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (dir, store, other)
}

#[tokio::test]
async fn a_write_counts_against_the_hour_from_when_github_answered_it() {
    use owp::store::github::write_pacing::WritePacing;
    let (_dir, store, other) = two_stores_of_one_installation().await;
    // Two writes an "hour" of 10 s, which may overlap.
    let pacing = WritePacing {
        per_minute: 80,
        per_hour: 2,
        spacing_ms: 0,
        in_flight_ms: 0,
        minute_ms: 10_000,
        hour_ms: 10_000,
    };
    let first = crate::store_support::take_write(&store, 1, true, &pacing).await;
    let first = first.expect("the first goes");
    let second = crate::store_support::take_write(&other, 1, true, &pacing).await;
    let second = second.expect("the second goes");
    // The third waits for the first to leave the hour, as reserved…
    let wait = crate::store_support::take_write(&store, 1, true, &pacing).await;
    assert_eq!(wait, Err(first + 10_001));
    // … and, once GitHub answered both a moment later, for the first answer to.
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    crate::store_support::write_answered(&store, 1, first, first).await;
    crate::store_support::write_answered(&other, 1, second, second).await;
    let answered = owp::store::now_ms();
    let Err(until) = crate::store_support::take_write(&other, 1, true, &pacing).await else {
        panic!("the third went within the hour");
    };
    assert!(
        until >= first + 30 + 10_001 && until <= answered + 10_001,
        "{until} for a write reserved at {first}, answered by {answered}"
    );
}

/// GitHub sees a request at some time between its sending and its answer: the next write of its
/// installation, from any process, goes a second after the answer, so a process held up after it
/// noted the sending (a CPU-capped replica stalls tens of milliseconds at a time) cannot bring
/// two writes closer than a second.
#[tokio::test]
async fn the_next_write_goes_a_second_after_githubs_answer_in_any_process() {
    use owp::store::github::write_pacing::WritePacing;
    let (_dir, store, other) = two_stores_of_one_installation().await;
    let pacing = WritePacing::default();
    let first = crate::store_support::take_write(&store, 1, true, &pacing).await;
    let first = first.expect("the first goes");
    // Noted as sent at once, answered 200 ms later.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    crate::store_support::write_answered(&store, 1, first, first).await;
    let answered = owp::store::now_ms();
    let Err(until) = crate::store_support::take_write(&other, 1, true, &pacing).await else {
        panic!("the next write went within a second of the answer");
    };
    assert!(
        until >= first + 200 + pacing.spacing_ms && until <= answered + pacing.spacing_ms,
        "{until}: a write sent at {first} and answered by {answered}"
    );
}

#[tokio::test]
async fn content_creation_stays_under_80_requests_a_minute_per_installation() {
    let (_dir, store, other) = two_stores().await;
    let mut tx = store.begin().await.unwrap();
    tx.installations()
        .upsert(1, "octo-org", false)
        .await
        .unwrap();
    tx.installations()
        .upsert(2, "other-org", false)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let started = owp::store::now_ms();
    for i in 0..80 {
        // Two processes share one budget.
        let s = if i % 2 == 0 { &store } else { &other };
        assert_eq!(
            crate::store_support::reserve_write(s, 1, true).await,
            None,
            "request {i}"
        );
    }
    let wait_until = crate::store_support::reserve_write(&store, 1, true)
        .await
        .expect("the 81st waits");
    assert!(wait_until >= started + 60_000 && wait_until <= owp::store::now_ms() + 60_001);
    assert_eq!(
        crate::store_support::reserve_write(&other, 2, true).await,
        None,
        "another installation is not affected"
    );
    // GitHub's Retry-After pauses the installation.
    store
        .pacing()
        .block(2, owp::store::now_ms() + 30_000)
        .await
        .unwrap();
    assert!(
        crate::store_support::reserve_write(&other, 2, true)
            .await
            .is_some()
    );
}

#[tokio::test]
async fn each_outbox_row_and_job_slot_is_taken_by_one_process() {
    use owp::store::github::outbox::OutboxTarget;
    let (_dir, a, b) = two_stores().await;
    let mut tx = a.begin().await.unwrap();
    tx.installations()
        .upsert(7, "octo-org", false)
        .await
        .unwrap();
    for issue in 0..40 {
        let target = OutboxTarget {
            installation_id: 7,
            repo: "o/r",
            issue_number: issue,
        };
        tx.outbox()
            .enqueue_comment(&target, None, "hello")
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    // Each installation's writes one at a time, as GitHub's budgets allow, without the second
    // between them: the race is about the rows.
    let unspaced = owp::store::github::write_pacing::WritePacing {
        spacing_ms: 0,
        ..Default::default()
    };
    let claim = |store: owp::store::Store, runner: &'static str| async move {
        let mut mine = Vec::new();
        loop {
            let now = owp::store::now_ms();
            let rows = store
                .outbox()
                .claim(runner, now, now + 60_000, 3, &unspaced, 0)
                .await
                .unwrap();
            if rows.is_empty() {
                return mine;
            }
            for row in rows {
                assert!(
                    store
                        .outbox()
                        .sent(&row, runner, Some(row.id), Some(now))
                        .await
                        .unwrap()
                );
                mine.push(row.id);
            }
        }
    };
    let (from_a, from_b) =
        tokio::join!(claim(a.clone(), "replica-a"), claim(b.clone(), "replica-b"));
    let mut all: Vec<i64> = from_a.iter().chain(&from_b).copied().collect();
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!(before, all.len(), "no row was sent twice");
    assert_eq!(all.len(), 40, "every row was sent");

    assert!(
        a.job_slots()
            .claim("reconcile", 1_000, "replica-a")
            .await
            .unwrap()
    );
    assert!(
        !b.job_slots()
            .claim("reconcile", 1_000, "replica-b")
            .await
            .unwrap()
    );
    assert!(
        b.job_slots()
            .claim("reconcile", 2_000, "replica-b")
            .await
            .unwrap()
    );
}
