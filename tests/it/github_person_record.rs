//! A person is a record (contract section 14), tried as a person who moves to a new worker would:
//! what the pool remembers about a person — their give-backs and cool-downs, their merges here,
//! the claims they hold — is kept by their GitHub account id, not on the worker that spoke for
//! them then, so a fresh worker linked with `/owp link` starts from the same history, and
//! `max_claims_per_user` counts the person's claims on every worker and by comment together.

use reqwest::Method;
use serde_json::json;

use crate::github_first_timers::{claim, codes_for, key};
use crate::github_support::story::{REPO, Story};
use owp::domain::TaskStatus;

const GOOD_FIRST: &str = "good first issue";

const RULES: &str = "max_open_prs: 10\nmax_claims_per_user: 5\nclaim:\n  \
                     first_timers_label: \"good first issue\"\n  cooldown_hours: 24\n";

/// Row 2: alice's worker gives a task back, so she cools down in the repository; she links a
/// fresh worker. The new worker's `POST /v1/work` takes nothing, its preview names rule 1 (for
/// the task given back) and the cool-down, and her `/owp claim` is refused as before the relink.
async fn a_relink_keeps_the_cooldown(postgres: bool) {
    let story = Story::on(postgres, Some(RULES), |_| {}).await;
    let first = story.label_issue("Refactor the parser", &[]).await;
    let second = story.label_issue("Document the flags", &[]).await;
    let old = story.worker_of("alice", "alice-laptop").await;
    let (taken, lease) = claim(&story, &old).await.expect("a task");
    assert_eq!(taken, key(first));
    let (status, answer) = story
        .post_json(&format!("/v1/leases/{lease}/nack"), Some(&old), json!({}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(claim(&story, &old).await, None);

    let new = story.worker_of("alice", "alice-desktop").await;
    assert_eq!(
        claim(&story, &new).await,
        None,
        "the relink lifted the cool-down"
    );
    assert_eq!(
        codes_for(&story, &new, first).await,
        [json!("recently_released"), json!("cooling_down")]
    );
    assert_eq!(
        codes_for(&story, &new, second).await,
        [json!("cooling_down")]
    );
    story.comment(second, "alice", "/owp claim").await;
    story.expect_comment(
        second,
        "@alice, you can't claim this issue right now: your last claim here ended without a \
         pull request, and this repository asks for a pause of 24 hours before the next",
    );
    assert_eq!(story.task(second).await.status, TaskStatus::Ready);

    // Another person is not held back, and alice claims again once the hours have passed.
    let bob = story.worker_of("bob", "bob-bot").await;
    assert_eq!(claim(&story, &bob).await.map(|(k, _)| k), Some(key(first)));
    story.age_ended_leases(24).await;
    assert_eq!(claim(&story, &new).await.map(|(k, _)| k), Some(key(second)));
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_relink_keeps_the_cooldown_sqlite() {
    a_relink_keeps_the_cooldown(false).await;
}

#[tokio::test]
async fn a_relink_keeps_the_cooldown_postgres() {
    a_relink_keeps_the_cooldown(true).await;
}

/// Row 3: alice's task merged through her first worker; she links a fresh worker. She is no
/// first timer again: the new worker takes no `good first issue` task (the preview names rule
/// 14), and neither does her comment; a newcomer takes it.
async fn a_relink_keeps_the_merges(postgres: bool) {
    let story = Story::on(postgres, Some(RULES), |_| {}).await;
    let done = story.label_issue("Refactor the parser", &[]).await;
    let old = story.worker_of("alice", "alice-laptop").await;
    let (taken, _) = claim(&story, &old).await.expect("a task");
    assert_eq!(taken, key(done));
    let task_id = story.task(done).await.id;
    let (status, merged) = story
        .admin(
            Method::POST,
            &format!("/v1/admin/tasks/{task_id}/status"),
            Some(json!({"status": "merged"})),
        )
        .await;
    assert_eq!(status, 200, "{merged}");
    let easy = story
        .label_issue("Fix a typo in the README", &[GOOD_FIRST])
        .await;

    let new = story.worker_of("alice", "alice-desktop").await;
    assert_eq!(claim(&story, &new).await, None, "a first timer again");
    assert_eq!(
        codes_for(&story, &new, easy).await,
        [json!("not_first_timer")]
    );
    story.comment(easy, "alice", "/owp claim").await;
    story.expect_comment(easy, "@alice, you can't claim this issue right now:");
    assert_eq!(story.task(easy).await.status, TaskStatus::Ready);

    let newcomer = story.worker_of("newbie", "newbie-bot").await;
    assert_eq!(
        claim(&story, &newcomer).await.map(|(k, _)| k),
        Some(key(easy))
    );
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_relink_keeps_the_merges_sqlite() {
    a_relink_keeps_the_merges(false).await;
}

#[tokio::test]
async fn a_relink_keeps_the_merges_postgres() {
    a_relink_keeps_the_merges(true).await;
}

/// `max_claims_per_user` counts the person, not the worker: alice holds one task by comment, so
/// with `max_claims_per_user: 2` her linked worker (which may hold five) takes one more and no
/// third; her next comment is refused; after a relink the claims of her first worker still
/// count for her new one. Another person is not held back.
async fn claims_per_person(postgres: bool) {
    let rules = "max_open_prs: 10\nmax_claims_per_user: 2\n";
    let story = Story::on(postgres, Some(rules), |_| {}).await;
    let issues = [
        story.label_issue("One", &[]).await,
        story.label_issue("Two", &[]).await,
        story.label_issue("Three", &[]).await,
        story.label_issue("Four", &[]).await,
    ];
    story.comment(issues[0], "alice", "/owp claim").await;
    story.expect_status(issues[0], &["claimed by @alice"]);
    let laptop = story.worker_of("alice", "alice-laptop").await;
    assert_eq!(
        claim(&story, &laptop).await.map(|(k, _)| k),
        Some(key(issues[1]))
    );
    assert_eq!(claim(&story, &laptop).await, None, "a third claim of alice");
    assert_eq!(
        codes_for(&story, &laptop, issues[2]).await,
        [json!("concurrency_exceeded")]
    );
    story.comment(issues[2], "alice", "/owp claim").await;
    story.expect_comment(
        issues[2],
        "@alice, you can't claim this issue right now: you already hold 2 of the 2 issues one \
         person may claim at once here",
    );
    assert_eq!(story.task(issues[2]).await.status, TaskStatus::Ready);

    // A relink: the laptop's lease is still alice's.
    let desktop = story.worker_of("alice", "alice-desktop").await;
    assert_eq!(
        claim(&story, &desktop).await,
        None,
        "a relink reset the count"
    );

    let bob = story.worker_of("bob", "bob-bot").await;
    assert_eq!(
        claim(&story, &bob).await.map(|(k, _)| k),
        Some(key(issues[2]))
    );
    story.stop_checking_comments();
}

#[tokio::test]
async fn max_claims_per_user_counts_the_person_sqlite() {
    claims_per_person(false).await;
}

#[tokio::test]
async fn max_claims_per_user_counts_the_person_postgres() {
    claims_per_person(true).await;
}

/// Rows 4 and 5: alice holds a task and has a plan waiting, both through her laptop's worker;
/// she links her desktop's. The claim moves to the desktop (its issue says so, and so does the
/// reply to her link), which renews it, while the laptop's report is refused; her plan stays
/// hers: her desktop may not propose again, and a maintainer's `/owp approve @alice` hands the
/// task to the desktop.
async fn a_relink_moves_claims_and_plans(postgres: bool) {
    let rules = "max_open_prs: 10\nclaim:\n  approval: plan\n  approval_skip_trust: 1\n";
    let story = Story::on(postgres, Some(rules), |_| {}).await;
    story.fake.set_permission(REPO, "maint", "write");
    let held = story.label_issue("Refactor the parser", &[]).await;
    let planned = story.label_issue("Document the flags", &[]).await;
    let links = story.links_issue();
    let (laptop, laptop_id) = story
        .worker_linked_on(links, "alice", "alice-laptop", json!({}))
        .await;
    // The laptop is trusted to skip the plan for one task, then proposes for the other.
    let (status, body) = story
        .admin(
            Method::POST,
            &format!("/v1/admin/workers/{laptop_id}"),
            Some(json!({"trust_level": 1})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (taken, lease) = claim(&story, &laptop).await.expect("a task");
    assert_eq!(taken, key(held));
    let (status, body) = story
        .admin(
            Method::POST,
            &format!("/v1/admin/workers/{laptop_id}"),
            Some(json!({"trust_level": 0})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let planned_id = story.task(planned).await.id;
    let (status, body) = story
        .post_json(
            &format!("/v1/tasks/{planned_id}/proposals"),
            Some(&laptop),
            json!({"plan": "Describe each flag with an example."}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let (desktop, desktop_id) = story
        .worker_linked_on(links, "alice", "alice-desktop", json!({}))
        .await;
    story.expect_comment(
        links,
        &format!(
            "@alice, worker `{desktop_id}` speaks for you now (you linked it just now); worker \
             `{laptop_id}` no longer does."
        ),
    );
    story.settle().await;
    story.expect_comment(
        held,
        &format!(
            "@alice, worker `{desktop_id}` speaks for you now (you linked it just now); worker \
             `{laptop_id}` no longer does. Your claim of this issue moved with you"
        ),
    );
    let task = story.task(held).await;
    assert_eq!(task.worker_id.as_deref(), Some(desktop_id.as_str()));
    let (status, body) = story
        .post_json(
            &format!("/v1/leases/{lease}/renew"),
            Some(&desktop),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = story
        .post_json(
            &format!("/v1/leases/{lease}/renew"),
            Some(&laptop),
            json!({}),
        )
        .await;
    assert!(
        status >= 400,
        "the laptop still answers for the claim: {body}"
    );
    let (status, me) = story.get_json("/v1/workers/me", &desktop).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["worker"]["active_tasks"], 1, "{me}");

    // The plan is still alice's: proposing again is refused, the approval goes to the desktop.
    let (status, body) = story
        .post_json(
            &format!("/v1/tasks/{planned_id}/proposals"),
            Some(&desktop),
            json!({"plan": "Another plan."}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "already_proposed", "{body}");
    story.comment(planned, "maint", "/owp approve @alice").await;
    story.settle().await;
    let task = story.task(planned).await;
    assert_eq!(
        task.worker_id.as_deref(),
        Some(desktop_id.as_str()),
        "{task:?}"
    );
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_relink_moves_claims_and_plans_sqlite() {
    a_relink_moves_claims_and_plans(false).await;
}

#[tokio::test]
async fn a_relink_moves_claims_and_plans_postgres() {
    a_relink_moves_claims_and_plans(true).await;
}
