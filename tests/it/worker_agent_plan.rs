//! `owp worker run --agent` in a repository that takes plans first (contract section 12, rule
//! 11), end to end against a real `owp serve` and a bare repository on disk: nothing is granted,
//! so the agent writes a plan (and nothing it changed then is kept), the plan is proposed, and a
//! maintainer's answer over REST decides: approved, the lease comes back through `POST /v1/work`
//! and the agent works with the plan in its brief up to the pull request; declined, the run says
//! so and nothing runs.

use crate::support;
use crate::worker_agent_rig::*;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, str_field};

/// A public repository that takes plans first (the preview names a public repository's tasks),
/// whose contract tests the work.
async fn plan_rig() -> Rig {
    Rig::with(
        Server::start().await,
        Setup {
            visibility: "public",
            plan_first: true,
            test: Some("grep -q good file.txt"),
            ..Setup::default()
        },
    )
    .await
}

/// Waits for an open proposal of the rig's task, as the admin sees it, and answers it with
/// `answer` (`approve` or `decline`); returns the proposal as it was listed.
async fn answer_when_proposed(rig: &Rig, answer: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    let path = format!("/v1/tasks/{}/proposals", rig.task_id);
    loop {
        let list = rig.server.admin_get(&path).await.expect(200);
        let open = list["proposals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["state"] == "open")
            .cloned();
        if let Some(p) = open {
            let id = str_field(&p, "proposal_id");
            rig.server
                .admin_post(&format!("/v1/admin/proposals/{id}/{answer}"), json!({}))
                .await
                .expect(200);
            return p;
        }
        assert!(Instant::now() < deadline, "no proposal was made");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn plans_left(rig: &Rig) -> usize {
    std::fs::read_dir(rig.path("work/plans"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[cfg(unix)]
#[tokio::test]
async fn a_plan_is_proposed_approved_over_rest_and_the_work_follows_it() {
    let rig = plan_rig().await;
    let (out, proposal) = tokio::join!(
        rig.run_once(&rig.server.base, &["--yes"], &[("AGENT_MODE", "planned")]),
        answer_when_proposed(&rig, "approve"),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(proposal["plan"], "Plan: append a line to file.txt.");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("waits for a maintainer's approval")
            && said.contains("a proposal lives 7 day(s)"),
        "{said}"
    );

    // The work ran on the approved lease, with the plan in its brief, up to the pull request.
    let task = rig.task().await;
    assert_eq!(
        str_field(&task, "status"),
        "pr_opened",
        "{task}\n{}",
        text(&out)
    );
    assert_eq!(task["artifact"]["evidence"]["commands"][0]["name"], "test");
    assert!(rig.path("gh.log").exists(), "no pull request was opened");
    let brief =
        std::fs::read_to_string(rig.path("work/briefs").join(format!("{}.md", rig.task_id)))
            .expect("brief written");
    assert!(
        brief.contains("plan (approved)\nPlan: append a line to file.txt.\n"),
        "{brief}"
    );
    assert!(brief.contains("- Approval: this repository takes plans first"));
    // The plan-only brief said what to do; what the agent changed while planning is gone.
    let plan_brief = std::fs::read_to_string(
        rig.path("work/briefs")
            .join(format!("{}.plan.md", rig.task_id)),
    )
    .expect("plan brief written");
    assert!(
        plan_brief.contains("Write the plan; change nothing."),
        "{plan_brief}"
    );
    assert_eq!(plans_left(&rig), 0, "the planning directory was kept");
    let pushed = git(&rig.origin.bare, &["show", &format!("{BRANCH}:file.txt")]);
    assert_eq!(pushed, "start\ngood");
    let tree = git(&rig.origin.bare, &["ls-tree", "--name-only", BRANCH]);
    assert_eq!(tree, "file.txt", "the planning phase's files were pushed");
    rig.main_untouched();
}

#[cfg(unix)]
#[tokio::test]
async fn a_declined_plan_is_said_and_nothing_else_runs() {
    let rig = plan_rig().await;
    let (out, proposal) = tokio::join!(
        rig.run_once(&rig.server.base, &["--yes"], &[("AGENT_MODE", "planned")]),
        answer_when_proposed(&rig, "decline"),
    );
    assert!(!out.status.success(), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("your plan for acme/widgets#7 was declined: a maintainer gave no reason"),
        "{all}"
    );
    assert!(!all.contains("agent working on"), "{all}");

    let list = rig
        .server
        .admin_get(&format!("/v1/tasks/{}/proposals", rig.task_id))
        .await
        .expect(200);
    assert_eq!(list["proposals"][0]["proposal_id"], proposal["proposal_id"]);
    assert_eq!(list["proposals"][0]["state"], "declined");
    assert_eq!(str_field(&rig.task().await, "status"), "ready");
    assert!(!rig.path("gh.log").exists(), "a pull request was opened");
    assert!(!rig.branch_in_origin(BRANCH), "a declined plan pushed");
    assert_eq!(plans_left(&rig), 0, "the planning directory was kept");
    rig.main_untouched();
}

/// An agent that commits its plan (as it would its work) has it proposed: the planning
/// directory is a repository of its own.
#[cfg(unix)]
#[tokio::test]
async fn a_committed_plan_is_proposed() {
    let rig = plan_rig().await;
    let (out, proposal) = tokio::join!(
        rig.run_once(
            &rig.server.base,
            &["--yes"],
            &[("AGENT_MODE", "plancommit")]
        ),
        answer_when_proposed(&rig, "decline"),
    );
    let all = text(&out);
    assert_eq!(
        proposal["plan"], "Plan: append a line to file.txt.",
        "{all}"
    );
    assert!(!all.contains("did not finish the plan"), "{all}");
    assert!(
        all.contains("your plan for acme/widgets#7 was declined: a maintainer gave no reason"),
        "{all}"
    );
    assert_eq!(plans_left(&rig), 0, "the planning directory was kept");
    rig.main_untouched();
}

/// A lease granted on an approved plan before the run started (proposed and approved while no run
/// waited on it) is resumed with its plan: the brief quotes the worker's own approved proposal,
/// and the agent works to it.
#[cfg(unix)]
#[tokio::test]
async fn a_lease_approved_before_the_run_is_resumed_with_its_plan() {
    let rig = plan_rig().await;
    let profile: Value =
        serde_json::from_str(&std::fs::read_to_string(rig.path("config/worker.json")).unwrap())
            .unwrap();
    let token = str_field(&profile, "token");
    let proposal = rig
        .server
        .worker_post(
            &token,
            &format!("/v1/tasks/{}/proposals", rig.task_id),
            json!({"plan": "Plan: append a line to file.txt."}),
        )
        .await
        .expect(201);
    let id = str_field(&proposal, "proposal_id");
    let approved = rig
        .server
        .admin_post(&format!("/v1/admin/proposals/{id}/approve"), json!({}))
        .await
        .expect(200);
    assert_eq!(approved["lease"]["task"]["task_id"], rig.task_id.as_str());

    let out = rig
        .run_once(&rig.server.base, &["--yes"], &[("AGENT_MODE", "planned")])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("resuming 1 lease"),
        "{}",
        text(&out)
    );
    let brief =
        std::fs::read_to_string(rig.path("work/briefs").join(format!("{}.md", rig.task_id)))
            .expect("brief written");
    assert!(
        brief.contains("plan (approved)\nPlan: append a line to file.txt.\n"),
        "{brief}"
    );
    assert!(
        brief.contains(
            "- Approval: this repository takes plans first, and a maintainer approved this \
             worker's plan"
        ),
        "{brief}"
    );
    let task = rig.task().await;
    assert_eq!(str_field(&task, "status"), "pr_opened", "{task}");
    // No plan-only run: the plan was already approved.
    assert!(
        !rig.path("work/briefs")
            .join(format!("{}.plan.md", rig.task_id))
            .exists()
    );
    rig.main_untouched();
}

/// The worker's plan is not chosen (a maintainer approves another's) while no run waits on it:
/// `GET /v1/proposals` lists it with its task and how it ended, `owp worker status` says so,
/// and so does the next `owp worker run`, once.
#[cfg(unix)]
#[tokio::test]
async fn a_plan_not_chosen_while_no_run_waits_is_said_by_status_and_run() {
    let rig = plan_rig().await;
    let profile: Value =
        serde_json::from_str(&std::fs::read_to_string(rig.path("config/worker.json")).unwrap())
            .unwrap();
    let token = str_field(&profile, "token");
    let path = format!("/v1/tasks/{}/proposals", rig.task_id);
    let mine = rig
        .server
        .worker_post(&token, &path, json!({"plan": "Plan: append a line."}))
        .await
        .expect(201);
    let (_, other) = rig.server.register_worker("other", &["rust"], 5, 2).await;
    let theirs = rig
        .server
        .worker_post(&other, &path, json!({"plan": "Plan: rewrite the file."}))
        .await
        .expect(201);
    rig.server
        .admin_post(
            &format!(
                "/v1/admin/proposals/{}/approve",
                str_field(&theirs, "proposal_id")
            ),
            json!({}),
        )
        .await
        .expect(200);

    // The list: its own only, with the task it was for and how it ended.
    let listed = rig
        .server
        .worker_get(&token, "/v1/proposals")
        .await
        .expect(200);
    let listed = listed["proposals"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["proposal"]["proposal_id"], mine["proposal_id"]);
    assert_eq!(listed[0]["proposal"]["state"], "not_chosen");
    assert_eq!(listed[0]["task_key"], "acme/widgets#7");
    assert_eq!(listed[0]["task_title"], "Fix the parser");
    assert!(listed[0]["ended_at"].is_string(), "{listed:?}");

    let said = "your plan for acme/widgets#7 was not chosen: a maintainer approved another plan \
                for it";
    let out = rig.owp(&rig.server.base, &["worker", "status"], &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(status.contains(&format!("plans:\n  {said} (")), "{status}");

    // A run, waiting for work, says it once; nothing is planned for a task another holds.
    let workdir = rig.path("work");
    let mut run = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .args([
            "worker",
            "run",
            "--wait",
            "1",
            "--agent",
            &rig.agent(""),
            "--yes",
        ])
        .arg("--workdir")
        .arg(&workdir)
        .env("OWP_SERVER", &rig.server.base)
        .env("OWP_CONFIG_DIR", rig.path("config"))
        .env_remove("OWP_PROFILE")
        .current_dir(rig.path(""))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = run.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let mut seen = Vec::new();
    let told = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let done = line.contains(said);
            seen.push(line);
            if done {
                return true;
            }
        }
        false
    })
    .await;
    run.kill().await.unwrap();
    assert_eq!(told.ok(), Some(true), "{seen:#?}");
    assert_eq!(
        seen.iter().filter(|l| l.contains(said)).count(),
        1,
        "{seen:#?}"
    );
    assert!(
        !seen
            .iter()
            .any(|l| l.contains("asking the agent for a plan")),
        "{seen:#?}"
    );
    assert_eq!(plans_left(&rig), 0);
}
