//! `owp worker run --agent` end to end, against a real `owp serve`: a bare git repository on disk
//! as `origin`, a fake agent script that edits a file and commits, and a fake `gh` on `PATH` that
//! records its arguments and prints a pull request URL. Also the repo contract over the API.
//!
//! The fake scripts are POSIX shell scripts, so the hand-off cases run on Unix; the contract
//! round trip runs everywhere.

use crate::support;
use crate::worker_agent_rig::*;

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Server, str_field};

const PR_URL: &str = "https://github.com/acme/widgets/pull/42";

// ---- the contract over the API --------------------------------------------------------------

#[tokio::test]
async fn contract_and_clone_url_round_trip_through_the_api() {
    let server = Server::start().await;
    let contract = json!({
        "setup": "npm ci", "test": "npm test", "lint": "npm run lint",
        "branch": "owp/{number}-{slug}", "pr_template": "## Summary\n", "instructions": "Small PRs."
    });
    let created = server
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": REPO, "max_open_prs": 3, "contract": contract,
                   "clone_url": "https://git.example.com/acme/widgets.git"}),
        )
        .await
        .expect(201);
    assert_eq!(created["contract"], contract);
    assert_eq!(
        created["clone_url"],
        "https://git.example.com/acme/widgets.git"
    );

    // An update without the fields keeps them.
    let kept = server
        .admin_post("/v1/admin/repos", json!({"repo": REPO, "max_open_prs": 4}))
        .await
        .expect(200);
    assert_eq!(kept["contract"], contract);

    // The lease's task, the ack and GET /v1/tasks/{id} carry both.
    server
        .import(REPO, json!([{"key": "acme/widgets#7", "title": "Fix it"}]))
        .await;
    let (_, token) = server.register_worker("w", &[], 5, 2).await;
    let (lease_id, task_id, lease) = server.claim_ok(&token).await;
    assert_eq!(lease["task"]["contract"], contract);
    assert_eq!(
        lease["task"]["clone_url"],
        "https://git.example.com/acme/widgets.git"
    );
    let acked = server.ack(&token, &lease_id).await.expect_ok();
    assert_eq!(acked["contract"], contract, "{acked}");
    let got = server
        .worker_get(&token, &format!("/v1/tasks/{task_id}"))
        .await
        .expect_ok();
    assert_eq!(got["contract"], contract);
    // A task list does not repeat the contract on every task.
    let state = server.state().await;
    let listed = support::find(&state["tasks"], "task_id", &task_id).expect("task listed");
    assert!(listed.get("contract").is_none(), "{listed}");

    // `null` removes them; the lease then says null.
    let cleared = server
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": REPO, "max_open_prs": 4, "contract": null, "clone_url": null}),
        )
        .await
        .expect(200);
    assert!(cleared.get("contract").is_none(), "{cleared}");
    let got = server
        .worker_get(&token, &format!("/v1/tasks/{task_id}"))
        .await
        .expect_ok();
    assert_eq!(got["contract"], Value::Null);
    assert_eq!(got["clone_url"], Value::Null);
}

#[tokio::test]
async fn contract_fields_beyond_their_limits_are_422_naming_the_field() {
    let server = Server::start().await;
    let cases = [
        (json!({"test": "x".repeat(2_001)}), "contract.test"),
        (json!({"branch": "owp/{issue}"}), "contract.branch"),
        (
            json!({"instructions": "x".repeat(20_001)}),
            "contract.instructions",
        ),
    ];
    for (contract, field) in cases {
        let resp = server
            .admin_post(
                "/v1/admin/repos",
                json!({"repo": REPO, "max_open_prs": 3, "contract": contract}),
            )
            .await;
        let code = resp.expect_problem(422);
        assert_eq!(code, "invalid_contract");
        assert!(resp.text.contains(field), "{field}: {}", resp.text);
    }
    let resp = server
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": REPO, "max_open_prs": 3, "contract": {"tests": "npm test"}}),
        )
        .await;
    assert_eq!(resp.status, 422, "{}", resp.describe());
    assert!(resp.text.contains("tests"), "{}", resp.text);
    let resp = server
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": REPO, "max_open_prs": 3, "clone_url": "--upload-pack=x"}),
        )
        .await;
    assert_eq!(resp.expect_problem(422), "invalid_clone_url");
    // Nothing was stored by the refused calls.
    let state = server.state().await;
    assert_eq!(state["repos"], json!([]), "{state}");
}

// ---- the hand-off ---------------------------------------------------------------------------

// ---- the hand-off ---------------------------------------------------------------------------

#[cfg(unix)]
#[tokio::test]
async fn an_agent_that_commits_ends_in_an_open_pull_request() {
    let rig = Rig::new(Server::start().await, Some("grep -q good file.txt")).await;
    let out = rig.run_once(&rig.server.base, &["--yes"], &[]).await;
    assert!(out.status.success(), "{}", text(&out));

    let task = rig.task().await;
    assert_eq!(
        str_field(&task, "status"),
        "pr_opened",
        "{task}\n{}",
        text(&out)
    );
    assert_eq!(task["artifact"]["pr_url"], PR_URL);
    assert_eq!(task["artifact"]["branch"], BRANCH);
    // The evidence is what the hand-off ran, on the commit it pushed.
    let evidence = &task["artifact"]["evidence"];
    assert_eq!(
        evidence["head_sha"], task["artifact"]["commit_sha"],
        "{task}"
    );
    assert_eq!(evidence["commands"][0]["name"], "test", "{evidence}");
    assert_eq!(
        evidence["commands"][0]["command"], "grep -q good file.txt",
        "{evidence}"
    );
    assert_eq!(evidence["commands"][0]["exit_code"], 0, "{evidence}");
    assert!(evidence["commands"][0]["seconds"].as_f64().unwrap() >= 0.0);

    let gh = std::fs::read_to_string(rig.path("gh.log")).expect("gh was called");
    let args: Vec<&str> = gh.split('\0').filter(|a| !a.is_empty()).collect();
    assert_eq!(&args[..2], ["pr", "create"], "{args:?}");
    let value = |flag: &str| {
        let i = args
            .iter()
            .position(|a| *a == flag)
            .unwrap_or_else(|| panic!("{flag} in {args:?}"));
        args[i + 1]
    };
    assert_eq!(value("--repo"), REPO);
    assert_eq!(value("--head"), BRANCH);
    assert_eq!(value("--base"), "main");
    assert_eq!(value("--title"), "Fix the parser");
    let body = value("--body");
    assert!(body.starts_with("## Summary\nMade by the pool."), "{body}");
    assert!(body.contains("Fixes #7"), "{body}");

    assert!(
        rig.branch_in_origin(BRANCH),
        "the branch did not reach origin"
    );
    let pushed = git(&rig.origin.bare, &["show", &format!("{BRANCH}:file.txt")]);
    assert_eq!(pushed, "start\ngood");
    rig.main_untouched();

    // The brief and the log are where the person can read them; the profile remembers the agent.
    let brief =
        std::fs::read_to_string(rig.path("work/briefs").join(format!("{}.md", rig.task_id)))
            .expect("brief written");
    assert!(
        brief.contains("\nFix the parser\n") && brief.contains("Only touch file.txt."),
        "{brief}"
    );
    assert!(
        brief.contains("https://github.com/acme/widgets/issues/7"),
        "{brief}"
    );
    let log = std::fs::read_to_string(rig.path("work/logs").join(format!("{}.log", rig.task_id)))
        .expect("log written");
    assert!(
        log.contains(&format!("agent working on {}", rig.task_id)),
        "{log}"
    );
    let profile = std::fs::read_to_string(rig.path("config/worker.json")).unwrap();
    assert!(profile.contains("agent.sh"), "{profile}");
}

#[cfg(unix)]
#[tokio::test]
async fn dry_run_changes_nothing() {
    let rig = Rig::new(Server::start().await, Some("true")).await;
    let out = rig.run_once(&rig.server.base, &["--dry-run"], &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for step in [
        "would claim",
        "would clone",
        "would run",
        "would push",
        "gh pr create",
    ] {
        assert!(stdout.contains(step), "{step} missing:\n{stdout}");
    }
    assert!(
        !rig.path("work").exists(),
        "dry run touched the work directory"
    );
    let task = rig.task().await;
    assert_eq!(
        str_field(&task, "status"),
        "ready",
        "a dry run claimed: {task}"
    );
    assert_eq!(task["attempts"], 0, "{task}");
    assert!(!rig.path("gh.log").exists());
    let profile = std::fs::read_to_string(rig.path("config/worker.json")).unwrap();
    assert!(
        !profile.contains("agent.sh"),
        "dry run saved the agent: {profile}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn an_agent_that_fails_gives_the_task_back() {
    let rig = Rig::new(Server::start().await, None).await;
    let out = rig
        .run_once(&rig.server.base, &[], &[("AGENT_MODE", "fail")])
        .await;
    expect_nack(&rig, &out, "exited with status 3").await;
    let events = rig.events_text().await;
    assert!(
        events.contains("agent gave up"),
        "the reason lacks the output's tail: {events}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn an_agent_without_commits_gives_the_task_back() {
    let rig = Rig::new(Server::start().await, None).await;
    let out = rig
        .run_once(&rig.server.base, &[], &[("AGENT_MODE", "nocommit")])
        .await;
    expect_nack(&rig, &out, "the agent made no commits").await;
    let said = text(&out);
    assert!(said.contains("your agent made no commits on"), "{said}");
    assert!(!said.contains("Nacked("), "Rust debug text: {said}");
}

#[cfg(unix)]
#[tokio::test]
async fn an_agent_that_leaves_changes_uncommitted_is_told_so_in_plain_words() {
    let rig = Rig::new(Server::start().await, None).await;
    let out = rig
        .run_once(&rig.server.base, &[], &[("AGENT_MODE", "dirty")])
        .await;
    expect_nack(&rig, &out, "it left its changes uncommitted").await;
    let said = text(&out);
    let worktree = rig.path("work/tasks").join(&rig.task_id);
    assert!(
        said.contains(&format!(
            "your agent left uncommitted changes in {}",
            worktree.display()
        )),
        "{said}"
    );
    assert!(!said.contains("Nacked(") && !said.contains("(\""), "{said}");
    // The volunteer's paths stay on the volunteer's machine.
    let events = rig.events_text().await;
    assert!(
        !events.contains(&rig.dir.path().display().to_string()),
        "{events}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn failing_tests_give_the_task_back_and_keep_the_worktree() {
    let rig = Rig::new(
        Server::start().await,
        Some("grep good file.txt || { echo 'expected good'; exit 1; }"),
    )
    .await;
    let out = rig
        .run_once(&rig.server.base, &["--yes"], &[("AGENT_WRITES", "bad")])
        .await;
    expect_nack(
        &rig,
        &out,
        "the repository's test command (grep) exited with status 1",
    )
    .await;
    let events = rig.events_text().await;
    assert!(events.contains("expected good"), "{events}");
    let kept = rig.path("work/tasks").join(&rig.task_id).join("file.txt");
    assert_eq!(
        std::fs::read_to_string(kept).unwrap(),
        "start\nbad\n",
        "worktree not kept"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn an_agent_past_max_minutes_is_stopped() {
    let rig = Rig::new(Server::start().await, None).await;
    let started = std::time::Instant::now();
    let out = rig
        .run_once(
            &rig.server.base,
            &["--max-minutes", "0.05"],
            &[("AGENT_MODE", "slow"), ("AGENT_SLEEP", "60")],
        )
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "the agent was not stopped"
    );
    expect_nack(&rig, &out, "--max-minutes").await;
}

// ---- server restarts and expiry: through a proxy whose target can change ------------------

#[cfg(unix)]
#[tokio::test]
async fn join_registers_saves_the_profile_and_hands_the_first_lease_to_the_agent() {
    let rig = Rig::new(Server::start().await, None).await;
    let agent = format!(
        "{} {{workdir}} {{task_id}} {{brief}}",
        rig.path("bin").join("agent.sh").display()
    );
    let config = rig.path("joined").display().to_string();
    let workdir = rig.path("work").display().to_string();
    // The task requires a capability the newcomer declares (rule 9).
    rig.server
        .import(
            REPO,
            json!([{"key": "acme/widgets#7", "title": "Fix the parser",
                    "description": "Empty input breaks it.", "requires": {"can_run_tests": true}}]),
        )
        .await;
    let started = std::time::Instant::now();
    let out = rig
        .owp(
            "http://127.0.0.1:9",
            &[
                "worker",
                "join",
                &rig.server.base,
                "--name",
                "newcomer",
                "--skills",
                "rust",
                "--capability",
                "can_run_tests=true",
                "--no-input",
                "--config-dir",
                &config,
                "--agent",
                &agent,
                "--workdir",
                &workdir,
                "--allow-local-clone",
                "--once",
                "--wait",
                "1",
            ],
            &[],
        )
        .await;
    let took = started.elapsed();
    assert!(out.status.success(), "{}", text(&out));
    eprintln!("join to pull request: {:.1}s", took.as_secs_f64());
    let task = rig.task().await;
    assert_eq!(str_field(&task, "status"), "pr_opened", "{task}");
    let worker = rig
        .server
        .worker(str_field(&task, "assigned_worker_id").as_str())
        .await;
    assert_eq!(worker["name"], "newcomer");
    assert_eq!(worker["skills"], json!(["rust"]));
    // Declared, and detected from the agent command.
    assert_eq!(
        worker["capabilities"],
        json!({"can_run_tests": true, "agent_handoff": true, "agent": "agent.sh"})
    );
    // The pull request says which tool made it: the worker's `agent` capability.
    assert_eq!(
        task["artifact"]["disclosure"],
        json!({"tool": "agent.sh"}),
        "{task}"
    );
    // The profile is saved with the agent: joining again registers no second worker.
    let profile = std::fs::read_to_string(rig.path("joined/worker.json")).unwrap();
    assert!(
        profile.contains(&rig.server.base) && profile.contains("agent.sh"),
        "{profile}"
    );
    let again = rig
        .owp(
            "http://127.0.0.1:9",
            &[
                "worker",
                "join",
                &rig.server.base,
                "--no-input",
                "--config-dir",
                &config,
                "--no-run",
            ],
            &[],
        )
        .await;
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("already joined"),
        "{}",
        text(&again)
    );
    let workers = rig.server.state().await["workers"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(workers, 2, "the rig's worker and the newcomer only");
}

#[tokio::test]
async fn init_repo_sets_the_contract_and_clone_url_from_flags() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("contract.yml");
    std::fs::write(&file, "test: cargo test\nbranch: \"owp/{number}\"\n").unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .args(["admin", "init-repo", "acme/tools", "--max-open-prs", "2"])
        .args([
            "--clone-url",
            "https://git.example.com/acme/tools.git",
            "--contract",
        ])
        .arg(&file)
        .args(["--server", &server.base])
        .env("OWP_ADMIN_TOKEN", &server.admin_token)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("contract: test `cargo test`"),
        "{}",
        text(&out)
    );
    let repo = server.repo("acme/tools").await;
    assert_eq!(
        repo["contract"],
        json!({"test": "cargo test", "branch": "owp/{number}"})
    );
    assert_eq!(repo["clone_url"], "https://git.example.com/acme/tools.git");
    // A contract file with a typo is refused before anything is sent.
    std::fs::write(&file, "tset: cargo test\n").unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .args([
            "admin",
            "init-repo",
            "acme/tools",
            "--max-open-prs",
            "2",
            "--contract",
        ])
        .arg(&file)
        .args(["--server", &server.base])
        .env("OWP_ADMIN_TOKEN", &server.admin_token)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tset"),
        "{}",
        text(&out)
    );
}

/// `owp admin agents-md REPO` prints a block for the repository's AGENTS.md from its policy on
/// the server: claim first, how, and the contract's commands; an unknown repository is one line.
#[tokio::test]
async fn agents_md_prints_the_repositorys_rules_for_ai_tools() {
    let server = Server::start().await;
    server
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": "acme/tools", "max_open_prs": 2,
                   "contract": {"test": "cargo test", "disclosure": "required"}}),
        )
        .await;
    let run = |repo: &'static str| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"))
            .args(["admin", "agents-md", repo, "--public-url"])
            .arg("https://pool.example.org")
            .args(["--server", &server.base])
            .env("OWP_ADMIN_TOKEN", &server.admin_token)
            .output()
    };
    let out = run("acme/tools").await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let block = String::from_utf8_lossy(&out.stdout);
    assert!(block.starts_with("<!-- owp:agents begin -->"), "{block}");
    assert!(block.contains("**claim it first**"), "{block}");
    assert!(
        block.contains("owp worker join https://pool.example.org"),
        "{block}"
    );
    assert!(block.contains("- test: `cargo test`"), "{block}");
    assert!(block.contains("required here"), "{block}");
    assert!(block.contains("2 open pull request(s)"), "{block}");
    // This server runs no GitHub App: no comment commands are offered.
    assert!(!block.contains("/owp claim"), "{block}");

    // A repository that takes plans first says so, and how to propose from each place.
    server
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": "acme/plans", "max_open_prs": 2, "approval": "plan",
                   "approval_skip_trust": 2}),
        )
        .await
        .expect(201);
    let out = run("acme/plans").await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let block = String::from_utf8_lossy(&out.stdout);
    for part in [
        "takes **a plan first** from contributors below trust 2",
        "How to propose and claim:",
        "your tool writes the plan (`PLAN.md`), `owp` proposes it",
        "`owp_propose` proposes",
    ] {
        assert!(block.contains(part), "missing {part:?} in {block}");
    }

    let out = run("acme/other").await.unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("acme/other is not a repository of this pool") && err.lines().count() == 1,
        "{err}"
    );
}

/// Without `gh`: the branch is pushed, the run prints where to open the pull request (GitHub's
/// compare page) and reads `pr URL` from the terminal, then reports it.
#[cfg(unix)]
#[tokio::test]
async fn without_gh_the_run_asks_for_the_pull_request_url() {
    use tokio::io::AsyncWriteExt;
    let rig = Rig::new(Server::start().await, None).await;
    std::fs::remove_file(rig.path("bin/gh")).unwrap();
    // PATH without any `gh`: the test's own bin, then the caller's directories that hold none.
    let mut dirs = vec![rig.path("bin")];
    dirs.extend(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .filter(|d| !d.join("gh").exists()),
    );
    let path = std::env::join_paths(&dirs).unwrap();
    let has = |tool: &str| dirs.iter().any(|d| d.join(tool).exists());
    if !has("git") || !has("sh") {
        eprintln!("skipped: git or sh shares a directory with gh on this machine's PATH");
        return;
    }
    let agent = format!(
        "{} {{workdir}} {{task_id}} {{brief}}",
        rig.path("bin").join("agent.sh").display()
    );
    let workdir = rig.path("work").display().to_string();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .args([
            "worker",
            "run",
            "--once",
            "--wait",
            "1",
            "--agent",
            &agent,
            "--workdir",
            &workdir,
            "--allow-local-clone",
        ])
        .env("OWP_SERVER", &rig.server.base)
        .env("OWP_CONFIG_DIR", rig.path("config"))
        .env("PATH", path)
        .env_remove("OWP_PROFILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = "https://github.com/acme/widgets/pull/43";
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("pr {url}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("owp finished in time")
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "https://github.com/{REPO}/compare/main...{BRANCH}?expand=1"
        )),
        "{stdout}"
    );
    // What the description must say to link the issue, never an empty "(… should say: )".
    assert!(
        stdout.contains("then type `pr URL` here (its description should say `Fixes #7`)"),
        "{stdout}"
    );
    assert!(rig.branch_in_origin(BRANCH), "the branch was not pushed");
    let task = rig.task().await;
    assert_eq!(str_field(&task, "status"), "pr_opened", "{task}");
    assert_eq!(task["artifact"]["pr_url"], url, "{task}");
    assert!(!rig.path("gh.log").exists());
    rig.main_untouched();
}

#[tokio::test]
async fn joining_without_running_saves_the_agent_with_the_profile() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("profile");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .args([
            "worker",
            "join",
            &server.base,
            "--no-input",
            "--name",
            "Ada",
        ])
        .args(["--github-login", "ada-test", "--no-run"])
        .args([
            "--agent",
            "claude -p < {brief}",
            "--pass-env",
            "ANTHROPIC_API_KEY",
        ])
        .arg("--config-dir")
        .arg(&config)
        .env_remove("OWP_SERVER")
        .current_dir(dir.path())
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let profile: Value =
        serde_json::from_str(&std::fs::read_to_string(config.join("worker.json")).unwrap())
            .unwrap();
    assert_eq!(
        profile["agent"]["command"], "claude -p < {brief}",
        "{profile}"
    );
    assert_eq!(
        profile["agent"]["pass_env"],
        json!(["ANTHROPIC_API_KEY"]),
        "{profile}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("saved the agent command"),
        "{}",
        text(&out)
    );
    // Nothing was claimed: the worker only joined.
    let state = server.state().await;
    assert!(
        state["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|t| t["status"] != "leased"),
        "{state}"
    );
}

#[tokio::test]
async fn an_agent_worker_says_it_is_waiting_while_the_pool_has_nothing() {
    use tokio::io::AsyncBufReadExt;
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("profile");
    let owp = |args: &[&str]| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"));
        cmd.args(args)
            .arg("--config-dir")
            .arg(&config)
            .env_remove("OWP_SERVER")
            .current_dir(dir.path())
            .kill_on_drop(true);
        cmd
    };
    let joined = owp(&[
        "worker",
        "join",
        &server.base,
        "--no-input",
        "--name",
        "Ada",
    ])
    .args(["--github-login", "ada-test", "--no-run"])
    .output()
    .await
    .unwrap();
    assert!(joined.status.success(), "{}", text(&joined));
    // Each claim waits 10 seconds on the server: the line comes before the first one answers.
    let mut run = owp(&["worker", "run", "--agent", "true {brief}", "--wait", "10"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(run.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let waiting = tokio::time::timeout(Duration::from_secs(8), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let found = line.contains("waiting for work");
            seen.push(line);
            if found {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(waiting, Ok(true), "{seen:?}");
    // Said once, not once per empty claim.
    let mut again = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(14), async {
        while let Ok(Some(line)) = lines.next_line().await {
            again.push(line);
        }
    })
    .await;
    assert!(
        !again.iter().any(|l| l.contains("waiting for work")),
        "repeated: {again:?}"
    );
    run.kill().await.unwrap();
}
