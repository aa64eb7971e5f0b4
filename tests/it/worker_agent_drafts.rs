//! Drafts first (`contract.pull_requests: draft`): `owp worker run --agent` pushes the branch and
//! opens the pull request as a draft before the repository's checks run, marks it ready when they
//! pass, and leaves it a draft (saying why) when they fail. Against a real `owp serve`, a bare git
//! repository as `origin` and a fake `gh` recording every call.

use crate::support;
use crate::worker_agent_rig::*;

use support::{Server, str_field};

/// Each call of the fake `gh`, its arguments in order.
fn gh_calls(rig: &Rig) -> Vec<Vec<String>> {
    let log = std::fs::read_to_string(rig.path("gh.log")).unwrap_or_default();
    let args: Vec<&str> = log.split('\0').filter(|a| !a.is_empty()).collect();
    let mut calls: Vec<Vec<String>> = Vec::new();
    for a in args {
        if a == "pr" {
            calls.push(Vec::new());
        }
        if let Some(call) = calls.last_mut() {
            call.push(a.to_string());
        }
    }
    calls
}

#[cfg(unix)]
#[tokio::test]
async fn a_draft_is_opened_first_and_marked_ready_when_the_checks_pass() {
    let setup = Setup {
        test: Some("grep -q good file.txt"),
        drafts: true,
        ..Setup::default()
    };
    let rig = Rig::with(Server::start().await, setup).await;
    let out = rig.run_once(&rig.server.base, &["--yes"], &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    let calls = gh_calls(&rig);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(&calls[0][..2], ["pr", "create"]);
    assert!(calls[0].contains(&"--draft".to_string()), "{calls:?}");
    assert_eq!(
        calls[1],
        [
            "pr",
            "ready",
            "https://github.com/acme/widgets/pull/42",
            "--repo",
            REPO
        ]
    );
    let shown = text(&out);
    let draft_at = shown.find("draft pull request").expect("the draft is said");
    let test_at = shown
        .rfind("test: grep -q good file.txt")
        .expect("the test ran");
    assert!(
        draft_at < test_at,
        "the draft comes before the checks:\n{shown}"
    );
    assert!(shown.contains("marked ready for review"), "{shown}");
    let task = rig.task().await;
    assert_eq!(str_field(&task, "status"), "pr_opened", "{task}");
    assert_eq!(task["artifact"]["evidence"]["commands"][0]["name"], "test");
}

#[cfg(unix)]
#[tokio::test]
async fn a_draft_whose_checks_fail_stays_a_draft() {
    let setup = Setup {
        test: Some("grep -q never file.txt"),
        drafts: true,
        ..Setup::default()
    };
    let rig = Rig::with(Server::start().await, setup).await;
    let out = rig.run_once(&rig.server.base, &["--yes"], &[]).await;
    assert!(!out.status.success(), "{}", text(&out));
    let calls = gh_calls(&rig);
    assert_eq!(calls.len(), 1, "never marked ready: {calls:?}");
    assert!(calls[0].contains(&"--draft".to_string()), "{calls:?}");
    let shown = text(&out);
    assert!(
        shown.contains("pull/42 stays a draft: the test command failed"),
        "{shown}"
    );
    assert_eq!(str_field(&rig.task().await, "status"), "ready");
    let events = rig.events_text().await;
    assert!(
        events.contains("lease.nacked") && events.contains("grep"),
        "the reason names the check: {events}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn without_the_setting_the_pull_request_opens_ready_after_the_checks() {
    let rig = Rig::new(Server::start().await, Some("grep -q good file.txt")).await;
    let out = rig.run_once(&rig.server.base, &["--yes"], &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    let calls = gh_calls(&rig);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(!calls[0].contains(&"--draft".to_string()), "{calls:?}");
}
