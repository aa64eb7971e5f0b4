//! The rig of the agent hand-off stories (`worker_agent*`): a bare git repository on disk as
//! `origin`, a fake agent script that edits a file and commits, a fake `gh` on `PATH` that records
//! its arguments and prints a pull request URL, and a real `owp serve` holding one task.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Server, str_field};

pub(crate) const REPO: &str = "acme/widgets";

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Seed")
        .env("GIT_AUTHOR_EMAIL", "seed@example.com")
        .env("GIT_COMMITTER_NAME", "Seed")
        .env("GIT_COMMITTER_EMAIL", "seed@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A bare repository with one commit on `main`.
pub(crate) struct Origin {
    pub(crate) bare: PathBuf,
    pub(crate) main_sha: String,
}

pub(crate) fn origin(dir: &Path) -> Origin {
    let bare = dir.join("origin.git");
    git(dir, &["init", "-q", "--bare", "-b", "main", "origin.git"]);
    let seed = dir.join("seed");
    git(dir, &["clone", "-q", "origin.git", "seed"]);
    std::fs::write(seed.join("file.txt"), "start\n").unwrap();
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "-q", "-m", "seed"]);
    git(&seed, &["push", "-q", "origin", "HEAD:main"]);
    let main_sha = git(&bare, &["rev-parse", "refs/heads/main"]);
    Origin { bare, main_sha }
}

/// The fake agent: `agent.sh WORKDIR TASK_ID BRIEF`, doing what `$AGENT_MODE` says.
pub(crate) const AGENT: &str = r#"#!/bin/sh
cd "$1" || exit 9
test -f "$3" || { echo "no brief at $3"; exit 8; }
if grep -q "^# OWP plan brief" "$3"; then
  echo "agent planning $2"
  echo "scratch" > scratch.txt
  printf 'Plan: append a line to file.txt.\n' > PLAN.md
  if [ "$AGENT_MODE" = plancommit ]; then
    git add PLAN.md && git -c user.name=Agent -c user.email=agent@example.com commit -q -m plan \
      || { echo "cannot commit the plan"; exit 5; }
  fi
  exit 0
fi
echo "agent working on $2"
case "$AGENT_MODE" in
  fail) echo "agent gave up"; exit 3 ;;
  leak) echo "calling the API with key $ANTHROPIC_API_KEY"; echo "Authorization: Bearer $ANTHROPIC_API_KEY"; exit 3 ;;
  nocommit) exit 0 ;;
  dirty) echo "half done" >> file.txt; exit 0 ;;
  envdump) env > "$3.env" ;;
  slow) sleep "${AGENT_SLEEP:-30}" ;;
  planned) grep -q "Plan: append a line to file.txt." "$3" || { echo "no plan in the brief"; exit 7; } ;;
esac
echo "${AGENT_WRITES:-good}" >> file.txt
git add file.txt
git -c user.name=Agent -c user.email=agent@example.com commit -q -m "work on $2"
"#;

/// The fake `gh`: records its arguments (NUL-separated; each call after the one before) and
/// prints a pull request URL.
pub(crate) const GH: &str = r#"#!/bin/sh
printf '%s\0' "$@" >> "$GH_LOG"
echo "Creating pull request"
echo "https://github.com/acme/widgets/pull/42"
"#;

pub(crate) struct Rig {
    pub(crate) server: Server,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) origin: Origin,
    pub(crate) task_id: String,
    /// Every `owp` command the rig ran and what it printed, for the reviewed snapshot.
    pub(crate) transcript: std::sync::Mutex<String>,
    /// The process id of the `owp` command running now, for a test that signals it.
    pub(crate) running: std::sync::Mutex<Option<u32>>,
}

impl Drop for Rig {
    /// What `owp` printed in the story is checked against its reviewed snapshot.
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let transcript = std::mem::take(&mut *self.transcript.lock().unwrap());
        if let Some(name) = crate::reviewed::test_name() {
            let dir = self.dir.path().display().to_string();
            // How often a run retried a server that went away, and whether a heartbeat fell in
            // that while, depends on timing.
            let kept: Vec<&str> = transcript
                .lines()
                .filter(|line| {
                    ![
                        "could not reach the server",
                        "heartbeat failed",
                        "heartbeat ok again",
                    ]
                    .iter()
                    .any(|timed| line.contains(timed))
                })
                .collect();
            crate::reviewed::check(
                "cli",
                &name,
                &kept.join("\n").replace(&dir, "[dir]"),
                "What `owp` printed in the worker's story, command by command.",
            );
        }
    }
}

/// What a rig's repository and task look like.
pub(crate) struct Setup<'a> {
    pub(crate) repo: &'a str,
    pub(crate) key: &'a str,
    pub(crate) description: &'a str,
    pub(crate) test: Option<&'a str>,
    /// The bare repository's path as the clone URL (else none).
    pub(crate) clone_url: bool,
    pub(crate) visibility: &'a str,
    /// The repository takes plans first (`approval: plan`, nobody skips).
    pub(crate) plan_first: bool,
    /// The task's paths.
    pub(crate) paths: &'a [&'a str],
    /// The contract asks for drafts first (`pull_requests: draft`).
    pub(crate) drafts: bool,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup {
            repo: REPO,
            key: "acme/widgets#7",
            description: "Empty input breaks it.",
            test: None,
            clone_url: true,
            visibility: "private",
            plan_first: false,
            paths: &[],
            drafts: false,
        }
    }
}

impl Rig {
    pub(crate) async fn new(server: Server, test: Option<&str>) -> Rig {
        Rig::with(
            server,
            Setup {
                test,
                ..Setup::default()
            },
        )
        .await
    }

    pub(crate) async fn with(server: Server, setup: Setup<'_>) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let origin = origin(dir.path());
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for (name, text) in [("gh", GH), ("agent.sh", AGENT)] {
            let path = bin.join(name);
            std::fs::write(&path, text).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        let mut contract = json!({
            "branch": "owp/{number}-{slug}",
            "pr_template": "## Summary\nMade by the pool.",
            "instructions": "Only touch file.txt.",
        });
        if let Some(test) = setup.test {
            contract["test"] = json!(test);
        }
        if setup.drafts {
            contract["pull_requests"] = json!("draft");
        }
        let mut policy = json!({"repo": setup.repo, "max_open_prs": 3, "contract": contract,
                                "visibility": setup.visibility});
        if setup.plan_first {
            policy["approval"] = json!("plan");
        }
        if setup.clone_url {
            policy["clone_url"] = json!(origin.bare.display().to_string());
        }
        server
            .admin_post("/v1/admin/repos", policy)
            .await
            .expect(201);
        let ids = server
            .import_ids(
                setup.repo,
                json!([{"key": setup.key, "title": "Fix the parser", "description": setup.description,
                        "paths": setup.paths}]),
            )
            .await;
        let rig = Rig {
            server,
            dir,
            origin,
            task_id: ids[0].clone(),
            transcript: Default::default(),
            running: Default::default(),
        };
        let out = rig
            .owp(
                &rig.server.base,
                &["worker", "register", "--name", "seat", "--skills", "rust"],
                &[],
            )
            .await;
        assert!(out.status.success(), "{}", text(&out));
        rig
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) async fn owp(&self, server: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"));
        cmd.args(args)
            .env("OWP_SERVER", server)
            .env("OWP_CONFIG_DIR", self.path("config"))
            .env("PATH", path)
            .env("GH_LOG", self.path("gh.log"))
            .env_remove("OWP_PROFILE")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("owp runs");
        *self.running.lock().unwrap() = child.id();
        // A guard against a run that never ends, not a measure of speed: a story may wait a
        // minute or two for a lease to expire on the server's clock.
        let out = tokio::time::timeout(Duration::from_secs(300), child.wait_with_output())
            .await
            .expect("owp finished in time")
            .expect("owp runs");
        *self.running.lock().unwrap() = None;
        self.transcript.lock().unwrap().push_str(&format!(
            "$ owp {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
        out
    }

    /// The fake agent's command template, after `prefix` (e.g. `KEY=value `).
    pub(crate) fn agent(&self, prefix: &str) -> String {
        format!(
            "{prefix}{} {{workdir}} {{task_id}} {{brief}}",
            self.path("bin").join("agent.sh").display()
        )
    }

    /// `owp worker run --agent … --once` through `server` (a URL), with the bare repository on
    /// disk allowed as the clone URL and the fake agent's settings passed to it.
    pub(crate) async fn run_once(
        &self,
        server: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Output {
        let mut all = vec!["--allow-local-clone"];
        all.extend_from_slice(extra);
        self.run_agent(server, &self.agent(""), &all, env).await
    }

    /// `owp worker run --agent AGENT --once` with `extra` flags.
    pub(crate) async fn run_agent(
        &self,
        server: &str,
        agent: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Output {
        self.run_handing(server, ("--agent", agent), extra, env)
            .await
    }

    /// `owp worker run FLAG COMMAND --once` (`--agent` or `--acp`) with `extra` flags.
    pub(crate) async fn run_handing(
        &self,
        server: &str,
        (flag, agent): (&str, &str),
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Output {
        let workdir = self.path("work").display().to_string();
        let mut args = vec![
            "worker",
            "run",
            "--once",
            "--wait",
            "1",
            flag,
            agent,
            "--workdir",
            &workdir,
        ];
        for name in ["AGENT_MODE", "AGENT_SLEEP", "AGENT_WRITES"] {
            args.extend(["--pass-env", name]);
        }
        args.extend_from_slice(extra);
        self.owp(server, &args, env).await
    }

    pub(crate) fn branch_in_origin(&self, branch: &str) -> bool {
        Command::new("git")
            .args([
                "rev-parse",
                "--verify",
                "-q",
                &format!("refs/heads/{branch}"),
            ])
            .current_dir(&self.origin.bare)
            .output()
            .unwrap()
            .status
            .success()
    }

    pub(crate) fn main_untouched(&self) {
        assert_eq!(
            git(&self.origin.bare, &["rev-parse", "refs/heads/main"]),
            self.origin.main_sha,
            "the default branch moved"
        );
    }

    /// Sends SIGINT (a Ctrl-C at the terminal) to the `owp` command running now.
    #[cfg(unix)]
    pub(crate) fn ctrl_c(&self) {
        let pid = self.running.lock().unwrap().expect("an owp command runs");
        let sent = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -INT {pid}");
    }

    pub(crate) async fn task(&self) -> Value {
        self.server.task(&self.task_id).await
    }

    /// Every event of the task, as one text (to look for a nack reason).
    pub(crate) async fn events_text(&self) -> String {
        let state = self
            .server
            .admin_get("/v1/admin/state?events=1000")
            .await
            .expect_ok();
        state["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["task_id"] == self.task_id.as_str())
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub(crate) const BRANCH: &str = "owp/7-fix-the-parser";

/// A failed hand-off: `--once` exits non-zero, the task is back in the pool with a reason that
/// says what failed, nothing reached origin.
pub(crate) async fn expect_nack(rig: &Rig, out: &Output, reason_part: &str) {
    assert!(!out.status.success(), "{}", text(out));
    let task = rig.task().await;
    assert_eq!(str_field(&task, "status"), "ready", "{task}\n{}", text(out));
    let events = rig.events_text().await;
    assert!(
        events.contains(reason_part),
        "no {reason_part:?} in events:\n{events}\n{}",
        text(out)
    );
    assert!(!rig.branch_in_origin(BRANCH), "a failed run pushed");
    assert!(
        !rig.path("gh.log").exists(),
        "a failed run opened a pull request"
    );
    rig.main_untouched();
}
