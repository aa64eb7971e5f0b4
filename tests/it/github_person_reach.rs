//! The rules about people read the person (the GitHub account id) on every path, written as the
//! attack (contract section 14): a stranger's worker claims past a `who_may_claim` allowlist
//! over REST; a person renames to start a new reply window, or comments to two replicas in turn
//! to get two; strangers' comments and a thousand hostile reports make the App ask GitHub for
//! permissions; a relinked person's moved plan counts once and is approved over REST for the new
//! worker; two replicas race one person's claims.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::github_first_timers::{claim, codes_for, key};
use crate::github_support::story::SECRET;
use crate::github_support::story::{REPO, Story};
use owp::domain::TaskStatus;
use owp::github::throttle::{REPLIES_PER_INSTALLATION, THROTTLED_REACTION};
use owp::github::volunteer_reads::PERMISSIONS_PER_INSTALLATION_PER_MINUTE;

/// Waits for a fresh minute unless 40 s of this one are left: the bounds count per minute, and a
/// thousand reports take 25 s on a loaded two-core machine.
async fn early_in_a_minute() {
    let into = chrono::Utc::now().timestamp_millis().rem_euclid(60_000);
    if into > 20_000 {
        tokio::time::sleep(Duration::from_millis((60_000 - into) as u64 + 100)).await;
    }
}

/// `who_may_claim: {allowlist: [alice]}`: mallory links a worker of her own and asks for work
/// over REST (as `owp worker run` and `owp mcp` do): nothing is granted and the preview names
/// `not_on_allowlist`, as her comment is refused; alice's worker takes the task.
async fn an_allowlist_holds_over_rest(postgres: bool) {
    let rules = "max_open_prs: 10\nwho_may_claim: {allowlist: [alice]}\n";
    let story = Story::on(postgres, Some(rules), |_| {}).await;
    let n = story.label_issue("Refactor the parser", &[]).await;
    let mallory = story.worker_of("mallory", "mallory-bot").await;
    assert_eq!(
        claim(&story, &mallory).await,
        None,
        "a worker claimed past the allowlist"
    );
    assert_eq!(
        codes_for(&story, &mallory, n).await,
        [json!("not_on_allowlist")]
    );
    story.comment(n, "mallory", "/owp claim").await;
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    let alice = story.worker_of("alice", "alice-laptop").await;
    assert_eq!(claim(&story, &alice).await.map(|(k, _)| k), Some(key(n)));
    story.stop_checking_comments();
}

#[tokio::test]
async fn an_allowlist_holds_over_rest_sqlite() {
    an_allowlist_holds_over_rest(false).await;
}

#[tokio::test]
async fn an_allowlist_holds_over_rest_postgres() {
    an_allowlist_holds_over_rest(true).await;
}

/// The bot's replies on issue `n`.
fn replies(story: &Story, n: u64) -> usize {
    story
        .fake
        .comments(REPO, n)
        .iter()
        .filter(|c| c.author_is_bot)
        .count()
}

/// mallory spends her replies in the installation, one `/owp claim` on each of as many issues,
/// then renames her account and comments again: she is the same person (account id), so her
/// comment gets the `confused` reaction, not a reply.
#[tokio::test]
async fn the_reply_throttle_follows_the_account() {
    let story = Story::on(false, None, |_| {}).await;
    let issue = |i: u32| {
        story
            .fake
            .create_issue(REPO, "maintainer", &format!("Talk {i}"), "Not a task.", &[])
    };
    for i in 0..REPLIES_PER_INSTALLATION {
        let n = issue(i);
        story.comment(n, "mallory", "/owp claim").await;
        story.settle().await;
        assert_eq!(replies(&story, n), 1, "reply {i} to mallory");
    }
    story.fake.rename_account("mallory", "mallory-again");
    let n = issue(REPLIES_PER_INSTALLATION);
    let comment = story.comment(n, "mallory-again", "/owp claim").await;
    story.settle().await;
    assert_eq!(replies(&story, n), 0, "a new login started a new window");
    assert!(
        story
            .fake
            .reactions()
            .iter()
            .any(|r| r.comment_id == comment && r.content == "confused"),
        "{:?}",
        story.fake.reactions()
    );
    story.stop_checking_comments();
}

/// mallory comments `/owp claim` on twice as many issues as she gets replies in the
/// installation, each comment delivered to one of two `owp serve` replicas sharing the database
/// in turn: the replicas together answer her as one does (the window is counted in the
/// database), and every other comment gets the `confused` reaction.
async fn the_reply_throttle_holds_across_replicas(postgres: bool) {
    let story = Story::on(postgres, None, |_| {}).await;
    let second = owp::server::start(story.config.clone(), false)
        .await
        .unwrap();
    second
        .github
        .wait_idle(Duration::from_secs(30))
        .await
        .unwrap();
    let addrs = [story.running().addr, second.addr];
    let comments = 2 * REPLIES_PER_INSTALLATION;
    let mut issues = Vec::new();
    for i in 0..comments {
        let n =
            story
                .fake
                .create_issue(REPO, "maintainer", &format!("Talk {i}"), "Not a task.", &[]);
        let id = story.fake.add_comment(REPO, n, "mallory", "/owp claim");
        let payload = story.comment_payload(id, "created", None);
        let to = addrs[i as usize % 2];
        story
            .fake
            .set_webhook_target(&format!("http://{to}/github/webhook"), SECRET);
        let status = story.fake.send_webhook("issue_comment", &payload).await;
        assert!((200..300).contains(&status), "answered {status}");
        story
            .running()
            .github
            .wait_idle(Duration::from_secs(30))
            .await
            .unwrap();
        second
            .github
            .wait_idle(Duration::from_secs(30))
            .await
            .unwrap();
        issues.push((n, id));
    }
    let answered: usize = issues.iter().map(|(n, _)| replies(&story, *n)).sum();
    let reacted = story
        .fake
        .reactions()
        .iter()
        .filter(|r| r.content == THROTTLED_REACTION)
        .filter(|r| issues.iter().any(|(_, id)| *id == r.comment_id))
        .count();
    assert_eq!(
        (answered, reacted),
        (
            REPLIES_PER_INSTALLATION as usize,
            (comments - REPLIES_PER_INSTALLATION) as usize
        ),
        "two replicas each answered their own window"
    );
    second.stop().await;
    story.stop_checking_comments();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_reply_throttle_holds_across_replicas_sqlite() {
    the_reply_throttle_holds_across_replicas(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_reply_throttle_holds_across_replicas_postgres() {
    the_reply_throttle_holds_across_replicas(true).await;
}

/// One `pr_opened` report of task `task_id` through `token` naming pull request `pr`: the
/// status, the `Retry-After` header and the problem's code.
async fn report_pr(
    story: &Story,
    token: &str,
    task_id: &str,
    pr: u64,
) -> (u16, Option<String>, Value) {
    let res = story
        .http
        .post(format!("{}/v1/tasks/{task_id}/status", story.url()))
        .bearer_auth(token)
        .json(&json!({"status": "pr_opened",
            "artifact": {"pr_url": format!("https://github.com/{REPO}/pull/{pr}")}}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (status, retry, body["code"].clone())
}

/// Written as the attack on the permission reads that really reach GitHub: alice's worker holds
/// three tasks and sends a thousand `pr_opened` reports, each naming the pull request of one of
/// twenty strangers (GitHub's webhook told the App of each, so only whether its author maintains
/// the repository is unknown). Each unknown author makes the App ask GitHub for their permission
/// until the installation's permission reads for the minute are spent: GitHub is asked exactly
/// that often, the shared count (`rate_counts`) says so, a report naming an author already asked
/// about is refused `pr_not_yours` from that answer, every other report is answered `429
/// rate_limited` with `Retry-After` (report again then) without asking, and no task moves.
#[tokio::test]
async fn hostile_reports_ask_github_for_a_bounded_number_of_permissions() {
    let story = Story::on(
        false,
        Some("max_open_prs: 10\nmax_claims_per_user: 5\n"),
        |_| {},
    )
    .await;
    let owl = story.worker_of("alice", "owl").await;
    let mut tasks = Vec::new();
    for i in 0..3 {
        let n = story.label_issue(&format!("Task {i}"), &[]).await;
        assert!(claim(&story, &owl).await.is_some(), "owl holds task {i}");
        tasks.push((n, story.task(n).await.id));
    }
    let mut pulls = Vec::new();
    for i in 0..20 {
        pulls.push(
            story
                .open_pr(&format!("stranger{i}"), "A drive-by change.")
                .await,
        );
    }
    early_in_a_minute().await;
    let minute = || chrono::Utc::now().timestamp_millis().div_euclid(60_000);
    let first_minute = minute();
    let asks = || story.fake.count_calls("GET", "/permission");
    let before = asks();
    let (mut not_yours, mut limited) = (0, 0);
    for i in 0..1000 {
        let task = &tasks[i % tasks.len()].1;
        let (status, retry, code) = report_pr(&story, &owl, task, pulls[i % pulls.len()]).await;
        match (status, code.as_str()) {
            (409, Some("pr_not_yours")) => not_yours += 1,
            (429, Some("rate_limited")) => {
                let secs: u64 = retry.expect("a 429 says when to retry").parse().unwrap();
                assert!((1..=60).contains(&secs), "Retry-After {secs}");
                limited += 1;
            }
            other => panic!("report {i}: unexpected answer {other:?}"),
        }
    }
    let asked = asks() - before;
    assert_eq!(
        minute(),
        first_minute,
        "the thousand reports outlasted their minute (the bounds count per minute)"
    );
    let bound = PERMISSIONS_PER_INSTALLATION_PER_MINUTE as usize;
    assert_eq!(asked, bound, "{asked} permission reads for 1000 reports");
    let counted: Vec<i64> =
        sqlx::query_scalar("SELECT used FROM rate_counts WHERE name LIKE 'ghr:permission:%'")
            .fetch_all(story.running().store.read_pool())
            .await
            .unwrap();
    assert_eq!(
        counted,
        [bound as i64],
        "the shared count of permission reads"
    );
    assert!(
        limited > 0 && not_yours + limited == 1000,
        "{not_yours} {limited}"
    );
    for (n, _) in &tasks {
        assert_eq!(story.task(*n).await.status, TaskStatus::Leased);
    }
    story.stop_checking_comments();
}

/// Strangers (no write access, GitHub marks them `CONTRIBUTOR`) each comment a maintainer's
/// command: each makes the App ask GitHub for their permission, so past the installation's bound
/// nothing is asked and the stranger is answered as one without write access. A maintainer
/// (GitHub marks them `COLLABORATOR`) is not counted with them: their command works at once.
#[tokio::test]
async fn permission_checks_are_bounded_per_installation() {
    let story = Story::on(false, None, |_| {}).await;
    story.fake.set_permission(REPO, "maint", "write");
    let n = story.label_issue("Refactor the parser", &[]).await;
    let asks = || story.fake.count_calls("GET", "/permission");
    // The bound counts per clock minute: a busy machine may spread the comments over two.
    early_in_a_minute().await;
    let minute = || chrono::Utc::now().timestamp_millis().div_euclid(60_000);
    let first_minute = minute();
    let before = asks();
    let strangers = PERMISSIONS_PER_INSTALLATION_PER_MINUTE + 10;
    for i in 0..strangers {
        story
            .comment(n, &format!("stranger{i}"), "/owp block it is spam")
            .await;
    }
    let asked = asks() - before;
    let minutes = (minute() - first_minute + 1) as usize;
    assert!(
        asked > 0 && asked <= PERMISSIONS_PER_INSTALLATION_PER_MINUTE as usize * minutes,
        "{asked} permission reads for {strangers} strangers in {minutes} minute(s)"
    );
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    story
        .comment(n, "maint", "/owp block waiting for a decision")
        .await;
    assert_eq!(story.task(n).await.status, TaskStatus::Blocked);
    story.stop_checking_comments();
}

/// A proposal of `plan` for the task of issue `n` through `token`: the status and the answer.
async fn propose(story: &Story, token: &str, n: u64, plan: &str) -> (u16, Value) {
    let task_id = story.task(n).await.id;
    story
        .post_json(
            &format!("/v1/tasks/{task_id}/proposals"),
            Some(token),
            json!({"plan": plan}),
        )
        .await
}

/// Row 4: alice proposes two plans through her laptop's worker and links her desktop's. The
/// plans are still hers and count once toward her three: the desktop proposes a third, and a
/// fourth is refused `too_many_proposals`. A maintainer approves the first over REST: the task
/// goes to the desktop, whose claim returns it.
async fn a_moved_plan_counts_once_and_is_approved_over_rest(postgres: bool) {
    let rules = "max_open_prs: 10\nclaim:\n  approval: plan\n";
    let story = Story::on(postgres, Some(rules), |_| {}).await;
    let issues = [
        story.label_issue("One", &[]).await,
        story.label_issue("Two", &[]).await,
        story.label_issue("Three", &[]).await,
        story.label_issue("Four", &[]).await,
    ];
    let links = story.links_issue();
    let (laptop, _) = story
        .worker_linked_on(links, "alice", "alice-laptop", json!({}))
        .await;
    let (status, first) = propose(&story, &laptop, issues[0], "Split the parser.").await;
    assert_eq!(status, 201, "{first}");
    let (status, body) = propose(&story, &laptop, issues[1], "Rename the module.").await;
    assert_eq!(status, 201, "{body}");

    let (desktop, desktop_id) = story
        .worker_linked_on(links, "alice", "alice-desktop", json!({}))
        .await;
    let (status, body) = propose(&story, &desktop, issues[2], "Add the docs.").await;
    assert_eq!(status, 201, "the moved plans counted twice: {body}");
    let (status, body) = propose(&story, &desktop, issues[3], "A fourth plan.").await;
    assert_eq!(status, 409, "the moved plans were not counted: {body}");
    assert_eq!(body["code"], "too_many_proposals", "{body}");

    let proposal = first["proposal_id"].as_str().unwrap();
    let (status, body) = story
        .admin(
            Method::POST,
            &format!("/v1/admin/proposals/{proposal}/approve"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let task = story.task(issues[0]).await;
    assert_eq!(task.worker_id.as_deref(), Some(desktop_id.as_str()));
    assert_eq!(
        claim(&story, &desktop).await.map(|(k, _)| k),
        Some(key(issues[0]))
    );
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_moved_plan_counts_once_and_is_approved_over_rest_sqlite() {
    a_moved_plan_counts_once_and_is_approved_over_rest(false).await;
}

#[tokio::test]
async fn a_moved_plan_counts_once_and_is_approved_over_rest_postgres() {
    a_moved_plan_counts_once_and_is_approved_over_rest(true).await;
}

/// Two `owp serve` replicas on one PostgreSQL database, `max_claims_per_user: 2`: alice's worker
/// (which may hold five) asks both at once for six tasks, three claims to each. The person holds
/// two, whichever replica granted them; bob is not held back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pg_replicas_hold_one_persons_cap() {
    if !crate::services::postgres_enabled("pg_replicas_hold_one_persons_cap") {
        return;
    }
    let rules = "max_open_prs: 20\nmax_claims_per_user: 2\n";
    let story = Story::on(true, Some(rules), |_| {}).await;
    let second = owp::server::start(story.config.clone(), false)
        .await
        .unwrap();
    second
        .github
        .wait_idle(Duration::from_secs(30))
        .await
        .unwrap();
    for i in 0..6 {
        story.label_issue(&format!("Task {i}"), &[]).await;
    }
    let alice = story.worker_of("alice", "alice-laptop").await;
    let bases = [story.url(), format!("http://{}", second.addr)];
    let claims = (0..6).map(|i| {
        let (http, base, token) = (story.http.clone(), bases[i % 2].clone(), alice.clone());
        async move {
            http.post(format!("{base}/v1/work"))
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(claims).await;
    let granted = statuses.iter().filter(|&&s| s == 200).count();
    assert_eq!(granted, 2, "{statuses:?}");
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 204),
        "{statuses:?}"
    );
    let (status, me) = story.get_json("/v1/workers/me", &alice).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["worker"]["active_tasks"], 2, "{me}");
    let bob = story.worker_of("bob", "bob-bot").await;
    assert!(claim(&story, &bob).await.is_some());
    second.stop().await;
    story.stop_checking_comments();
}
