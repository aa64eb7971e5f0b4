//! `owp mcp`: a Model Context Protocol server on stdio, so an AI coding tool can be an OWP worker
//! by itself.
//!
//! It acts as one saved worker profile (`owp worker register --profile NAME`): its tools claim,
//! acknowledge, renew, give back and report leases through the same [`OwpClient`] as `owp worker`,
//! and it sends heartbeats while the session is open (a heartbeat also renews the leases held).
//! Every failure is a tool result with `isError` and one readable line; stdout carries only the
//! protocol (logs go to stderr, or to `--log-file`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams, ContentBlock,
    GetTaskParams, GetTaskResult, Implementation, ListResourceTemplatesResult, ListResourcesResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
    Resource, ResourceContents, ResourceTemplate, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use serde_json::{Value, json};

use super::brief;
use super::client::{ClientError, Lease, OwpClient, Task};
use super::present::{clip, plain};
use super::worker::{WorkerConfig, config_dir, config_file, load_config};

/// The longest lease or task id a tool accepts.
pub const MAX_ID_LEN: usize = 128;
/// The longest `reason` (nack) or `note` (report) a tool accepts.
pub const MAX_TEXT_LEN: usize = 2000;
/// The longest plan `owp_propose` accepts (the contract's bound, section 12).
pub const MAX_PLAN_LEN: usize = 4000;
/// The longest pull request URL a tool accepts.
pub const MAX_URL_LEN: usize = 2048;
/// The longest error line a tool answers.
const MAX_ERROR_LEN: usize = 600;
/// Claims start at most this often, so a tool calling `owp_claim` in a loop cannot flood the server.
const MIN_CLAIM_GAP: Duration = Duration::from_secs(1);
/// Any two calls to the server start at least this far apart (at most 20 a second).
const MIN_CALL_GAP: Duration = Duration::from_millis(50);
/// The statuses a worker reports through `owp_report`.
pub const REPORT_STATUSES: [&str; 3] = ["in_progress", "pr_opened", "blocked"];

mod input;
mod link;
mod task;
mod tasks;
pub use input::*;

const BRIEF_URI_PREFIX: &str = "owp://tasks/";
const BRIEF_URI_SUFFIX: &str = "/brief";

#[derive(clap::Args, Debug, Clone)]
pub struct McpArgs {
    /// The saved worker profile to act as (`owp worker register --profile NAME`).
    #[arg(long, env = "OWP_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// OWP server URL [default: the server the profile registered with]
    #[arg(long, env = "OWP_SERVER")]
    pub server: Option<String>,
    /// Where registrations are saved [default: $XDG_CONFIG_HOME/owp or ~/.config/owp]
    #[arg(long, env = "OWP_CONFIG_DIR", value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// Append log lines to this file instead of stderr (stdout is the protocol's).
    #[arg(long, env = "OWP_MCP_LOG", value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Which log lines are written: a `tracing` filter, e.g. `owp=debug` [default:
    /// owp=info,rmcp=warn, or RUST_LOG]
    #[arg(long = "log", env = "OWP_LOG", value_name = "FILTER")]
    pub log_filter: Option<String>,
}

/// What the server tells the AI tool when it connects.
pub const INSTRUCTIONS: &str = "\
This server makes you a worker of an OWP pool (Open Work Protocol): maintainers publish tasks, \
you take one at a time and hand in a pull request.
Workflow:
1. owp_claim {wait_seconds?} offers you a lease (a task with its brief and the repository's \
contract), or none when nothing fits right now.
2. Read the brief; if you will do the task, call owp_ack {lease_id} before `accept_by`, otherwise \
owp_nack {lease_id, reason} to give it back at once.
3. Work in the task's repository following the contract (setup, test, lint, branch, PR template). \
While this session is open, heartbeats keep your leases alive; owp_renew {lease_id} extends one \
explicitly.
4. Open the pull request (link the issue), then owp_report {task_id, status: \"pr_opened\", \
pr_url}. If you cannot finish, owp_nack {lease_id, reason}; if the task needs a maintainer's \
decision, owp_report {task_id, status: \"blocked\", note}.
owp_current lists the leases you hold with their briefs; owp_brief {task_id} shows one brief (also \
the resource owp://tasks/{task_id}/brief); owp_task {task_id} shows a task with its repository's \
policy and the rules for the work (plans first, verified commits, disclosure, commands); when owp_claim finds nothing, owp_why names every rule \
that keeps each ready task from you. Where a repository takes plans first (owp_why: \
approval_required), owp_propose {task_id, plan} proposes one and owp_proposals {task_id} shows its \
state; an approved plan's lease comes first from owp_claim. Tasks of GitHub repositories are worked \
only by proven people: owp_link shows the person a code to enter on GitHub's page, and called again \
finishes the proof. A tool error explains in one line what went wrong.";

// ---- tool errors ------------------------------------------------------------------------------

/// One line explaining why `tool` failed, for the AI tool and the person behind it.
pub fn explain(tool: &str, error: &ClientError, profile: Option<&str>) -> String {
    let register = format!(
        "owp worker register{} --name NAME --skills a,b",
        profile
            .map(|p| format!(" --profile {p}"))
            .unwrap_or_default()
    );
    let text = match error {
        ClientError::WorkerTokenRefused { problem } => {
            let detail = problem
                .as_ref()
                .map(|p| format!(" ({})", p.summary()))
                .unwrap_or_default();
            format!(
                "the OWP server refused this worker's token (401){detail}: register again with `{register}`"
            )
        }
        ClientError::MissingWorkerToken => {
            format!("this profile has no worker token: run `{register}`")
        }
        ClientError::Problem { status, problem } => {
            let hint = match problem.code.as_deref() {
                Some("lease_not_held" | "lease_expired") => {
                    "; the lease has ended: call owp_claim for new work"
                }
                Some("lease_not_found" | "task_not_found") => "; check the id with owp_current",
                Some("not_lease_holder") => "; this worker does not hold it: see owp_current",
                Some("approval_not_required") => {
                    "; this repository takes claims directly: call owp_claim"
                }
                Some("too_many_proposals") => {
                    "; wait for an answer to your open proposals (owp_proposals), or for room on the task"
                }
                Some("already_proposed") => "; see its state with owp_proposals",
                Some("disclosure_required") => {
                    "; call owp_report again with disclosure: {tool, model?} (`{\"tool\": \"none\"}` for work done by hand)"
                }
                Some("expired_token" | "invalid_device_code") => {
                    "; call owp_link again for a new code"
                }
                Some("linked_elsewhere") => {
                    "; this worker speaks for another GitHub account: register a new worker for this one"
                }
                _ => "",
            };
            format!(
                "the OWP server refused it (HTTP {status}): {}{hint}",
                problem.summary()
            )
        }
        other => other.to_string(),
    };
    clip(&format!("{tool} failed: {text}"), MAX_ERROR_LEN)
}

/// A text of a tool's answer, made [`plain`]: the AI tool may show it to the person in a
/// terminal, so the server's text carries no terminal controls.
fn text_block(text: &str) -> ContentBlock {
    ContentBlock::text(plain(text).into_owned())
}

fn error_result(line: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![text_block(&line.into())])
}

fn invalid(tool: &str, e: InvalidInput) -> CallToolResult {
    error_result(clip(
        &format!("{tool} failed: invalid input: {}", e.0),
        MAX_ERROR_LEN,
    ))
}

/// A successful result: a JSON document first (for programs), then any Markdown.
fn json_result(value: &Value, extra: Vec<String>) -> CallToolResult {
    let mut content = vec![text_block(
        &serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()),
    )];
    content.extend(extra.iter().map(|t| text_block(t)));
    CallToolResult::success(content)
}

// ---- the server -------------------------------------------------------------------------------

/// The saved profile, or why it cannot be used (every tool then answers that line).
#[derive(Clone)]
enum Profile {
    Ready {
        client: OwpClient,
        config: Box<WorkerConfig>,
    },
    Unusable(String),
}

#[derive(Default)]
struct Heartbeat {
    last_ok: Option<String>,
    last_error: Option<String>,
}

struct Inner {
    profile: Profile,
    profile_name: Option<String>,
    heartbeat: Mutex<Heartbeat>,
    /// When the last claim started; claims are spaced by [`MIN_CLAIM_GAP`] and one runs at a time.
    claim: tokio::sync::Mutex<Option<Instant>>,
    /// When the last call to the server started (see [`MIN_CALL_GAP`]).
    last_call: tokio::sync::Mutex<Option<Instant>>,
    /// The proof of the person's GitHub account under way (`owp_link`), one at a time.
    link: tokio::sync::Mutex<Option<link::Pending>>,
    /// The leases and plans followed as MCP tasks, for a client that declares the extension.
    tasks: tasks::Tasks,
}

/// Waits until `gap` has passed since the last start recorded in `slot`, then records now. Waiters
/// queue on the lock, so starts are spaced by `gap` however many calls arrive at once.
async fn pace(slot: &tokio::sync::Mutex<Option<Instant>>, gap: Duration) {
    let mut last = slot.lock().await;
    if let Some(at) = *last {
        let since = at.elapsed();
        if since < gap {
            tokio::time::sleep(gap - since).await;
        }
    }
    *last = Some(Instant::now());
}

/// The MCP service of one worker profile.
#[derive(Clone)]
pub struct OwpMcp {
    inner: Arc<Inner>,
    tool_router: ToolRouter<OwpMcp>,
}

fn brief_uri(task_id: &str) -> String {
    format!("{BRIEF_URI_PREFIX}{task_id}{BRIEF_URI_SUFFIX}")
}

/// The task id of `owp://tasks/{task_id}/brief`.
pub fn task_id_of_uri(uri: &str) -> Option<String> {
    let id = uri
        .strip_prefix(BRIEF_URI_PREFIX)?
        .strip_suffix(BRIEF_URI_SUFFIX)?;
    check_id("task_id", id).ok()
}

fn lease_json(lease: &Lease) -> Value {
    json!({
        "lease_id": lease.lease_id,
        "accept_by": lease.accept_by,
        "expires_at": lease.expires_at,
        "task": lease.task,
        "brief_uri": brief_uri(&lease.task.task_id),
    })
}

#[tool_router]
impl OwpMcp {
    fn new(profile: Profile, profile_name: Option<String>) -> OwpMcp {
        OwpMcp {
            inner: Arc::new(Inner {
                profile,
                profile_name,
                heartbeat: Mutex::new(Heartbeat::default()),
                claim: tokio::sync::Mutex::new(None),
                last_call: tokio::sync::Mutex::new(None),
                link: tokio::sync::Mutex::new(None),
                tasks: tasks::Tasks::default(),
            }),
            tool_router: Self::tool_router(),
        }
    }

    /// The worker's client, or the tool error saying why there is none. Calls to the server start
    /// at least [`MIN_CALL_GAP`] apart.
    async fn client(&self, tool: &str) -> Result<&OwpClient, CallToolResult> {
        match &self.inner.profile {
            Profile::Ready { client, .. } => {
                pace(&self.inner.last_call, MIN_CALL_GAP).await;
                Ok(client)
            }
            Profile::Unusable(why) => Err(error_result(format!("{tool} failed: {why}"))),
        }
    }

    fn fail(&self, tool: &str, e: &ClientError) -> CallToolResult {
        tracing::warn!(tool, error = %e, "call refused or failed");
        error_result(explain(tool, e, self.inner.profile_name.as_deref()))
    }

    #[tool(
        description = "Ask the pool for work. Answers a lease (lease_id, accept_by, expires_at, the task with its repository contract, and a Markdown brief) or `lease: null` when nothing fits now. Acknowledge with owp_ack before accept_by.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = true
        )
    )]
    async fn owp_claim(&self, Parameters(params): Parameters<ClaimParams>) -> CallToolResult {
        const TOOL: &str = "owp_claim";
        let wait = match check_wait(params.wait_seconds) {
            Ok(w) => w,
            Err(e) => return invalid(TOOL, e),
        };
        let client = match self.client(TOOL).await {
            Ok(c) => c,
            Err(r) => return r,
        };
        let Ok(mut last) = self.inner.claim.try_lock() else {
            return error_result(format!(
                "{TOOL} failed: another owp_claim of this session is still waiting; call it again when that one answers"
            ));
        };
        if let Some(at) = *last {
            let since = at.elapsed();
            if since < MIN_CLAIM_GAP {
                tokio::time::sleep(MIN_CLAIM_GAP - since).await;
            }
        }
        *last = Some(Instant::now());
        match client.claim(Some(wait)).await {
            Ok(Some(lease)) => {
                tracing::info!(lease = %lease.lease_id, task = %lease.task.task_id, "claimed");
                let mut value = json!({ "lease": lease_json(&lease) });
                value["next"] = json!(format!(
                    "Read the brief, then owp_ack {{lease_id: \"{}\"}} before {} to start, or owp_nack to give it back.",
                    lease.lease_id, lease.accept_by
                ));
                json_result(&value, vec![brief::render(&lease.task)])
            }
            Ok(None) => json_result(
                &json!({
                    "lease": null,
                    "message": "No task fits this worker right now (skills, capacity, the repositories' review budgets or area locks, or a repository that takes plans first). owp_why names every rule that refuses each ready task: a task it refuses for `approval_required` wants a plan first (read it with owp_task, then propose with owp_propose). Ask again later; wait_seconds (up to 30) lets the server hold the call until work appears.",
                }),
                Vec::new(),
            ),
            Err(e) => self.fail(TOOL, &e),
        }
    }

    #[tool(
        description = "Accept a lease you were offered: the task moves to in_progress and the lease runs a full term.",
        annotations(destructive_hint = false, open_world_hint = true)
    )]
    async fn owp_ack(&self, Parameters(params): Parameters<LeaseParams>) -> CallToolResult {
        self.lease_call("owp_ack", &params.lease_id, None).await
    }

    #[tool(
        description = "Extend a lease you hold by a full term (heartbeats of this session also keep leases alive).",
        annotations(
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn owp_renew(&self, Parameters(params): Parameters<LeaseParams>) -> CallToolResult {
        self.lease_call("owp_renew", &params.lease_id, None).await
    }

    #[tool(
        description = "Give a lease back: the task returns to the queue for someone else. Say why in `reason`.",
        annotations(destructive_hint = true, open_world_hint = true)
    )]
    async fn owp_nack(&self, Parameters(params): Parameters<NackParams>) -> CallToolResult {
        let reason = match check_text("reason", params.reason.as_deref()) {
            Ok(r) => r,
            Err(e) => return invalid("owp_nack", e),
        };
        self.lease_call("owp_nack", &params.lease_id, Some(reason))
            .await
    }

    async fn lease_call(
        &self,
        tool: &str,
        lease_id: &str,
        nack_reason: Option<Option<String>>,
    ) -> CallToolResult {
        let lease_id = match check_id("lease_id", lease_id) {
            Ok(id) => id,
            Err(e) => return invalid(tool, e),
        };
        let client = match self.client(tool).await {
            Ok(c) => c,
            Err(r) => return r,
        };
        let answer = match (tool, nack_reason) {
            ("owp_ack", _) => client.ack(&lease_id).await,
            ("owp_renew", _) => client.renew(&lease_id).await,
            (_, reason) => {
                self.inner.tasks.give_back(&lease_id, true);
                let answer = client.nack(&lease_id, reason.flatten().as_deref()).await;
                if answer.is_err() {
                    self.inner.tasks.give_back(&lease_id, false);
                }
                answer
            }
        };
        match answer {
            Ok(changed) => {
                tracing::info!(tool, lease = %lease_id, "done");
                let task = changed.task();
                let next = match tool {
                    "owp_ack" => {
                        "Work on the task; open the pull request, then owp_report {task_id, status: \"pr_opened\", pr_url}."
                    }
                    "owp_renew" => "The lease runs until expires_at.",
                    _ => "The task is back in the queue; owp_claim asks for other work.",
                };
                json_result(
                    &json!({
                        "lease_id": lease_id,
                        "expires_at": changed.expires_at(),
                        "task": task,
                        "next": next,
                    }),
                    Vec::new(),
                )
            }
            Err(e) => self.fail(tool, &e),
        }
    }

    #[tool(
        description = "Report on a task you hold: `pr_opened` with pr_url when its pull request is open (this ends the lease), `blocked` with a note when it needs a maintainer, or `in_progress`. With `pr_opened`, `disclosure: {tool, model?}` says which tool made the pull request (a repository with `disclosure: required` refuses the report without it); absent, the worker's `agent` and `model` capabilities are used.",
        annotations(destructive_hint = false, open_world_hint = true)
    )]
    async fn owp_report(&self, Parameters(params): Parameters<ReportParams>) -> CallToolResult {
        const TOOL: &str = "owp_report";
        let (task_id, status, artifact, note) = match check_report(&params) {
            Ok(checked) => checked,
            Err(e) => return invalid(TOOL, e),
        };
        let client = match self.client(TOOL).await {
            Ok(c) => c,
            Err(r) => return r,
        };
        let artifact = match artifact {
            Some(a) if status == "pr_opened" => {
                Some(crate::cli::disclosure::disclose(client, a).await)
            }
            other => other,
        };
        match client
            .task_status(&task_id, status, artifact, note.as_deref())
            .await
        {
            Ok(changed) => {
                tracing::info!(task = %task_id, status, "reported");
                let next = match status {
                    "pr_opened" => {
                        "Thank you: maintainers review the pull request. owp_claim asks for more work."
                    }
                    "blocked" => {
                        "A maintainer will look at the note. owp_claim asks for other work."
                    }
                    _ => "Keep working; report pr_opened with the pull request's URL.",
                };
                json_result(
                    &json!({ "task": changed.task().map(|t| json!(t)).unwrap_or(changed.0), "next": next }),
                    Vec::new(),
                )
            }
            Err(e) => self.fail(TOOL, &e),
        }
    }

    #[tool(
        description = "This worker and the leases it holds, each with its task and Markdown brief.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn owp_current(&self) -> CallToolResult {
        const TOOL: &str = "owp_current";
        let client = match self.client(TOOL).await {
            Ok(c) => c,
            Err(r) => return r,
        };
        match client.me().await {
            Ok(me) => {
                let leases: Vec<Value> = me
                    .leases
                    .iter()
                    .map(|lease| {
                        let mut value = lease_json(lease);
                        value["brief"] = Value::String(brief::render(&lease.task));
                        value
                    })
                    .collect();
                let heartbeat = {
                    let hb = self
                        .inner
                        .heartbeat
                        .lock()
                        .unwrap_or_else(|e| e.into_inner());
                    json!({ "last_ok": hb.last_ok, "last_error": hb.last_error })
                };
                json_result(
                    &json!({
                        "worker": {
                            "worker_id": me.worker.worker_id,
                            "name": me.worker.name,
                            "status": me.worker.status,
                            "skills": me.worker.skills,
                            "capacity_points": me.worker.capacity_points,
                            "active_points": me.worker.active_points,
                            "max_concurrent_tasks": me.worker.max_concurrent_tasks,
                            "active_tasks": me.worker.active_tasks,
                        },
                        "leases": leases,
                        "heartbeat": heartbeat,
                    }),
                    Vec::new(),
                )
            }
            Err(e) => self.fail(TOOL, &e),
        }
    }

    #[tool(
        description = "Why not me: which ready tasks a claim would offer this worker now (eligible, best first) and, for each of the others, every scheduling rule that refuses it (rule number, code, detail); a task that wants a plan first (`approval_required`) also with its title and `next`: how to read and propose for it. The tasks this worker may not see (in a private repository, or above its trust) only as a count, {hidden: N}. Changes nothing.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn owp_why(&self) -> CallToolResult {
        const TOOL: &str = "owp_why";
        let client = match self.client(TOOL).await {
            Ok(c) => c,
            Err(r) => return r,
        };
        match client.preview().await {
            Ok(preview) => json_result(&task::why_answer(client, &preview).await, Vec::new()),
            Err(e) => self.fail(TOOL, &e),
        }
    }

    #[tool(
        description = "The Markdown brief of a task you hold: title, description, issue link, skills, area, estimate and the repository's contract (setup, test, lint, branch, PR template, instructions).",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn owp_brief(&self, Parameters(params): Parameters<TaskParams>) -> CallToolResult {
        const TOOL: &str = "owp_brief";
        let task_id = match check_id("task_id", &params.task_id) {
            Ok(id) => id,
            Err(e) => return invalid(TOOL, e),
        };
        match self.fetch_task(TOOL, &task_id).await {
            Ok(task) => CallToolResult::success(vec![text_block(&brief::render(&task))]),
            Err(r) => r,
        }
    }

    #[tool(
        description = "A task you hold, or a ready task you may plan (of a public repository that takes plans first), with its repository's policy (plans first, verified commits, disclosure) and the rules of the pool for this work, as the brief words them: a JSON document (`task` with `policy`, `approved_plan`: your plan a maintainer approved, if any, and `rules`), then the rules as Markdown.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn owp_task(&self, Parameters(params): Parameters<TaskParams>) -> CallToolResult {
        const TOOL: &str = "owp_task";
        let task_id = match check_id("task_id", &params.task_id) {
            Ok(id) => id,
            Err(e) => return invalid(TOOL, e),
        };
        let task = match self.fetch_task(TOOL, &task_id).await {
            Ok(task) => task,
            Err(r) => return r,
        };
        let client = match self.client(TOOL).await {
            Ok(c) => c,
            Err(r) => return r,
        };
        let (value, rules) = task::answer(client, task).await;
        json_result(&value, vec![rules])
    }

    #[tool(
        description = "Propose a plan for a ready task of a repository that takes plans first (plan first, rule 11: owp_why names it `approval_required`). A maintainer approves or declines it; once approved, the task is yours and owp_claim returns its lease first. At most 4,000 characters; at most 3 open proposals of yours across the pool, 5 on a task.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = true
        )
    )]
    async fn owp_propose(&self, Parameters(params): Parameters<ProposeParams>) -> CallToolResult {
        const TOOL: &str = "owp_propose";
        let checked = check_id("task_id", &params.task_id)
            .and_then(|task_id| Ok((task_id, check_plan(&params.plan)?)));
        let (task_id, plan) = match checked {
            Ok(c) => c,
            Err(e) => return invalid(TOOL, e),
        };
        let client = match self.client(TOOL).await {
            Ok(c) => c,
            Err(r) => return r,
        };
        match client.propose(&task_id, &plan).await {
            Ok(proposal) => {
                tracing::info!(task = %task_id, "proposed");
                json_result(
                    &json!({
                        "proposal": proposal,
                        "next": "A maintainer reads the plan. owp_proposals shows its state; once it is approved, owp_claim returns the task's lease.",
                    }),
                    Vec::new(),
                )
            }
            Err(e) => self.fail(TOOL, &e),
        }
    }

    #[tool(
        description = "Your own proposals for a task, each with its state: open, approved, declined, not_chosen (another plan was approved), withdrawn or expired.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn owp_proposals(&self, Parameters(params): Parameters<TaskParams>) -> CallToolResult {
        const TOOL: &str = "owp_proposals";
        let task_id = match check_id("task_id", &params.task_id) {
            Ok(id) => id,
            Err(e) => return invalid(TOOL, e),
        };
        let client = match self.client(TOOL).await {
            Ok(c) => c,
            Err(r) => return r,
        };
        match client.my_proposals(&task_id).await {
            Ok(list) => json_result(&json!({ "proposals": list }), Vec::new()),
            Err(e) => self.fail(TOOL, &e),
        }
    }

    #[tool(
        description = "Prove the GitHub account of the person you work for, so that this worker speaks for them (tasks of GitHub repositories are worked only by proven people). The first call answers a page and a code (`show`: the line to show the person; they open GitHub's device page and enter the code); call owp_link again once they did: `status: linked` with their login, or `waiting`. Where the pool links by comment only, it answers the `/owp link CODE` comment for them to write.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = true
        )
    )]
    async fn owp_link(&self) -> CallToolResult {
        const TOOL: &str = "owp_link";
        let client = match self.client(TOOL).await {
            Ok(c) => c,
            Err(r) => return r,
        };
        let mut pending = self.inner.link.lock().await;
        let fail = |e: &ClientError| {
            tracing::warn!(tool = TOOL, error = %e, "call refused or failed");
            explain(TOOL, e, self.inner.profile_name.as_deref())
        };
        match link::call(client, &mut pending, fail).await {
            link::Answer::Done(value) => {
                if value["status"] == "linked" {
                    tracing::info!("linked to a GitHub account");
                }
                json_result(&value, Vec::new())
            }
            link::Answer::Failed(line) => error_result(clip(&line, MAX_ERROR_LEN)),
        }
    }

    async fn fetch_task(&self, tool: &str, task_id: &str) -> Result<Task, CallToolResult> {
        let client = self.client(tool).await?;
        client
            .get_task(task_id)
            .await
            .map_err(|e| self.fail(tool, &e))
    }
}

/// The first text of a tool error, for resources (which answer protocol errors).
fn first_text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .find_map(|c| match c {
            ContentBlock::Text(t) => Some(t.text.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "failed".into())
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for OwpMcp {
    /// The router's calls, with arguments that do not fit a tool answered as that tool's error
    /// naming the field.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let tool = request.name.to_string();
        if let Some(why) = argument_error(&tool, request.arguments.as_ref()) {
            tracing::warn!(tool, "invalid arguments: {why}");
            return Ok(invalid(&tool, InvalidInput(why)).into());
        }
        // A client that declares the tasks extension gets a task handle for a lease or a plan.
        let tasks_client = context
            .client_capabilities()
            .is_some_and(|c| c.supports_tasks())
            && matches!(tool.as_str(), "owp_claim" | "owp_propose");
        let peer = context.peer.clone();
        let call = ToolCallContext::new(self, request, context);
        let response = self.tool_router.call(call).await?;
        if matches!(
            tool.as_str(),
            "owp_ack" | "owp_report" | "owp_nack" | "owp_renew"
        ) {
            self.inner.tasks.stale();
        }
        if let (true, CallToolResponse::Complete(answer)) = (tasks_client, &response)
            && let Some(handle) = self.inner.tasks.adopt(&tool, answer, peer).await
        {
            tasks::ensure_watching(self);
            return Ok(CallToolResponse::Task(handle));
        }
        Ok(response)
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        tasks::get(self, &request.task_id)
            .await
            .map(GetTaskResult::new)
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        tasks::cancel(self, &request.task_id).await
    }

    fn get_info(&self) -> ServerConfig {
        let mut implementation = Implementation::new("owp", env!("CARGO_PKG_VERSION"));
        implementation.title = Some("OWP Pool worker".into());
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_tasks()
                .build(),
        )
        .with_server_info(implementation)
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let Profile::Ready { client, .. } = &self.inner.profile else {
            return Ok(ListResourcesResult::with_all_items(Vec::new()));
        };
        pace(&self.inner.last_call, MIN_CALL_GAP).await;
        // A listing is a courtesy: when the server cannot be asked, the list is empty (the tools
        // say why).
        let leases = match client.me().await {
            Ok(me) => me.leases,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the briefs");
                Vec::new()
            }
        };
        let resources = leases
            .iter()
            .map(|lease| {
                let task = &lease.task;
                let name = task.key.clone().unwrap_or_else(|| task.task_id.clone());
                Resource::new(brief_uri(&task.task_id), format!("brief {name}"))
                    .with_title(plain(&format!("Brief: {}", clip(&task.title, 80))).into_owned())
                    .with_description(
                        "The task and its repository's contract, as Markdown.".to_string(),
                    )
                    .with_mime_type("text/markdown")
            })
            .collect();
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let template = ResourceTemplate::new(
            format!("{BRIEF_URI_PREFIX}{{task_id}}{BRIEF_URI_SUFFIX}"),
            "task brief",
        )
        .with_description("The Markdown brief of a task this worker holds.")
        .with_mime_type("text/markdown");
        Ok(ListResourceTemplatesResult::with_all_items(vec![template]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let Some(task_id) = task_id_of_uri(&request.uri) else {
            return Err(ErrorData::resource_not_found(
                format!(
                    "no resource {:?}: briefs are {BRIEF_URI_PREFIX}TASK_ID{BRIEF_URI_SUFFIX}",
                    clip(&request.uri, 80)
                ),
                None,
            ));
        };
        match self.fetch_task("read brief", &task_id).await {
            Ok(task) => Ok(ReadResourceResult::new(vec![
                ResourceContents::text(plain(&brief::render(&task)).into_owned(), request.uri)
                    .with_mime_type("text/markdown"),
            ])
            .into()),
            Err(result) => Err(ErrorData::resource_not_found(first_text(&result), None)),
        }
    }
}

// ---- running ----------------------------------------------------------------------------------

fn load_profile(args: &McpArgs) -> Profile {
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE"));
    let dir = match config_dir(
        args.config_dir.as_deref(),
        std::env::var_os("XDG_CONFIG_HOME"),
        home,
    ) {
        Some(dir) => dir,
        None => {
            return Profile::Unusable(
                "cannot tell where worker registrations are saved: set OWP_CONFIG_DIR or HOME"
                    .into(),
            );
        }
    };
    let path = match config_file(&dir, args.profile.as_deref()) {
        Ok(path) => path,
        Err(e) => return Profile::Unusable(e.to_string()),
    };
    let profile_flag = args
        .profile
        .as_deref()
        .map(|p| format!(" --profile {p}"))
        .unwrap_or_default();
    let config = match load_config(&path) {
        Ok(Some(config)) => config,
        Ok(None) => {
            return Profile::Unusable(format!(
                "no worker registered{} (looked for {}): run `owp worker register{profile_flag} --name NAME --skills a,b` first",
                args.profile
                    .as_deref()
                    .map(|p| format!(" under profile {p}"))
                    .unwrap_or_default(),
                path.display()
            ));
        }
        Err(e) => return Profile::Unusable(e.to_string()),
    };
    let server = args.server.clone().unwrap_or_else(|| config.server.clone());
    match OwpClient::new(&server) {
        Ok(client) => Profile::Ready {
            client: client.with_worker_token(Some(config.token.clone())),
            config: Box::new(config),
        },
        Err(e) => Profile::Unusable(e.to_string()),
    }
}

/// Logs go to stderr or to `--log-file`, never to stdout.
fn init_logging(log_file: Option<&PathBuf>, filter: Option<&str>) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = filter
        .filter(|f| !f.trim().is_empty())
        .ok_or(())
        .and_then(|f| EnvFilter::try_new(f).map_err(|_| ()))
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("owp=info,rmcp=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = match log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the log file {}", path.display()))?;
            builder
                .with_ansi(false)
                .with_writer(Mutex::new(file))
                .try_init()
        }
        None => builder
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .try_init(),
    };
    // A subscriber already set (tests) is fine.
    let _ = result;
    Ok(())
}

/// Sends a heartbeat every third of the heartbeat TTL while the session is open.
fn spawn_heartbeats(service: &OwpMcp) -> Option<tokio::task::JoinHandle<()>> {
    let Profile::Ready { client, config } = &service.inner.profile else {
        return None;
    };
    let client = client.clone();
    let every = Duration::from_secs((config.heartbeat_ttl_seconds.unwrap_or(90) / 3).max(1));
    let inner = service.inner.clone();
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let result = client.heartbeat(None).await;
            let mut hb = inner.heartbeat.lock().unwrap_or_else(|e| e.into_inner());
            match result {
                Ok(answer) => {
                    let renewed = answer
                        .get("renewed_leases")
                        .and_then(Value::as_u64)
                        .unwrap_or(0);
                    tracing::debug!(renewed, "heartbeat answered");
                    if hb.last_error.take().is_some() {
                        tracing::info!("heartbeats answered again");
                    }
                    hb.last_ok = Some(chrono::Utc::now().to_rfc3339());
                }
                Err(e) => {
                    let line = explain("heartbeat", &e, inner.profile_name.as_deref());
                    if hb.last_error.as_deref() != Some(line.as_str()) {
                        tracing::warn!("{line}");
                    }
                    hb.last_error = Some(line);
                }
            }
        }
    }))
}

/// `owp mcp`: serves the protocol on stdin/stdout until the client closes it.
pub async fn run(args: McpArgs) -> anyhow::Result<()> {
    init_logging(args.log_file.as_ref(), args.log_filter.as_deref())?;
    let profile = load_profile(&args);
    match &profile {
        Profile::Ready { client, config } => tracing::info!(
            server = %client.base_url,
            worker = %config.worker_id,
            "owp mcp serving worker {} on stdio",
            config.name
        ),
        Profile::Unusable(why) => tracing::warn!("owp mcp without a usable profile: {why}"),
    }
    let service = OwpMcp::new(profile, args.profile.clone());
    let heartbeats = spawn_heartbeats(&service);
    let outcome = async {
        let running = service
            .serve(rmcp::transport::stdio())
            .await
            .context("the MCP client did not complete the handshake")?;
        running
            .waiting()
            .await
            .context("the MCP session ended with an error")?;
        anyhow::Ok(())
    }
    .await;
    if let Some(h) = heartbeats {
        h.abort();
    }
    tracing::info!("owp mcp: session closed");
    outcome
}

#[cfg(test)]
mod tests;
