//! A plan-first repository from the first plan to the merge, in one story: plans proposed by
//! comment and by a volunteer's agent (its worker, over the protocol), scorecards in the status
//! comment, a maintainer's approval, the pull request routed to a reviewer with room, held back
//! until every commit is verified, then merged and credited. Everyone's comments on the issue
//! and the pull request, in order, are the reviewed transcript `plan_first_whole_story`.

use serde_json::json;

use crate::github_support::story::{REPO, Story};
use owp::domain::TaskStatus;

const SETTINGS: &str = "max_open_prs: 10\n\
claim:\n  approval: plan\n  approval_skip_trust: 1\n  verified_commits: required\n\
review:\n  reviewers:\n    rita: 2\n";

const SIGNED: &str = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3";
const UNSIGNED: &str = "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4";

/// The story as people saw it, told step by step: each new comment on `numbers` (people's and
/// the App's, in order) and the issue's status comment each time its text changed.
#[derive(Default)]
struct Transcript {
    seen: std::collections::HashSet<u64>,
    last_status: String,
    text: String,
}

impl Transcript {
    fn step(&mut self, story: &Story, what: &str, numbers: &[u64]) {
        let mut comments: Vec<_> = numbers
            .iter()
            .flat_map(|n| story.fake.comments(REPO, *n))
            .collect();
        comments.sort_by_key(|c| c.id);
        self.text.push_str(&format!("\n━━ {what} ━━\n"));
        let mut status = None;
        for c in comments {
            let body = c.body.trim_end();
            if body.starts_with("<!-- owp:status") {
                if body != self.last_status {
                    status = Some((c.number, body.to_string()));
                }
            } else if self.seen.insert(c.id) {
                let body = match body.strip_prefix("/owp link ") {
                    Some(_) => "/owp link [code]",
                    None => body,
                };
                let line = format!("── #{} · @{} ──\n{body}\n", c.number, c.author);
                self.text.push_str(&line);
            }
        }
        if let Some((number, body)) = status {
            let line = format!("── #{number} · the status comment, now ──\n{body}\n");
            self.text.push_str(&line);
            self.last_status = body;
        }
    }
}

#[tokio::test]
async fn a_plan_first_issue_goes_from_plans_to_a_reviewed_verified_merge() {
    let story = Story::among(true, &["rita"], Some(SETTINGS), |_| {}).await;
    story.fake.set_permission(REPO, "maint", "maintain");
    // Ages counted from today, so that the scorecards read the same every day.
    let days = |n| chrono::Utc::now() - chrono::Duration::days(n);
    story.fake.set_account_created("alice", days(400));
    story.fake.set_account_created("bob", days(1200));
    let n = story.label_issue("Fix the tokenizer", &[]).await;
    story.expect_status(n, &["**Ready**"]);
    let mut told = Transcript::default();
    told.step(&story, "a maintainer puts the issue in the pool", &[n]);

    // A person proposes by comment.
    story
        .comment(
            n,
            "alice",
            "/owp claim\nReproduce the bug with a failing test, then fix the state machine.",
        )
        .await;
    story.expect_comment(n, "@alice, thank you — your plan is in.");
    told.step(&story, "alice proposes a plan by comment", &[n]);

    // A volunteer's agent proposes through its worker (linked to bob), as `owp worker run
    // --agent` does in a plan-first repository.
    let token = story
        .linked_worker(
            n,
            "bob",
            json!({"name": "bob-agent", "skills": [], "capacity_points": 5,
                   "capabilities": {"agent": "claude"}}),
        )
        .await;
    let task = story.task(n).await;
    let (status, body) = story
        .post_json(
            &format!("/v1/tasks/{}/proposals", task.id),
            Some(&token),
            json!({"plan": "Rewrite the tokenizer as a table-driven lexer."}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["state"], "open");
    // A proposal takes nothing: the task stays ready, and the worker's claim gets nothing.
    let (status, _) = story.post_json("/v1/work", Some(&token), json!({})).await;
    assert_eq!(status, 204);
    let listed = story.expect_status(n, &["**Plans proposed** (2)", "`alice`", "`bob`"]);
    assert!(listed.body.contains("account age"), "{}", listed.body);
    told.step(
        &story,
        "bob's agent proposes a plan through his worker",
        &[n],
    );

    // The maintainer chooses alice's plan; bob is told his was not chosen.
    let approve = story.comment(n, "maint", "/owp approve @alice").await;
    assert!(story.reacted(approve, "+1"));
    let ends = story.expect_comment(n, "@alice, your plan is approved: you hold this issue now.");
    assert!(ends.body.contains("@bob"), "{}", ends.body);
    assert_eq!(story.task(n).await.status, TaskStatus::InProgress);
    story.expect_status(n, &["claimed by @alice"]);
    told.step(&story, "the maintainer approves alice's plan", &[n]);

    // Her pull request goes to the reviewer with room, and waits for verified commits.
    let pr = story
        .fake
        .open_pr(REPO, "alice", "Fix the tokenizer", &format!("Fixes #{n}"));
    story
        .fake
        .set_pr_commits(REPO, pr, &[(SIGNED, true), (UNSIGNED, false)]);
    story.remember_number(pr);
    let opened = story.pr_payload("pull_request.opened", pr, "alice");
    story.send("pull_request", &opened).await;
    assert_eq!(story.task(n).await.status, TaskStatus::PrOpened);
    story.expect_status(
        n,
        &[
            "**Pull request open**",
            "Reviewer: @rita",
            "Not ready for review until every commit is verified: `d4d4d4d` is not.",
        ],
    );
    told.step(
        &story,
        "alice opens a pull request, one commit unsigned",
        &[n, pr],
    );

    // She pushes the commit signed.
    story
        .fake
        .set_pr_commits(REPO, pr, &[(SIGNED, true), (UNSIGNED, true)]);
    let pushed = story.pr_payload("pull_request.synchronize", pr, "alice");
    story.send("pull_request", &pushed).await;
    story.expect_status(
        n,
        &[
            "Reviewer: @rita",
            "Every commit is verified — ready for review.",
        ],
    );
    told.step(&story, "alice pushes the commit signed", &[n, pr]);

    // Rita merges: done, and alice is credited.
    story.merge_pr(pr).await;
    assert_eq!(story.task(n).await.status, TaskStatus::Merged);
    story.expect_status(n, &["**Done**", "@alice"]);
    told.step(&story, "rita merges the pull request", &[n, pr]);

    crate::reviewed::check(
        "comments",
        "plan_first_whole_story",
        &told.text,
        "Everyone's comments of a plan-first issue, from the first plan to the merge.",
    );
}
