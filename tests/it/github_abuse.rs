//! A hostile stranger against the GitHub App: pull requests that try to take other people's
//! tasks, drafts that try to fill the review budget, replayed deliveries, another installation's
//! removals, and text made to break or hijack the App's comments. Each story runs the real
//! service against the fake GitHub (which answers as strictly as GitHub: 422 above 65,536
//! characters, the secondary rate limit past 80 writes a minute).

#[allow(unused_imports)]
use crate::github_support;

use github_support::story::{INSTALLATION, REPO, Story};
use owp::domain::TaskStatus;
use owp::store::github::write_pacing::WritePacing;
use serde_json::Value;

/// The kinds of the service's recent events about a task.
async fn task_events(story: &Story, task_id: &str) -> Vec<(String, Value)> {
    story
        .running()
        .store
        .events()
        .recent(500)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.task_id.as_deref() == Some(task_id))
        .map(|e| (e.kind, e.data))
        .collect()
}

// --- pull requests must be the holder's ---------------------------------------------------------

#[tokio::test]
async fn a_pull_request_in_another_repository_never_moves_a_task() {
    let story = Story::start().await;
    let n = story.label_issue("Fix the parser", &[]).await;
    story.expect_status(n, &["**Ready**"]);

    // Another repository of the same installation: its pull request names our issue in both of
    // the forms GitHub would link across repositories.
    let side = "octo-org/side";
    story.fake.add_repo(INSTALLATION, side);
    let pr = story.fake.open_pr(
        side,
        "mallory",
        "Totally a fix",
        &format!("Fixes {REPO}#{n}\n\nCloses https://github.com/{REPO}/issues/{n}"),
    );
    let payload = story.fake.pr_payload(side, pr, "opened", "mallory", None);
    story.send("pull_request", &payload).await;

    let task = story.task(n).await;
    assert_eq!(
        task.status,
        TaskStatus::Ready,
        "a cross-repository link never acts"
    );
    assert!(task.artifact.is_none());
    assert_eq!(story.policy().await.open_prs, 0);
    // Merged there, it still does nothing here.
    story.fake.merge_pr(side, pr);
    let payload = story
        .fake
        .pr_payload(side, pr, "closed", "maintainer", None);
    story.send("pull_request", &payload).await;
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    story.expect_status(n, &["**Ready**"]);
}

#[tokio::test]
async fn while_claimed_only_the_holders_or_a_maintainers_pull_request_acts() {
    let story = Story::with(Some("max_open_prs: 10\n"), |_| {}).await;
    let n = story.label_issue("Fix the parser", &[]).await;
    story.comment(n, "alice", "/owp claim").await;
    assert_eq!(story.task(n).await.status, TaskStatus::InProgress);

    // A stranger's pull request (plain `#N`, as GitHub links it) is recorded, not acted on.
    let stranger = story.open_pr("mallory", &format!("fixes #{n}")).await;
    let task = story.task(n).await;
    assert_eq!(task.status, TaskStatus::InProgress, "alice keeps her claim");
    assert_eq!(task.worker_id.as_deref(), Some("gh_alice"));
    assert_eq!(story.policy().await.open_prs, 0, "it takes no review slot");
    let stranger_url = format!("https://github.com/{REPO}/pull/{stranger}");
    story.expect_status(
        n,
        &[
            "claimed by @alice",
            "Also linked, but not acting on this task",
            &stranger_url,
            "`mallory`",
        ],
    );
    let events = task_events(&story, &task.id).await;
    assert!(
        events
            .iter()
            .any(|(k, d)| k == "github.pr_not_acting" && d["author"] == "mallory"),
        "recorded for maintainers: {events:?}"
    );

    // The holder's own pull request acts.
    let own = story.open_pr("alice", &format!("Fixes #{n}")).await;
    let task = story.task(n).await;
    assert_eq!(task.status, TaskStatus::PrOpened);
    let own_url = format!("https://github.com/{REPO}/pull/{own}");
    assert_eq!(task.artifact.as_ref().unwrap()["pr_url"], own_url.as_str());
    story.expect_status(n, &["**Pull request open**", &own_url]);

    // The stranger's closing changes nothing; the holder's closing gives the task back.
    story.close_pr(stranger).await;
    assert_eq!(story.task(n).await.status, TaskStatus::PrOpened);
    story.close_pr(own).await;
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    story.expect_status(n, &["**Ready**"]);

    // A maintainer's pull request acts on a claimed task.
    story.fake.set_permission(REPO, "maria", "maintain");
    let m = story.label_issue("Tidy the docs", &[]).await;
    story.comment(m, "bob", "/owp claim").await;
    let by_maintainer = story.open_pr("maria", &format!("Resolves #{m}")).await;
    let task = story.task(m).await;
    assert_eq!(
        task.status,
        TaskStatus::PrOpened,
        "a maintainer may take over"
    );
    story.expect_status(
        m,
        &[&format!("https://github.com/{REPO}/pull/{by_maintainer}")],
    );
}

#[tokio::test]
async fn a_strangers_draft_ends_no_claim_and_takes_no_review_slot() {
    let story = Story::with(Some("max_open_prs: 2\n"), |_| {}).await;
    let held = story.label_issue("Held by alice", &[]).await;
    let free = story.label_issue("Nobody's yet", &[]).await;
    story.comment(held, "alice", "/owp claim").await;

    story
        .open_draft_pr("mallory", &format!("fixes #{held}"))
        .await;
    story
        .open_draft_pr("mallory", &format!("fixes #{free}"))
        .await;
    assert_eq!(story.task(held).await.status, TaskStatus::InProgress);
    assert_eq!(story.task(free).await.status, TaskStatus::Ready);
    let policy = story.policy().await;
    assert_eq!(
        (policy.open_prs, policy.active_leases),
        (0, 1),
        "drafts of strangers take no review slot"
    );
    story.expect_status(held, &["claimed by @alice", "Also linked, but not acting"]);
    story.expect_status(free, &["**Ready**", "Also linked, but not acting"]);

    // The budget still has room: bob claims the free issue.
    story.comment(free, "bob", "/owp claim").await;
    assert_eq!(story.task(free).await.status, TaskStatus::InProgress);
    story.expect_status(free, &["claimed by @bob"]);

    // The holder's own draft counts: alice's task waits for review.
    story
        .open_draft_pr("alice", &format!("fixes #{held}"))
        .await;
    assert_eq!(story.task(held).await.status, TaskStatus::PrOpened);
    let policy = story.policy().await;
    assert_eq!((policy.open_prs, policy.active_leases), (1, 1));
    story.expect_status(held, &["**Pull request open**"]);
}

// --- low: replays, other installations, oversized and hostile text ------------------------------

#[tokio::test]
async fn the_same_signed_body_under_a_new_delivery_id_is_not_applied_again() {
    let story = Story::start().await;
    let n = story.label_issue("Fix the parser", &[]).await;
    let claim = story.fake.add_comment(REPO, n, "alice", "/owp claim");
    let claim_payload = story.fake.comment_payload(claim, "created", None);
    story.send("issue_comment", &claim_payload).await;
    story.comment(n, "alice", "/owp release").await;
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);

    // Someone replays the signed claim under a new delivery id: acknowledged, not applied.
    let status = story.send("issue_comment", &claim_payload).await;
    assert_eq!(status, 200, "answered as a duplicate");
    let task = story.task(n).await;
    assert_eq!(task.status, TaskStatus::Ready, "the replay claimed nothing");
    story.expect_status(n, &["**Ready**"]);
}

#[tokio::test]
async fn another_installations_removal_does_not_cancel_our_tasks() {
    let story = Story::start().await;
    let n = story.label_issue("Fix the parser", &[]).await;
    story.expect_status(n, &["**Ready**"]);

    story.fake.install(88, "evil-org", &["evil-org/x"]);
    let payload = story
        .fake
        .installation_repositories_payload(88, &[], &[REPO]);
    story.send("installation_repositories", &payload).await;
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    assert!(story.policy().await.max_open_prs > 0);

    // The installation that serves it still can.
    let payload = story
        .fake
        .installation_repositories_payload(INSTALLATION, &[], &[REPO]);
    story.send("installation_repositories", &payload).await;
    assert_eq!(story.task(n).await.status, TaskStatus::Cancelled);
    story.expect_status(n, &[]);
}

#[tokio::test]
async fn long_echoed_arguments_and_block_reasons_never_push_a_comment_past_githubs_limit() {
    let story = Story::start().await;
    story.fake.set_permission(REPO, "maria", "maintain");
    let n = story.label_issue("Fix the parser", &[]).await;

    // Echoed arguments: the reply is posted (GitHub would refuse it above 65,536 characters).
    let words = "word ".repeat(13_000);
    story
        .comment(n, "mallory", &format!("/owp claim {words}"))
        .await;
    let reply = story.expect_comment(n, "takes no further words");
    assert!(reply.body.chars().count() < 2_000, "the echo is cut short");

    // A long block reason: the status comment still changes, and says it, cut short.
    let reason = "because ".repeat(8_000);
    story
        .comment(n, "maria", &format!("/owp block {reason}"))
        .await;
    assert_eq!(story.task(n).await.status, TaskStatus::Blocked);
    let status = story.expect_status(n, &["**Blocked** by maintainer `maria`: because because"]);
    assert!(status.body.chars().count() <= 65_536);
    assert!(status.body.contains('…'));
    assert_eq!(
        story
            .fake
            .calls()
            .iter()
            .filter(|c| c.status == 422)
            .count(),
        0,
        "GitHub never refused a comment"
    );
}

#[tokio::test]
async fn label_text_and_settings_errors_never_render_as_live_markdown() {
    let settings = "max_open_prs: 3\n\"a` ![x](https://evil.example/p.png) @everyone `b\": 1\n";
    let story = Story::with(Some(settings), |_| {}).await;
    let n = story
        .label_issue(
            "Fix the parser",
            &["estimate:`![y](https://evil.example/q.png)` <img src=x> @everyone"],
        )
        .await;
    let status = story.expect_status(n, &["**Ready**"]);
    let body = &status.body;
    // The label stays inside one code span (its backticks replaced); the settings error's image
    // and mention are outside code and defused.
    assert!(
        body.contains("label `estimate:'![y](https://evil.example/q.png)' <img src=x> @everyone`"),
        "{body}"
    );
    assert!(!body.contains("![x](https"), "{body}");
    assert!(body.contains("\\!\\[x\\]"), "{body}");
    assert!(!body.contains(" @everyone "), "{body}");
}

// --- `.github/owp.yml` is bounded -----------------------------------------------------------------

#[tokio::test]
async fn an_oversized_or_deeply_nested_settings_file_is_a_settings_error_not_a_stall() {
    // 200 KB of `[`: over the size limit, and nested far too deep.
    let huge = "[".repeat(200 * 1024);
    let started = std::time::Instant::now();
    let story = Story::with(Some(&huge), |_| {}).await;
    let n = story.label_issue("Fix the parser", &[]).await;
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    story.expect_status(
        n,
        &[
            "The repository's settings file could not be used",
            "at most 65536 are read",
        ],
    );
    assert_eq!(story.policy().await.max_open_prs, 3, "the defaults apply");

    // Under the size limit but nested deep, or with aliases: refused just as fast.
    story
        .fake
        .set_file(REPO, ".github/owp.yml", &"[".repeat(60 * 1024));
    story.running().github.reconcile_now().await.unwrap();
    story.add_label(n, "estimate:2").await;
    story.expect_status(n, &["nested deeper than"]);
    story.fake.set_file(
        REPO,
        ".github/owp.yml",
        "max_open_prs: &n 5\nclaim:\n  ttl_days: *n\n",
    );
    story.running().github.reconcile_now().await.unwrap();
    story.add_label(n, "estimate:3").await;
    story.expect_status(n, &["anchors and aliases"]);
    // A stall (a parser that follows the nesting or expands the aliases) would not end; the
    // story itself, three reads of the file and their replies, has taken over 10 s beside the
    // suite's heaviest tests on a busy 2-core machine.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

// --- comment floods ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_comment_flood_gets_a_few_replies_then_reactions_and_repeats_collapse() {
    use owp::github::throttle::{REPLIES_PER_ISSUE, THROTTLED_REACTION};
    let story = Story::start().await;
    let n = story.label_issue("Fix the parser", &[]).await;
    story.comment(n, "alice", "/owp claim").await;
    story.expect_status(n, &["claimed by @alice"]);

    // Different misspellings: a few replies, then a reaction instead of each reply.
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(story.comment(n, "mallory", &format!("/owp clam{i}")).await);
    }
    let answered = REPLIES_PER_ISSUE as usize;
    for i in 0..answered {
        story.expect_comment(n, &format!("`/owp clam{i}`"));
    }
    for id in &ids[answered..] {
        assert!(story.reacted(*id, THROTTLED_REACTION), "comment {id}");
    }
    story.expect_no_new_comments(n);

    // The same refused command again: one reply, the repeat collapses into it.
    story.comment(n, "carol", "/owp claim").await;
    let again = story.comment(n, "carol", "/owp claim").await;
    story.expect_comment(n, "already claimed by @alice");
    assert!(!story.reacted(again, THROTTLED_REACTION));
    story.expect_no_new_comments(n);

    // Someone else is still answered at once, and so is a maintainer past the limit.
    story.comment(n, "bob", "/owp clam").await;
    story.expect_comment(n, "@bob, I don't know the command");
    story.fake.set_permission(REPO, "maria", "maintain");
    story.comment(n, "maria", "/owp unblock").await;
    story.expect_comment(n, "@maria");
    for i in 0..(REPLIES_PER_ISSUE + 2) {
        story.comment(n, "maria", &format!("/owp unblok{i}")).await;
        story.expect_comment(n, &format!("`/owp unblok{i}`"));
    }

    // The status comment of a new issue is not held up behind the flood.
    let m = story.label_issue("Another issue", &[]).await;
    story.expect_status(m, &["**Ready**"]);
    story.expect_status(n, &["claimed by @alice"]);
}

#[tokio::test]
async fn the_outbox_stays_under_githubs_content_creation_limits_with_status_comments_first() {
    const {
        assert!(owp::store::github::write_pacing::WRITES_PER_MINUTE <= 80);
        assert!(owp::store::github::write_pacing::WRITES_PER_HOUR <= 500);
    }
    let store_limit = owp::store::github::write_pacing::WRITES_PER_MINUTE;
    let story = Story::start().await;
    let running = story.running();
    // Replies leave room for status comments: a reply waits when only the status share is left.
    let store = &running.store;
    let reply_share = store_limit - owp::store::github::write_pacing::STATUS_RESERVE_PER_MINUTE;
    let used_before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM gh_write_log")
        .fetch_one(store.read_pool())
        .await
        .unwrap();
    for _ in used_before..reply_share {
        assert_eq!(
            crate::store_support::reserve_write(store, INSTALLATION as i64, false).await,
            None
        );
    }
    assert!(
        crate::store_support::reserve_write(store, INSTALLATION as i64, false)
            .await
            .is_some(),
        "replies wait"
    );
    assert_eq!(
        crate::store_support::reserve_write(store, INSTALLATION as i64, true).await,
        None,
        "a status comment still goes"
    );
}

#[tokio::test]
async fn status_comments_leave_the_outbox_before_replies() {
    use owp::store::github::outbox::{OutboxKind, OutboxTarget, enqueue_status};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("owp.db").display());
    let store = owp::store::Store::open(&url, owp::store::Timing::default())
        .await
        .unwrap();
    let target = |issue_number| OutboxTarget {
        installation_id: 1,
        repo: "o/r",
        issue_number,
    };
    let mut tx = store.begin().await.unwrap();
    tx.installations().upsert(1, "o", false).await.unwrap();
    // A flood of replies on issue 1, then a status comment on issue 1 and one on issue 2.
    for i in 0..20 {
        tx.outbox()
            .enqueue_comment(&target(1), None, &format!("reply {i}"))
            .await
            .unwrap();
    }
    for (issue, task) in [(1, "t1"), (2, "t2")] {
        let now = tx.now;
        enqueue_status(tx.conn(), now, &target(issue), task, 0)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    // One installation's rows go one at a time: each claim takes one, sent before the next.
    let mut rows = Vec::new();
    for _ in 0..3 {
        let now = owp::store::now_ms();
        let claimed = store
            .outbox()
            .claim(
                "runner",
                now,
                now + 60_000,
                3,
                &WritePacing::default(),
                1000,
            )
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1, "{claimed:?}");
        assert!(
            store
                .outbox()
                .sent(&claimed[0], "runner", None, None)
                .await
                .unwrap()
        );
        rows.extend(claimed);
    }
    let kinds: Vec<(OutboxKind, i64)> = rows.iter().map(|r| (r.kind, r.issue_number)).collect();
    assert_eq!(
        kinds,
        [
            (OutboxKind::Status, 1),
            (OutboxKind::Status, 2),
            (OutboxKind::Comment, 1)
        ],
        "status comments first; replies of one issue in order"
    );
    assert_eq!(rows[2].body, "reply 0");
}
