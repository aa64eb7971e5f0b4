//! Plans first by comment: propose with `/owp claim` and a plan, the status comment's list, and
//! a maintainer's `/owp approve`, `/owp decline`, the proposer's `/owp withdraw`.

use reqwest::Method;
use serde_json::json;

use super::proposals;
use crate::github_support::story::{REPO, Story};
use crate::signin::{MONA, OTHER, web_sign_in, with_cookie};
use owp::domain::TaskStatus;

/// How the maintainer approves a plan.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Approver {
    /// `/owp approve @login` on the issue.
    Comment,
    /// The dashboard's Approve (`POST /v1/admin/proposals/{id}/approve` with a signed-in
    /// maintainer's session).
    Dashboard,
}

const PLAN_FIRST: &str = "max_open_prs: 10\nclaim:\n  approval: plan\n  approval_skip_trust: 1\n";

/// A plan that tries to break out of its fence and to ping people.
const HOSTILE_PLAN: &str = "I will rewrite the tokenizer and ask @bob to review.\n\
```\n\
**not bold** <!-- hidden --> @carol\n\
```\n\
Then close #1.";

async fn approve_story(postgres: bool, approver: Approver) {
    let story = match approver {
        Approver::Comment => Story::on(postgres, Some(PLAN_FIRST), |_| {}).await,
        Approver::Dashboard => {
            let story =
                crate::signin::story_with_settings(postgres, Some(PLAN_FIRST), |_| {}).await;
            // The same words on the issue, whichever way the plan was approved.
            story.share_snapshot("comment_plans_are_listed_and_one_is_approved");
            story
        }
    };
    story.fake.set_permission(REPO, "maint", "write");
    let n = story.label_issue("Fix the tokenizer", &[]).await;

    let alice = story
        .comment(n, "alice", &format!("/owp claim\n{HOSTILE_PLAN}"))
        .await;
    story.expect_comment(n, "@alice, thank you — your plan is in.");
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    let status = story.expect_status(n, &["**Ready**", "**Plans proposed** (1)", "1. `alice`"]);
    // Fenced longer than the plan's own fence, with nobody pinged and no marker look-alike.
    assert!(
        status.body.contains("````text\nI will rewrite"),
        "{}",
        status.body
    );
    assert!(
        status.body.contains("\n```\n**not bold**"),
        "{}",
        status.body
    );
    assert!(!status.body.contains("@bob"), "{}", status.body);
    assert!(!status.body.contains("@carol"), "{}", status.body);
    assert!(status.body.contains("@\u{200B}bob"), "{}", status.body);
    assert!(status.body.contains("<!- - hidden -->"), "{}", status.body);

    // The same delivery again (GitHub's redelivery): no second proposal, no second reply.
    let last = story.fake.deliveries().last().unwrap().id;
    assert_eq!(story.fake.resend_webhook(last).await, 200);
    story.settle().await;
    // The same person proposing again: nothing changes, the comment gets 👀.
    let again = story
        .comment(n, "alice", "/owp claim\nA different plan.")
        .await;
    assert!(story.reacted(again, "eyes"));
    story.expect_no_new_comments(n);
    assert!(!story.reacted(alice, "eyes"));

    story
        .comment(
            n,
            "bob",
            "/owp claim\nAdd a fuzz test first, then fix the bug.",
        )
        .await;
    story.expect_comment(n, "@bob, thank you — your plan is in.");
    story
        .comment(
            n,
            "carol",
            "/owp claim\nPort the tokenizer to a state machine.",
        )
        .await;
    story.expect_comment(n, "@carol, thank you — your plan is in.");
    story.expect_status(
        n,
        &[
            "**Plans proposed** (3)",
            "1. `alice` — merged here 0 / in the pool 0 · accepted here: none yet",
            "2. `bob`",
            "3. `carol`",
        ],
    );
    // The same rows over the API, for maintainers, with their scorecards.
    let listed = proposals(&story, n).await;
    let logins: Vec<&str> = listed
        .iter()
        .map(|p| p["login"].as_str().unwrap())
        .collect();
    assert_eq!(logins, ["alice", "bob", "carol"]);
    assert!(listed.iter().all(|p| p["state"] == "open"));
    assert!(listed.iter().all(|p| p["scorecard"]["merged_here"] == 0));
    assert_eq!(listed[0]["plan"], HOSTILE_PLAN);

    // Only maintainers approve.
    story.comment(n, "bob", "/owp approve @bob").await;
    story.expect_comment(n, "@bob, only maintainers");
    match approver {
        Approver::Comment => {
            let approve = story.comment(n, "maint", "/owp approve @Alice").await;
            assert!(story.reacted(approve, "+1"));
        }
        Approver::Dashboard => {
            let id = listed[0]["proposal_id"].as_str().unwrap();
            approve_on_dashboard(&story, n, id).await;
        }
    }
    // One reply tells everyone how their plan ended.
    let told = story.expect_comment(n, "@alice, your plan is approved: you hold this issue now.");
    assert!(
        told.body.contains("@bob, @carol, thank you for your plans"),
        "{}",
        told.body
    );
    let task = story.task(n).await;
    assert_eq!(task.status, TaskStatus::InProgress);
    let status = story.expect_status(n, &["**In progress** — claimed by @alice"]);
    assert!(!status.body.contains("Plans proposed"), "{}", status.body);
    let states: Vec<String> = proposals(&story, n)
        .await
        .iter()
        .map(|p| p["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, ["approved", "not_chosen", "not_chosen"]);
    // A comment claimer: `/owp release` works for her as for any claim.
    let release = story.comment(n, "alice", "/owp release").await;
    assert!(story.reacted(release, "+1"));
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    story.expect_status(n, &["**Ready**"]);
}

/// A maintainer approves comment plan `id` for issue `n` from the dashboard; a maintainer of
/// another repository and a stranger cannot.
async fn approve_on_dashboard(story: &Story, n: u64, id: &str) {
    let path = format!("/v1/admin/proposals/{id}/approve");
    story.fake.set_permission(OTHER, "dora", "write");
    for login in ["dora", "eve"] {
        let session = web_sign_in(story, login).await;
        let (status, refused) =
            with_cookie(story, Method::POST, &path, &session, true, Some(json!({}))).await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (403, Some("not_maintainer")),
            "{login}: {refused}"
        );
    }
    story.settle().await;
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    assert!(
        proposals(story, n)
            .await
            .iter()
            .all(|p| p["state"] == "open")
    );

    let mona = web_sign_in(story, MONA).await;
    let (status, approved) =
        with_cookie(story, Method::POST, &path, &mona, true, Some(json!({}))).await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["proposal"]["state"], "approved");
    assert_eq!(approved["proposal"]["login"], "alice");
    // Alice holds the issue as a comment claim: no lease for a worker to acknowledge.
    assert!(approved.get("lease").is_none(), "{approved}");
    story.settle().await;
    // One transaction: the approval, the others not chosen and Alice's comment claim, each with
    // its audit event, in Mona's name.
    let events = story.running().store.events().recent(200).await.unwrap();
    let of = |kind: &str| {
        events
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| (e.actor.as_str(), e.at.as_str()))
            .collect::<Vec<_>>()
    };
    let approval = of("proposal.approved");
    assert_eq!(approval.len(), 1, "{events:?}");
    assert_eq!(approval[0].0, format!("github:{MONA}"));
    assert_eq!(of("proposal.not_chosen"), vec![approval[0]; 2]);
    assert_eq!(of("github.claimed"), vec![approval[0]]);
}

#[tokio::test]
async fn comment_plans_are_listed_and_one_is_approved_sqlite() {
    approve_story(false, Approver::Comment).await;
}

#[tokio::test]
async fn comment_plans_are_listed_and_one_is_approved_postgres() {
    approve_story(true, Approver::Comment).await;
}

#[tokio::test]
async fn a_comment_plan_approved_on_the_dashboard_reads_as_by_comment_sqlite() {
    approve_story(false, Approver::Dashboard).await;
}

#[tokio::test]
async fn a_comment_plan_approved_on_the_dashboard_reads_as_by_comment_postgres() {
    approve_story(true, Approver::Dashboard).await;
}

async fn decline_story(postgres: bool) {
    let story = Story::on(postgres, Some(PLAN_FIRST), |_| {}).await;
    story.fake.set_permission(REPO, "maint", "write");
    let n = story.label_issue("Speed up the import", &[]).await;
    story
        .comment(n, "alice", "/owp claim\nCache the parsed files.")
        .await;
    story.expect_comment(n, "@alice, thank you");
    story
        .comment(n, "bob", "/owp claim\nStream the file instead.")
        .await;
    story.expect_comment(n, "@bob, thank you");

    story
        .comment(n, "bob", "/owp decline @alice not what we want")
        .await;
    story.expect_comment(n, "@bob, only maintainers");
    let decline = story
        .comment(
            n,
            "maint",
            "/owp decline @alice a cache hides the bug, see @bob's idea",
        )
        .await;
    assert!(story.reacted(decline, "+1"));
    let told = story.expect_comment(
        n,
        "@alice, a maintainer declined your plan for this issue: ",
    );
    assert!(!told.body.contains("@bob"), "{}", told.body);
    story.comment(n, "maint", "/owp approve @alice").await;
    story.expect_comment(
        n,
        "@maint, `alice` has no open plan for this issue, so I did nothing.",
    );

    // The proposer takes back their own; nothing left to take back after that.
    let withdraw = story.comment(n, "bob", "/owp withdraw").await;
    assert!(story.reacted(withdraw, "+1"));
    story.comment(n, "bob", "/owp withdraw").await;
    story.expect_comment(n, "@bob, you have no open plan for this issue");
    let states: Vec<String> = proposals(&story, n)
        .await
        .iter()
        .map(|p| p["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, ["declined", "withdrawn"]);
    let status = story.expect_status(n, &["**Ready**"]);
    assert!(!status.body.contains("Plans proposed"), "{}", status.body);

    // Too long: a reply saying so, nothing stored.
    let long = "x".repeat(4_001);
    story
        .comment(n, "carol", &format!("/owp claim\n{long}"))
        .await;
    story.expect_comment(
        n,
        "@carol, your plan is 4001 characters long, and a plan is at most 4,000",
    );
    assert_eq!(proposals(&story, n).await.len(), 2);

    // A person has at most 3 open plans across the pool.
    let mut issues = Vec::new();
    for title in ["One", "Two", "Three", "Four"] {
        issues.push(story.label_issue(title, &[]).await);
    }
    for &m in &issues[..3] {
        story.comment(m, "carol", "/owp claim\nA plan.").await;
        story.expect_comment(m, "@carol, thank you");
        story.expect_status(m, &["**Plans proposed** (1)"]);
    }
    story
        .comment(issues[3], "carol", "/owp claim\nA plan.")
        .await;
    story.expect_comment(
        issues[3],
        "@carol, I can't take your plan right now: an issue has at most 5 open plans, and a \
         person at most 3 across the pool",
    );
    assert!(proposals(&story, issues[3]).await.is_empty());
    story.expect_status(issues[3], &["**Ready**"]);
}

#[tokio::test]
async fn comment_plans_are_declined_withdrawn_and_bounded_sqlite() {
    decline_story(false).await;
}

#[tokio::test]
async fn comment_plans_are_declined_withdrawn_and_bounded_postgres() {
    decline_story(true).await;
}

async fn refused_approval_story(postgres: bool) {
    let settings =
        "max_open_prs: 1\nclaim:\n  approval: plan\n  approval_skip_trust: 1\n".to_string();
    let story = Story::on(postgres, Some(&settings), |_| {}).await;
    story.fake.set_permission(REPO, "maint", "write");
    let n = story.label_issue("Taken first", &[]).await;
    let m = story.label_issue("Planned", &[]).await;

    // A vouched person is at the skip level: they claim as before, and fill the budget.
    let vouch = story.comment(n, "maint", "/owp vouch @vera").await;
    assert!(story.reacted(vouch, "+1"));
    let claim = story.comment(n, "vera", "/owp claim").await;
    assert!(!story.reacted(claim, "+1"), "the status comment says it");
    story.expect_status(n, &["claimed by @vera"]);

    // A full budget does not stop a plan (a proposal takes no slot) …
    story
        .comment(m, "alice", "/owp claim\nSplit the module in two.")
        .await;
    story.expect_comment(m, "@alice, thank you");
    // … but the approval checks every rule again, names each refusal, and keeps it open.
    story.comment(m, "maint", "/owp approve @alice").await;
    story.expect_comment(
        m,
        "@maint, I can't approve the plan of `alice` right now, so it stays open.",
    );
    assert_eq!(story.task(m).await.status, TaskStatus::Ready);
    story.expect_status(m, &["**Plans proposed** (1)", "1. `alice`"]);
    assert_eq!(proposals(&story, m).await[0]["state"], "open");

    // Room again: the approval goes through.
    let release = story.comment(n, "vera", "/owp release").await;
    assert!(story.reacted(release, "+1"));
    story.expect_status(n, &["**Ready**"]);
    story.comment(m, "maint", "/owp approve @alice").await;
    story.expect_comment(m, "@alice, your plan is approved");
    story.expect_status(m, &["claimed by @alice"]);
}

#[tokio::test]
async fn an_approval_refused_by_another_rule_keeps_the_plan_open_sqlite() {
    refused_approval_story(false).await;
}

#[tokio::test]
async fn an_approval_refused_by_another_rule_keeps_the_plan_open_postgres() {
    refused_approval_story(true).await;
}

/// A plan given with a claim that a rule about the person refuses: the reply names only the
/// rules that refused, never that the repository takes a plan first (the plan was there).
async fn refused_with_a_plan_story(postgres: bool) {
    let settings = "claim:\n  approval: plan\n  approval_skip_trust: 1\n  cooldown_hours: 24\n";
    let story = Story::on(postgres, Some(settings), |_| {}).await;
    story.fake.set_permission(REPO, "maint", "write");
    let n = story.label_issue("Speed up the import", &[]).await;
    let m = story.label_issue("Document the import", &[]).await;

    // Denounced: the plan is refused for that alone.
    let denounce = story.comment(m, "maint", "/owp denounce @mallory").await;
    assert!(story.reacted(denounce, "+1"));
    story
        .comment(m, "mallory", "/owp claim\nRewrite everything.")
        .await;
    let told = story.expect_comment(
        m,
        "@mallory, you can't claim this issue right now: this repository's maintainers do not \
         take contributions from you here.",
    );
    assert!(!told.body.contains("plan first"), "{}", told.body);

    // In a cool-down after giving an approved plan back: refused for the pause alone.
    story
        .comment(n, "alice", "/owp claim\nCache the parsed files.")
        .await;
    story.expect_comment(n, "@alice, thank you — your plan is in.");
    let approve = story.comment(n, "maint", "/owp approve @alice").await;
    assert!(story.reacted(approve, "+1"));
    story.expect_comment(n, "@alice, your plan is approved: you hold this issue now.");
    story.comment(n, "alice", "/owp release").await;
    story.expect_comment(n, "@alice, released — thank you.");
    story
        .comment(m, "alice", "/owp claim\nExamples first.")
        .await;
    let told = story.expect_comment(
        m,
        "@alice, you can't claim this issue right now: your last claim here ended without a \
         pull request",
    );
    assert!(!told.body.contains("plan first"), "{}", told.body);
    assert!(
        !told.body.contains("\n- "),
        "one reason only: {}",
        told.body
    );
    assert!(proposals(&story, m).await.is_empty());
    story.expect_status(m, &["**Ready**"]);
    story.expect_status(n, &["**Ready**"]);
}

#[tokio::test]
async fn a_plan_refused_for_the_person_names_only_their_rules_sqlite() {
    refused_with_a_plan_story(false).await;
}

#[tokio::test]
async fn a_plan_refused_for_the_person_names_only_their_rules_postgres() {
    refused_with_a_plan_story(true).await;
}
