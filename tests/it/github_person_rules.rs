//! The rules about people read the person, not the worker (contract section 14), tried as the
//! attack: a person with two workers, and a relink to a fresh worker registered to start over.
//! The person keeps their trust, their opt-ins, their reputation and their merges here; a second
//! worker neither resets a give-back (rule 1) nor a spent approval (rule 11), nor starts from an
//! empty record. Over REST and comments through the fake GitHub, on SQLite and PostgreSQL.

use reqwest::Method;
use serde_json::{Value, json};

use crate::github_first_timers::{claim, codes_for, key};
use crate::github_support::story::{REPO, Story};
use owp::domain::TaskStatus;

/// The worker of `token`, as `GET /v1/workers/me` shows it.
async fn me(story: &Story, token: &str) -> Value {
    let (status, me) = story.get_json("/v1/workers/me", token).await;
    assert_eq!(status, 200, "{me}");
    me["worker"].clone()
}

/// An admin sets the trust of worker `id`.
async fn set_trust(story: &Story, id: &str, trust: i64) {
    let (status, body) = story
        .admin(
            Method::POST,
            &format!("/v1/admin/workers/{id}"),
            Some(json!({"trust_level": trust})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// An admin marks the task of issue `n` merged.
async fn merged(story: &Story, n: u64) {
    let task_id = story.task(n).await.id;
    let (status, body) = story
        .admin(
            Method::POST,
            &format!("/v1/admin/tasks/{task_id}/status"),
            Some(json!({"status": "merged"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// The admin's leaderboard: (name, merged) per row.
async fn board(story: &Story) -> Vec<(String, i64)> {
    let (status, body) = story.admin(Method::GET, "/v1/leaderboard", None).await;
    assert_eq!(status, 200, "{body}");
    body["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["name"].as_str().unwrap().to_string(),
                w["merged"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// One merge here earns trust 2 to whoever opted in to reputation.
const PROMOTING: &str = "max_open_prs: 10\ntrust:\n  promote:\n    - {level: 2, merged: 1}\n";

/// alice's laptop opted in to reputation and the leaderboard, got trust 1 from an admin, merged
/// one task and gave another back. She links a fresh desktop that opted in to nothing: the
/// desktop shows her trust, her opt-ins and her whole reputation (the give-back too), is promoted
/// by her merge (it takes the `tier:2` task, which a newcomer may not), is not offered the task
/// she gave back (rule 1), and the leaderboard lists her once, by her login. Her choices made
/// through the desktop are hers: opting out there takes her off the leaderboard, and the trust an
/// admin lowers through the desktop is not back when she links the laptop again.
async fn trust_opt_ins_and_reputation_follow_the_person(postgres: bool) {
    let story = Story::on(postgres, Some(PROMOTING), |_| {}).await;
    let links = story.links_issue();
    let done = story.label_issue("Refactor the parser", &[]).await;
    let given_back = story.label_issue("Document the flags", &[]).await;
    let opted_in = json!({"reputation_opt_in": true, "leaderboard_opt_in": true});
    let (laptop, laptop_id) = story
        .worker_linked_on(links, "alice", "alice-laptop", opted_in)
        .await;
    set_trust(&story, &laptop_id, 1).await;
    assert_eq!(
        claim(&story, &laptop).await.map(|(k, _)| k),
        Some(key(done))
    );
    merged(&story, done).await;
    let (taken, lease) = claim(&story, &laptop).await.expect("a task");
    assert_eq!(taken, key(given_back));
    let (status, body) = story
        .post_json(
            &format!("/v1/leases/{lease}/nack"),
            Some(&laptop),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(board(&story).await, [("alice".to_string(), 1)]);

    let opted_out = json!({"reputation_opt_in": false, "leaderboard_opt_in": false});
    let (desktop, desktop_id) = story
        .worker_linked_on(links, "alice", "alice-desktop", opted_out)
        .await;
    let shown = me(&story, &desktop).await;
    assert_eq!(shown["trust_level"], 1, "{shown}");
    assert_eq!(shown["reputation_opt_in"], true, "{shown}");
    assert_eq!(shown["leaderboard_opt_in"], true, "{shown}");
    assert_eq!(shown["reputation"]["merged"], 1, "{shown}");
    assert_eq!(
        shown["reputation"]["nacked"], 1,
        "a fresh reputation: {shown}"
    );
    assert_eq!(board(&story).await, [("alice".to_string(), 1)]);

    // Promotion by her merge; rule 1 by her give-back.
    let hard = story.label_issue("Rewrite the lexer", &["tier:2"]).await;
    assert!(
        codes_for(&story, &desktop, given_back)
            .await
            .contains(&json!("recently_released")),
        "a second worker reset the give-back"
    );
    assert_eq!(
        claim(&story, &desktop).await.map(|(k, _)| k),
        Some(key(hard))
    );
    let newcomer = json!({"reputation_opt_in": true});
    let (bob, _) = story
        .worker_linked_on(links, "bob", "bob-bot", newcomer)
        .await;
    assert_eq!(
        claim(&story, &bob).await.map(|(k, _)| k),
        Some(key(given_back))
    );
    let bob_shown = me(&story, &bob).await;
    assert_eq!(bob_shown["reputation"]["merged"], 0, "{bob_shown}");

    // Her choices through the desktop are hers, on every worker.
    let (status, body) = story
        .post_json(
            "/v1/workers/me",
            Some(&desktop),
            json!({"leaderboard_opt_in": false}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(board(&story).await, []);
    set_trust(&story, &desktop_id, 0).await;
    story.link(links, "alice", &laptop).await;
    let shown = me(&story, &laptop).await;
    assert_eq!(
        shown["trust_level"], 0,
        "the relink gave back the trust: {shown}"
    );
    assert_eq!(shown["leaderboard_opt_in"], false, "{shown}");
    assert_eq!(board(&story).await, []);
    story.stop_checking_comments();
}

#[tokio::test]
async fn trust_opt_ins_and_reputation_follow_the_person_sqlite() {
    trust_opt_ins_and_reputation_follow_the_person(false).await;
}

#[tokio::test]
async fn trust_opt_ins_and_reputation_follow_the_person_postgres() {
    trust_opt_ins_and_reputation_follow_the_person(true).await;
}

/// Plans first, and alice's laptop merged one task here (its trust let it skip the plan). Her
/// plan for another task, approved by a maintainer's `/owp approve @alice`, hands it to the
/// laptop, which gives it back: the approval is spent. She links a fresh desktop: its claim and
/// her `/owp claim` are refused (rule 11, and rule 1 for the give-back), the scorecard her new
/// plan shows the maintainer counts the merge made through the laptop ("merged here 1").
async fn a_second_worker_meets_the_spent_approval_and_the_scorecard(postgres: bool) {
    let rules = "max_open_prs: 10\nclaim:\n  approval: plan\n  approval_skip_trust: 1\n";
    let story = Story::on(postgres, Some(rules), |_| {}).await;
    story.fake.set_permission(REPO, "maint", "write");
    let links = story.links_issue();
    let warm_up = story.label_issue("Refactor the parser", &[]).await;
    let (laptop, laptop_id) = story
        .worker_linked_on(links, "alice", "alice-laptop", json!({}))
        .await;
    set_trust(&story, &laptop_id, 1).await;
    assert_eq!(
        claim(&story, &laptop).await.map(|(k, _)| k),
        Some(key(warm_up))
    );
    merged(&story, warm_up).await;
    set_trust(&story, &laptop_id, 0).await;

    let planned = story.label_issue("Document the flags", &[]).await;
    let planned_id = story.task(planned).await.id;
    let (status, body) = story
        .post_json(
            &format!("/v1/tasks/{planned_id}/proposals"),
            Some(&laptop),
            json!({"plan": "Describe each flag with an example."}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    story.comment(planned, "maint", "/owp approve @alice").await;
    story.settle().await;
    let (taken, lease) = claim(&story, &laptop).await.expect("the approved task");
    assert_eq!(taken, key(planned));
    let (status, body) = story
        .post_json(
            &format!("/v1/leases/{lease}/nack"),
            Some(&laptop),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (desktop, _) = story
        .worker_linked_on(links, "alice", "alice-desktop", json!({}))
        .await;
    assert_eq!(
        claim(&story, &desktop).await,
        None,
        "the approval was spent"
    );
    assert!(
        codes_for(&story, &desktop, planned)
            .await
            .contains(&json!("approval_required")),
        "a second worker holds the spent approval"
    );
    story.comment(planned, "alice", "/owp claim").await;
    story.settle().await;
    assert_eq!(story.task(planned).await.status, TaskStatus::Ready);

    let (status, body) = story
        .post_json(
            &format!("/v1/tasks/{planned_id}/proposals"),
            Some(&desktop),
            json!({"plan": "Describe each flag, then link the examples."}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    story.settle().await;
    story.expect_status(planned, &["merged here 1 / in the pool 1"]);
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_second_worker_meets_the_spent_approval_and_the_scorecard_sqlite() {
    a_second_worker_meets_the_spent_approval_and_the_scorecard(false).await;
}

#[tokio::test]
async fn a_second_worker_meets_the_spent_approval_and_the_scorecard_postgres() {
    a_second_worker_meets_the_spent_approval_and_the_scorecard(true).await;
}
