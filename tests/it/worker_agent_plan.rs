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
    assert!(all.contains("was declined by a maintainer"), "{all}");
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
    assert!(all.contains("was declined by a maintainer"), "{all}");
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
