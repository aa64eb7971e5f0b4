//! The GitHub App, story by story: the real service (`server::start`) against the fake GitHub,
//! driven by signed real webhook payloads. Every comment the App writes is asserted (the story
//! fails otherwise), and every step waits for the inbox and the outbox to drain — no sleeps.

#[allow(unused_imports)]
use crate::github_support;

use std::time::Duration;

use github_support::story::{REPO, Story};
use owp::domain::TaskStatus;
use serde_json::{Value, json};

// --- issues become tasks ----------------------------------------------------------------------

#[tokio::test]
async fn a_labelled_issue_becomes_a_task_with_its_fields_and_a_status_comment() {
    let story = Story::start().await;
    assert_eq!(
        story.policy().await.max_open_prs,
        3,
        "a new repository gets 3 review slots"
    );

    let n = story
        .label_issue(
            "Speed up the claim query",
            &[
                "estimate:3",
                "priority:high",
                "skills:rust,sql",
                "area:scheduler",
                "tier:1",
            ],
        )
        .await;

    let task = story.task(n).await;
    assert_eq!(task.key.as_deref(), Some(format!("{REPO}#{n}").as_str()));
    assert_eq!(task.title, "Speed up the claim query");
    assert_eq!(task.status, TaskStatus::Ready);
    assert_eq!(task.estimate_points, 3);
    assert_eq!(task.priority.as_str(), "high");
    assert_eq!(task.required_skills, ["rust", "sql"]);
    assert_eq!(task.area.as_deref(), Some("scheduler"));
    assert_eq!(task.tier, 1);
    story.expect_status(
        n,
        &[
            "**Ready** — comment `/owp claim` to take this issue.",
            "Estimate: 3 points · Priority: high · Skills: rust, sql · Area: scheduler · Tier: 1",
            "Review budget: 0 of 3 review slots used.",
        ],
    );

    // Edits update the task and its one status comment; nothing new is posted.
    story
        .retitle_issue(n, "Speed up the claim query (SQLite)")
        .await;
    story.add_label(n, "estimate:5").await;
    let task = story.task(n).await;
    assert_eq!(task.title, "Speed up the claim query (SQLite)");
    assert_eq!(task.estimate_points, 5, "the larger estimate wins");
    story.expect_status(
        n,
        &[
            "Estimate: 5 points",
            "labels `estimate:3`, `estimate:5` disagree",
        ],
    );
    story.expect_no_new_comments(n);

    // An issue without the label is not a task.
    let plain = story.open_issue("Just a question", &["question"]).await;
    assert!(story.maybe_task(plain).await.is_none());
    story.expect_no_new_comments(plain);
}

#[tokio::test]
async fn the_board_visibility_follows_what_github_says_about_the_repository() {
    let story = Story::start().await;
    assert!(
        !story.policy().await.private,
        "the installation listed the repository as public"
    );
    let n = story
        .open_issue("Where is the changelog?", &["question"])
        .await;
    // The owner makes the repository private on GitHub: its next event says so.
    let mut payload = story.labeled_payload(n, "question");
    payload["repository"]["private"] = json!(true);
    story.send("issues", &payload).await;
    assert!(story.policy().await.private, "private as GitHub says");
    // An event that does not say leaves it as it is.
    let mut payload = story.labeled_payload(n, "question");
    if let Some(repo) = payload["repository"].as_object_mut() {
        repo.remove("private");
    }
    story.send("issues", &payload).await;
    assert!(story.policy().await.private, "unknown is not public");
    // Public again.
    let payload = story.labeled_payload(n, "question");
    assert_eq!(payload["repository"]["private"], json!(false));
    story.send("issues", &payload).await;
    assert!(!story.policy().await.private);
    let changes: Vec<Value> = story
        .running()
        .store
        .events()
        .recent(100)
        .await
        .unwrap()
        .into_iter()
        // Visibility changes alone (a policy update names the budget too).
        .filter(|e| e.kind == "repo.updated" && e.data.get("max_open_prs").is_none())
        .map(|e| e.data["visibility"].clone())
        .collect();
    assert_eq!(changes, [json!("private"), json!("public")]);
}

#[tokio::test]
async fn removing_the_label_cancels_an_unheld_task_and_labelling_again_brings_it_back() {
    let story = Story::start().await;
    let n = story.label_issue("Fix the docs", &[]).await;
    story.remove_label(n, "pool:ready").await;
    let task = story.task(n).await;
    assert_eq!(task.status, TaskStatus::Cancelled);
    story.expect_status(
        n,
        &["**Not in the pool**: the issue left the pool: its `pool:ready` label was removed."],
    );

    story.add_label(n, "pool:ready").await;
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    story.expect_status(n, &["**Ready**"]);

    // Closing a held issue is reported to the holder, not silently dropped.
    let c = story.comment(n, "alice", "/owp claim").await;
    assert!(
        !story.reacted(c, "+1"),
        "the status comment answers a claim"
    );
    story.close_issue(n).await;
    assert_eq!(
        story.task(n).await.status,
        TaskStatus::InProgress,
        "alice keeps it"
    );
    story.expect_comment(
        n,
        "@alice, this issue left the pool (it was closed) while you hold it.",
    );
    story.expect_status(n, &["This issue left the pool (it was closed)"]);
    story.comment(n, "alice", "/owp release").await;
    let task = story.task(n).await;
    assert_eq!(
        task.status,
        TaskStatus::Cancelled,
        "released, it leaves the pool"
    );
    story.expect_status(n, &["**Not in the pool**"]);
}

// --- claims by comment, and every kind of refusal ---------------------------------------------

#[tokio::test]
async fn a_comment_claims_an_issue_and_refusals_say_why() {
    // A roomy budget, so that only the rule under test refuses.
    let story = Story::with(Some("max_open_prs: 10\n"), |_| {}).await;
    let n = story
        .label_issue("Add a --verbose flag", &["estimate:2"])
        .await;
    story.expect_status(n, &["**Ready**"]);

    let c = story
        .comment(n, "alice", "I'd like to do this.\n\n/owp claim")
        .await;
    let task = story.task(n).await;
    assert_eq!(task.status, TaskStatus::InProgress);
    assert_eq!(task.worker_id.as_deref(), Some("gh_alice"));
    assert!(
        !story.reacted(c, "+1"),
        "a successful claim is answered by the status comment, which names the holder"
    );
    story.expect_status(
        n,
        &[
            "**In progress** — claimed by @alice since",
            "The claim runs until",
        ],
    );

    // Someone else holds it.
    story.comment(n, "bob", "/owp claim").await;
    story.expect_comment(
        n,
        "@bob, you can't claim this issue right now: it is already claimed by @alice.",
    );
    // It is already yours.
    story.comment(n, "alice", "/owp claim").await;
    story.expect_comment(
        n,
        "@alice, you can't claim this issue right now: you already hold it",
    );
    // Quoted or fenced commands are not commands.
    story
        .comment(n, "bob", "> /owp claim\n\n```\n/owp claim\n```")
        .await;
    story.expect_no_new_comments(n);
    // Typos get a did-you-mean.
    story.comment(n, "bob", "/owp clam").await;
    story.expect_comment(n, "Did you mean `/owp claim`?");
    // Not in the pool.
    let plain = story.open_issue("A question", &[]).await;
    story.comment(plain, "bob", "/owp claim").await;
    story.expect_comment(
        plain,
        "this issue is not in the pool — a maintainer adds the `pool:ready` label",
    );

    // Released, it is free again, but not for alice within the hour.
    story.comment(n, "alice", "/owp release").await;
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    story.expect_status(n, &["**Ready**"]);
    story.comment(n, "alice", "/owp claim").await;
    story.expect_comment(
        n,
        "you gave it back less than an hour ago — you can claim it again after",
    );
    story.comment(n, "bob", "/owp claim").await;
    assert_eq!(story.task(n).await.worker_id.as_deref(), Some("gh_bob"));
    story.expect_status(n, &["claimed by @bob"]);
}

#[tokio::test]
async fn claims_obey_tier_area_and_per_person_limits() {
    let story = Story::with(Some("max_open_prs: 10\n"), |_| {}).await;
    let risky = story
        .label_issue("Rotate the signing keys", &["tier:2"])
        .await;
    story.comment(risky, "bob", "/owp claim").await;
    story.expect_comment(
        risky,
        "this task is tier 2 and needs trust level 2 or more; yours is 0.",
    );
    story.expect_status(risky, &["**Ready**", "Tier: 2"]);

    let api_a = story.label_issue("Paginate /v1/tasks", &["area:api"]).await;
    let api_b = story
        .label_issue("Filter /v1/tasks by status", &["area:api"])
        .await;
    story.comment(api_a, "carol", "/owp claim").await;
    story.comment(api_b, "dave", "/owp claim").await;
    story.expect_comment(
        api_b,
        &format!("#{api_a} in the same area (`api`) is in progress — try again when it is done."),
    );
    story.expect_status(api_a, &["claimed by @carol"]);
    story.expect_status(api_b, &["**Ready**", "Area: api"]);

    let one = story.label_issue("One", &[]).await;
    let two = story.label_issue("Two", &[]).await;
    story.comment(one, "carol", "/owp claim").await;
    story.comment(two, "carol", "/owp claim").await;
    story.expect_comment(
        two,
        "you already hold 2 of the 2 issues one person may claim at once here",
    );
    story.expect_status(one, &["claimed by @carol"]);
    story.expect_status(two, &["**Ready**"]);
}

#[tokio::test]
async fn a_repository_can_let_only_registered_workers_claim() {
    let story = Story::with(Some("who_may_claim: workers\n"), |_| {}).await;
    let n = story.label_issue("Workers only", &[]).await;
    story.comment(n, "mallory", "/owp claim").await;
    story.expect_comment(
        n,
        "only registered workers may claim issues here — register one and link it with `owp worker link`.",
    );
    story.expect_status(n, &["**Ready**"]);
}

#[tokio::test]
async fn repository_settings_decide_who_may_claim_and_how_fast() {
    let settings = "who_may_claim: {allowlist: [alice]}\npr_hourly_limit: 1\n";
    let story = Story::with(Some(settings), |_| {}).await;
    let a = story.label_issue("First", &[]).await;
    let b = story.label_issue("Second", &[]).await;
    story.comment(a, "mallory", "/owp claim").await;
    story.expect_comment(
        a,
        "only the people on this repository's allowlist may claim issues here",
    );
    story.comment(a, "alice", "/owp claim").await;
    story.expect_status(a, &["claimed by @alice"]);
    story.comment(b, "alice", "/owp claim").await;
    story.expect_comment(
        b,
        "this repository takes at most 1 new claim per hour — try again after",
    );
    story.expect_status(b, &["**Ready**"]);
}

#[tokio::test]
async fn the_hourly_claim_cap_holds_for_rest_claims_too() {
    let story = Story::with(Some("pr_hourly_limit: 2\nmax_open_prs: 10\n"), |_| {}).await;
    let issues = [
        story.label_issue("First", &[]).await,
        story.label_issue("Second", &[]).await,
        story.label_issue("Third", &[]).await,
    ];
    let registration = json!({"name": "rest-bot", "skills": [], "capacity_points": 10, "max_concurrent_tasks": 10});
    let token = story
        .linked_worker(issues[0], "rest-bot", registration)
        .await;
    // Two claims fit in the hour; the third finds nothing eligible although the budget has room.
    for expected in [200, 200, 204] {
        let (status, _) = story.post_json("/v1/work", Some(&token), json!({})).await;
        assert_eq!(status, expected);
    }
    // The comment path counts the same leases.
    story.comment(issues[2], "alice", "/owp claim").await;
    story.expect_comment(
        issues[2],
        "this repository takes at most 2 new claims per hour — try again after",
    );
    story.expect_status(issues[0], &["**Offered** to"]);
    story.expect_status(issues[1], &["**Offered** to"]);
    story.expect_status(issues[2], &["**Ready**"]);
}

// --- pull requests and the live review budget -------------------------------------------------

#[tokio::test]
async fn an_open_pull_request_uses_the_budget_until_it_merges() {
    let story = Story::with(Some("max_open_prs: 1\n"), |_| {}).await;
    let first = story.label_issue("Fix the flaky test", &[]).await;
    let second = story.label_issue("Document the budget", &[]).await;
    story.comment(first, "alice", "/owp claim").await;
    story.expect_status(
        first,
        &[
            "claimed by @alice",
            "Review budget: 1 of 1 review slots used",
        ],
    );

    let pr = story
        .open_pr("alice", &format!("This fixes #{first}."))
        .await;
    let task = story.task(first).await;
    assert_eq!(task.status, TaskStatus::PrOpened);
    let pr_url = format!("https://github.com/{REPO}/pull/{pr}");
    assert_eq!(task.artifact.as_ref().unwrap()["pr_url"], pr_url.as_str());
    let policy = story.policy().await;
    assert_eq!((policy.open_prs, policy.active_leases), (1, 0));
    story.expect_status(
        first,
        &[&format!("**Pull request open** — {pr_url} by @alice.")],
    );

    // The budget is full: the next claim is refused in words a volunteer understands.
    story.comment(second, "bob", "/owp claim").await;
    story.expect_comment(
        second,
        "@bob, you can't claim this issue right now: review budget full: 1 of 1 PRs open — try again when one merges.",
    );
    // And a PR of someone else's is refused a claim on the same issue.
    story.comment(first, "carol", "/owp claim").await;
    story.expect_comment(
        first,
        &format!("a pull request for it is already open: {pr_url}"),
    );

    story.merge_pr(pr).await;
    assert_eq!(story.task(first).await.status, TaskStatus::Merged);
    let policy = story.policy().await;
    assert_eq!((policy.open_prs, policy.active_leases), (0, 0));
    story.expect_status(
        first,
        &[&format!("**Done** — merged in {pr_url}. Thank you!")],
    );
    story.expect_no_new_comments(pr);
    story.comment(first, "carol", "/owp claim").await;
    story.expect_comment(
        first,
        "@carol, you can't claim this issue right now: it is already done.",
    );

    story.comment(second, "bob", "/owp claim").await;
    assert_eq!(story.task(second).await.status, TaskStatus::InProgress);
    story.expect_status(second, &["claimed by @bob"]);
}

#[tokio::test]
async fn a_pull_request_closed_unmerged_requeues_the_task_and_reopening_links_it_again() {
    let story = Story::start().await;
    let n = story.label_issue("Handle SIGTERM", &[]).await;
    story.comment(n, "alice", "/owp claim").await;
    let pr = story.open_pr("alice", &format!("Closes {REPO}#{n}")).await;
    assert_eq!(story.task(n).await.status, TaskStatus::PrOpened);

    story.close_pr(pr).await;
    let task = story.task(n).await;
    assert_eq!(task.status, TaskStatus::Ready);
    assert_eq!(task.attempts, 1);
    assert_eq!(story.policy().await.open_prs, 0);
    story.expect_status(n, &["**Ready**"]);

    story.reopen_pr(pr).await;
    assert_eq!(story.task(n).await.status, TaskStatus::PrOpened);
    assert_eq!(story.policy().await.open_prs, 1);
    story.expect_status(n, &["**Pull request open**"]);
    story.expect_no_new_comments(pr);
}

// --- the claim clock --------------------------------------------------------------------------

#[tokio::test]
async fn a_claim_gets_a_reminder_at_half_time_and_ends_without_activity() {
    let story = Story::with(None, |c| c.github.github_claim_ttl_seconds = Some(8)).await;
    let n = story.label_issue("Slow work", &[]).await;
    story.comment(n, "alice", "/owp claim").await;
    story.expect_status(n, &["claimed by @alice"]);

    // Activity moves the clock: a comment one second later. The claim lasts 8 seconds, so that
    // the comment is applied well before the first half-time has come on a busy machine.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    story
        .comment(n, "alice", "Still on it, tests are half done.")
        .await;
    let active_at = story.now();

    story
        .eventually("the reminder", Duration::from_secs(20), |s| {
            s.fake
                .bot_comments(REPO, n)
                .iter()
                .any(|c| c.body.contains("a reminder"))
        })
        .await;
    story.settle().await;
    let reminder = story.expect_comment(n, "@alice, a reminder: you claimed this issue");
    let waited = reminder.created_at - active_at;
    assert!(
        waited >= chrono::TimeDelta::milliseconds(3800),
        "the reminder came {waited} after the activity"
    );
    assert_eq!(story.task(n).await.status, TaskStatus::InProgress);

    story
        .eventually("the expiry", Duration::from_secs(20), |s| {
            s.fake
                .bot_comments(REPO, n)
                .iter()
                .any(|c| c.body.contains("your claim on this issue ended"))
        })
        .await;
    story.settle().await;
    story.expect_comment(
        n,
        "@alice, your claim on this issue ended after 1 day without activity",
    );
    let task = story.task(n).await;
    assert_eq!(task.status, TaskStatus::Ready);
    assert_eq!(task.attempts, 1);
    story.expect_status(n, &["**Ready**"]);
}

// --- maintainers -------------------------------------------------------------------------------

#[tokio::test]
async fn maintainer_commands_are_refused_to_others() {
    let story = Story::start().await;
    story.fake.set_permission(REPO, "maria", "maintain");
    story.fake.set_permission(REPO, "tom", "triage");
    let n = story.label_issue("Rework the config", &[]).await;

    story
        .comment(n, "tom", "/owp block needs a design first")
        .await;
    story.expect_comment(n, "@tom, only maintainers (people with write access or above) can use `/owp block`, so I did nothing.");
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);

    story
        .comment(n, "maria", "/owp block needs a design first")
        .await;
    let task = story.task(n).await;
    assert_eq!(task.status, TaskStatus::Blocked);
    story.expect_status(
        n,
        &["**Blocked** by maintainer `maria`: needs a design first."],
    );
    story.comment(n, "bob", "/owp claim").await;
    story.expect_comment(n, "a maintainer blocked it: needs a design first.");

    story.comment(n, "bob", "/owp unblock").await;
    story.expect_comment(n, "@bob, only maintainers");
    story.comment(n, "maria", "/owp unblock").await;
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    story.expect_status(n, &["**Ready**"]);
    assert_eq!(
        story
            .fake
            .count_calls("GET", "/collaborators/maria/permission"),
        1,
        "a maintainer check is remembered briefly"
    );
}

// --- comments: edits, the bot itself, linked workers -----------------------------------------

#[tokio::test]
async fn an_edited_comment_runs_only_its_new_commands_and_the_bot_ignores_itself() {
    let story = Story::start().await;
    let n = story.label_issue("Edits", &[]).await;
    let c = story.comment(n, "bob", "/owp clam").await;
    story.expect_comment(n, "Did you mean");
    story.edit_comment(c, "/owp clam\n/owp claim").await;
    assert_eq!(story.task(n).await.worker_id.as_deref(), Some("gh_bob"));
    story.expect_status(n, &["claimed by @bob"]);
    story.expect_no_new_comments(n);

    // A comment by the App itself (or any bot) is never acted on.
    let own = story
        .comment(n, github_support::BOT_LOGIN, "/owp release")
        .await;
    assert!(!story.reacted(own, "+1"));
    assert_eq!(story.task(n).await.status, TaskStatus::InProgress);
    story.mark_asserted(own);
}

#[tokio::test]
async fn a_registered_worker_linked_by_comment_claims_as_itself() {
    let story = Story::with(Some("max_open_prs: 10\n"), |_| {}).await;
    let (status, reg) = story
        .post_json(
            "/v1/workers/register",
            None,
            json!({"name": "alice-bot", "skills": ["python"], "capacity_points": 3, "github_login": "alice"}),
        )
        .await;
    assert_eq!(status, 201);
    let token = reg["token"].as_str().unwrap().to_string();
    let worker_id = reg["worker_id"].as_str().unwrap().to_string();

    let n = story.label_issue("Port the parser", &["skills:rust"]).await;
    // A self-declared login proves nothing: alice claims as her own person, not as the worker.
    story.comment(n, "alice", "/owp claim").await;
    assert_eq!(story.task(n).await.worker_id.as_deref(), Some("gh_alice"));
    story.expect_status(n, &["claimed by @alice"]);
    story.comment(n, "alice", "/owp release").await;
    story.expect_status(n, &["**Ready**"]);

    let (status, code) = story
        .post_json("/v1/workers/link-code", Some(&token), json!({}))
        .await;
    assert_eq!(status, 201);
    let code = code["code"].as_str().unwrap().to_string();
    let (status, _) = story
        .post_json("/v1/workers/link-code", Some("owpw_wrong"), json!({}))
        .await;
    assert_eq!(status, 401);

    let other = story.label_issue("Write the changelog", &[]).await;
    let c = story
        .comment(other, "alice", &format!("/owp link {code}"))
        .await;
    assert!(story.reacted(c, "+1"));
    story.expect_status(other, &["**Ready**"]);
    // The code is used up.
    story
        .comment(other, "mallory", &format!("/owp link {code}"))
        .await;
    story.expect_comment(other, "that link code is unknown or has expired");

    // Now alice's claims are her worker's, under every rule: it lacks the skill…
    let fresh = story
        .label_issue("Port the lexer", &["skills:rust", "estimate:2"])
        .await;
    story.comment(fresh, "alice", "/owp claim").await;
    story.expect_comment(fresh, "it needs skills your worker does not list: rust.");
    story.expect_status(fresh, &["**Ready**"]);
    // …its 3 points of capacity…
    let big = story
        .label_issue("Rewrite the docs site", &["skills:python", "estimate:5"])
        .await;
    story.comment(big, "alice", "/owp claim").await;
    story.expect_comment(
        big,
        "its 5 points do not fit your worker's capacity (0 of 3 points in use).",
    );
    story.expect_status(big, &["**Ready**"]);
    // …and its pause.
    let (status, _) = story
        .post_json(
            "/v1/workers/heartbeat",
            Some(&token),
            json!({"status": "paused"}),
        )
        .await;
    assert_eq!(status, 200);
    let small = story.label_issue("Fix a typo", &["skills:python"]).await;
    story.comment(small, "alice", "/owp claim").await;
    story.expect_comment(
        small,
        "your worker `alice-bot` is paused — set it back to idle first.",
    );
    story.expect_status(small, &["**Ready**"]);
    let (status, _) = story
        .post_json(
            "/v1/workers/heartbeat",
            Some(&token),
            json!({"status": "idle"}),
        )
        .await;
    assert_eq!(status, 200);
    // …and takes one that fits.
    let py = story
        .label_issue("Fix the Python client", &["skills:python"])
        .await;
    story.comment(py, "alice", "/owp claim").await;
    assert_eq!(
        story.task(py).await.worker_id.as_deref(),
        Some(worker_id.as_str())
    );
    story.expect_status(py, &["claimed by worker `alice-bot` (@alice)"]);
}

// --- linking a worker ------------------------------------------------------------------------

#[tokio::test]
async fn owp_worker_link_prints_a_code_that_links_the_commenter() {
    let story = Story::start().await;
    let config_dir = story.dir.path().join("worker-config");
    let owp = |args: Vec<String>| {
        let config_dir = config_dir.clone();
        async move {
            let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"))
                .args(args)
                .arg("--config-dir")
                .arg(&config_dir)
                .env_remove("OWP_SERVER")
                .env_remove("OWP_PROFILE")
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        }
    };
    let server = story.url();
    owp([
        "worker", "register", "--server", &server, "--name", "bob-bot", "--skills", "docs",
    ]
    .map(String::from)
    .to_vec())
    .await;
    let printed = owp(["worker", "link", "--json"].map(String::from).to_vec()).await;
    let answer: Value = serde_json::from_str(&printed).unwrap();
    let comment = answer["comment"].as_str().unwrap().to_string();
    assert!(comment.starts_with("/owp link "), "{comment}");
    let human = owp(["worker", "link"].map(String::from).to_vec()).await;
    assert!(human.contains("/owp link "), "{human}");

    let n = story
        .label_issue("Proofread the guide", &["skills:docs"])
        .await;
    story.expect_status(n, &["**Ready**"]);
    // The first code was replaced by the second: only the newest works.
    story.comment(n, "bob", &comment).await;
    story.expect_comment(n, "that link code is unknown or has expired");
    let newest = human
        .lines()
        .find_map(|l| l.trim().strip_prefix("/owp link "))
        .unwrap()
        .to_string();
    let c = story
        .comment(n, "bob", &format!("/owp link {newest}"))
        .await;
    assert!(story.reacted(c, "+1"));
    story.comment(n, "bob", "/owp claim").await;
    let worker = story.task(n).await.worker_id.unwrap();
    assert!(
        worker.starts_with("w_"),
        "claimed as the registered worker, not {worker}"
    );
    story.expect_status(n, &["claimed by worker `bob-bot` (@bob)"]);
}

// --- the repo contract -----------------------------------------------------------------------

#[tokio::test]
async fn the_repo_contract_of_owp_yml_travels_with_every_lease() {
    let settings = "contract:\n  setup: npm ci\n  test: npm test\n  branch: \"fix/{number}-{slug}\"\n  \
                    instructions: Keep it small.\n";
    let story = Story::with(Some(settings), |_| {}).await;
    let policy = story.policy().await;
    let contract = policy.contract.clone().expect("the contract is stored");
    assert_eq!(contract.test.as_deref(), Some("npm test"));
    assert_eq!(
        policy.clone_url.as_deref(),
        Some(format!("https://github.com/{REPO}.git").as_str())
    );
    let issue = story.label_issue("Fix the parser", &[]).await;
    let registration =
        json!({"name": "seat", "skills": [], "capacity_points": 5, "max_concurrent_tasks": 1});
    let token = story.linked_worker(issue, "seat", registration).await;
    let (status, claim) = story.post_json("/v1/work", Some(&token), json!({})).await;
    assert_eq!(status, 200, "{claim}");
    let task = &claim["lease"]["task"];
    assert_eq!(
        task["contract"],
        json!({"setup": "npm ci", "test": "npm test", "branch": "fix/{number}-{slug}",
               "instructions": "Keep it small."})
    );
    assert_eq!(task["clone_url"], format!("https://github.com/{REPO}.git"));
    story.settle().await;
    story.expect_status(issue, &["**Offered** to"]);
}

#[tokio::test]
async fn a_bad_contract_in_owp_yml_is_shown_and_stores_nothing() {
    let story = Story::with(Some("contract:\n  tests: npm test\n"), |_| {}).await;
    let policy = story.policy().await;
    assert!(policy.contract.is_none(), "{:?}", policy.contract);
    let shown = policy
        .extensions
        .get("x_github_config_error")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    assert!(shown.contains("unknown field `tests`"), "{shown}");
    assert!(shown.contains("did you mean `test`"), "{shown}");
}

/// A worker's `pr_opened` for a task of a repository the App is installed on takes only a pull
/// request of that repository (contract section 9): nobody puts a stranger's link on it.
#[tokio::test]
async fn a_rest_pr_report_in_an_installed_repository_names_one_of_its_pull_requests() {
    let story = Story::start().await;
    let (status, _) = story
        .admin(
            reqwest::Method::POST,
            "/v1/admin/tasks",
            Some(json!({"repo": REPO, "tasks": [{"title": "imported by hand"}]})),
        )
        .await;
    assert_eq!(status, 201);
    // alice links her worker on an issue outside the pool.
    let issue = story.fake.create_issue(REPO, "alice", "Say hello", "", &[]);
    story.remember_number(issue);
    let token = story
        .linked_worker(
            issue,
            "alice",
            json!({"name": "rest-bot", "skills": [], "capacity_points": 5, "max_concurrent_tasks": 1}),
        )
        .await;
    let (status, claim) = story.post_json("/v1/work", Some(&token), json!({})).await;
    assert_eq!(status, 200, "{claim}");
    let task_id = claim["lease"]["task"]["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/tasks/{task_id}/status");
    for bad in [
        "https://example.test/octo-org/hello/pull/5".to_string(),
        "https://github.com/octo-org/other/pull/5".to_string(),
        format!("https://github.com/{REPO}/issues/5"),
        "javascript:alert(1)".to_string(),
    ] {
        let (status, body) = story
            .post_json(
                &path,
                Some(&token),
                json!({"status": "pr_opened", "artifact": {"pr_url": bad}}),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("invalid_pr_url")),
            "{bad}: {body}"
        );
    }
    let pr = story
        .fake
        .open_pr(REPO, "alice", "Imported work", "A change.");
    let good = format!("https://github.com/{REPO}/pull/{pr}");
    let (status, body) = story
        .post_json(
            &path,
            Some(&token),
            json!({"status": "pr_opened", "artifact": {"pr_url": good}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_mistyped_skills_label_is_named_and_does_not_open_the_task_silently() {
    let story = Story::start().await;
    let n = story
        .label_issue("Port the parser", &["skill:rust", "tiers:2"])
        .await;
    let task = story.task(n).await;
    assert!(task.required_skills.is_empty());
    story.expect_status(
        n,
        &[
            "label `skill:rust` was ignored: did you mean `skills:rust`?",
            "label `tiers:2` was ignored: did you mean `tier:2`?",
        ],
    );
}

/// What `owp admin` says of a repository's settings file: a mistyped key is shown where the
/// maintainer looks, and a budget the file sets is named when the admin sets another.
#[tokio::test]
async fn owp_admin_shows_the_settings_file_and_says_which_budget_wins() {
    async fn admin(story: &Story, args: &[&str]) -> String {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"))
            .arg("admin")
            .args(args)
            .args(["--server", &story.url()])
            .env("OWP_ADMIN_TOKEN", github_support::story::ADMIN)
            .env_remove("OWP_SERVER")
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    }
    let typo = Story::with(Some("max_open_pr: 1\n"), |_| {}).await;
    let state = admin(&typo, &["state"]).await;
    assert!(
        state.contains(&format!("! {REPO}: its settings file is not used (")),
        "{state}"
    );
    assert!(state.contains("did you mean `max_open_prs`?"), "{state}");

    let set = Story::with(Some("max_open_prs: 2\n"), |_| {}).await;
    let state = admin(&set, &["state"]).await;
    assert!(
        state.contains("0 of 2 review slots used (set in .github/owp.yml)"),
        "{state}"
    );
    let init = admin(&set, &["init-repo", REPO, "--max-open-prs", "4"]).await;
    assert!(
        init.contains(
            "note: .github/owp.yml of octo-org/hello sets max_open_prs: 2, which takes over again"
        ),
        "{init}"
    );
    assert!(
        init.contains(&format!("--server {}", set.url())),
        "the next command keeps the server: {init}"
    );
}
