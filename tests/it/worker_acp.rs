//! `owp worker run --acp` against an agent built on the official Python ACP SDK (PyPI
//! `agent-client-protocol`, `tests/acp_agent/agent.py`), a real `owp serve`, a bare git
//! repository as `origin` and a fake `gh`: one lease carried end to end, a write outside the
//! task's paths and a command the volunteer did not allow refused, and the running agent's session
//! cancelled when its lease ends (revoked, expired), when it goes silent or when the volunteer
//! presses Ctrl-C (the task given back).
//!
//! The SDK lives in a virtual environment: `OWP_ACP_PYTHON` names its Python, else
//! `target/acp-venv` is used (`.ci/run` makes it). Without it the tests skip, and fail where
//! `OWP_REQUIRE_SERVICES` names `acp`.

use crate::support;
use crate::worker_agent_rig::*;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use support::{Server, str_field};

const PR_URL: &str = "https://github.com/acme/widgets/pull/42";

/// The Python that has the ACP SDK, or `None` (the test skips, or fails where `acp` is required).
fn acp_python(test: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("OWP_ACP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            if cfg!(windows) {
                root.join("target/acp-venv/Scripts/python.exe")
            } else {
                root.join("target/acp-venv/bin/python")
            }
        });
    let works = std::process::Command::new(&python)
        .args(["-c", "import acp"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !works {
        crate::services::missing(
            "acp",
            test,
            &format!(
                "{} cannot import the ACP SDK (python3 -m venv target/acp-venv && \
                 target/acp-venv/bin/pip install agent-client-protocol)",
                python.display()
            ),
        );
        return None;
    }
    Some(python)
}

/// `owp worker run --once --acp "PYTHON agent.py"` with `extra` flags, the agent's journal at
/// `journal.jsonl` and its mode in `ACP_AGENT_MODE`.
async fn run_acp(rig: &Rig, python: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    run_acp_at(rig, &rig.server.base, python, extra, env).await
}

/// [`run_acp`] talking to the pool at `server`.
async fn run_acp_at(
    rig: &Rig,
    server: &str,
    python: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Output {
    // A wrapper in the rig's own directory, so that what `owp` prints names no path of this
    // checkout.
    let agent = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/acp_agent/agent.py");
    let wrapper = rig.path("bin/acp-agent");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec '{}' '{}'\n",
            python.display(),
            agent.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let command = wrapper.display().to_string();
    let journal = rig.path("journal.jsonl").display().to_string();
    let mut args = vec!["--allow-local-clone"];
    args.extend(["--pass-env", "ACP_JOURNAL", "--pass-env", "ACP_AGENT_MODE"]);
    args.extend_from_slice(extra);
    let mut all = vec![("ACP_JOURNAL", journal.as_str())];
    all.extend_from_slice(env);
    rig.run_handing(server, ("--acp", &command), &args, &all)
        .await
}

/// What the agent wrote down, one JSON object a line.
fn journal(rig: &Rig) -> Vec<Value> {
    std::fs::read_to_string(rig.path("journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The outcome the client chose for the permission titled `title`.
fn outcome(journal: &[Value], title: &str) -> String {
    journal
        .iter()
        .find(|e| e["permission"] == title)
        .map(|e| str_field(e, "outcome"))
        .unwrap_or_else(|| panic!("no permission {title:?} in {journal:#?}"))
}

fn write_result(journal: &[Value], ends_with: &str) -> Value {
    journal
        .iter()
        .find(|e| e["write"].as_str().is_some_and(|p| p.ends_with(ends_with)))
        .cloned()
        .unwrap_or_else(|| panic!("no write of {ends_with:?} in {journal:#?}"))
}

/// The ACP messages of the lease's log (`acp client → agent …` / `acp agent → client …`).
fn transcript(rig: &Rig) -> String {
    let log = rig
        .path("work/logs")
        .join(format!("{}.acp.log", rig.task_id));
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("acp "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(unix)]
#[tokio::test]
async fn an_acp_agent_carries_a_lease_to_a_pull_request() {
    let Some(python) = acp_python("an_acp_agent_carries_a_lease_to_a_pull_request") else {
        return;
    };
    let setup = Setup {
        paths: &["src/**"],
        ..Setup::default()
    };
    let rig = Rig::with(Server::start().await, setup).await;
    let out = run_acp(&rig, &python, &["--acp-allow-command", "git"], &[]).await;
    let messages = transcript(&rig);
    eprintln!("--- the session's messages\n{messages}");
    assert!(out.status.success(), "{}\n{messages}", text(&out));
    let j = journal(&rig);
    let init = &j[0]["initialize"];
    assert_eq!(init["protocol_version"], 1, "{j:#?}");
    assert_eq!(init["client_capabilities"]["fs"]["readTextFile"], true);
    assert_eq!(init["client_capabilities"]["fs"]["writeTextFile"], true);
    assert_eq!(init["client_capabilities"]["terminal"], false);
    let worktree = rig.path("work/tasks").join(&rig.task_id);
    assert_eq!(j[1]["new_session"]["cwd"], worktree.display().to_string());
    assert!(
        j[2]["prompt"]["head"]
            .as_str()
            .unwrap()
            .starts_with("# OWP task brief"),
        "the brief is the prompt: {j:#?}"
    );
    let read = j.iter().find(|e| e["read"] == "file.txt").unwrap();
    assert_eq!(read["content"], "start\n");
    assert_eq!(outcome(&j, "Write src/fix.txt"), "allow");
    assert_eq!(write_result(&j, "src/fix.txt")["result"], "written");
    assert_eq!(outcome(&j, "Write outside.txt"), "reject");
    assert_eq!(write_result(&j, "outside.txt")["result"], "refused");
    assert_eq!(write_result(&j, "escape.txt")["result"], "refused");
    assert_eq!(outcome(&j, "Run curl"), "reject");
    assert!(!j.iter().any(|e| e["ran"] == "curl"), "{j:#?}");
    assert_eq!(outcome(&j, "Commit the fix"), "allow");
    assert!(
        j.iter()
            .any(|e| e["ran"] == "git commit" && e["committed"] == true),
        "{j:#?}"
    );
    assert!(!worktree.join("outside.txt").exists());
    assert!(!rig.path("work/tasks/escape.txt").exists());

    // The lease became a pull request, from the branch the agent committed on.
    let task = rig.task().await;
    assert_eq!(str_field(&task, "status"), "pr_opened", "{task}");
    assert_eq!(task["artifact"]["pr_url"], PR_URL);
    let fix = git(
        &rig.origin.bare,
        &["show", &format!("{BRANCH}:src/fix.txt")],
    );
    assert_eq!(fix, "fixed: start");
    rig.main_untouched();
    // What the agent did was shown as it happened.
    let shown = text(&out);
    assert!(
        shown.contains("agent: Write src/fix.txt (pending)"),
        "{shown}"
    );
    assert!(
        shown.contains("refused Run curl: the volunteer did not allow `curl`"),
        "{shown}"
    );
    for method in [
        "\"initialize\"",
        "\"session/new\"",
        "\"session/prompt\"",
        "\"session/update\"",
        "\"session/request_permission\"",
        "\"fs/read_text_file\"",
        "\"fs/write_text_file\"",
        "\"stopReason\":\"end_turn\"",
    ] {
        assert!(messages.contains(method), "no {method} in\n{messages}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn an_acp_write_outside_the_tasks_paths_is_refused() {
    let Some(python) = acp_python("an_acp_write_outside_the_tasks_paths_is_refused") else {
        return;
    };
    let setup = Setup {
        paths: &["docs/**"],
        ..Setup::default()
    };
    let rig = Rig::with(Server::start().await, setup).await;
    let out = run_acp(&rig, &python, &["--acp-allow-command", "git"], &[]).await;
    let j = journal(&rig);
    assert_eq!(outcome(&j, "Write src/fix.txt"), "reject", "{j:#?}");
    let refused = write_result(&j, "outside.txt");
    assert_eq!(refused["result"], "refused");
    assert!(
        str_field(&refused, "error").contains("outside the task's paths (docs/**)"),
        "{refused}"
    );
    let worktree = rig.path("work/tasks").join(&rig.task_id);
    assert!(!worktree.join("src/fix.txt").exists());
    assert!(!worktree.join("outside.txt").exists());
    // Nothing to commit: the task goes back.
    expect_nack(&rig, &out, "the agent made no commits").await;
}

#[cfg(unix)]
#[tokio::test]
async fn an_acp_command_the_volunteer_did_not_allow_is_refused() {
    let Some(python) = acp_python("an_acp_command_the_volunteer_did_not_allow_is_refused") else {
        return;
    };
    let setup = Setup {
        paths: &["src/**"],
        ..Setup::default()
    };
    let rig = Rig::with(Server::start().await, setup).await;
    // No --acp-allow-command: neither curl nor git may run, whatever the task says.
    let out = run_acp(&rig, &python, &[], &[]).await;
    let j = journal(&rig);
    assert_eq!(outcome(&j, "Run curl"), "reject", "{j:#?}");
    assert_eq!(outcome(&j, "Commit the fix"), "reject", "{j:#?}");
    assert!(!j.iter().any(|e| e.get("ran").is_some()), "{j:#?}");
    assert!(
        text(&out).contains("the volunteer did not allow `git` (--acp-allow-command)"),
        "{}",
        text(&out)
    );
    expect_nack(&rig, &out, "the agent made no commits").await;
}

#[cfg(unix)]
#[tokio::test]
async fn a_revoked_lease_cancels_the_running_acp_agent() {
    let Some(python) = acp_python("a_revoked_lease_cancels_the_running_acp_agent") else {
        return;
    };
    let rig = Rig::new(Server::start().await, None).await;
    let run = run_acp(
        &rig,
        &python,
        &[],
        &[("ACP_AGENT_MODE", "wait"), ("OWP_AGENT_RENEW_SECONDS", "1")],
    );
    let revoke = async {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !journal(&rig).iter().any(|e| e["waiting"] == true) {
            assert!(
                std::time::Instant::now() < deadline,
                "the agent never started"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // `owp worker status` shows what the agent is doing.
        update_taken(&rig, Duration::from_secs(60)).await;
        // The pool is told with a renewal, without the agent's words: the dashboard shows it.
        loop {
            let task = rig.server.task(&rig.task_id).await;
            if task["lease_progress"] == "agent: writing a message" {
                assert!(task["lease_progress_at"].is_string(), "{task}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no progress: {task}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let status = rig.owp(&rig.server.base, &["worker", "status"], &[]).await;
        let shown = text(&status);
        assert!(
            shown.contains("agent: says: Working on it, slowly · ")
                && shown.contains("1 update(s)")
                && shown.contains("the pool shows: agent: writing a message ("),
            "{shown}"
        );
        // A maintainer takes the task back while the agent works.
        rig.server
            .admin_set_status(&rig.task_id, "ready")
            .await
            .expect_ok();
        std::time::Instant::now()
    };
    let (out, revoked_at) = tokio::join!(run, revoke);
    let took = revoked_at.elapsed();
    let messages = transcript(&rig);
    eprintln!("--- the session's messages\n{messages}");
    let j = journal(&rig);
    assert!(j.iter().any(|e| e["cancel"] == "s-1"), "{j:#?}");
    assert!(j.iter().any(|e| e["stopped_on_cancel"] == true), "{j:#?}");
    assert!(!j.iter().any(|e| e["never_cancelled"] == true), "{j:#?}");
    assert!(
        messages.contains("\"method\":\"session/cancel\""),
        "{messages}"
    );
    assert!(
        messages.contains("\"stopReason\":\"cancelled\""),
        "{messages}"
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert!(!out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(
        shown.contains("cancelling the agent's session: the server ended the lease"),
        "{shown}"
    );
    assert!(shown.contains("lease lost"), "{shown}");
    assert!(!rig.branch_in_origin(BRANCH), "a cancelled run pushed");
    assert!(!rig.path("gh.log").exists());
    let activity: Value = serde_json::from_str(
        &std::fs::read_to_string(
            rig.path("work/logs")
                .join(format!("{}.activity.json", rig.task_id)),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(
        str_field(&activity, "ended").contains("ended the lease"),
        "{activity}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn an_acp_agent_that_ignores_the_cancel_is_stopped_after_the_grace_period() {
    let test = "an_acp_agent_that_ignores_the_cancel_is_stopped_after_the_grace_period";
    let Some(python) = acp_python(test) else {
        return;
    };
    let rig = Rig::new(Server::start().await, None).await;
    let run = run_acp(
        &rig,
        &python,
        &["--max-minutes", "0.25"],
        &[
            ("ACP_AGENT_MODE", "stubborn"),
            ("OWP_ACP_GRACE_SECONDS", "1"),
        ],
    );
    let started = std::time::Instant::now();
    let out = run.await;
    let took = started.elapsed();
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    assert!(
        shown.contains("cancelling the agent's session: it ran past the limit"),
        "{shown}"
    );
    // 15 s of work (time for the agent to start on a busy machine), 1 s of grace, and the process
    // tree is gone: not the agent's 120 s.
    assert!(took < Duration::from_secs(60), "took {took:?}\n{shown}");
    stubborn_agent_stopped(&rig);
    expect_nack(&rig, &out, "ran past the limit").await;
}

/// The stubborn agent's process is gone, and it did not live to the end of its sleep. Killed with
/// its parent (the shell `owp` started), it is a zombie until the system reaps it: that counts as
/// gone.
fn stubborn_agent_stopped(rig: &Rig) {
    let j = journal(rig);
    let pid = j
        .iter()
        .find_map(|e| e["pid"].as_i64())
        .unwrap_or_else(|| panic!("{j:#?}"))
        .to_string();
    let state = std::process::Command::new("ps")
        .args(["-o", "stat=", "-p", &pid])
        .output()
        .unwrap();
    let state = String::from_utf8_lossy(&state.stdout).trim().to_string();
    assert!(
        state.is_empty() || state.starts_with('Z'),
        "the agent (pid {pid}) still runs ({state})"
    );
    assert!(!j.iter().any(|e| e["never_stopped"] == true), "{j:#?}");
}

/// A relay between the volunteer's machine and the pool that the test cuts and restores: the
/// network going away while the agent works. Cut, it closes every connection it carries and each
/// new one at once.
struct Relay {
    base: String,
    cut: tokio::sync::watch::Sender<bool>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Relay {
    async fn to(server: &str) -> Relay {
        let upstream = server
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (cut, cut_rx) = tokio::sync::watch::channel(false);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut cut_rx = cut_rx.clone();
                if *cut_rx.borrow_and_update() {
                    continue;
                }
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_rx.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Relay { base, cut, accept }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

/// Waits (at most `limit`) until `owp` has taken the agent's first update (and shown it): the
/// activity file is written at most once a second while updates stream.
async fn update_taken(rig: &Rig, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    let activity = rig
        .path("work/logs")
        .join(format!("{}.activity.json", rig.task_id));
    while !std::fs::read_to_string(&activity).is_ok_and(|t| t.contains("\"updates\":1")) {
        assert!(std::time::Instant::now() < deadline, "no activity written");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (at most `limit`) until the agent says it is working, waiting for the cancel.
async fn agent_waiting(rig: &Rig, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    while !journal(rig).iter().any(|e| e["waiting"] == true) {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The session was cancelled and the agent stopped on it, the run failed, and nothing left the
/// machine.
fn cancelled_and_nothing_pushed(rig: &Rig, out: &Output) {
    assert!(!out.status.success(), "{}", text(out));
    session_cancelled(rig);
    nothing_pushed(rig);
}

/// The session was cancelled and the agent ended its turn on it.
fn session_cancelled(rig: &Rig) {
    let messages = transcript(rig);
    eprintln!("--- the session's messages\n{messages}");
    let j = journal(rig);
    assert!(j.iter().any(|e| e["cancel"] == "s-1"), "{j:#?}");
    assert!(j.iter().any(|e| e["stopped_on_cancel"] == true), "{j:#?}");
    assert!(!j.iter().any(|e| e["never_cancelled"] == true), "{j:#?}");
    assert!(
        messages.contains("\"method\":\"session/cancel\""),
        "{messages}"
    );
    assert!(
        messages.contains("\"stopReason\":\"cancelled\""),
        "{messages}"
    );
}

/// Nothing left the machine: no branch, no pull request, the default branch as it was.
fn nothing_pushed(rig: &Rig) {
    assert!(!rig.branch_in_origin(BRANCH), "a cancelled run pushed");
    assert!(
        !rig.path("gh.log").exists(),
        "a cancelled run opened a pull request"
    );
    rig.main_untouched();
}

/// The lease expires on the server's clock while the agent runs: the volunteer's machine cannot
/// reach the pool (the relay is cut), so no renewal or heartbeat does, and the lease ends at its
/// TTL. Once the pool answers again, the runner learns the lease is gone and cancels the agent's
/// session; nothing is pushed.
#[cfg(unix)]
#[tokio::test]
async fn a_lease_that_expires_while_the_acp_agent_runs_cancels_it() {
    let test = "a_lease_that_expires_while_the_acp_agent_runs_cancels_it";
    let Some(python) = acp_python(test) else {
        return;
    };
    // Twenty seconds of lease, renewed every 4 s while the pool can be reached: five renewals
    // a TTL, so a busy machine's late one does not end it before the relay is cut.
    let server = Server::start_with_env(&[("OWP_LEASE_TTL_SECONDS", "20")]).await;
    let rig = Rig::new(server, None).await;
    let relay = Relay::to(&rig.server.base).await;
    let run = run_acp_at(
        &rig,
        &relay.base,
        &python,
        &["--pass-env", "ACP_AGENT_WAIT_SECONDS"],
        &[
            ("ACP_AGENT_MODE", "wait"),
            ("ACP_AGENT_WAIT_SECONDS", "900"),
            ("OWP_AGENT_RENEW_SECONDS", "4"),
        ],
    );
    let expire = async {
        agent_waiting(&rig, Duration::from_secs(120)).await;
        relay.set_cut(true);
        let deadline = std::time::Instant::now() + Duration::from_secs(240);
        let task = loop {
            let task = rig.task().await;
            if task["status"] != "in_progress" {
                break task;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the lease never expired: {task}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        relay.set_cut(false);
        task
    };
    let (out, expired) = tokio::join!(run, expire);
    assert_eq!(str_field(&expired, "status"), "ready", "{expired}");
    let events = rig.events_text().await;
    assert!(events.contains("lease.expired"), "{events}");
    cancelled_and_nothing_pushed(&rig, &out);
    let shown = text(&out);
    assert!(
        shown.contains("cancelling the agent's session: the server ended the lease"),
        "{shown}"
    );
    assert!(shown.contains("lease lost"), "{shown}");
}

/// The agent says nothing for longer than `OWP_ACP_SILENCE_SECONDS`: the runner cancels its
/// session and gives the task back itself, with the reason (the give-back no other test takes:
/// `--max-minutes` is the stubborn agent's, revoked and expired leases are ended by the pool).
#[cfg(unix)]
#[tokio::test]
async fn a_silent_acp_agent_is_cancelled_and_its_task_given_back() {
    let test = "a_silent_acp_agent_is_cancelled_and_its_task_given_back";
    let Some(python) = acp_python(test) else {
        return;
    };
    let rig = Rig::new(Server::start().await, None).await;
    // Twenty seconds of silence: the clock starts when the agent is started, and restarts at
    // each message, so this is longer than the agent takes to start and open its session on a
    // busy machine (a few seconds), and its session is open when the silence ends it.
    let out = run_acp(
        &rig,
        &python,
        &["--pass-env", "ACP_AGENT_WAIT_SECONDS"],
        &[
            ("ACP_AGENT_MODE", "wait"),
            ("ACP_AGENT_WAIT_SECONDS", "900"),
            ("OWP_ACP_SILENCE_SECONDS", "20"),
        ],
    )
    .await;
    cancelled_and_nothing_pushed(&rig, &out);
    let shown = text(&out);
    assert!(
        shown.contains("cancelling the agent's session: the agent said nothing for 20 s"),
        "{shown}"
    );
    expect_nack(&rig, &out, "the agent said nothing for 20 s").await;
}

/// The volunteer presses Ctrl-C while the agent works: the agent's session is cancelled by the
/// path a lost lease takes, the agent ends its turn, the task is given back at once (not left to
/// expire), and `owp` ends with 0.
#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_cancels_the_acp_agents_session_and_gives_the_task_back() {
    let test = "ctrl_c_cancels_the_acp_agents_session_and_gives_the_task_back";
    let Some(python) = acp_python(test) else {
        return;
    };
    let rig = Rig::new(Server::start().await, None).await;
    let run = run_acp(
        &rig,
        &python,
        &["--pass-env", "ACP_AGENT_WAIT_SECONDS"],
        &[
            ("ACP_AGENT_MODE", "wait"),
            ("ACP_AGENT_WAIT_SECONDS", "900"),
        ],
    );
    let press = async {
        agent_waiting(&rig, Duration::from_secs(60)).await;
        update_taken(&rig, Duration::from_secs(30)).await;
        rig.ctrl_c();
        std::time::Instant::now()
    };
    let (out, pressed) = tokio::join!(run, press);
    let took = pressed.elapsed();
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(took < Duration::from_secs(20), "took {took:?}\n{shown}");
    session_cancelled(&rig);
    nothing_pushed(&rig);
    for line in [
        "stopping: cancelling the agent's session… (Ctrl-C again stops it at once)",
        "stopped: the task was given back; the pool does not offer it to this worker again for \
         an hour, and where its repository asks for a cool-down",
    ] {
        assert!(shown.contains(line), "no {line:?} in {shown}");
    }
    assert!(
        !shown.contains("cancelling the agent's session:"),
        "said twice: {shown}"
    );
    let task = rig.task().await;
    assert_eq!(str_field(&task, "status"), "ready", "{task}");
    let events = rig.events_text().await;
    assert!(
        events.contains("the volunteer stopped the run (Ctrl-C)"),
        "{events}"
    );
}

/// A second Ctrl-C during the grace period stops an agent that ignores the cancel at once, not
/// when the grace period (two minutes here) ends; the task is still given back.
#[cfg(unix)]
#[tokio::test]
async fn a_second_ctrl_c_stops_the_acp_agent_at_once() {
    let Some(python) = acp_python("a_second_ctrl_c_stops_the_acp_agent_at_once") else {
        return;
    };
    let rig = Rig::new(Server::start().await, None).await;
    let run = run_acp(
        &rig,
        &python,
        &[],
        &[
            ("ACP_AGENT_MODE", "stubborn"),
            ("OWP_ACP_GRACE_SECONDS", "120"),
        ],
    );
    let press = async {
        agent_waiting(&rig, Duration::from_secs(60)).await;
        update_taken(&rig, Duration::from_secs(30)).await;
        rig.ctrl_c();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !journal(&rig).iter().any(|e| e["cancel"] == "s-1") {
            assert!(std::time::Instant::now() < deadline, "no session/cancel");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        rig.ctrl_c();
        std::time::Instant::now()
    };
    let (out, pressed) = tokio::join!(run, press);
    let took = pressed.elapsed();
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(took < Duration::from_secs(15), "took {took:?}\n{shown}");
    stubborn_agent_stopped(&rig);
    nothing_pushed(&rig);
    assert!(
        shown.contains("stopping at once: the agent's processes are stopped"),
        "{shown}"
    );
    assert!(
        shown.contains("stopped: the task was given back"),
        "{shown}"
    );
    assert_eq!(str_field(&rig.task().await, "status"), "ready");
}

/// The `owp worker run --acp` line of a Markdown file's ```bash blocks.
fn acp_line_of(file: &str) -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    text.lines()
        .find(|l| l.starts_with("owp worker run --acp "))
        .unwrap_or_else(|| panic!("{file} shows no `owp worker run --acp` line"))
        .to_string()
}

/// The README's and `docs/mcp.md`'s `owp worker run --acp …` run as written, the agent's command
/// being the ACP SDK's agent in place of Gemini CLI's: the lease becomes a pull request.
#[cfg(unix)]
#[tokio::test]
async fn the_acp_line_of_the_readme_runs_as_written() {
    let line = acp_line_of("README.md");
    assert_eq!(line, acp_line_of("docs/mcp.md"), "the two say the same");
    let Some(python) = acp_python("the_acp_line_of_the_readme_runs_as_written") else {
        return;
    };
    let words = shlex::split(&line).expect("a shell line");
    let (run, rest) = words.split_at(5);
    assert_eq!(run[..4], ["owp", "worker", "run", "--acp"], "{line}");
    assert_eq!(run[4], "gemini --experimental-acp", "{line}");
    let extra: Vec<&str> = rest.iter().map(String::as_str).collect();
    let setup = Setup {
        paths: &["src/**"],
        ..Setup::default()
    };
    let rig = Rig::with(Server::start().await, setup).await;
    let out = run_acp(&rig, &python, &extra, &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    let j = journal(&rig);
    assert_eq!(outcome(&j, "Commit the fix"), "allow", "git is allowed");
    assert_eq!(outcome(&j, "Run curl"), "reject", "curl is not");
    assert_eq!(str_field(&rig.task().await, "status"), "pr_opened");
}
