//! Trust grows, credit is given: reputation, promotion and attribution over the fake GitHub, on
//! SQLite and on PostgreSQL (the `_postgres` stories need `OWP_TEST_DATABASE_URL`; without it
//! they say so and run on SQLite).

#[allow(unused_imports)]
use crate::github_support;

use std::sync::Mutex;

use github_support::story::{REPO, Story};
use owp::domain::TaskStatus;
use serde_json::json;

/// The repository's settings: three merged pull requests here earn trust 1.
const SETTINGS: &str = "max_open_prs: 10\ntrust:\n  promote:\n    - {level: 1, merged: 3}\n";

/// What people and the App said, in order: the story's transcript.
#[derive(Default)]
struct Transcript(Mutex<Vec<String>>);

impl Transcript {
    fn said(&self, who: &str, number: u64, text: &str) {
        self.0
            .lock()
            .unwrap()
            .push(format!("#{number} {who}: {}", text.trim()));
    }

    fn print(&self, title: &str) {
        println!("--- {title} ---");
        for line in self.0.lock().unwrap().iter() {
            println!("{line}");
        }
    }
}

/// `login` comments; the transcript keeps both the comment and the App's reply (or reaction).
async fn say(story: &Story, t: &Transcript, number: u64, login: &str, body: &str) -> u64 {
    t.said(&format!("@{login}"), number, body);
    story.comment(number, login, body).await
}

fn reply(story: &Story, t: &Transcript, number: u64, text: &str) {
    let c = story.expect_comment(number, text);
    t.said("owp-pool[bot]", number, &c.body);
}

fn status(story: &Story, t: &Transcript, number: u64, texts: &[&str]) {
    let c = story.expect_status(number, texts);
    let line = c
        .body
        .lines()
        .find(|l| l.starts_with("**") && !l.starts_with("**OWP Pool**"))
        .unwrap_or_default()
        .to_string();
    t.said("owp-pool[bot] (status)", number, &line);
}

/// One task done by `login` from claim to merge; returns the issue's and the pull request's
/// numbers.
async fn one_merge(story: &Story, t: &Transcript, login: &str, title: &str) -> (u64, u64) {
    let n = story.label_issue(title, &[]).await;
    say(story, t, n, login, "/owp claim").await;
    status(story, t, n, &[&format!("claimed by @{login}")]);
    t.said(
        &format!("@{login}"),
        n,
        &format!("opens a pull request: Fixes #{n}"),
    );
    let pr = story.open_pr(login, &format!("Fixes #{n}")).await;
    t.said("maintainer", pr, "merges the pull request");
    story.merge_pr(pr).await;
    assert_eq!(story.task(n).await.status, TaskStatus::Merged);
    let pr_url = format!("https://github.com/{REPO}/pull/{pr}");
    status(
        story,
        t,
        n,
        &[&format!(
            "**Done** — merged in {pr_url}. Thank you! Credited to @{login}."
        )],
    );
    story.expect_no_new_comments(pr);
    (n, pr)
}

async fn merged_count(story: &Story, worker_id: &str) -> i64 {
    story
        .running()
        .store
        .reputations()
        .of(worker_id)
        .await
        .unwrap()
        .merged
}

async fn trust_grows_from_comments_alone(postgres: bool) {
    let story = Story::on(postgres, Some(SETTINGS), |_| {}).await;
    let t = Transcript::default();
    let risky = story
        .label_issue("Rotate the signing keys", &["tier:1"])
        .await;
    status(&story, &t, risky, &["**Ready**", "Tier: 1"]);

    // A newcomer is refused, and told what would earn the task.
    say(&story, &t, risky, "alice", "/owp claim").await;
    reply(
        &story,
        &t,
        risky,
        "this task is tier 1 and needs trust level 1 or more; yours here is 0 — 3 more merged \
         pull requests here will earn it, once you comment `/owp opt-in`",
    );
    say(&story, &t, risky, "alice", "/owp opt-in").await;
    reply(&story, &t, risky, "@alice, you opted in");

    let (_, first) = one_merge(&story, &t, "alice", "Fix a typo in the README").await;
    one_merge(&story, &t, "alice", "Add a test for --help").await;
    assert_eq!(merged_count(&story, "gh_alice").await, 2);

    // GitHub delivers the first merge again, with its own delivery id and with a new one: the
    // outcome counts once.
    let again = story
        .fake
        .deliveries()
        .into_iter()
        .rfind(|d| d.event == "pull_request" && d.payload["number"] == json!(first))
        .expect("the merge delivery");
    assert_eq!(story.fake.resend_webhook(again.id).await, 200);
    story.settle().await;
    let payload = story.pr_payload("pull_request.closed.merged.derived", first, "maintainer");
    story.send("pull_request", &payload).await;
    assert_eq!(merged_count(&story, "gh_alice").await, 2, "counted once");

    say(&story, &t, risky, "alice", "/owp claim").await;
    reply(
        &story,
        &t,
        risky,
        "yours here is 0 — 1 more merged pull request here will earn it.",
    );

    one_merge(&story, &t, "alice", "Document the config file").await;
    assert_eq!(merged_count(&story, "gh_alice").await, 3);

    say(&story, &t, risky, "alice", "/owp claim").await;
    let task = story.task(risky).await;
    assert_eq!(task.status, TaskStatus::InProgress);
    assert_eq!(task.worker_id.as_deref(), Some("gh_alice"));
    status(&story, &t, risky, &["claimed by @alice"]);

    let rep = story
        .running()
        .store
        .reputations()
        .of("gh_alice")
        .await
        .unwrap();
    assert_eq!((rep.merged, rep.closed_unmerged, rep.expired), (3, 0, 0));
    assert_eq!(rep.score, 30);
    t.print(if postgres {
        "trust grows from comments alone (PostgreSQL)"
    } else {
        "trust grows from comments alone (SQLite)"
    });
}

#[tokio::test]
async fn three_merges_promote_an_opted_in_claimer_sqlite() {
    trust_grows_from_comments_alone(false).await;
}

#[tokio::test]
async fn three_merges_promote_an_opted_in_claimer_postgres() {
    trust_grows_from_comments_alone(true).await;
}

async fn without_opt_in_the_tier_stays_refused(postgres: bool) {
    let story = Story::on(postgres, Some(SETTINGS), |_| {}).await;
    let t = Transcript::default();
    let risky = story
        .label_issue("Rotate the signing keys", &["tier:1"])
        .await;
    status(&story, &t, risky, &["**Ready**"]);
    for title in ["One", "Two", "Three"] {
        one_merge(&story, &t, "bob", title).await;
    }
    say(&story, &t, risky, "bob", "/owp claim").await;
    reply(
        &story,
        &t,
        risky,
        "yours here is 0 — your merged pull requests here would earn it: comment `/owp opt-in` \
         to have them counted.",
    );
    assert_eq!(story.task(risky).await.status, TaskStatus::Ready);
    assert!(
        !story
            .running()
            .store
            .workers()
            .get("gh_bob")
            .await
            .unwrap()
            .unwrap()
            .reputation_opt_in
    );
    // Opting in counts what was merged before.
    say(&story, &t, risky, "bob", "/owp opt-in").await;
    reply(&story, &t, risky, "@bob, you opted in");
    say(&story, &t, risky, "bob", "/owp claim").await;
    status(&story, &t, risky, &["claimed by @bob"]);
    // Opting out again ends nothing already held.
    say(&story, &t, risky, "bob", "/owp opt-out").await;
    reply(&story, &t, risky, "@bob, you opted out");
    assert_eq!(story.task(risky).await.status, TaskStatus::InProgress);
}

#[tokio::test]
async fn without_opt_in_a_tier_stays_refused_with_the_reason_sqlite() {
    without_opt_in_the_tier_stays_refused(false).await;
}

#[tokio::test]
async fn without_opt_in_a_tier_stays_refused_with_the_reason_postgres() {
    without_opt_in_the_tier_stays_refused(true).await;
}

async fn merge_event_carries_the_credit(postgres: bool) {
    let story = Story::on(postgres, Some(SETTINGS), |_| {}).await;
    let t = Transcript::default();
    let (n, pr) = one_merge(&story, &t, "carol", "Credit where it is due").await;
    let task = story.task(n).await;
    let credit = &task.artifact.as_ref().unwrap()["credit"];
    assert_eq!(credit["worker_id"], "gh_carol");
    assert_eq!(credit["github_login"], "carol");
    assert_eq!(
        credit["pr_url"],
        format!("https://github.com/{REPO}/pull/{pr}")
    );
    let events = story
        .running()
        .store
        .events()
        .of_task(&task.id)
        .await
        .unwrap();
    let merged = events
        .iter()
        .find(|e| e.kind == "task.status" && e.data["status"] == "merged")
        .expect("the merge event");
    assert_eq!(merged.data["artifact"]["credit"]["github_login"], "carol");
}

#[tokio::test]
async fn the_merge_event_and_task_carry_the_credit_sqlite() {
    merge_event_carries_the_credit(false).await;
}

#[tokio::test]
async fn the_merge_event_and_task_carry_the_credit_postgres() {
    merge_event_carries_the_credit(true).await;
}

#[tokio::test]
async fn a_bad_promote_rule_in_owp_yml_is_shown_and_changes_nothing() {
    let story = Story::with(
        Some("trust:\n  promote:\n    - {level: 0, merged: 3}\n"),
        |_| {},
    )
    .await;
    let n = story.label_issue("Anything", &[]).await;
    story.expect_status(n, &["promote.level", "must be between 1 and 1000"]);
    let repo = story.policy().await;
    assert!(
        story
            .running()
            .store
            .reputations()
            .promotions(repo.id)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A check delivery about the head of pull request `pr`, as GitHub sends it.
fn check_payload(story: &Story, pr: u64, event: &str, state: &str) -> serde_json::Value {
    let base = story.pr_payload("pull_request.opened", pr, "ci-bot");
    let sha = Story::head_sha(pr);
    let mut payload = match event {
        "status" => json!({"sha": sha, "state": state, "context": "ci/test", "id": 1}),
        _ => {
            let (status, conclusion) = match state {
                "pending" => ("in_progress", serde_json::Value::Null),
                other => ("completed", json!(other)),
            };
            json!({
                "action": if status == "completed" { "completed" } else { "requested" },
                event: {"id": 900 + pr, "head_sha": sha, "status": status, "conclusion": conclusion,
                        "pull_requests": [{"number": pr}]},
            })
        }
    };
    for field in ["repository", "installation", "sender"] {
        payload[field] = base[field].clone();
    }
    payload
}

async fn red_then_green(postgres: bool) {
    let story = Story::on(postgres, Some(SETTINGS), |_| {}).await;
    let t = Transcript::default();
    let n = story.label_issue("Make the build faster", &[]).await;
    say(&story, &t, n, "dana", "/owp claim").await;
    status(&story, &t, n, &["claimed by @dana"]);
    let pr = story.open_pr("dana", &format!("Fixes #{n}")).await;
    let url = format!("https://github.com/{REPO}/pull/{pr}");
    status(
        &story,
        &t,
        n,
        &[&format!("**Pull request open** — {url} by @dana.")],
    );
    let open_line = story.expect_status(n, &[]).body;
    assert!(!open_line.contains("ready for review"), "{open_line}");

    let first = check_payload(&story, pr, "check_suite", "pending");
    story.send("check_suite", &first).await;
    assert_eq!(story.task(n).await.artifact.unwrap()["checks"], "pending");
    status(
        &story,
        &t,
        n,
        &["Checks are running — not ready for review yet."],
    );
    story
        .send(
            "check_suite",
            &check_payload(&story, pr, "check_suite", "failure"),
        )
        .await;
    status(
        &story,
        &t,
        n,
        &["Checks failed — not ready for review until they pass."],
    );
    assert_eq!(story.task(n).await.artifact.unwrap()["checks"], "failure");
    // A failing pull request keeps its review slot.
    assert_eq!(story.policy().await.open_prs, 1);
    // The suite is run again and passes; a commit status says the same.
    story
        .send(
            "check_suite",
            &check_payload(&story, pr, "check_suite", "success"),
        )
        .await;
    story
        .send("status", &check_payload(&story, pr, "status", "pending"))
        .await;
    status(&story, &t, n, &["Checks are running"]);
    story
        .send("status", &check_payload(&story, pr, "status", "success"))
        .await;
    assert_eq!(story.task(n).await.artifact.unwrap()["checks"], "success");
    status(&story, &t, n, &["Checks passed — ready for review."]);
    // New commits are pushed: the new head's check suite names the pull request, and its
    // checks are the ones shown.
    let mut pushed = check_payload(&story, pr, "check_suite", "pending");
    pushed["check_suite"]["head_sha"] = json!(Story::head_sha(pr + 50));
    pushed["check_suite"]["id"] = json!(7777);
    story.send("check_suite", &pushed).await;
    status(&story, &t, n, &["Checks are running"]);
    let mut green = check_payload(&story, pr, "check_suite", "success");
    green["check_suite"]["head_sha"] = json!(Story::head_sha(pr + 50));
    green["check_suite"]["id"] = json!(7777);
    story.send("check_suite", &green).await;
    status(&story, &t, n, &["Checks passed — ready for review."]);
    // Another commit's checks change nothing here.
    let mut other = check_payload(&story, pr, "status", "failure");
    other["sha"] = json!(Story::head_sha(pr + 100));
    story.send("status", &other).await;
    assert_eq!(story.task(n).await.artifact.unwrap()["checks"], "success");
    // A push reported only as `pull_request.synchronize` moves the head before any check names
    // it: the old head's passed checks no longer make the pull request ready for review.
    let mut sync = story.pr_payload("pull_request.synchronize", pr, "dana");
    sync["pull_request"]["head"]["sha"] = json!(Story::head_sha(pr + 200));
    story.send("pull_request", &sync).await;
    let artifact = story.task(n).await.artifact.unwrap();
    assert!(artifact.get("checks").is_none(), "{artifact}");
    let shown = story.expect_status(n, &[]).body;
    assert!(!shown.contains("ready for review."), "{shown}");
    // Its commit status then arrives, for the new head.
    let mut late = check_payload(&story, pr, "status", "failure");
    late["sha"] = json!(Story::head_sha(pr + 200));
    story.send("status", &late).await;
    status(
        &story,
        &t,
        n,
        &["Checks failed — not ready for review until they pass."],
    );
    story.expect_no_new_comments(pr);
}

#[tokio::test]
async fn a_red_check_then_a_green_one_moves_the_status_to_ready_for_review_sqlite() {
    red_then_green(false).await;
}

#[tokio::test]
async fn a_red_check_then_a_green_one_moves_the_status_to_ready_for_review_postgres() {
    red_then_green(true).await;
}

/// Settings where a single merged pull request earns trust 1.
const ONE_MERGE_PROMOTES: &str =
    "max_open_prs: 10\ntrust:\n  promote:\n    - {level: 1, merged: 1}\n";

/// Where `worker_id` stands: merged count, whether it is on the leaderboard, trust it earned.
async fn standing(story: &Story, worker_id: &str) -> (i64, bool, i64) {
    let store = &story.running().store;
    let merged = merged_count(story, worker_id).await;
    let listed = store
        .reputations()
        .leaderboard(None, 0, false)
        .await
        .unwrap()
        .iter()
        // A person's row is keyed by their account (`github:ID`), shown by their login.
        .any(|r| {
            r.worker_id == worker_id
                || (r.worker_id.starts_with("github:")
                    && r.github_login.as_deref() == worker_id.strip_prefix("gh_"))
        });
    let repo = story.policy().await;
    let (progress, _) = store
        .reputations()
        .trust_progress(worker_id, repo.id)
        .await
        .unwrap();
    (merged, listed, progress.earned)
}

/// `worker_id` holds nothing any more, and the task has no comment claim.
async fn claim_ended(story: &Story, worker_id: &str, task_id: &str) {
    let store = &story.running().store;
    let worker = store.workers().get(worker_id).await.unwrap().unwrap();
    assert_eq!(
        (worker.active_tasks, worker.active_points),
        (0, 0),
        "the claim ended"
    );
    assert!(store.comment_claims().get(task_id).await.unwrap().is_none());
}

async fn credit_goes_to_the_author(postgres: bool) {
    let story = Story::on(postgres, Some(ONE_MERGE_PROMOTES), |_| {}).await;
    let t = Transcript::default();
    story.fake.set_permission(REPO, "maria", "maintain");
    let n = story.label_issue("Fix the flaky test", &[]).await;
    status(&story, &t, n, &["**Ready**"]);

    // The maintainer has a worker of her own (she opted in); a stranger opts in and claims.
    say(&story, &t, n, "maria", "/owp opt-in").await;
    reply(&story, &t, n, "@maria, you opted in");
    say(&story, &t, n, "mallory", "/owp opt-in").await;
    reply(&story, &t, n, "@mallory, you opted in");
    say(&story, &t, n, "mallory", "/owp claim").await;
    status(&story, &t, n, &["claimed by @mallory"]);

    // The maintainer fixes it herself and merges her own pull request.
    t.said("@maria", n, &format!("opens a pull request: Fixes #{n}"));
    let pr = story.open_pr("maria", &format!("Fixes #{n}")).await;
    status(&story, &t, n, &["**Pull request open**"]);
    t.said("maintainer", pr, "merges the pull request");
    story.merge_pr(pr).await;
    let pr_url = format!("https://github.com/{REPO}/pull/{pr}");
    status(
        &story,
        &t,
        n,
        &[&format!(
            "**Done** — merged in {pr_url}. Thank you! Credited to @maria."
        )],
    );
    story.expect_no_new_comments(pr);

    let task = story.task(n).await;
    assert_eq!(task.status, TaskStatus::Merged);
    assert_eq!(task.worker_id.as_deref(), Some("gh_maria"));
    let credit = &task.artifact.as_ref().unwrap()["credit"];
    assert_eq!(credit["worker_id"], "gh_maria");
    assert_eq!(credit["github_login"], "maria");
    assert_eq!(standing(&story, "gh_mallory").await, (0, false, 0));
    assert_eq!(standing(&story, "gh_maria").await, (1, true, 1));
    let rep = story
        .running()
        .store
        .reputations()
        .of("gh_mallory")
        .await
        .unwrap();
    assert_eq!((rep.closed_unmerged, rep.expired, rep.score), (0, 0, 0));
    claim_ended(&story, "gh_mallory", &task.id).await;

    // A claimed task fixed by a pull request GitHub merges without it ever acting (its author
    // has no worker): the claim ends, nobody's reputation counts it, the author is named.
    let m = story.label_issue("Update the changelog", &[]).await;
    status(&story, &t, m, &["**Ready**"]);
    say(&story, &t, m, "mallory", "/owp claim").await;
    status(&story, &t, m, &["claimed by @mallory"]);
    let other = story.open_pr("dave", &format!("fixes #{m}")).await;
    status(
        &story,
        &t,
        m,
        &["claimed by @mallory", "not acting on this task"],
    );
    story.merge_pr(other).await;
    let task = story.task(m).await;
    assert_eq!(task.status, TaskStatus::Merged);
    assert_eq!(task.worker_id, None);
    assert_eq!(task.lease_id, None);
    let credit = &task.artifact.as_ref().unwrap()["credit"];
    assert_eq!(
        (&credit["worker_id"], &credit["github_login"]),
        (&json!(null), &json!("dave"))
    );
    status(&story, &t, m, &["Credited to @dave."]);
    assert_eq!(standing(&story, "gh_mallory").await, (0, false, 0));
    claim_ended(&story, "gh_mallory", &task.id).await;

    // The holder's own pull request still credits the holder.
    one_merge(&story, &t, "mallory", "Fix a typo").await;
    assert_eq!(standing(&story, "gh_mallory").await, (1, true, 1));
    t.print(if postgres {
        "credit goes to the author (PostgreSQL)"
    } else {
        "credit goes to the author (SQLite)"
    });
}

#[tokio::test]
async fn a_claimer_who_did_not_author_the_merged_pr_gets_no_credit_sqlite() {
    credit_goes_to_the_author(false).await;
}

#[tokio::test]
async fn a_claimer_who_did_not_author_the_merged_pr_gets_no_credit_postgres() {
    credit_goes_to_the_author(true).await;
}
