//! What a maintainer decides on from the dashboard (contract section 12): `GET
//! /v1/admin/steering?repo=` (a repository's open proposals with their scorecards, and its vouch
//! list, in one bounded answer) and the approvals and declines a signed-in maintainer's session
//! sends, on both databases: the admin sees any repository, a maintainer only theirs (`403` for
//! another's, whatever the route), a cookie alone never writes. The page itself is driven in
//! `dashboard_browser_steering`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::github_support::story::{REPO, Story};
use crate::signin::{MONA, OTHER, WebSession, web_sign_in, with_cookie};

/// Plans first, for everyone; one review slot.
pub(crate) const PLAN_FIRST: &str = "max_open_prs: 1\nclaim:\n  approval: plan\n";
/// A person who maintains [`OTHER`] and only reads [`REPO`].
pub(crate) const BOB: &str = "bob";
/// A plan that would run script if it were ever read as markup.
pub(crate) const HOSTILE_PLAN: &str =
    "<script>window.__owned = 1</script><img src=x onerror=\"window.__owned = 2\"> then fix it";

/// A plan-first story: two pool issues, three workers and four open proposals (`a1`, `a2` on
/// the first issue, `b1`, `b2` on the second; `a1`'s plan is [`HOSTILE_PLAN`]); Bob maintains the
/// other repository.
pub(crate) struct Planned {
    pub(crate) story: Story,
    pub(crate) issues: [u64; 2],
    pub(crate) tasks: [String; 2],
    /// `[a1, a2, b1, b2]`.
    pub(crate) proposals: [String; 4],
}

async fn propose(story: &Story, token: &str, task: &str, plan: &str) -> String {
    let (status, p) = story
        .post_json(
            &format!("/v1/tasks/{task}/proposals"),
            Some(token),
            json!({ "plan": plan }),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    p["proposal_id"].as_str().unwrap().to_string()
}

pub(crate) async fn planned(postgres: bool) -> Planned {
    let story = crate::signin::story_with_settings(postgres, Some(PLAN_FIRST), |_| {}).await;
    story.fake.set_permission(OTHER, BOB, "write");
    story.fake.set_permission(REPO, BOB, "read");
    let first = story.label_issue("Fix the parser", &[]).await;
    let second = story.label_issue("Document the CLI", &[]).await;
    // The comments are not this story's point.
    story.stop_checking_comments();
    let a = story.task(first).await.id;
    let b = story.task(second).await.id;
    let w1 = story.register_worker("w-one").await;
    let w2 = story.register_worker("w-two").await;
    let w3 = story.register_worker("w-three").await;
    let a1 = propose(&story, &w1, &a, HOSTILE_PLAN).await;
    let a2 = propose(&story, &w2, &a, "Rewrite the tokenizer first.").await;
    let b1 = propose(&story, &w3, &b, "One page per command.").await;
    let b2 = propose(&story, &w2, &b, "A man page.").await;
    Planned {
        story,
        issues: [first, second],
        tasks: [a, b],
        proposals: [a1, a2, b1, b2],
    }
}

async fn anonymous(story: &Story, path: &str) -> u16 {
    reqwest::get(format!("{}{path}", story.url()))
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn ids(steering: &Value) -> Vec<String> {
    steering["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["proposal_id"].as_str().unwrap().to_string())
        .collect()
}

async fn as_maintainer(
    p: &Planned,
    session: &WebSession,
    csrf: bool,
    action: &str,
    id: &str,
    body: Value,
) -> (u16, Value) {
    let (status, answer) = with_cookie(
        &p.story,
        Method::POST,
        &format!("/v1/admin/proposals/{id}/{action}"),
        session,
        csrf,
        Some(body),
    )
    .await;
    p.story.settle().await;
    (status, answer)
}

async fn steering_story(postgres: bool) {
    let p = planned(postgres).await;
    let story = &p.story;
    let path = format!("/v1/admin/steering?repo={REPO}");
    assert_eq!(anonymous(story, &path).await, 401);

    // Mona vouches for one person and denounces another, by comment.
    story.comment(p.issues[0], MONA, "/owp vouch @carol").await;
    story
        .comment(p.issues[0], MONA, "/owp denounce @mallory spam")
        .await;

    // The operator sees any repository.
    let (status, all) = story.admin(Method::GET, &path, None).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["repo"], REPO);
    assert_eq!(ids(&all), p.proposals.to_vec(), "oldest first: {all}");
    assert_eq!(all["proposals_more"], 0);
    let first = &all["proposals"][0];
    assert_eq!(first["plan"], HOSTILE_PLAN, "the plan as written");
    assert_eq!(first["task_id"], p.tasks[0].as_str());
    assert_eq!(first["task_title"], "Fix the parser");
    assert_eq!(first["task_key"], format!("{REPO}#{}", p.issues[0]));
    assert_eq!(first["state"], "open");
    let card = &first["scorecard"];
    for field in ["merged_here", "merged_pool", "open_holds"] {
        assert_eq!(card[field], 0, "{field}: {card}");
    }
    assert_eq!(card["vouched"], false);
    assert!(card["acceptance_rate_here"].is_null());
    assert!(card["tools"].as_array().unwrap().is_empty());
    let entries = all["vouched"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{all}");
    assert_eq!(
        entries[0]["login"], "mallory",
        "denouncements come first: {all}"
    );
    assert_eq!(entries[0]["denounced"], true);
    assert_eq!(entries[0]["source"], "command");
    assert_eq!(entries[1]["login"], "carol");
    assert_eq!(entries[1]["vouched"], true);
    assert_eq!(all["vouched_more"], 0);
    let (status, bad) = story
        .admin(Method::GET, "/v1/admin/steering?repo=nope", None)
        .await;
    assert_eq!((status, bad["code"].as_str()), (422, Some("invalid_repo")));
    let (status, unknown) = story
        .admin(Method::GET, "/v1/admin/steering?repo=acme/unknown", None)
        .await;
    assert_eq!(
        (status, unknown["code"].as_str()),
        (404, Some("repo_not_found"))
    );

    // Mona sees her repository's; Bob, who maintains another, sees nothing of it.
    let mona = web_sign_in(story, MONA).await;
    let bob = web_sign_in(story, BOB).await;
    let (status, hers) = with_cookie(story, Method::GET, &path, &mona, false, None).await;
    assert_eq!(status, 200, "{hers}");
    assert_eq!(ids(&hers), p.proposals.to_vec());
    let (status, refused) = with_cookie(story, Method::GET, &path, &bob, false, None).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (403, Some("not_maintainer"))
    );
    let (status, _) = with_cookie(
        story,
        Method::GET,
        &format!("/v1/admin/steering?repo={OTHER}"),
        &bob,
        false,
        None,
    )
    .await;
    assert_eq!(status, 200, "Bob's own repository");

    // A cookie alone never writes; Bob may not answer a proposal of Mona's repository.
    let [a1, a2, b1, b2] = p.proposals.clone();
    let (status, _) = as_maintainer(&p, &mona, false, "approve", &a1, json!({})).await;
    assert_eq!(status, 401);
    for action in ["approve", "decline"] {
        let (status, refused) = as_maintainer(&p, &bob, true, action, &a1, json!({})).await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (403, Some("not_maintainer")),
            "{action}"
        );
    }
    let (_, still) = story.admin(Method::GET, &path, None).await;
    assert_eq!(
        ids(&still),
        p.proposals.to_vec(),
        "refused answers change nothing"
    );

    // Mona approves with the page's CSRF token: the proposer holds the task.
    let (status, approved) = as_maintainer(&p, &mona, true, "approve", &a1, json!({})).await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["proposal"]["state"], "approved");
    assert_eq!(approved["lease"]["task"]["status"], "leased");
    assert_eq!(
        story.task(p.issues[0]).await.status,
        owp::domain::TaskStatus::Leased
    );
    // The one review slot is taken: another approval is refused, naming the rule, and stays open.
    let (status, refused) = as_maintainer(&p, &mona, true, "approve", &b1, json!({})).await;
    assert_eq!(status, 409, "{refused}");
    let detail = refused["detail"].as_str().unwrap();
    assert!(
        detail.contains("the proposal stays open") && detail.contains("rule "),
        "{detail}"
    );
    let (status, declined) = as_maintainer(
        &p,
        &mona,
        true,
        "decline",
        &b2,
        json!({"reason": "One page is enough."}),
    )
    .await;
    assert_eq!(status, 200, "{declined}");
    assert_eq!(declined["state"], "declined");
    let (_, after) = with_cookie(story, Method::GET, &path, &mona, false, None).await;
    assert_eq!(
        ids(&after),
        vec![b1.clone()],
        "a2 not chosen, b2 declined, b1 still open: {after}"
    );
    let _ = a2;
    assert_eq!(
        after["proposals"][0]["scorecard"]["open_holds"], 0,
        "w-three holds nothing"
    );

    // Carol, whom Mona vouched for, proposes through her linked worker: her scorecard says so.
    let carol = story
        .linked_worker(
            p.issues[1],
            "carol",
            json!({"name": "carol-laptop", "skills": [], "capacity_points": 5}),
        )
        .await;
    let hers = propose(story, &carol, &p.tasks[1], "Examples first.").await;
    let (_, now) = with_cookie(story, Method::GET, &path, &mona, false, None).await;
    assert_eq!(ids(&now), vec![b1, hers], "{now}");
    assert_eq!(now["proposals"][0]["scorecard"]["vouched"], false);
    assert_eq!(now["proposals"][1]["scorecard"]["vouched"], true, "{now}");
}

#[tokio::test]
async fn steering_shows_proposals_and_vouches_and_maintainers_answer_only_theirs_sqlite() {
    steering_story(false).await;
}

#[tokio::test]
async fn steering_shows_proposals_and_vouches_and_maintainers_answer_only_theirs_postgres() {
    steering_story(true).await;
}
