//! GitHub's own issue dependencies ("blocked by") hold tasks, as stories over the fake GitHub:
//! a waiting issue cannot be claimed and says what it waits on; closing its last blocker frees
//! it with no maintainer action; a dependency added while a task is claimed leaves the claim
//! alone; what the webhooks miss, reconciliation finds. A `needs:NAME` label holds an issue for
//! the workers that declare the capability.

#[allow(unused_imports)]
use crate::github_support;

use github_support::story::{REPO, Story};
use owp::domain::TaskStatus;

/// Everyone's comments on the chain's issues, in the order they were written (for the record).
fn transcript(story: &Story, issues: &[u64]) -> String {
    let mut all: Vec<_> = issues
        .iter()
        .flat_map(|n| story.fake.comments(REPO, *n))
        .collect();
    all.sort_by_key(|c| c.id);
    all.iter()
        .map(|c| {
            let first: Vec<&str> = c
                .body
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with("<!--"))
                .take(3)
                .collect();
            format!("#{} {}: {}", c.number, c.author, first.join(" / "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The bold first line of each issue's status comment, side by side.
fn statuses(story: &Story, issues: &[u64]) -> String {
    issues
        .iter()
        .map(|n| {
            let line = story.status_line(*n);
            let line = line.split(" — ").next().unwrap_or(&line).replace("**", "");
            format!("#{n} {line}")
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

#[tokio::test]
async fn a_chain_of_three_issues_is_worked_in_order_by_two_volunteers() {
    let story = Story::with(Some("max_open_prs: 10\n"), |_| {}).await;
    let schema = story.label_issue("Add the retry table", &[]).await;
    let worker = story.label_issue("Retry failed deliveries", &[]).await;
    let docs = story.label_issue("Document retries", &[]).await;
    story.expect_status(schema, &["**Ready**"]);
    story.expect_status(worker, &["**Ready**"]);
    story.expect_status(docs, &["**Ready**"]);

    // The maintainer records the order on GitHub.
    story.block_issue(worker, REPO, schema).await;
    story.block_issue(docs, REPO, worker).await;
    let chain = [schema, worker, docs];
    let mut log = vec![format!(
        "maintainer marks #{worker} blocked by #{schema}, #{docs} by #{worker}: {}",
        statuses(&story, &chain)
    )];
    let w = story.task(worker).await;
    assert_eq!(w.status, TaskStatus::Ready, "a waiting task stays ready");
    assert_eq!(w.waiting_on, [format!("{REPO}#{schema}")]);
    story.expect_status(worker, &[&format!("**Waiting on #{schema}**")]);
    story.expect_status(docs, &[&format!("**Waiting on #{worker}**")]);

    // Bob tries to start in the middle: refused, with what it waits on.
    story.comment(worker, "bob", "/owp claim").await;
    story.expect_comment(
        worker,
        &format!("@bob, you can't claim this issue right now: it is waiting on #{schema}"),
    );
    assert_eq!(story.task(worker).await.status, TaskStatus::Ready);
    log.push(format!(
        "bob `/owp claim` #{worker}: refused, waiting on #{schema}"
    ));

    // Alice takes the first one; Bob can take nothing else yet.
    story.comment(schema, "alice", "/owp claim").await;
    assert_eq!(
        story.task(schema).await.worker_id.as_deref(),
        Some("gh_alice")
    );
    story.expect_status(schema, &["claimed by @alice"]);
    story.comment(docs, "bob", "/owp claim").await;
    story.expect_comment(docs, &format!("it is waiting on #{worker}"));
    log.push(format!(
        "alice `/owp claim` #{schema}: claimed; bob `/owp claim` #{docs}: refused: {}",
        statuses(&story, &chain)
    ));

    // Alice's pull request merges and GitHub closes the issue: the next one is free at once.
    let pr = story
        .open_pr("alice", &format!("Adds the table.\n\nFixes #{schema}"))
        .await;
    story.merge_pr(pr).await;
    story.close_issue(schema).await;
    assert_eq!(story.task(schema).await.status, TaskStatus::Merged);
    let w = story.task(worker).await;
    assert!(w.waiting_on.is_empty(), "{:?}", w.waiting_on);
    assert_eq!(w.blocked_by, [format!("{REPO}#{schema}")]);
    story.expect_status(schema, &["**Done**"]);
    story.expect_status(worker, &["**Ready**"]);
    story.expect_status(docs, &[&format!("**Waiting on #{worker}**")]);
    log.push(format!(
        "alice's PR merges, GitHub closes #{schema}: {}",
        statuses(&story, &chain)
    ));

    story.comment(worker, "bob", "/owp claim").await;
    assert_eq!(
        story.task(worker).await.worker_id.as_deref(),
        Some("gh_bob")
    );
    story.expect_status(worker, &["claimed by @bob"]);
    story.comment(docs, "alice", "/owp claim").await;
    story.expect_comment(docs, &format!("it is waiting on #{worker}"));
    log.push(format!(
        "bob `/owp claim` #{worker}: claimed; alice `/owp claim` #{docs}: refused: {}",
        statuses(&story, &chain)
    ));

    let pr = story
        .open_pr("bob", &format!("Retries.\n\nCloses #{worker}"))
        .await;
    story.merge_pr(pr).await;
    story.close_issue(worker).await;
    story.expect_status(worker, &["**Done**"]);
    story.expect_status(docs, &["**Ready**"]);
    log.push(format!(
        "bob's PR merges, GitHub closes #{worker}: {}",
        statuses(&story, &chain)
    ));
    story.comment(docs, "alice", "/owp claim").await;
    assert_eq!(
        story.task(docs).await.worker_id.as_deref(),
        Some("gh_alice")
    );
    story.expect_status(docs, &["claimed by @alice"]);

    log.push(format!(
        "alice `/owp claim` #{docs}: claimed: {}",
        statuses(&story, &chain)
    ));
    println!(
        "--- steps ---\n{}\n--- comments ---\n{}",
        log.join("\n"),
        transcript(&story, &chain)
    );
}

#[tokio::test]
async fn a_dependency_added_while_claimed_leaves_the_holder_alone() {
    let story = Story::with(Some("max_open_prs: 10\n"), |_| {}).await;
    let held = story.label_issue("Held work", &[]).await;
    let blocker = story.open_issue("A prerequisite found late", &[]).await;
    story.expect_status(held, &["**Ready**"]);
    story.comment(held, "alice", "/owp claim").await;
    story.expect_status(held, &["claimed by @alice"]);

    story.block_issue(held, REPO, blocker).await;
    let task = story.task(held).await;
    assert_eq!(task.status, TaskStatus::InProgress, "the claim stands");
    assert_eq!(task.worker_id.as_deref(), Some("gh_alice"));
    assert_eq!(task.waiting_on, [format!("{REPO}#{blocker}")]);
    story.expect_status(held, &["claimed by @alice"]);

    // Given back, it waits like any other.
    story.comment(held, "alice", "/owp release").await;
    story.expect_status(held, &[&format!("**Waiting on #{blocker}**")]);
    story.comment(held, "bob", "/owp claim").await;
    story.expect_comment(held, &format!("it is waiting on #{blocker}"));
    // The dependency is removed on GitHub: free again.
    story.unblock_issue(held, REPO, blocker).await;
    story.expect_status(held, &["**Ready**"]);
    assert!(story.task(held).await.blocked_by.is_empty());
}

#[tokio::test]
async fn a_blocker_in_another_repository_closed_unseen_is_found_by_reconciliation() {
    let mut story = Story::with(Some("max_open_prs: 10\n"), |_| {}).await;
    let other = "octo-org/other";
    story.fake.install(77, "octo-org", &[other]);
    let elsewhere = story
        .fake
        .create_issue(other, "maintainer", "Upstream fix", "", &[]);
    let near = story.open_issue("Needs the upstream fix", &[]).await;
    let n = story.label_issue("Use the upstream fix", &[]).await;
    story.block_issue(n, other, elsewhere).await;
    story.block_issue(n, REPO, near).await;
    story.expect_status(
        n,
        &[&format!("**Waiting on {other}#{elsewhere} and #{near}**")],
    );
    story.comment(n, "bob", "/owp claim").await;
    story.expect_comment(
        n,
        &format!("it is waiting on {other}#{elsewhere} and #{near}"),
    );

    // The issue here closes (webhook): one left.
    story.close_issue(near).await;
    story.expect_status(n, &[&format!("**Waiting on {other}#{elsewhere}**")]);

    // The other one closes while nobody is told; a restart reconciles.
    let lists_before = story.fake.count_calls("GET", "/dependencies/blocked_by");
    story.stop().await;
    story.close_issue_elsewhere(other, elsewhere);
    story.boot().await;
    let task = story.task(n).await;
    assert!(task.waiting_on.is_empty(), "{:?}", task.waiting_on);
    story.expect_status(n, &["**Ready**"]);
    // No blocker is open any more: the summary said so, and no list was read for it.
    assert_eq!(
        story.fake.count_calls("GET", "/dependencies/blocked_by"),
        lists_before
    );
    story.comment(n, "bob", "/owp claim").await;
    assert_eq!(story.task(n).await.worker_id.as_deref(), Some("gh_bob"));
    story.expect_status(n, &["claimed by @bob"]);
}

/// A `needs:NAME` label makes the task require `NAME: true`: a volunteer whose worker does not
/// declare it is refused with what is missing; once the label goes, anyone may claim it.
#[tokio::test]
async fn a_needs_label_requires_a_capability_to_claim() {
    let story = Story::with(Some("max_open_prs: 10\n"), |_| {}).await;
    let issue = story
        .label_issue("Fix the flaky test", &["needs:can_run_tests"])
        .await;
    story.expect_status(issue, &["**Ready**"]);
    let task = story.task(issue).await;
    assert_eq!(
        serde_json::Value::Object(task.requires.clone()),
        serde_json::json!({"can_run_tests": true})
    );
    story.comment(issue, "bob", "/owp claim").await;
    story.expect_comment(
        issue,
        "@bob, you can't claim this issue right now: it needs capabilities your worker does not declare in its `capabilities`: `can_run_tests`",
    );
    assert_eq!(story.task(issue).await.status, TaskStatus::Ready);

    story.remove_label(issue, "needs:can_run_tests").await;
    assert!(story.task(issue).await.requires.is_empty());
    story.comment(issue, "bob", "/owp claim").await;
    assert_eq!(story.task(issue).await.worker_id.as_deref(), Some("gh_bob"));
    story.expect_status(issue, &["claimed by @bob"]);
}
