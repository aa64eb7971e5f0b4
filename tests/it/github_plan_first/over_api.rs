//! Plans first across the two ways in: a maintainer's `/owp approve` racing the dashboard's
//! Approve on one issue, a person proposing once per issue whether by comment or through their
//! linked worker, and a plan proposed by comment on a server running without its App.

use reqwest::Method;
use serde_json::{Value, json};

use super::proposals;
use crate::github_support::story::{REPO, Story};
use crate::signin::{MONA, web_sign_in, with_cookie};
use owp::domain::TaskStatus;

const PLAN_FIRST: &str = "max_open_prs: 10\nclaim:\n  approval: plan\n  approval_skip_trust: 1\n";

fn states(listed: &[Value]) -> Vec<(String, String)> {
    listed
        .iter()
        .map(|p| {
            (
                p["login"].as_str().unwrap_or_default().to_string(),
                p["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn race_story(postgres: bool) {
    let story = crate::signin::story_with_settings(postgres, Some(PLAN_FIRST), |_| {}).await;
    story.fake.set_permission(REPO, "maint", "write");
    let mona = web_sign_in(&story, MONA).await;
    // The dashboard's request leaves a little later each round, so that the comment is applied
    // before it, while it runs, or after it.
    let rounds = [
        ("alice", "bob", 0),
        ("carol", "dave", 5),
        ("erin", "frank", 10),
        ("gina", "hugo", 20),
        ("ivan", "judy", 60),
    ];
    for (first, second, delay_ms) in rounds {
        let n = story.label_issue(&format!("Race of {first}"), &[]).await;
        story
            .comment(n, first, &format!("/owp claim\nPlan of {first}."))
            .await;
        story.expect_comment(n, &format!("@{first}, thank you — your plan is in."));
        story
            .comment(n, second, &format!("/owp claim\nPlan of {second}."))
            .await;
        story.expect_comment(n, &format!("@{second}, thank you — your plan is in."));
        let listed = proposals(&story, n).await;
        assert_eq!(listed[1]["login"], second);
        let id = listed[1]["proposal_id"].as_str().unwrap().to_string();

        // The first plan approved by comment, the second on the dashboard, at once.
        let comment = story
            .fake
            .add_comment(REPO, n, "maint", &format!("/owp approve @{first}"));
        let payload = story.comment_payload(comment, "created", None);
        let path = format!("/v1/admin/proposals/{id}/approve");
        let (delivered, (status, answer)) =
            tokio::join!(story.fake.send_webhook("issue_comment", &payload), async {
                tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                with_cookie(&story, Method::POST, &path, &mona, true, Some(json!({}))).await
            },);
        assert!((200..300).contains(&delivered), "{delivered}");
        story.settle().await;

        // Exactly one approved, the other not chosen, and the issue held by its winner.
        let ended = states(&proposals(&story, n).await);
        let approved: Vec<&str> = ended
            .iter()
            .filter(|(_, s)| s == "approved")
            .map(|(l, _)| l.as_str())
            .collect();
        assert_eq!(approved.len(), 1, "{ended:?}");
        assert_eq!(
            ended.iter().filter(|(_, s)| s == "not_chosen").count(),
            1,
            "{ended:?}"
        );
        let (winner, loser) = if approved[0] == second {
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["proposal"]["state"], "approved");
            story.expect_comment(
                n,
                &format!("@maint, `{first}` has no open plan for this issue, so I did nothing."),
            );
            (second, first)
        } else {
            assert_eq!(
                (status, answer["code"].as_str()),
                (409, Some("proposal_not_open")),
                "{answer}"
            );
            assert!(story.reacted(comment, "+1"));
            (first, second)
        };
        let told = story.expect_comment(
            n,
            &format!("@{winner}, your plan is approved: you hold this issue now."),
        );
        assert!(
            told.body
                .contains(&format!("@{loser}, thank you for your plan")),
            "{}",
            told.body
        );
        assert_eq!(story.task(n).await.status, TaskStatus::InProgress);
        story.expect_status(n, &[&format!("**In progress** — claimed by @{winner}")]);
    }
    // Which approval wins varies from run to run: there is no one transcript to keep.
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_comment_approval_and_a_dashboard_approval_at_once_approve_one_sqlite() {
    race_story(false).await;
}

#[tokio::test]
async fn a_comment_approval_and_a_dashboard_approval_at_once_approve_one_postgres() {
    race_story(true).await;
}

async fn once_per_person_story(postgres: bool) {
    let story = Story::on(postgres, Some(PLAN_FIRST), |_| {}).await;
    let n = story.label_issue("Speed up the import", &[]).await;
    let m = story.label_issue("Document the import", &[]).await;
    // Her scorecard's account age, the same every day the story runs.
    story
        .fake
        .set_account_created("alice", chrono::Utc::now() - chrono::Duration::days(400));
    let token = story
        .linked_worker(
            n,
            "alice",
            json!({"name": "alice-laptop", "skills": [], "capacity_points": 5}),
        )
        .await;
    let propose = |task: String, plan: &'static str| {
        let story = &story;
        let token = token.clone();
        async move {
            story
                .post_json(
                    &format!("/v1/tasks/{task}/proposals"),
                    Some(&token),
                    json!({ "plan": plan }),
                )
                .await
        }
    };

    // By comment first: her linked worker's plan for the same issue is refused.
    story
        .comment(n, "alice", "/owp claim\nCache the parsed files.")
        .await;
    story.expect_comment(n, "@alice, thank you — your plan is in.");
    story.expect_status(n, &["**Plans proposed** (1)", "1. `alice`"]);
    let (status, refused) = propose(story.task(n).await.id, "Stream the file.").await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("already_proposed")),
        "{refused}"
    );
    let listed = proposals(&story, n).await;
    assert_eq!(states(&listed), [("alice".into(), "open".into())]);
    assert_eq!(listed[0]["plan"], "Cache the parsed files.");

    // Through the worker first: her comment changes nothing, and gets 👀 (the answer is above).
    let (status, hers) = propose(story.task(m).await.id, "Examples first.").await;
    assert_eq!(status, 201, "{hers}");
    story.expect_status(m, &["**Plans proposed** (1)", "1. `alice`"]);
    let again = story
        .comment(m, "alice", "/owp claim\nA reference page.")
        .await;
    assert!(story.reacted(again, "eyes"));
    story.expect_no_new_comments(m);
    let listed = proposals(&story, m).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["proposal_id"], hers["proposal_id"]);

    // Once her plan has ended, she may propose again.
    let withdrawn = story
        .http
        .delete(format!(
            "{}/v1/proposals/{}",
            story.url(),
            hers["proposal_id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(withdrawn.status(), 200);
    story.settle().await;
    story
        .comment(m, "alice", "/owp claim\nA reference page.")
        .await;
    story.expect_comment(m, "@alice, thank you — your plan is in.");
    story.expect_status(m, &["**Plans proposed** (1)", "1. `alice`"]);
    let states = states(&proposals(&story, m).await);
    assert_eq!(
        states,
        [
            ("alice".into(), "withdrawn".into()),
            ("alice".into(), "open".into())
        ]
    );
}

#[tokio::test]
async fn a_person_proposes_once_per_issue_by_comment_or_worker_sqlite() {
    once_per_person_story(false).await;
}

#[tokio::test]
async fn a_person_proposes_once_per_issue_by_comment_or_worker_postgres() {
    once_per_person_story(true).await;
}

async fn once_at_once_story(postgres: bool) {
    let story = Story::on(postgres, Some(PLAN_FIRST), |_| {}).await;
    let first = story.label_issue("Link first", &[]).await;
    let token = story
        .linked_worker(
            first,
            "alice",
            json!({"name": "alice-laptop", "skills": [], "capacity_points": 5}),
        )
        .await;
    // Alice proposes for one issue by comment and through her worker at once; the worker's
    // request leaves a little later each round. A person has at most 3 open plans: one round
    // each on three issues.
    for delay_ms in [0, 10, 30] {
        let n = story
            .label_issue(&format!("Twice at once, {delay_ms}"), &[])
            .await;
        let task = story.task(n).await.id;
        let comment = story
            .fake
            .add_comment(REPO, n, "alice", "/owp claim\nBy comment.");
        let payload = story.comment_payload(comment, "created", None);
        let url = format!("{}/v1/tasks/{task}/proposals", story.url());
        let (delivered, answer) =
            tokio::join!(story.fake.send_webhook("issue_comment", &payload), async {
                tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                let res = story
                    .http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"plan": "Through the worker."}))
                    .send()
                    .await
                    .unwrap();
                (res.status().as_u16(), res.json::<Value>().await.unwrap())
            },);
        assert!((200..300).contains(&delivered), "{delivered}");
        story.settle().await;
        let listed = proposals(&story, n).await;
        assert_eq!(states(&listed), [("alice".into(), "open".into())]);
        match answer {
            (201, _) => {
                assert_eq!(listed[0]["plan"], "Through the worker.");
                assert!(story.reacted(comment, "eyes"));
            }
            (status, refused) => {
                assert_eq!(
                    (status, refused["code"].as_str()),
                    (409, Some("already_proposed")),
                    "{refused}"
                );
                assert_eq!(listed[0]["plan"], "By comment.");
                story.expect_comment(n, "@alice, thank you — your plan is in.");
            }
        }
    }
    // Which one came first varies from run to run: there is no one transcript to keep.
    story.stop_checking_comments();
}

#[tokio::test]
async fn one_person_proposing_twice_at_once_keeps_one_plan_sqlite() {
    once_at_once_story(false).await;
}

#[tokio::test]
async fn one_person_proposing_twice_at_once_keeps_one_plan_postgres() {
    once_at_once_story(true).await;
}

async fn without_the_app_story(postgres: bool) {
    let mut story = Story::on(postgres, Some(PLAN_FIRST), |_| {}).await;
    let n = story.label_issue("Fix the tokenizer", &[]).await;
    story
        .comment(n, "alice", "/owp claim\nA state machine.")
        .await;
    story.expect_comment(n, "@alice, thank you — your plan is in.");
    story.expect_status(n, &["**Plans proposed** (1)", "1. `alice`"]);
    let id = proposals(&story, n).await[0]["proposal_id"]
        .as_str()
        .unwrap()
        .to_string();

    // The server runs on without its App: a plan proposed by comment cannot become a comment
    // claim, and stays open; declining it works.
    story.stop().await;
    story.config.github.github_app_id = None;
    story.config.github.github_private_key = None;
    story.boot().await;
    let (status, refused) = story
        .admin(
            Method::POST,
            &format!("/v1/admin/proposals/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("github_app_not_running")),
        "{refused}"
    );
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    assert_eq!(proposals(&story, n).await[0]["state"], "open");
    let (status, declined) = story
        .admin(
            Method::POST,
            &format!("/v1/admin/proposals/{id}/decline"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{declined}");
    assert_eq!(declined["state"], "declined");
}

#[tokio::test]
async fn a_comment_plan_needs_the_app_to_be_approved_sqlite() {
    without_the_app_story(false).await;
}

#[tokio::test]
async fn a_comment_plan_needs_the_app_to_be_approved_postgres() {
    without_the_app_story(true).await;
}

/// A worker's plan proposed over the API, approved from the dashboard.
async fn dashboard_approves(story: &Story, mona: &crate::signin::WebSession, id: &str) {
    let path = format!("/v1/admin/proposals/{id}/approve");
    let (status, approved) =
        with_cookie(story, Method::POST, &path, mona, true, Some(json!({}))).await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["proposal"]["state"], "approved");
    assert!(approved["lease"]["lease_id"].is_string(), "{approved}");
    story.settle().await;
}

async fn worker_plan_story(postgres: bool) {
    let story = crate::signin::story_with_settings(postgres, Some(PLAN_FIRST), |_| {}).await;
    story.fake.set_permission(REPO, "maint", "write");
    let mona = web_sign_in(&story, MONA).await;
    let n = story.label_issue("Speed up the import", &[]).await;
    let m = story.label_issue("Document the import", &[]).await;
    let k = story.label_issue("Retry the import", &[]).await;
    let token = story
        .linked_worker(
            n,
            "alice",
            json!({"name": "alice-laptop", "skills": [], "capacity_points": 5,
                   "max_concurrent_tasks": 3}),
        )
        .await;
    let mut ids = Vec::new();
    for issue in [n, m, k] {
        let task = story.task(issue).await.id;
        let (status, proposed) = story
            .post_json(
                &format!("/v1/tasks/{task}/proposals"),
                Some(&token),
                json!({"plan": "Stream the file."}),
            )
            .await;
        assert_eq!(status, 201, "{proposed}");
        ids.push(proposed["proposal_id"].as_str().unwrap().to_string());
        story.expect_status(issue, &["**Plans proposed** (1)", "1. `alice`"]);
    }
    story
        .comment(n, "bob", "/owp claim\nCache the parsed files.")
        .await;
    story.expect_comment(n, "@bob, thank you — your plan is in.");

    // On the dashboard: the issue says what the worker must do, and thanks the other proposer.
    dashboard_approves(&story, &mona, &ids[0]).await;
    let told = story.expect_comment(
        n,
        "@alice, your plan is approved: this issue is held for your worker `alice-laptop`. It \
         must claim and acknowledge it within 24 hours",
    );
    assert!(
        told.body.contains("@bob, thank you for your plan"),
        "{}",
        told.body
    );
    assert!(!told.body.contains("release"), "{}", told.body);
    assert_eq!(story.task(n).await.status, TaskStatus::Leased);

    // By comment: the same words.
    let approve = story.comment(m, "maint", "/owp approve @alice").await;
    assert!(story.reacted(approve, "+1"));
    story.expect_comment(
        m,
        "@alice, your plan is approved: this issue is held for your worker `alice-laptop`. It \
         must claim and acknowledge it within 24 hours",
    );

    // Declined with the admin token (`owp admin proposals decline`): told on the issue too.
    let (status, declined) = story
        .admin(
            Method::POST,
            &format!("/v1/admin/proposals/{}/decline", ids[2]),
            Some(json!({"reason": "the retries belong in the client"})),
        )
        .await;
    assert_eq!(status, 200, "{declined}");
    story.settle().await;
    story.expect_comment(
        k,
        "@alice, a maintainer declined your plan for this issue: the retries belong in the \
         client.",
    );
}

#[tokio::test]
async fn a_worker_plan_approved_anywhere_tells_the_worker_what_to_do_sqlite() {
    worker_plan_story(false).await;
}

#[tokio::test]
async fn a_worker_plan_approved_anywhere_tells_the_worker_what_to_do_postgres() {
    worker_plan_story(true).await;
}
