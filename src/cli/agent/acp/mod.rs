//! `owp worker run --acp COMMAND`: the lease handed to an agent that speaks the Agent Client
//! Protocol (JSON-RPC over its stdio). The runner is the ACP *client*: it starts the agent in the
//! task's worktree, `initialize`s it (declaring that it serves `fs/read_text_file` and
//! `fs/write_text_file`, and no terminal), opens a session there (`session/new`), prompts it with
//! the brief (`session/prompt`), follows its `session/update`s ([`progress`]), answers its
//! `session/request_permission`s and serves its file reads and writes by the lease's [`rules`],
//! and `session/cancel`s it (then stops its process tree after a grace period) when the lease is
//! lost, the time is up, it goes silent or the volunteer presses Ctrl-C (a second Ctrl-C stops
//! the tree at once).
//!
//! The session ends when the prompt's answer comes: `end_turn` is the agent's success (the runner
//! then tests, pushes and opens the pull request as for `--agent`); any other stop reason, an
//! error, or the agent leaving early gives the task back.
//!
//! The protocol is spoken here, over tokio, rather than through the `agent-client-protocol`
//! crate: that crate brings its own process handling and async runtime, and the runner needs the
//! platform shell, the restricted environment and the process-tree stop it uses for `--agent`.

pub mod progress;
pub mod rules;
mod wire;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};
use tokio::io::BufReader;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::interrupt::{Interrupt, Level};
use super::process::{self, Ended};
use crate::cli::client::present::now_clock;
use crate::cli::client::say;
use progress::Progress;
use rules::Rules;
use wire::{Incoming, Sender, Transcript};

/// The ACP version spoken.
pub const PROTOCOL_VERSION: u64 = 1;
/// The largest file served to the agent.
const MAX_READ_BYTES: u64 = 8 * 1024 * 1024;
/// How long a cancelled agent has to end its turn before its processes are stopped.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);
/// How long the agent may say nothing before its session is cancelled.
pub const DEFAULT_SILENCE: Duration = Duration::from_secs(20 * 60);

/// One session: what to run, where, with what brief and rules.
pub struct Session<'a> {
    /// The command line (placeholders filled), run through the platform's shell.
    pub command_line: &'a str,
    /// The variables passed beyond the allow-list.
    pub pass_env: &'a [String],
    /// Further variables for the agent (`OWP_TASK_ID`, …).
    pub env: Vec<(&'static str, String)>,
    pub workspace: &'a Path,
    pub log: &'a Path,
    pub lease_id: &'a str,
    /// The prompt: the brief's text.
    pub brief: String,
    pub rules: Rules,
    /// `--max-minutes`.
    pub limit: Option<Duration>,
    pub grace: Duration,
    pub silence: Duration,
    /// The volunteer's Ctrl-C: the first comes as a reason on the stop channel, a second ends the
    /// grace period at once.
    pub interrupt: Interrupt,
}

/// The transcript of the messages of a lease's session, beside its log.
pub fn transcript_for(log: &Path) -> std::path::PathBuf {
    log.with_extension("acp.log")
}

/// The session of one lease: the brief as the prompt, the task's paths and the volunteer's
/// choices as its rules.
pub fn for_lease<'a>(
    (pass_env, max_minutes): (&'a [String], Option<f64>),
    lease: &'a crate::cli::client::Lease,
    layout: &'a super::workspace::Layout,
    command_line: &'a str,
    allowed: &rules::Allowed,
    env: Vec<(&'static str, String)>,
) -> anyhow::Result<Session<'a>> {
    let brief = std::fs::read_to_string(&layout.brief)
        .with_context(|| format!("cannot read the brief {}", layout.brief.display()))?;
    let rules = Rules::new(&layout.worktree, &lease.task.paths, allowed.clone())
        .with_context(|| format!("cannot open the worktree {}", layout.worktree.display()))?;
    let seconds = |name: &str, default: Duration| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(default, |s| Duration::from_secs(s.max(1)))
    };
    Ok(Session {
        command_line,
        pass_env,
        env,
        workspace: &layout.worktree,
        log: &layout.log,
        lease_id: &lease.lease_id,
        brief,
        rules,
        limit: max_minutes.map(|m| Duration::from_secs_f64(m * 60.0)),
        grace: seconds("OWP_ACP_GRACE_SECONDS", DEFAULT_GRACE),
        silence: seconds("OWP_ACP_SILENCE_SECONDS", DEFAULT_SILENCE),
        interrupt: Interrupt::never(),
    })
}

/// Where the session is.
enum Phase {
    Initializing(u64),
    Opening(u64),
    Prompting(u64),
}

/// Runs one session to its end.
pub async fn run(
    s: Session<'_>,
    mut stop: watch::Receiver<Option<String>>,
) -> anyhow::Result<Ended> {
    let mut cmd = process::shell(s.command_line);
    super::env::restrict(&mut cmd, s.pass_env);
    for (k, v) in &s.env {
        cmd.env(k, v);
    }
    let mut child = process::spawn_tree(cmd, s.workspace, Stdio::piped())?;
    let pid = child.id();
    // The messages go to a transcript of their own: the log's last lines (the agent's stderr)
    // are what a failure tells the pool, and the messages hold the brief and the files.
    let transcript = Transcript::open(&transcript_for(s.log)).await?;
    let stderr_log = std::sync::Arc::new(tokio::sync::Mutex::new(process::open_log(s.log).await?));
    if let Some(err) = child.stderr.take() {
        tokio::spawn(process::pump(err, stderr_log, false));
    }
    let (lines_tx, mut lines) = mpsc::channel(64);
    let mut out = BufReader::new(child.stdout.take().context("the agent has no stdout")?);
    let reader = tokio::spawn(async move {
        loop {
            let line = wire::read_line(&mut out).await;
            let last = !matches!(line, Ok(Some(_)));
            if lines_tx.send(line).await.is_err() || last {
                break;
            }
        }
    });
    let stdin = child.stdin.take().context("the agent has no stdin")?;
    let mut talk = Talk {
        tx: Sender::new(stdin, transcript),
        rules: &s.rules,
        session_id: None,
        progress: Progress::new(s.log, s.lease_id),
        cancelling: None,
    };
    let ended = talk.drive(&s, &mut lines, &mut stop).await;
    reader.abort();
    // The turn is over (or the agent is being stopped): its stdin closes, and its processes get
    // a moment to leave by themselves, unless the volunteer pressed Ctrl-C twice.
    drop(talk.tx);
    let mut hurry = s.interrupt.clone();
    let left = tokio::select! {
        left = tokio::time::timeout(Duration::from_secs(3), child.wait()) => left.is_ok(),
        () = hurry.reached(Level::Now) => false,
    };
    if !left {
        process::kill_tree(pid, &mut child).await;
    }
    let ended = ended?;
    talk.progress.ended(&match &ended {
        Ended::Exited(Some(0)) => "end_turn".to_string(),
        other => other.describe(),
    });
    Ok(ended)
}

/// The client's half of the conversation.
struct Talk<'r, W> {
    tx: Sender<W>,
    rules: &'r Rules,
    session_id: Option<String>,
    progress: Progress,
    /// Why the session is being cancelled, and when its processes are stopped regardless.
    cancelling: Option<(String, Instant)>,
}

type Lines = mpsc::Receiver<std::io::Result<Option<String>>>;

impl<W: tokio::io::AsyncWrite + Unpin> Talk<'_, W> {
    async fn drive(
        &mut self,
        s: &Session<'_>,
        lines: &mut Lines,
        stop: &mut watch::Receiver<Option<String>>,
    ) -> anyhow::Result<Ended> {
        let capabilities = json!({
            "fs": {"readTextFile": true, "writeTextFile": true},
            "terminal": false
        });
        let id = self
            .tx
            .request(
                "initialize",
                json!({"protocolVersion": PROTOCOL_VERSION, "clientCapabilities": capabilities,
                       "clientInfo": {"name": "owp", "version": env!("CARGO_PKG_VERSION")}}),
            )
            .await?;
        let mut phase = Phase::Initializing(id);
        let deadline = s.limit.map(|d| Instant::now() + d);
        let mut heard = Instant::now();
        let mut hurry = s.interrupt.clone();
        loop {
            let cancel_at = self.cancelling.as_ref().map(|(_, at)| *at);
            let dirty = self.progress.dirty();
            let line = tokio::select! {
                line = lines.recv() => line,
                _ = tokio::time::sleep(progress::WRITE_EVERY), if dirty => {
                    self.progress.flush();
                    continue;
                }
                why = stopped(stop), if cancel_at.is_none() => {
                    self.cancel(why, s.grace).await;
                    continue;
                }
                _ = sleep_until(deadline), if cancel_at.is_none() => {
                    let minutes = s.limit.map_or(0.0, |d| d.as_secs_f64() / 60.0);
                    self.cancel(format!("it ran past the limit of {minutes} minute(s) (--max-minutes)"), s.grace).await;
                    continue;
                }
                _ = tokio::time::sleep_until(heard + s.silence), if cancel_at.is_none() => {
                    self.cancel(format!("the agent said nothing for {} s", s.silence.as_secs()), s.grace).await;
                    continue;
                }
                // The grace period ends, or a second Ctrl-C ends it at once.
                () = async {
                    tokio::select! {
                        () = sleep_until(cancel_at) => {}
                        () = hurry.reached(Level::Now) => {}
                    }
                }, if cancel_at.is_some() => {
                    let why = self.cancelling.take().map(|(w, _)| w).unwrap_or_default();
                    return Ok(Ended::Stopped(why));
                }
            };
            let line = match line {
                Some(Ok(Some(line))) => line,
                Some(Err(e)) => return Ok(self.gone(format!("the agent's output failed: {e}"))),
                None | Some(Ok(None)) => {
                    return Ok(self.gone("the agent ended before its turn did".into()));
                }
            };
            heard = Instant::now();
            self.tx.transcript().note("agent → client", &line).await;
            let message = match wire::parse(&line) {
                Ok(m) => m,
                Err(e) => {
                    return Ok(Ended::Stopped(format!(
                        "the agent sent something that is no ACP message ({e})"
                    )));
                }
            };
            match message {
                Incoming::Response { id, result } => {
                    if let Some(ended) = self.answered(s, &mut phase, &id, result).await? {
                        return Ok(ended);
                    }
                }
                Incoming::Request { id, method, params } => {
                    let answer = self.serve(&method, &params);
                    self.tx.answer(id, answer).await?;
                }
                Incoming::Notification { method, params } => {
                    if method == "session/update" && self.ours(&params) {
                        self.progress.update(&params["update"]);
                    }
                }
            }
        }
    }

    /// The agent ended its side: the reason the session was being cancelled, or `why`.
    fn gone(&mut self, why: String) -> Ended {
        match self.cancelling.take() {
            Some((reason, _)) => Ended::Stopped(reason),
            None => Ended::Stopped(why),
        }
    }

    /// Asks the agent to stop its turn; its processes are stopped after `grace` regardless.
    async fn cancel(&mut self, why: String, grace: Duration) {
        // A Ctrl-C was said by `owp worker run` when it was pressed.
        if why != super::interrupt::REASON {
            say!("{}  cancelling the agent's session: {why}", now_clock());
        }
        if let Some(id) = self.session_id.clone() {
            let _ = self
                .tx
                .notify("session/cancel", json!({"sessionId": id}))
                .await;
            self.cancelling = Some((why, Instant::now() + grace));
        } else {
            self.cancelling = Some((why, Instant::now()));
        }
    }

    fn ours(&self, params: &Value) -> bool {
        self.session_id.is_some() && params["sessionId"].as_str() == self.session_id.as_deref()
    }

    /// The answer to one of our requests; `Some` when the session is over.
    async fn answered(
        &mut self,
        s: &Session<'_>,
        phase: &mut Phase,
        id: &Value,
        result: Result<Value, String>,
    ) -> anyhow::Result<Option<Ended>> {
        let (expected, method) = match phase {
            Phase::Initializing(i) => (*i, "initialize"),
            Phase::Opening(i) => (*i, "session/new"),
            Phase::Prompting(i) => (*i, "session/prompt"),
        };
        if id.as_u64() != Some(expected) {
            return Ok(None);
        }
        let result = match result {
            Ok(r) => r,
            Err(e) if self.cancelling.is_some() => {
                let why = self.cancelling.take().map(|(w, _)| w).unwrap_or(e);
                return Ok(Some(Ended::Stopped(why)));
            }
            Err(e) => {
                return Ok(Some(Ended::Stopped(format!(
                    "the agent answered {method} with an error: {}",
                    progress::clean(&e)
                ))));
            }
        };
        match phase {
            Phase::Initializing(_) => {
                let version = result["protocolVersion"].as_u64();
                if version != Some(PROTOCOL_VERSION) {
                    return Ok(Some(Ended::Stopped(format!(
                        "the agent speaks ACP version {}, and owp speaks {PROTOCOL_VERSION}",
                        version.map_or("(none)".to_string(), |v| v.to_string())
                    ))));
                }
                let cwd = s.rules.workspace().to_string_lossy();
                let id = self
                    .tx
                    .request("session/new", json!({"cwd": cwd, "mcpServers": []}))
                    .await?;
                *phase = Phase::Opening(id);
            }
            Phase::Opening(_) => {
                let Some(session) = result["sessionId"].as_str().filter(|s| !s.is_empty()) else {
                    return Ok(Some(Ended::Stopped("the agent opened no session".into())));
                };
                self.session_id = Some(session.to_string());
                if let Some((why, _)) = self.cancelling.clone() {
                    return Ok(Some(Ended::Stopped(why)));
                }
                say!(
                    "{}  agent session {} opened; prompting it with the brief",
                    now_clock(),
                    progress::clean(session)
                );
                let prompt = json!({"sessionId": session,
                                    "prompt": [{"type": "text", "text": s.brief}]});
                let id = self.tx.request("session/prompt", prompt).await?;
                *phase = Phase::Prompting(id);
            }
            Phase::Prompting(_) => {
                let reason = result["stopReason"].as_str().unwrap_or("").to_string();
                if let Some((why, _)) = self.cancelling.take() {
                    return Ok(Some(Ended::Stopped(why)));
                }
                return Ok(Some(match reason.as_str() {
                    "end_turn" => Ended::Exited(Some(0)),
                    other => Ended::Stopped(format!(
                        "the agent ended its turn with `{}`",
                        progress::clean(other)
                    )),
                }));
            }
        }
        Ok(None)
    }

    /// The answer to the agent's request `method`.
    fn serve(&mut self, method: &str, params: &Value) -> Result<Value, (i64, String)> {
        let refused = |why: String| {
            (
                -32000_i64,
                format!("refused by the volunteer's rules: {why}"),
            )
        };
        if !matches!(
            method,
            "session/request_permission" | "fs/read_text_file" | "fs/write_text_file"
        ) {
            return Err((-32601, format!("{method} is not offered by this client")));
        }
        if !self.ours(params) {
            return Err((-32602, "unknown sessionId".into()));
        }
        match method {
            "session/request_permission" => {
                let call = &params["toolCall"];
                let verdict = if self.cancelling.is_some() {
                    return Ok(json!({"outcome": {"outcome": "cancelled"}}));
                } else {
                    self.rules.permission(call)
                };
                let title = progress::clean(call["title"].as_str().unwrap_or("a tool call"));
                Ok(choose(
                    params["options"].as_array(),
                    verdict.as_ref().err(),
                    &title,
                ))
            }
            "fs/read_text_file" => {
                let path = self
                    .rules
                    .read(params["path"].as_str().unwrap_or(""))
                    .map_err(refused)?;
                read_text(&path, params["line"].as_u64(), params["limit"].as_u64())
                    .map(|content| json!({"content": content}))
                    .map_err(|e| (-32002, e))
            }
            _ => {
                let raw = params["path"].as_str().unwrap_or("");
                let path = self.rules.write(raw).map_err(|why| {
                    say!("{}  refused a write: {why}", now_clock());
                    refused(why)
                })?;
                let content = params["content"]
                    .as_str()
                    .ok_or((-32602, "no content".to_string()))?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| (-32603, format!("cannot write: {e}")))?;
                }
                std::fs::write(&path, content)
                    .map_err(|e| (-32603, format!("cannot write: {e}")))?;
                Ok(Value::Null)
            }
        }
    }
}

/// The permission outcome: an `allow_once` option when allowed (never `allow_always`: every
/// request is judged again), else a reject option (or `cancelled` when the agent offers none).
fn choose(options: Option<&Vec<Value>>, refusal: Option<&String>, title: &str) -> Value {
    let options = options.map(Vec::as_slice).unwrap_or_default();
    let find = |kinds: &[&str]| {
        kinds.iter().find_map(|k| {
            options
                .iter()
                .find(|o| o["kind"] == *k)
                .and_then(|o| o["optionId"].as_str())
        })
    };
    let picked = match refusal {
        None => find(&["allow_once"]),
        Some(why) => {
            say!("{}  refused {title}: {why}", now_clock());
            find(&["reject_once", "reject_always"])
        }
    };
    match picked {
        Some(option) => json!({"outcome": {"outcome": "selected", "optionId": option}}),
        None => json!({"outcome": {"outcome": "cancelled"}}),
    }
}

/// A text file's content, from its 1-based `line`, at most `limit` lines.
fn read_text(path: &Path, line: Option<u64>, limit: Option<u64>) -> Result<String, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read: {e}"))?
        .len();
    if size > MAX_READ_BYTES {
        return Err(format!(
            "the file has {size} bytes, more than this client serves"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    if line.is_none() && limit.is_none() {
        return Ok(text);
    }
    let skip = usize::try_from(line.unwrap_or(1).saturating_sub(1)).unwrap_or(usize::MAX);
    let take = limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    Ok(text.split_inclusive('\n').skip(skip).take(take).collect())
}

async fn stopped(stop: &mut watch::Receiver<Option<String>>) -> String {
    loop {
        if let Some(why) = stop.borrow_and_update().clone() {
            return why;
        }
        if stop.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_answers_pick_once_options() {
        let options = vec![
            json!({"optionId": "always", "kind": "allow_always", "name": "Always"}),
            json!({"optionId": "once", "kind": "allow_once", "name": "Once"}),
            json!({"optionId": "no", "kind": "reject_once", "name": "No"}),
        ];
        assert_eq!(
            choose(Some(&options), None, "x")["outcome"]["optionId"],
            "once"
        );
        let why = "outside".to_string();
        assert_eq!(
            choose(Some(&options), Some(&why), "x")["outcome"]["optionId"],
            "no"
        );
        let only_always = vec![options[0].clone()];
        assert_eq!(
            choose(Some(&only_always), None, "x")["outcome"]["outcome"],
            "cancelled"
        );
    }

    #[test]
    fn reads_take_lines() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.txt");
        std::fs::write(&f, "1\n2\n3\n").unwrap();
        assert_eq!(read_text(&f, Some(2), Some(1)).unwrap(), "2\n");
        assert_eq!(read_text(&f, None, None).unwrap(), "1\n2\n3\n");
    }
}
