//! The App at scale against the fake GitHub: a bulk label of hundreds of issues paced under
//! GitHub's content-creation limits across two replicas, and the number of requests a
//! reconciliation of a large installation costs (the figures in docs/performance.md).

#[allow(unused_imports)]
use crate::github_support;

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use github_support::story::{INSTALLATION, OWNER, REPO, SETTLE, Story};
use github_support::{Call, busiest};
use owp::server;

/// Whether a call was a content-creating request GitHub accepted.
fn accepted_write(c: &Call) -> bool {
    matches!(c.method.as_str(), "POST" | "PATCH")
        && c.path.contains("/issues/")
        && (200..300).contains(&c.status)
}

#[tokio::test]
async fn a_bulk_label_of_300_issues_paces_itself_across_replicas() {
    const ISSUES: u64 = 300;
    // GitHub's limits, shortened: 30 writes a "minute" of one second and 100 an "hour" of four
    // seconds; the App keeps a margin below both, as it does below GitHub's 80 and 500.
    let minute = TimeDelta::seconds(1);
    let hour = TimeDelta::seconds(4);
    let story = Story::with(None, |c| {
        c.github.github_writes_per_minute = Some(24);
        c.github.github_writes_per_hour = Some(90);
        c.github.github_write_spacing_ms = Some(5);
        c.github.github_write_windows_ms = Some(vec![1000, 4000]);
    })
    .await;
    story.fake.set_content_limits(&[(30, minute), (100, hour)]);
    // A second replica on the same database.
    let second = server::start(story.config.clone(), false).await.unwrap();
    second.github.wait_idle(SETTLE).await.unwrap();

    // A maintainer labels 300 issues at once; the App finds them all in one reconciliation.
    for i in 0..ISSUES {
        story.fake.create_issue(
            REPO,
            "maintainer",
            &format!("Task {i}"),
            "Something to do.",
            &["pool:ready"],
        );
    }
    let started = Instant::now();
    story.running().github.reconcile_now().await.unwrap();
    second.github.reconcile_now().await.unwrap();
    let deadline = Duration::from_secs(150);
    story.running().github.wait_idle(deadline).await.unwrap();
    second.github.wait_idle(deadline).await.unwrap();
    let took = started.elapsed();

    // Every issue has its one status comment, and it is right.
    for n in 1..=ISSUES {
        let statuses: Vec<_> = story
            .fake
            .bot_comments(REPO, n)
            .into_iter()
            .filter(|c| c.body.starts_with("<!-- owp:status task="))
            .collect();
        assert_eq!(statuses.len(), 1, "#{n}: {statuses:#?}");
        assert!(statuses[0].body.contains("**Ready**"), "#{n}");
    }
    // GitHub never had to refuse a write, and no window held more than it allows.
    let calls = story.fake.calls();
    let refused: Vec<String> = calls
        .iter()
        .filter(|c| c.status == 403 || c.status == 429)
        .map(|c| format!("{} {} {}", c.method, c.path, c.status))
        .collect();
    assert!(refused.is_empty(), "refused: {refused:?}");
    let writes: Vec<_> = calls
        .iter()
        .filter(|c| accepted_write(c))
        .map(|c| c.at)
        .collect();
    assert!(writes.len() as u64 >= ISSUES);
    assert!(
        busiest(&writes, minute) <= 30,
        "{}",
        busiest(&writes, minute)
    );
    assert!(busiest(&writes, hour) <= 100, "{}", busiest(&writes, hour));
    // The hourly budget was what held it back: 300 writes at 90 per four seconds.
    assert!(took >= Duration::from_secs(8), "took only {took:?}");
    second.stop().await;
}

/// The installation of the economy test: `repos` repositories (the story's own first) with
/// `per_repo` ready issues each; every fifth has no settings file.
fn big_installation(story: &Story, repos: usize, per_repo: usize) -> Vec<String> {
    let mut names = vec![REPO.to_string()];
    for i in 1..repos {
        let name = format!("{OWNER}/project-{i:02}");
        story.fake.add_repo(INSTALLATION, &name);
        names.push(name);
    }
    for (r, name) in names.iter().enumerate() {
        if r % 5 != 0 {
            story
                .fake
                .set_file(name, ".github/owp.yml", "max_open_prs: 4\n");
        }
        for i in 0..per_repo {
            story.fake.create_issue(
                name,
                "maintainer",
                &format!("Task {i}"),
                "Something to do.",
                &["pool:ready"],
            );
        }
    }
    names
}

/// The requests one reconciliation sent (those of the comment sender left out), and how many of
/// them GitHub answered 304 Not Modified.
async fn reconcile_requests(story: &Story) -> (Vec<Call>, usize) {
    let seen = story.fake.calls().len();
    story.running().github.reconcile_now().await.unwrap();
    let calls: Vec<Call> = story.fake.calls()[seen..]
        .iter()
        .filter(|c| !c.path.contains("/comments"))
        .cloned()
        .collect();
    let not_modified = calls.iter().filter(|c| c.status == 304).count();
    (calls, not_modified)
}

#[tokio::test]
async fn reconciling_50_repositories_and_2000_ready_issues_stays_within_its_request_budget() {
    const REPOS: usize = 50;
    const PER_REPO: usize = 40;
    // The status comments of 2,000 new tasks take hours at GitHub's pace; they are not what is
    // measured here, so the sender is held to one write.
    let story = Story::with(None, |c| {
        c.github.github_writes_per_hour = Some(1);
    })
    .await;
    story.stop_checking_comments();
    big_installation(&story, REPOS, PER_REPO);

    let (first, first_304) = reconcile_requests(&story).await;
    let (tasks,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tasks")
        .fetch_one(story.running().store.read_pool())
        .await
        .unwrap();
    assert_eq!(
        tasks,
        (REPOS * PER_REPO) as i64,
        "every ready issue is a task"
    );
    // Documented in docs/performance.md: 3 requests per reconciliation, and 4 per repository
    // (its settings file, its labels — which of the pool's it lacks —, its ready issues —
    // filtered by label, 100 a page — and its open pull requests).
    let budget = 3 + 4 * REPOS;
    // Joining, a repository's vouch list is looked for too (`VOUCHED.td`, `.github/VOUCHED.td`);
    // reconciliation asks again for an absent one only once a day.
    let joining = 2 * REPOS;
    assert!(
        first.len() <= budget + joining,
        "first reconciliation: {} requests, more than {}: {:#?}",
        first.len(),
        budget + joining,
        summary(&first)
    );
    // Nothing changed: the same requests, but each one a conditional request that GitHub answers
    // 304 (which does not count against the rate limit) — except the settings file of a
    // repository that has none (GitHub's 404 carries no ETag) and a listing that did change.
    let (second, second_304) = reconcile_requests(&story).await;
    assert!(second.len() <= budget, "{:#?}", summary(&second));
    let counted = second.len() - second_304;
    let without_settings = REPOS.div_ceil(5);
    assert!(
        counted <= 3 + without_settings,
        "second reconciliation: {counted} of {} requests counted against the rate limit: {:#?}",
        second.len(),
        summary(&second)
    );
    println!(
        "reconciliation of {REPOS} repositories and {} ready issues: first {} requests ({first_304} \
         answered 304), second {} requests ({second_304} answered 304)",
        REPOS * PER_REPO,
        first.len(),
        second.len()
    );
}

/// Calls grouped by what they ask for.
fn summary(calls: &[Call]) -> Vec<String> {
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for c in calls {
        let mut kind: Vec<&str> = c
            .path
            .split('/')
            .map(|p| {
                if !p.is_empty() && p.chars().all(|ch| ch.is_ascii_digit()) {
                    "N"
                } else {
                    p
                }
            })
            .collect();
        if kind.get(1) == Some(&"repos") && kind.len() > 3 {
            kind[2] = "{owner}";
            kind[3] = "{repo}";
        }
        let key = format!("{} {} {}", c.method, kind.join("/"), c.status);
        *kinds.entry(key).or_default() += 1;
    }
    kinds
        .into_iter()
        .map(|(k, n)| format!("{n} × {k}"))
        .collect()
}

/// The requests sent since `seen` calls, and how many of them were content-creating.
fn since(story: &Story, seen: usize) -> (usize, usize) {
    let calls = story.fake.calls();
    let new = &calls[seen..];
    let writes = new
        .iter()
        .filter(|c| matches!(c.method.as_str(), "POST" | "PATCH") && c.path.contains("/issues/"))
        .count();
    (new.len(), writes)
}

#[tokio::test]
async fn a_task_lifecycle_costs_a_known_number_of_requests() {
    let story = Story::start().await;
    let mut seen = story.fake.calls().len();
    let mut step = |story: &Story, what: &str, budget: (usize, usize)| {
        let (requests, writes) = since(story, seen);
        seen = story.fake.calls().len();
        println!("{what}: {requests} requests, {writes} of them writes");
        assert!(
            requests <= budget.0 && writes <= budget.1,
            "{what}: {requests} requests ({writes} writes), budget {budget:?}"
        );
    };
    // Documented in docs/performance.md, per webhook of a task's life.
    let n = story.open_issue("Fix the parser", &[]).await;
    step(&story, "issues.opened (not in the pool)", (0, 0));
    story.add_label(n, "pool:ready").await;
    step(
        &story,
        "issues.labeled: the task and its status comment",
        (2, 1),
    );
    story.expect_status(n, &["**Ready**"]);
    story.comment(n, "alice", "/owp claim").await;
    step(
        &story,
        "issue_comment `/owp claim`: the status comment edited (no thumbs-up)",
        (2, 1),
    );
    story.expect_status(n, &["alice"]);
    let pr = story.open_pr("alice", &format!("Fixes #{n}")).await;
    step(
        &story,
        "pull_request.opened: its changed files, the status comment edited",
        (3, 1),
    );
    story.fake.set_pr_files(REPO, pr, &["src/parser.rs"]);
    let push = story.pr_payload("pull_request.synchronize", pr, "alice");
    story.send("pull_request", &push).await;
    step(
        &story,
        "pull_request.synchronize: its changed files read again",
        (1, 0),
    );
    story.merge_pr(pr).await;
    step(&story, "pull_request.closed (merged)", (1, 1));
    story.expect_status(n, &["**Done**"]);
}
