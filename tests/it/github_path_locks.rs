//! Path locks on GitHub (rule 10, contract section 11), as stories over the fake GitHub: an
//! issue's `Paths:` line declares what its task changes; a linked pull request, when it opens or
//! is pushed, makes its task hold the files it changes until it merges or closes; a task that
//! would change a held path waits, says so in its status comment, and a claim of it is refused
//! with the holder named. The files of a pull request are a stranger's text.

#[allow(unused_imports)]
use crate::github_support;

use github_support::story::{REPO, Story};
use github_support::{FailWhen, Failure};
use owp::domain::TaskStatus;

/// A maintainer opens an issue with this body and puts it in the pool: it is **Ready**.
async fn ready_issue(story: &Story, title: &str, body: &str) -> u64 {
    let number = story
        .fake
        .create_issue(REPO, "maintainer", title, body, &[]);
    story.remember_number(number);
    let payload = story.issue_payload_in("issues.opened", REPO, number, "maintainer");
    story.send("issues", &payload).await;
    story.add_label(number, "pool:ready").await;
    story.expect_status(number, &["**Ready**"]);
    number
}

/// `login` opens a pull request that closes issue `closes` and changes `files` —
/// `pull_request.opened`.
async fn open_pr_changing(story: &Story, login: &str, closes: u64, files: &[&str]) -> u64 {
    let body = format!("A change.\n\nFixes #{closes}");
    let number = story.fake.open_pr(REPO, login, "A fix", &body);
    story.fake.set_pr_files(REPO, number, files);
    story.remember_number(number);
    let payload = story.pr_payload("pull_request.opened", number, login);
    story.send("pull_request", &payload).await;
    number
}

/// Its author pushes commits that leave it changing `files` — `pull_request.synchronize`.
async fn push(story: &Story, number: u64, files: &[&str]) {
    story.fake.set_pr_files(REPO, number, files);
    let author = story.fake.pull(REPO, number).unwrap().author;
    let payload = story.pr_payload("pull_request.synchronize", number, &author);
    story.send("pull_request", &payload).await;
}

/// `login` comments `/owp claim` on issue `number` and gets it.
async fn claims(story: &Story, log: &mut Transcript, login: &str, number: u64) {
    story.comment(number, login, "/owp claim").await;
    story.expect_status(number, &[&format!("claimed by @{login}")]);
    log.step(
        story,
        &format!("{login} comments `/owp claim` on #{number}"),
    );
}

/// What people read on the story's issues, step by step: after each step, each issue's status
/// line and every reply the App wrote since the step before.
struct Transcript {
    issues: Vec<u64>,
    lines: Vec<String>,
    seen: std::collections::HashSet<u64>,
}

impl Transcript {
    fn new(issues: &[u64]) -> Transcript {
        Transcript {
            issues: issues.to_vec(),
            lines: Vec::new(),
            seen: Default::default(),
        }
    }

    fn step(&mut self, story: &Story, what: &str) {
        self.lines.push(format!("▸ {what}"));
        for &n in &self.issues {
            self.lines
                .push(format!("  #{n} status: {}", story.status_line(n)));
            let mut replies: Vec<_> = story
                .fake
                .bot_comments(REPO, n)
                .into_iter()
                .filter(|c| !c.body.contains("owp:status") && !self.seen.contains(&c.id))
                .collect();
            replies.sort_by_key(|c| c.id);
            for c in replies {
                self.seen.insert(c.id);
                let text = c.body.lines().next().unwrap_or_default().to_string();
                self.lines.push(format!("  #{n} reply:  {text}"));
            }
        }
    }

    /// Prints the transcript and checks it against its reviewed snapshot.
    fn check(&self, name: &str) {
        let text = self.lines.join("\n");
        println!("{text}");
        crate::reviewed::check(
            "comments",
            &format!("{name}-steps"),
            &text,
            "What the App wrote on the issues after each step of the story.",
        );
    }
}

#[tokio::test]
async fn two_volunteers_on_the_same_files_take_turns() {
    let story = Story::with(Some("max_open_prs: 10\n"), |_| {}).await;
    let login = ready_issue(&story, "Fix the login redirect", "The redirect loops.").await;
    let session = ready_issue(
        &story,
        "Expire idle sessions",
        "Sessions never end.\n\nPaths: src/auth/**",
    )
    .await;
    let docs = ready_issue(
        &story,
        "Document the auth flow",
        "Paths: docs/auth.md, docs/images/*.png",
    )
    .await;
    let issues = [login, session, docs];
    let mut log = Transcript::new(&issues);
    assert_eq!(story.task(session).await.paths, ["src/auth/**"]);
    log.step(&story, "a maintainer puts three issues in the pool");

    // Alice claims the first; it declares no paths, so it holds none yet.
    claims(&story, &mut log, "alice", login).await;
    assert!(story.task(login).await.paths.is_empty());
    story.expect_status(session, &["**Ready**"]);

    // Her pull request changes a file under `src/auth/`: her task holds it, and the session work
    // that declared `src/auth/**` waits.
    let alice_pr = open_pr_changing(&story, "alice", login, &["src/auth/login.rs"]).await;
    let held = story.task(login).await;
    assert_eq!(held.status, TaskStatus::PrOpened);
    assert_eq!(held.paths, ["src/auth/login.rs"]);
    let waiting = story.task(session).await;
    assert_eq!(waiting.status, TaskStatus::Ready);
    assert_eq!(waiting.waiting_on_paths(), [format!("{REPO}#{login}")]);
    let waiting_line =
        format!("**Waiting:** #{login} is changing `src/auth/login.rs` — it can be claimed");
    story.expect_status(session, &[&waiting_line]);
    story.expect_status(docs, &["**Ready**"]);
    log.step(
        &story,
        &format!("alice opens #{alice_pr} (fixes #{login}), changing src/auth/login.rs"),
    );

    // Bob tries the session work: refused, with the holder named.
    story.comment(session, "bob", "/owp claim").await;
    story.expect_comment(
        session,
        &format!(
            "@bob, you can't claim this issue right now: it changes the same files as work in \
             flight: #{login} is changing `src/auth/login.rs` — it can be claimed once that work \
             is merged, closed or given back."
        ),
    );
    assert_eq!(story.task(session).await.status, TaskStatus::Ready);
    log.step(&story, &format!("bob comments `/owp claim` on #{session}"));

    // Alice's pull request merges: her lock ends, and the session work is free at once.
    story.merge_pr(alice_pr).await;
    let done = story.task(login).await;
    assert_eq!(done.status, TaskStatus::Merged);
    assert!(done.paths.is_empty(), "{:?}", done.paths);
    assert!(story.task(session).await.waiting_on_paths().is_empty());
    story.expect_status(login, &["**Done**"]);
    let free = story.expect_status(session, &["**Ready**"]);
    assert!(!free.body.contains("Waiting"), "{}", free.body);
    log.step(&story, &format!("a maintainer merges #{alice_pr}"));

    claims(&story, &mut log, "bob", session).await;
    assert_eq!(
        story.task(session).await.worker_id.as_deref(),
        Some("gh_bob")
    );

    // Bob's pull request changes a file of his own area; a push adds the auth docs to it, and
    // the docs work, which declared that file, waits from then on.
    let bob_pr = open_pr_changing(&story, "bob", session, &["src/auth/session.rs"]).await;
    assert_eq!(
        story.task(session).await.paths,
        ["src/auth/**", "src/auth/session.rs"],
        "declared patterns and the pull request's files, one list in byte order"
    );
    story.expect_status(docs, &["**Ready**"]);
    log.step(
        &story,
        &format!("bob opens #{bob_pr} (closes #{session}), changing src/auth/session.rs"),
    );
    push(&story, bob_pr, &["src/auth/session.rs", "docs/auth.md"]).await;
    assert_eq!(
        story.task(session).await.paths,
        ["docs/auth.md", "src/auth/**", "src/auth/session.rs"]
    );
    assert_eq!(
        story.task(docs).await.waiting_on_paths(),
        [format!("{REPO}#{session}")]
    );
    story.expect_status(
        docs,
        &[&format!(
            "**Waiting:** #{session} is changing `docs/auth.md` — it can be claimed"
        )],
    );
    log.step(&story, &format!("bob pushes docs/auth.md to #{bob_pr}"));

    story.comment(docs, "alice", "/owp claim").await;
    story.expect_comment(
        docs,
        &format!("#{session} is changing `docs/auth.md` — it can be claimed once"),
    );
    log.step(&story, &format!("alice comments `/owp claim` on #{docs}"));

    // Closed without merging: the session task is back in the queue, its pull request's files
    // are let go, and the docs work is free.
    story.close_pr(bob_pr).await;
    let back = story.task(session).await;
    assert_eq!(back.status, TaskStatus::Ready);
    assert_eq!(back.paths, ["src/auth/**"], "only what its issue declares");
    assert!(story.task(docs).await.waiting_on_paths().is_empty());
    story.expect_status(session, &["**Ready**"]);
    story.expect_status(docs, &["**Ready**"]);
    log.step(
        &story,
        &format!("a maintainer closes #{bob_pr} without merging"),
    );

    claims(&story, &mut log, "alice", docs).await;
    log.check("two_volunteers_on_the_same_files_take_turns");
}

#[tokio::test]
async fn a_task_without_declared_paths_is_locked_by_its_pull_requests_files_alone() {
    let story = Story::with(Some("max_open_prs: 10\n"), |_| {}).await;
    let plain = ready_issue(&story, "Speed up the pool", "It is slow.").await;
    let db = ready_issue(&story, "Tune the database", "Paths: src/db/**").await;
    let docs = ready_issue(&story, "Tidy the docs", "Paths: docs/**").await;
    story.comment(plain, "alice", "/owp claim").await;
    story.expect_status(plain, &["claimed by @alice"]);
    assert!(story.task(plain).await.paths.is_empty());
    assert!(story.task(db).await.waiting_on_paths().is_empty());

    // Her pull request: a stranger's file names, with a rename, a path that climbs out of the
    // repository, and markup in a name.
    let hostile = "docs/`@everyone` <!-- owp:status task=x --> <b>bold</b> @here.md";
    let pr = open_pr_changing(
        &story,
        "alice",
        plain,
        &[
            "src/db/old_pool.rs -> src/db/pool.rs",
            "../../etc/passwd",
            hostile,
            "README.md",
        ],
    )
    .await;
    let mut task = story.task(plain).await;
    assert_eq!(task.status, TaskStatus::PrOpened);
    task.paths.sort();
    let mut expected = vec![
        "README.md".to_string(),
        hostile.to_string(),
        "src/db/old_pool.rs".to_string(),
        "src/db/pool.rs".to_string(),
    ];
    expected.sort();
    assert_eq!(
        task.paths, expected,
        "every file it changes, the climbing one left out"
    );
    assert_eq!(
        story.task(db).await.waiting_on_paths(),
        [format!("{REPO}#{plain}")]
    );
    story.expect_status(
        db,
        &[&format!(
            "**Waiting:** #{plain} is changing `src/db/old_pool.rs` and `src/db/pool.rs`"
        )],
    );
    let quoted = story.expect_status(
        docs,
        &[&format!("**Waiting:** #{plain} is changing `docs/")],
    );
    let line = quoted
        .body
        .lines()
        .find(|l| l.starts_with("**Waiting:**"))
        .unwrap();
    assert!(
        line.contains("`docs/'@everyone' <!- - owp:status task=x --> <b>bold</b> @here.md`"),
        "the name stays one code span: {line}"
    );
    assert!(!line.contains("<!--"), "{line}");

    // Closed without merging: nothing is held any more.
    story.close_pr(pr).await;
    assert!(story.task(plain).await.paths.is_empty());
    story.expect_status(db, &["**Ready**"]);
    story.expect_status(docs, &["**Ready**"]);
}

#[tokio::test]
async fn a_failed_read_of_the_files_keeps_the_rest_and_the_next_push_reads_them() {
    let story = Story::with(Some("max_open_prs: 10\n"), |_| {}).await;
    let first = ready_issue(&story, "Fix the parser", "").await;
    let second = ready_issue(&story, "Extend the parser", "Paths: src/parser.rs").await;
    story
        .fake
        .fail(FailWhen::on("GET", "/files"), 20, Failure::ServerError);
    let pr = open_pr_changing(&story, "alice", first, &["src/parser.rs"]).await;
    // The pull request acts all the same; only its files are unknown for now.
    let task = story.task(first).await;
    assert_eq!(task.status, TaskStatus::PrOpened);
    assert!(task.paths.is_empty());
    story.expect_status(first, &["**Pull request open**"]);
    story.expect_status(second, &["**Ready**"]);

    story.github_recovers();
    push(&story, pr, &["src/parser.rs"]).await;
    assert_eq!(story.task(first).await.paths, ["src/parser.rs"]);
    story.expect_status(second, &[&format!("**Waiting:** #{first} is changing")]);
}

#[tokio::test]
async fn a_pull_request_of_thousands_of_files_is_read_to_githubs_cap_and_folded() {
    let story = Story::with(Some("max_open_prs: 10\n"), |_| {}).await;
    let big = ready_issue(&story, "Rename everything", "").await;
    let small = ready_issue(&story, "Fix one module", "Paths: src/m07/f0001.rs").await;
    // 3,500 files in 35 directories: GitHub lists the first 3,000, 30 pages of 100.
    let files: Vec<String> = (0..3_500)
        .map(|i| format!("src/m{:02}/f{:04}.rs", i / 100, i % 100))
        .collect();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let before = story.fake.count_calls("GET", "/files");
    open_pr_changing(&story, "alice", big, &files).await;
    assert_eq!(story.fake.count_calls("GET", "/files") - before, 30);
    let held = story.task(big).await.paths;
    assert!(held.len() <= 100, "{} patterns", held.len());
    assert!(held.contains(&"src/m07/**".to_string()), "{held:?}");
    assert!(!held.iter().any(|p| p.starts_with("src/m30/")), "{held:?}");
    story.expect_status(
        small,
        &[&format!("**Waiting:** #{big} is changing `src/m07/`")],
    );
}

/// A task's paths taken and let go over the worker API (a linked worker's `POST /v1/work`, its
/// nack) or by the lease sweep: the tasks waiting on them are told in their status comments all
/// the same, in the transaction of the move.
#[tokio::test]
async fn waiting_tasks_are_told_when_a_worker_takes_or_gives_back_over_the_api() {
    let story = Story::with(Some("max_open_prs: 10\n"), |_| {}).await;
    let first = ready_issue(&story, "Rework auth", "Paths: src/auth/**").await;
    story.add_label(first, "priority:high").await;
    let second = ready_issue(&story, "Fix login", "Paths: src/auth/login.rs").await;
    let registration = serde_json::json!({"name": "auth-bot", "skills": [], "capacity_points": 5});
    let token = story.linked_worker(first, "alice", registration).await;
    let (status, lease) = story
        .post_json("/v1/work", Some(&token), serde_json::json!({}))
        .await;
    assert_eq!(status, 200, "{lease}");
    assert_eq!(story.task(first).await.status, TaskStatus::Leased);
    story.expect_status(first, &["auth-bot"]);
    story.expect_status(
        second,
        &["**Waiting:**", &format!("#{first}"), "`src/auth/`"],
    );
    let lease_id = lease["lease"]["lease_id"].as_str().unwrap();
    let (status, answer) = story
        .post_json(
            &format!("/v1/leases/{lease_id}/nack"),
            Some(&token),
            serde_json::json!({"reason": "not today"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    story.expect_status(first, &["**Ready**"]);
    story.expect_status(second, &["**Ready**"]);
}

/// What a maintainer sees of the events of kind `kind` on task `task_id`.
async fn events_of(story: &Story, kind: &str, task_id: &str) -> Vec<serde_json::Value> {
    let (_, state) = story
        .admin(reqwest::Method::GET, "/v1/admin/state", None)
        .await;
    state["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind && e["task_id"] == task_id)
        .cloned()
        .collect()
}

/// Thirty tasks of the repository, each declaring its own folder (`lib/m00/**`, …).
async fn thirty_locked_tasks(story: &Story) -> Vec<u64> {
    let mut tasks = Vec::new();
    for i in 0..30 {
        let body = format!("Paths: lib/m{i:02}/**");
        tasks.push(ready_issue(story, &format!("Tidy module {i}"), &body).await);
    }
    tasks
}

/// A pull request that changes 3,000 files in 150 top-level folders: folded, it would lock the
/// root (`**`). It is too broad to lock: its task holds only its declared paths, and maintainers
/// see it marked; the thirty path-locked tasks elsewhere stay offered; and a push reads no more
/// pages than it takes to know that, and edits no status comment.
#[tokio::test]
async fn a_pull_request_of_3000_files_does_not_lock_the_repository() {
    let story = Story::with(Some("max_open_prs: 10\n"), |_| {}).await;
    let others = thirty_locked_tasks(&story).await;
    let inside = ready_issue(&story, "Fix one module", "Paths: p007/f0007.rs").await;
    let big = ready_issue(&story, "Rename everything", "Paths: p007/**").await;
    story.comment(big, "alice", "/owp claim").await;
    story.expect_status(big, &["claimed by @alice"]);
    let files: Vec<String> = (0..3_000)
        .map(|i| format!("p{:03}/f{i:04}.rs", i % 150))
        .collect();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let pr = open_pr_changing(&story, "alice", big, &files).await;
    let task = story.task(big).await;
    assert_eq!(task.status, TaskStatus::PrOpened);
    assert_eq!(task.paths, ["p007/**"]);
    let marked = events_of(&story, "github.paths_too_broad", &task.id).await;
    assert_eq!(marked.len(), 1, "{marked:#?}");
    story.expect_status(
        inside,
        &[&format!("**Waiting:** #{big} is changing `p007/`")],
    );
    for &n in &others {
        assert!(story.task(n).await.waiting_on_paths().is_empty(), "#{n}");
        story.expect_status(n, &["**Ready**"]);
    }

    // A push: two pages tell that it is too broad; nothing else is asked or edited.
    let before = story.fake.calls().len();
    push(&story, pr, &files).await;
    let calls: Vec<_> = story.fake.calls()[before..].to_vec();
    let pages = calls.iter().filter(|c| c.path.ends_with("/files")).count();
    assert_eq!(pages, 2, "{calls:#?}");
    let edits = calls
        .iter()
        .filter(|c| c.method == "PATCH" && c.path.contains("/comments/"))
        .count();
    assert_eq!(edits, 0, "{calls:#?}");
    assert!(calls.len() <= 6, "{} requests: {calls:#?}", calls.len());
    assert_eq!(story.task(big).await.paths, ["p007/**"]);
    assert_eq!(
        events_of(&story, "github.paths_too_broad", &task.id)
            .await
            .len(),
        1,
        "marked once"
    );
    // Thirty-odd status comments, each asserted above: no transcript to review.
    story.stop_checking_comments();
}

/// A pull request that adds 101 files at the root of the repository: folded, it would lock the
/// root. It locks only its task's declared paths, and maintainers see it marked
/// `paths_too_broad`; the other path-locked tasks stay offered, and its pages are read no further
/// than needed.
async fn root_files_lock_only_the_declared_paths(postgres: bool) {
    let story = Story::on(postgres, Some("max_open_prs: 10\n"), |_| {}).await;
    let others = thirty_locked_tasks(&story).await;
    let root_file = ready_issue(&story, "Fix a root file", "Paths: f0050.txt").await;
    let docs = ready_issue(&story, "Tidy the docs", "Paths: docs/**").await;
    let wide = ready_issue(&story, "Add the fixtures", "Paths: docs/fixtures/**").await;
    story.comment(wide, "alice", "/owp claim").await;
    story.expect_status(wide, &["claimed by @alice"]);
    story.expect_status(docs, &[&format!("**Waiting:** #{wide} is changing")]);
    let files: Vec<String> = (0..101).map(|i| format!("f{i:04}.txt")).collect();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    open_pr_changing(&story, "alice", wide, &files).await;
    let task = story.task(wide).await;
    assert_eq!(task.status, TaskStatus::PrOpened);
    assert_eq!(task.paths, ["docs/fixtures/**"]);
    let marked = events_of(&story, "github.paths_too_broad", &task.id).await;
    assert_eq!(marked.len(), 1, "{marked:#?}");
    assert!(
        story.task(root_file).await.waiting_on_paths().is_empty(),
        "the root is not locked"
    );
    story.expect_status(root_file, &["**Ready**"]);
    for &n in &others {
        assert!(story.task(n).await.waiting_on_paths().is_empty(), "#{n}");
    }
    assert_eq!(
        story.task(docs).await.waiting_on_paths(),
        [format!("{REPO}#{wide}")]
    );
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_pull_request_of_101_root_files_locks_only_the_declared_paths_sqlite() {
    root_files_lock_only_the_declared_paths(false).await;
}

#[tokio::test]
async fn a_pull_request_of_101_root_files_locks_only_the_declared_paths_postgres() {
    root_files_lock_only_the_declared_paths(true).await;
}

/// The issue's author (no maintainer) widens `Paths:` to `**` after a maintainer put the issue in
/// the pool: the task locks nothing new. A maintainer's edit applies.
#[tokio::test]
async fn the_author_widening_paths_after_the_label_locks_nothing_new() {
    let story = Story::with(Some("max_open_prs: 10\n"), |_| {}).await;
    story.fake.set_permission(REPO, "maria", "maintain");
    let number = story
        .fake
        .create_issue(REPO, "mallory", "Fix the docs", "Paths: docs/x.md", &[]);
    story.remember_number(number);
    let payload = story.issue_payload_in("issues.opened", REPO, number, "mallory");
    story.send("issues", &payload).await;
    story.add_label(number, "pool:ready").await;
    story.expect_status(number, &["**Ready**"]);
    let other = ready_issue(&story, "Speed up the parser", "Paths: src/parser/**").await;
    story.comment(number, "mallory", "/owp claim").await;
    story.expect_status(number, &["claimed by @mallory"]);
    assert_eq!(story.task(number).await.paths, ["docs/x.md"]);

    let edit = |body: &'static str, editor: &'static str| {
        let story = &story;
        async move {
            let previous = story.fake.issue(REPO, number).unwrap().body;
            story
                .fake
                .update_issue(REPO, number, |i| i.body = Some(body.into()));
            let mut payload = story.issue_payload_in("issues.edited", REPO, number, editor);
            payload["changes"] = serde_json::json!({"body": {"from": previous}});
            story.send("issues", &payload).await;
        }
    };
    edit("Paths: **", "mallory").await;
    assert_eq!(story.task(number).await.paths, ["docs/x.md"]);
    assert!(story.task(other).await.waiting_on_paths().is_empty());
    story.expect_status(other, &["**Ready**"]);

    edit("Paths: docs/x.md, src/parser/lexer.rs", "maria").await;
    let mut held = story.task(number).await.paths;
    held.sort();
    assert_eq!(held, ["docs/x.md", "src/parser/lexer.rs"]);
    assert_eq!(
        story.task(other).await.waiting_on_paths(),
        [format!("{REPO}#{number}")]
    );
}

/// A stranger's pull request on a task someone else holds acts on nothing (section 9): opening it
/// and pushing to it read none of its files.
#[tokio::test]
async fn a_strangers_pull_request_on_a_claimed_task_costs_no_file_read() {
    let story = Story::with(Some("max_open_prs: 10\n"), |_| {}).await;
    let n = ready_issue(&story, "Fix the parser", "Paths: src/parser/**").await;
    story.comment(n, "alice", "/owp claim").await;
    story.expect_status(n, &["claimed by @alice"]);
    let files: Vec<String> = (0..3_000).map(|i| format!("d{i}/x.rs")).collect();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let before = story.fake.count_calls("GET", "/files");
    let pr = open_pr_changing(&story, "mallory", n, &files).await;
    push(&story, pr, &files).await;
    assert_eq!(story.fake.count_calls("GET", "/files"), before);
    assert_eq!(story.task(n).await.paths, ["src/parser/**"]);
    story.stop_checking_comments();
}
