//! One person, proven (contract section 14), tried as a stranger would: a login typed at
//! registration owns nobody's plans and mentions nobody; a worker that speaks for no proven
//! person works no task of an installed repository (claim, preview and proposal alike); a
//! proposal meets the rules about its proposer's person as a claim does (denounced, not vouched);
//! an archived worker's plans end; a plan proposed before a link becomes the person's.

use reqwest::Method;
use serde_json::{Value, json};

use crate::github_support::story::{REPO, Story};
use owp::domain::TaskStatus;

const PLAN_FIRST: &str = "max_open_prs: 10\nclaim:\n  approval: plan\n";

/// `POST /v1/tasks/{id}/proposals` with `token`: the status and the answer.
async fn propose(story: &Story, token: &str, task_id: &str, plan: &str) -> (u16, Value) {
    story
        .post_json(
            &format!("/v1/tasks/{task_id}/proposals"),
            Some(token),
            json!({"plan": plan}),
        )
        .await
}

/// The proposals of issue `n`'s task, as the admin sees them.
async fn proposals(story: &Story, n: u64) -> Vec<Value> {
    crate::github_plan_first::proposals(story, n).await
}

/// Registers a worker with `registration`; its token and id.
async fn register(story: &Story, registration: Value) -> (String, String) {
    let (status, reg) = story
        .post_json("/v1/workers/register", None, registration)
        .await;
    assert_eq!(status, 201, "{reg}");
    (
        reg["token"].as_str().unwrap().to_string(),
        reg["worker_id"].as_str().unwrap().to_string(),
    )
}

/// Row 1, 6 and 7 of the attack: a worker registered with a stranger's login (and one with a
/// team's) proposes on three issues and claims. Every proposal is refused (`link_required`), as
/// is its claim (the preview says how to link), the stranger proposes and is approved as
/// themselves, and nothing the App writes names the typed logins.
async fn a_typed_login_owns_nobodys_plans(postgres: bool) {
    let story = Story::on(postgres, Some(PLAN_FIRST), |_| {}).await;
    story.fake.set_permission(REPO, "maint", "write");
    let issues = [
        story.label_issue("Fix the parser", &[]).await,
        story.label_issue("Document the CLI", &[]).await,
        story.label_issue("Speed up the build", &[]).await,
    ];
    let (impostor, impostor_id) = register(
        &story,
        json!({"name": "imp", "skills": [], "capacity_points": 5, "github_login": "alice"}),
    )
    .await;
    let (team, _) = register(
        &story,
        json!({"name": "team", "skills": [], "capacity_points": 5,
               "github_login": "octo-org/maintainers"}),
    )
    .await;
    for n in issues {
        let task = story.task(n).await;
        for token in [&impostor, &team] {
            let (status, body) = propose(&story, token, &task.id, "My plan.").await;
            assert_eq!(status, 409, "{body}");
            assert_eq!(body["code"], "link_required", "{body}");
            assert!(
                body["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("owp worker link")),
                "{body}"
            );
        }
        assert!(proposals(&story, n).await.is_empty());
    }
    // Nor does it claim: the preview names the rule and how to link, for every task.
    let (status, answer) = story
        .post_json("/v1/work", Some(&impostor), json!({}))
        .await;
    assert_eq!(status, 204, "{answer}");
    let preview = story.preview(&impostor).await;
    let refused = preview["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 3, "{preview}");
    for r in refused {
        let codes: Vec<&str> = r["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["code"].as_str())
            .collect();
        assert!(codes.contains(&"link_required"), "{preview}");
    }
    // The worker shows the login it typed, marked unverified.
    let (status, me) = story.get_json("/v1/workers/me", &impostor).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["worker"]["github_login"], "alice", "{me}");
    assert_eq!(me["worker"]["github_verified"], false, "{me}");

    // The stranger's own plans are theirs: three of them, none refused as "already proposed".
    for n in issues {
        story
            .comment(n, "alice", "/owp claim\nSplit the tokenizer first.")
            .await;
        story.expect_comment(n, "@alice, thank you — your plan is in.");
    }
    // A maintainer approves alice: the issue is hers, as a person claiming by comment.
    story
        .comment(issues[0], "maint", "/owp approve @alice")
        .await;
    story.settle().await;
    let task = story.task(issues[0]).await;
    assert_eq!(task.status, TaskStatus::InProgress);
    let holder = task.worker_id.clone().unwrap();
    assert_ne!(holder, impostor_id);
    assert!(holder.starts_with("gh_"), "{holder}");
    story.expect_comment(issues[0], "@alice, your plan is approved");
    // Nothing the App wrote mentions the team, or names the impostor's worker.
    for n in issues {
        for c in story.fake.comments(REPO, n) {
            assert!(!c.body.contains("@octo-org"), "{}", c.body);
            assert!(!c.body.contains("`imp`"), "{}", c.body);
        }
    }
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_typed_login_owns_nobodys_plans_sqlite() {
    a_typed_login_owns_nobodys_plans(false).await;
}

#[tokio::test]
async fn a_typed_login_owns_nobodys_plans_postgres() {
    a_typed_login_owns_nobodys_plans(true).await;
}

const VOUCHED: &str = "max_open_prs: 10\nclaim:\n  approval: plan\nvouch:\n  required: true\n";

/// Row 4: over the API, a linked worker proposes for its person, who is denounced, or not
/// vouched for where the repository requires it: refused as a claim would be (`denounced`,
/// `not_vouched`); the vouched person's worker proposes. The comment path answers the same.
async fn a_proposal_meets_the_persons_rules(postgres: bool) {
    let story = Story::on(postgres, Some(VOUCHED), |_| {}).await;
    crate::github_vouch::push_list(&story, "github:vera\n-github:mallory spam\n").await;
    let n = story.label_issue("Fix the parser", &[]).await;
    let task = story.task(n).await;
    let registration = |name: &str| json!({"name": name, "skills": [], "capacity_points": 5});
    let mallory = story
        .linked_worker(n, "mallory", registration("mallory-bot"))
        .await;
    let bob = story.linked_worker(n, "bob", registration("bob-bot")).await;
    let vera = story
        .linked_worker(n, "vera", registration("vera-bot"))
        .await;

    let (status, body) = propose(&story, &mallory, &task.id, "Let me in.").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "denounced", "{body}");
    assert!(!body.to_string().contains("spam"), "{body}");
    let (status, body) = propose(&story, &bob, &task.id, "A plan.").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "not_vouched", "{body}");
    let (status, body) = propose(&story, &vera, &task.id, "A good plan.").await;
    assert_eq!(status, 201, "{body}");
    let listed = proposals(&story, n).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["login"], "vera", "{listed:?}");

    // By comment, the denounced person is refused with the same rule and nothing is stored.
    story.comment(n, "mallory", "/owp claim\nLet me in.").await;
    story.expect_comment(n, "do not take contributions from you here");
    assert_eq!(proposals(&story, n).await.len(), 1);

    // A maintainer denounces the proposer: her open plan ends at once, and leaves the list.
    story.fake.set_permission(REPO, "maint", "write");
    story.comment(n, "maint", "/owp denounce @vera").await;
    story.settle().await;
    let listed = proposals(&story, n).await;
    assert_eq!(listed[0]["state"], "withdrawn", "{listed:?}");
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_proposal_meets_the_persons_rules_sqlite() {
    a_proposal_meets_the_persons_rules(false).await;
}

#[tokio::test]
async fn a_proposal_meets_the_persons_rules_postgres() {
    a_proposal_meets_the_persons_rules(true).await;
}

/// "Also": an archived worker's open plans end (withdrawn, with the reason), and leave the
/// status comment's list.
#[tokio::test]
async fn an_archived_workers_plans_end() {
    let story = Story::on(false, Some(PLAN_FIRST), |_| {}).await;
    let n = story.label_issue("Fix the parser", &[]).await;
    let task = story.task(n).await;
    let token = story.register_worker("carol").await;
    let (status, body) = propose(&story, &token, &task.id, "Carol's careful plan.").await;
    assert_eq!(status, 201, "{body}");
    story.settle().await;
    story.expect_status(n, &["Carol's careful plan."]);
    let worker_id = body["worker_id"].as_str().unwrap();
    let (status, archived) = story
        .admin(
            Method::POST,
            &format!("/v1/admin/workers/{worker_id}/archive"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{archived}");
    let listed = proposals(&story, n).await;
    assert_eq!(listed[0]["state"], "withdrawn", "{listed:?}");
    story.settle().await;
    let status_comment = story.expect_status(n, &["**Ready**"]);
    assert!(
        !status_comment.body.contains("Carol's careful plan."),
        "{}",
        status_comment.body
    );
    story.stop_checking_comments();
}

/// Row 8: a plan proposed by a worker before it was linked (in a repository without the App,
/// where an unlinked worker may propose) is its person's once the person links it: it carries
/// their login and counts among their plans.
#[tokio::test]
async fn a_plan_proposed_before_the_link_becomes_the_persons() {
    let story = Story::on(false, Some(PLAN_FIRST), |_| {}).await;
    let n = story.label_issue("Fix the parser", &[]).await;
    let (status, repo) = story
        .admin(
            Method::POST,
            "/v1/admin/repos",
            Some(json!({"repo": "local/plans", "max_open_prs": 3, "approval": "plan"})),
        )
        .await;
    assert!(status == 201 || status == 200, "{repo}");
    let (status, imported) = story
        .admin(
            Method::POST,
            "/v1/admin/tasks",
            Some(json!({"repo": "local/plans", "tasks": [{"key": "LP-1", "title": "Local"}]})),
        )
        .await;
    assert_eq!(status, 201, "{imported}");
    let local = imported["tasks"][0]["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (token, _) = register(
        &story,
        json!({"name": "dana-bot", "skills": [], "capacity_points": 5}),
    )
    .await;
    let (status, body) = propose(&story, &token, &local, "A local plan.").await;
    assert_eq!(status, 201, "{body}");
    assert!(body.get("login").is_none(), "{body}");
    let (status, code) = story
        .post_json("/v1/workers/link-code", Some(&token), json!({}))
        .await;
    assert_eq!(status, 201, "{code}");
    let code = code["code"].as_str().unwrap();
    let link = story.comment(n, "dana", &format!("/owp link {code}")).await;
    assert!(story.reacted(link, "+1"));
    let (status, listed) = story
        .get_json(&format!("/v1/tasks/{local}/proposals"), &token)
        .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["proposals"][0]["login"], "dana", "{listed}");
    assert_eq!(listed["proposals"][0]["state"], "open", "{listed}");
    story.stop_checking_comments();
}

/// Row 11: `/owp claim` followed only by control characters is a claim without a plan: the App
/// says how to propose one, and the delivery is applied (a second command of the same comment
/// too), never set aside.
#[tokio::test]
async fn a_plan_of_control_characters_is_no_plan() {
    let story = Story::on(false, Some(PLAN_FIRST), |_| {}).await;
    let n = story.label_issue("Fix the parser", &[]).await;
    story
        .comment(
            n,
            "alice",
            "/owp withdraw\n/owp claim\n\u{1}\u{7}\u{1b}\u{7f}",
        )
        .await;
    story.expect_comment(n, "@alice, you have no open plan for this issue");
    story.expect_comment(
        n,
        "@alice, this repository takes a plan first: write your plan on the lines after",
    );
    assert!(proposals(&story, n).await.is_empty());
    let states: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT state, error FROM gh_deliveries WHERE event = 'issue_comment'")
            .fetch_all(story.running().store.read_pool())
            .await
            .unwrap();
    assert!(states.iter().all(|(s, _)| s == "applied"), "{states:?}");
    story.stop_checking_comments();
}

/// What a repository asks of people is visible as it is in force: `people` on its policy in
/// `GET /v1/admin/state`.
#[tokio::test]
async fn the_rules_about_people_in_force_are_shown() {
    let settings = "max_open_prs: 10\nclaim:\n  min_account_age_days: 30\n  \
                    first_timers_label: good first issue\n  cooldown_hours: 24\n  \
                    verified_commits: required\nvouch:\n  required: true\n  trust: 2\n";
    let story = Story::on(false, Some(settings), |_| {}).await;
    let (status, state) = story.admin(Method::GET, "/v1/admin/state", None).await;
    assert_eq!(status, 200, "{state}");
    let repo = state["repos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo"] == REPO)
        .unwrap();
    let people = &repo["people"];
    assert_eq!(people["persons_only"], true, "{repo}");
    assert_eq!(people["min_account_age_days"], 30, "{repo}");
    assert_eq!(people["first_timers_label"], "good first issue", "{repo}");
    assert_eq!(people["cooldown_hours"], 24, "{repo}");
    assert_eq!(people["verified_commits"], "required", "{repo}");
    assert_eq!(people["vouch_required"], true, "{repo}");
    assert_eq!(people["vouch_trust"], 2, "{repo}");
    // `owp admin state` says them in words.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .args(["admin", "state", "--server", &story.url()])
        .args(["--admin-token", crate::github_support::story::ADMIN])
        .env_remove("OWP_ADMIN_TOKEN")
        .env_remove("OWP_SERVER")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!(
            "  {REPO} people: linked GitHub accounts only · accounts 30+ days old · first timers: \
             good first issue · cool-down 24 h · verified commits · vouched people only · vouched \
             count as trust 2"
        )),
        "{text}"
    );
    story.stop_checking_comments();
}
