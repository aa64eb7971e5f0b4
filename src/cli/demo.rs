//! `owp demo`: the whole story in one command, with no GitHub account and no configuration.
//!
//! It starts the service in this process on a temporary SQLite database, creates the repository
//! `demo` with a review budget of 2 and area locks on, imports `demo/tasks.yaml`, and lets four
//! simulated workers with different skills and capacities work through it. The workers talk to
//! the API over HTTP exactly like real ones (claim, ack, heartbeats, `pr_opened`); a simulated
//! maintainer merges their pull requests through the admin API after a "review". Partway through,
//! one worker goes silent (its heartbeats stop), so its lease expires and its task is requeued.
//!
//! The terminal narrates what happens, read from the live event stream (`GET /v1/events`), in
//! plain sentences. Ctrl-C (or `--duration`) stops everything and deletes the database.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use anyhow::Context;
use chrono::{DateTime, Local};
use rand::Rng;
use serde_json::json;
use tokio::task::AbortHandle;

use crate::cli::client::{Event, Lease, OwpClient, RegisterRequest, State, Task};
use crate::config::ServeConfig;
use crate::domain::TaskStatus;
use crate::domain::secret::Secret;

mod narration;
mod story;

pub use narration::{LockedOut, Tag, budget_sentence, describe, locked_out};
use narration::{Printer, lock_sentence, task_label};

/// The demo's backlog (the same file `owp admin import-tasks demo/tasks.yaml` takes).
const DEMO_TASKS: &str = include_str!("../../demo/tasks.yaml");
/// The repository the backlog belongs to.
const REPO: &str = "demo";
/// A tight review budget, so throttling shows at once.
const BUDGET: i64 = 2;
/// The port tried first when none is given.
const DEFAULT_PORT: u16 = 8787;

/// `owp demo` flags.
#[derive(clap::Args, Debug, Clone)]
pub struct DemoArgs {
    /// Port to listen on. Default: 8787, or the next free one; 0 picks any free port.
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Stop by itself after this many seconds (default: run until Ctrl-C). Runs shorter than 90 s
    /// use a faster timeline (shorter TTLs, work and reviews) so the whole story still fits.
    #[arg(long)]
    pub duration: Option<u64>,
    /// Never colour the narration (colours are used only on a terminal, and never with NO_COLOR).
    #[arg(long)]
    pub no_color: bool,
}

/// A simulated worker's profile.
struct Profile {
    name: &'static str,
    skills: &'static [&'static str],
    capacity: i64,
    max_concurrent: i64,
    trust: i64,
}

/// Four workers covering the backlog's skills, with different capacities; `ada` is trusted with
/// the tier-1 tasks.
const CREW: [Profile; 4] = [
    Profile {
        name: "ada",
        skills: &["python", "sql"],
        capacity: 5,
        max_concurrent: 2,
        trust: 1,
    },
    Profile {
        name: "grace",
        skills: &["rust", "docs"],
        capacity: 3,
        max_concurrent: 1,
        trust: 0,
    },
    Profile {
        name: "linus",
        skills: &["typescript", "docs"],
        capacity: 4,
        max_concurrent: 2,
        trust: 0,
    },
    Profile {
        name: "margaret",
        skills: &["python", "typescript"],
        capacity: 3,
        max_concurrent: 1,
        trust: 0,
    },
];

/// How fast the story runs.
#[derive(Clone, Copy, Debug)]
pub struct Timeline {
    pub accept_ttl: u64,
    pub lease_ttl: u64,
    pub heartbeat_ttl: u64,
    pub beat_every: Duration,
    /// How long a claim with nothing eligible waits for work (long poll), in seconds; kept well
    /// under the heartbeat TTL.
    pub long_poll: u64,
    /// Seconds between receiving a lease and accepting it (reading the task).
    pub think: (f64, f64),
    /// Seconds of "work" before the pull request opens.
    pub work: (f64, f64),
    /// Seconds of "review" before the maintainer merges.
    pub review: (f64, f64),
    /// When the demo starts looking for a worker to silence.
    pub silence_after: Duration,
}

impl Timeline {
    /// The normal pace, or a fast one for runs shorter than 90 s.
    pub fn new(duration: Option<u64>) -> Timeline {
        match duration {
            Some(d) if d < 90 => Timeline {
                accept_ttl: 4,
                lease_ttl: 5,
                heartbeat_ttl: 2,
                beat_every: Duration::from_millis(500),
                long_poll: 1,
                think: (0.2, 0.6),
                work: (1.5, 3.0),
                review: (1.5, 2.5),
                silence_after: Duration::from_secs((d / 6).clamp(2, 10)),
            },
            _ => Timeline {
                accept_ttl: 10,
                lease_ttl: 20,
                heartbeat_ttl: 6,
                beat_every: Duration::from_secs(2),
                long_poll: 4,
                think: (1.0, 3.0),
                work: (8.0, 16.0),
                review: (10.0, 20.0),
                silence_after: Duration::from_secs(30),
            },
        }
    }
}

fn between((lo, hi): (f64, f64)) -> Duration {
    Duration::from_secs_f64(rand::rng().random_range(lo..=hi))
}

// ---- the simulated world -----------------------------------------------------------------------

/// One simulated worker and the tasks that animate it.
struct Member {
    name: &'static str,
    worker_id: String,
    client: OwpClient,
    handles: Mutex<Vec<AbortHandle>>,
    /// When each task this worker is working on gets its pull request (the end of its "work").
    pr_due: Mutex<HashMap<String, tokio::time::Instant>>,
}

impl Member {
    fn silence(&self) {
        for h in self.handles.lock().expect("handles lock").drain(..) {
            h.abort();
        }
    }

    /// How much "work" is left before `task_id`'s pull request opens, if this worker is on it.
    fn work_left(&self, task_id: &str) -> Option<Duration> {
        let due = *self.pr_due.lock().expect("pr_due lock").get(task_id)?;
        Some(due.saturating_duration_since(tokio::time::Instant::now()))
    }
}

/// What the demo's tasks share.
struct World {
    admin: OwpClient,
    timeline: Timeline,
    printer: Printer,
    prs: AtomicU64,
    /// The last lock line printed per worker, so a lock is told once.
    told_locks: Mutex<HashMap<String, String>>,
}

impl World {
    /// Tells an area lock that held a worker back (waiting, or leased something ranked lower),
    /// once per (skipped task, holder).
    fn tell_lock(&self, state: &State, worker_id: &str, leased: Option<&Task>) {
        let lock = locked_out(state, worker_id, leased.map(|t| t.task_id.as_str()));
        let key = lock
            .as_ref()
            .map(|l| format!("{}>{}", l.skipped.task_id, l.holder.task_id))
            .unwrap_or_default();
        {
            let mut told = self.told_locks.lock().expect("locks lock");
            let last = told.entry(worker_id.to_string()).or_default();
            if *last == key {
                return;
            }
            *last = key;
        }
        let name = state
            .workers
            .iter()
            .find(|w| w.worker_id == worker_id)
            .map_or(worker_id, |w| w.name.as_str());
        if let Some(lock) = lock {
            self.printer
                .now(Tag::Lock, &lock_sentence(state, name, &lock, leased));
        }
    }

    /// Tells an area lock that keeps a waiting worker from every task it could do.
    async fn tell_wait(&self, member: &Member) {
        if let Ok(state) = self.admin.admin_state(None).await {
            self.tell_lock(&state, &member.worker_id, None);
        }
    }
}

async fn heartbeats(member: Arc<Member>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let _ = member.client.heartbeat(None).await;
    }
}

/// One of a worker's slots: claim, accept, work, open a pull request; again.
async fn slot(member: Arc<Member>, world: Arc<World>, delay: Duration) {
    let t = world.timeline;
    tokio::time::sleep(delay).await;
    loop {
        let lease: Option<Lease> = match member.client.claim(None).await {
            Ok(Some(lease)) => Some(lease),
            Ok(None) => {
                world.tell_wait(&member).await;
                match member.client.claim(Some(t.long_poll)).await {
                    Ok(lease) => lease,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        None
                    }
                }
            }
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                None
            }
        };
        let Some(lease) = lease else { continue };
        tokio::time::sleep(between(t.think)).await;
        if member.client.ack(&lease.lease_id).await.is_err() {
            continue;
        }
        let work = between(t.work);
        member.pr_due.lock().expect("pr_due lock").insert(
            lease.task.task_id.clone(),
            tokio::time::Instant::now() + work,
        );
        tokio::time::sleep(work).await;
        member
            .pr_due
            .lock()
            .expect("pr_due lock")
            .remove(&lease.task.task_id);
        let number = world.prs.fetch_add(1, Ordering::Relaxed);
        let url = crate::cli::worker::fake_pr_url(REPO, number);
        let _ = member
            .client
            .task_status(
                &lease.task.task_id,
                "pr_opened",
                Some(json!({ "pr_url": url, "x_demo": true })),
                Some("opened by the owp demo"),
            )
            .await;
    }
}

/// The maintainer: reviews each open pull request for a while, then merges it.
async fn maintainer(world: Arc<World>) {
    let mut due: HashMap<String, tokio::time::Instant> = HashMap::new();
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let Ok(state) = world.admin.admin_state(None).await else {
            continue;
        };
        let now = tokio::time::Instant::now();
        due.retain(|id, _| {
            state
                .tasks
                .iter()
                .any(|t| &t.task_id == id && t.status == TaskStatus::PrOpened)
        });
        for t in state
            .tasks
            .iter()
            .filter(|t| t.status == TaskStatus::PrOpened)
        {
            let when = *due
                .entry(t.task_id.clone())
                .or_insert_with(|| now + between(world.timeline.review));
            if now >= when {
                let _ = world
                    .admin
                    .admin_task_status(
                        &t.task_id,
                        "merged",
                        Some("approved and merged by the demo maintainer"),
                    )
                    .await;
            }
        }
    }
}

/// Partway through, silences one worker that is working on a task: its heartbeats stop, so its
/// lease expires and the task goes back to the queue.
async fn silence_one(world: Arc<World>, crew: Vec<Arc<Member>>) {
    tokio::time::sleep(world.timeline.silence_after).await;
    // If the untrusted workers have nothing in progress for a while, anyone will do.
    let anyone_after = tokio::time::Instant::now() + world.timeline.silence_after;
    loop {
        let anyone = tokio::time::Instant::now() >= anyone_after;
        if let Ok(state) = world.admin.admin_state(None).await {
            // A task an untrusted worker (the trusted one keeps the tier-1 work moving) is in the
            // middle of, with plenty of its work left, so no pull request races the silence.
            let enough_left = Duration::from_secs_f64(world.timeline.work.0 / 2.0);
            let pick = state
                .tasks
                .iter()
                .filter(|t| t.status == TaskStatus::InProgress)
                .filter_map(|t| {
                    let id = t.assigned_worker_id.as_deref()?;
                    let member = crew.iter().find(|m| m.worker_id == id)?;
                    let left = member.work_left(&t.task_id)?;
                    let trusted = CREW.iter().any(|p| p.name == member.name && p.trust > 0);
                    (left >= enough_left && (anyone || !trusted)).then_some((t, member, left))
                })
                .max_by_key(|(_, _, left)| *left)
                .map(|(t, member, _)| (t, member));
            if let Some((task, member)) = pick {
                member.silence();
                let others = state
                    .tasks
                    .iter()
                    .filter(|t| {
                        t.task_id != task.task_id
                            && t.assigned_worker_id.as_deref() == Some(member.worker_id.as_str())
                            && matches!(t.status, TaskStatus::Leased | TaskStatus::InProgress)
                    })
                    .count();
                let more = match others {
                    0 => String::new(),
                    1 => " (and one more task)".to_string(),
                    n => format!(" (and {n} more tasks)"),
                };
                world.printer.now(
                    Tag::Demo,
                    &format!(
                        "{}'s laptop went to sleep: the demo stopped its heartbeats while it works on {}{more}. \
                         Its lease runs out about {} s after the last heartbeat, then the task returns to the queue.",
                        member.name,
                        task_label(task),
                        world.timeline.lease_ttl
                    ),
                );
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Counts for the closing summary.
#[derive(Default, Debug, Clone)]
struct Tally {
    leases: u64,
    prs: u64,
    merges: u64,
    expiries: u64,
    /// Per worker and per task, for the closing lines.
    ledger: story::Ledger,
}

/// Reads `/v1/events` and narrates each change; tells budget changes and the end of the backlog.
async fn narrate(
    world: Arc<World>,
    base: String,
    token: Secret,
    tally: Arc<Mutex<Tally>>,
    connected: tokio::sync::oneshot::Sender<()>,
) {
    let mut connected = Some(connected);
    let http = match reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(_) => return,
    };
    let mut after: Option<i64> = None;
    let mut throttled: HashMap<String, bool> = HashMap::new();
    let mut all_merged_told = false;
    let mut offline: std::collections::HashSet<String> = Default::default();
    let mut full_before: std::collections::HashSet<String> = Default::default();
    loop {
        let mut req = http
            .get(format!("{base}/v1/events"))
            .header("X-Admin-Token", token.expose())
            .header("Accept", "text/event-stream");
        if let Some(id) = after {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let mut res = match req.send().await {
            Ok(r) if r.status().is_success() => r,
            _ => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if let Some(tx) = connected.take() {
            let _ = tx.send(());
        }
        let mut parser = SseParser::default();
        while let Ok(Some(chunk)) = res.chunk().await {
            let events: Vec<Event> = parser
                .push(&chunk)
                .into_iter()
                .filter_map(|data| serde_json::from_str(&data).ok())
                .collect();
            if events.is_empty() {
                continue;
            }
            let Ok(state) = world.admin.admin_state(None).await else {
                continue;
            };
            for e in &events {
                after = Some(e.id);
                {
                    let mut t = tally.lock().expect("tally lock");
                    t.ledger.record(e);
                    match e.kind.as_str() {
                        "task.leased" => t.leases += 1,
                        "lease.expired" => t.expiries += 1,
                        _ => match e.data.get("status").and_then(|v| v.as_str()) {
                            Some("pr_opened") if e.kind == "task.status" => t.prs += 1,
                            Some("merged") if e.kind == "task.status" => t.merges += 1,
                            _ => {}
                        },
                    }
                }
                let worker = e.worker_id.clone().unwrap_or_default();
                match e.kind.as_str() {
                    "worker.offline" => {
                        offline.insert(worker.clone());
                    }
                    // Only a worker that was seen going offline comes back.
                    "worker.online" if !offline.remove(&worker) => continue,
                    _ => {}
                }
                if let Some((tag, text)) = describe(e, &state, &world.timeline) {
                    let at = DateTime::parse_from_rfc3339(&e.at)
                        .map(|t| t.with_timezone(&Local))
                        .unwrap_or_else(|_| Local::now());
                    world.printer.line(at, tag, &text);
                }
                if e.kind == "task.leased"
                    && let Some(task) = state
                        .tasks
                        .iter()
                        .find(|t| Some(&t.task_id) == e.task_id.as_ref())
                {
                    world.tell_lock(&state, &worker, Some(task));
                }
            }
            for repo in &state.repos {
                let before = throttled.insert(repo.repo.clone(), repo.throttled);
                if repo.throttled && before != Some(true) {
                    let again = full_before.contains(&repo.repo);
                    full_before.insert(repo.repo.clone());
                    world
                        .printer
                        .now(Tag::Budget, &budget_sentence(repo, again));
                }
            }
            if !all_merged_told
                && !state.tasks.is_empty()
                && state.tasks.iter().all(|t| t.status == TaskStatus::Merged)
            {
                all_merged_told = true;
                world.printer.now(
                    Tag::Demo,
                    "Every task is merged. The dashboard stays up until you stop the demo.",
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A minimal Server-Sent Events decoder: feeds bytes in, gets each complete event's `data` out.
#[derive(Default)]
pub struct SseParser {
    buf: String,
    pending: Vec<u8>,
}

impl SseParser {
    /// Adds bytes; returns the `data` of every event completed by them (multi-line data joined
    /// with `\n`; comments and events without data skipped).
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        // Only decode up to the last complete UTF-8 sequence.
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            Err(e) => e.valid_up_to(),
        };
        let text = String::from_utf8_lossy(&self.pending[..valid]).into_owned();
        self.pending.drain(..valid);
        self.buf
            .push_str(&text.replace("\r\n", "\n").replace('\r', "\n"));
        let mut out = Vec::new();
        while let Some(end) = self.buf.find("\n\n") {
            let block: String = self.buf.drain(..end + 2).collect();
            let mut data: Vec<&str> = Vec::new();
            for line in block.lines() {
                if let Some(rest) = line.strip_prefix("data:") {
                    data.push(rest.strip_prefix(' ').unwrap_or(rest));
                }
            }
            if !data.is_empty() {
                out.push(data.join("\n"));
            }
        }
        out
    }
}

// ---- running it --------------------------------------------------------------------------------

/// The port to try: the given one, or 8787 and the next ones until one is free.
fn choose_port(host: &str, requested: Option<u16>) -> u16 {
    if let Some(p) = requested {
        return p;
    }
    (DEFAULT_PORT..DEFAULT_PORT + 20)
        .find(|p| std::net::TcpListener::bind((host, *p)).is_ok())
        .unwrap_or(0)
}

/// `owp demo`.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let timeline = Timeline::new(args.duration);
    let color =
        !args.no_color && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let printer = Printer { color };
    let dir = tempfile::Builder::new()
        .prefix("owp-demo-")
        .tempdir()
        .context("cannot create a temporary directory for the demo database")?;
    let token = format!("owpa_{}", &crate::store::workers::new_token()[5..]);
    let mut config = ServeConfig::for_tests(&dir.path().join("demo.db"), &token);
    config.host = args.host.clone();
    config.port = choose_port(&args.host, args.port);
    config.accept_ttl_seconds = timeline.accept_ttl;
    config.lease_ttl_seconds = timeline.lease_ttl;
    config.heartbeat_ttl_seconds = timeline.heartbeat_ttl;
    let server = crate::server::start(config, false).await?;
    let addr = crate::server::reachable(server.addr);
    let base = format!("http://{addr}");

    let bold = Style::new().bold();
    let accent = Style::new().fg_color(Some(AnsiColor::Cyan.into())).bold();
    println!();
    println!(
        "{}",
        printer.paint(
            bold,
            "OWP Pool demo: one repository, a review budget of 2, area locks, four simulated workers."
        )
    );
    println!();
    println!(
        "  Dashboard  {}",
        printer.paint(accent, &format!("{base}/"))
    );
    println!(
        "  Sign in    paste this admin token: {}",
        printer.paint(accent, &token)
    );
    println!("             (made for this demo only; it stops working when the demo ends)");
    println!();
    println!(
        "  Everything lives in a temporary database, deleted when the demo stops. {}",
        match args.duration {
            Some(d) => format!("Stops by itself after {d} s, or press Ctrl-C."),
            None => "Press Ctrl-C to stop.".to_string(),
        }
    );
    println!();

    let admin = OwpClient::new(&base)?.with_admin_token(Some(token.clone()));
    let result = async {
        admin.upsert_repo(REPO, BUDGET, Some(true)).await?;
        let tasks = admin.import_tasks_yaml(DEMO_TASKS.to_string()).await?;
        printer.now(
            Tag::Demo,
            &format!(
                "Repository `{REPO}` has a review budget of {BUDGET} (open pull requests + active leases) \
                 and area locks on; {} tasks imported from demo/tasks.yaml.",
                tasks.len()
            ),
        );
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = result {
        server.stop().await;
        return Err(e.context("cannot set up the demo repository"));
    }

    let tally = Arc::new(Mutex::new(Tally::default()));
    let world = Arc::new(World {
        admin: admin.clone(),
        timeline,
        printer: printer.clone(),
        prs: AtomicU64::new(101),
        told_locks: Mutex::new(HashMap::new()),
    });
    // The narration listens before anyone joins, so it tells the whole story.
    let (connected_tx, connected) = tokio::sync::oneshot::channel();
    let mut background = vec![tokio::spawn(narrate(
        world.clone(),
        base.clone(),
        Secret::new(token.clone()),
        tally.clone(),
        connected_tx,
    ))];
    let _ = tokio::time::timeout(Duration::from_secs(5), connected).await;
    let crew = match register_crew(&admin, &base).await {
        Ok(crew) => {
            if let Ok(state) = admin.admin_state(None).await {
                for (tag, text) in story::cast(&state) {
                    printer.now(tag, &text);
                }
            }
            crew
        }
        Err(e) => {
            for job in &background {
                job.abort();
            }
            server.stop().await;
            return Err(e);
        }
    };
    for (member, p) in crew.iter().zip(CREW.iter()) {
        let mut handles =
            vec![tokio::spawn(heartbeats(member.clone(), timeline.beat_every)).abort_handle()];
        for k in 0..p.max_concurrent {
            // Second slots start a moment later, so every worker gets a first chance.
            let delay = timeline.beat_every * u32::try_from(k).unwrap_or(0);
            handles.push(tokio::spawn(slot(member.clone(), world.clone(), delay)).abort_handle());
        }
        *member.handles.lock().expect("handles lock") = handles;
    }
    background.push(tokio::spawn(maintainer(world.clone())));
    background.push(tokio::spawn(silence_one(world.clone(), crew.clone())));

    let started = tokio::time::Instant::now();
    let limit = async {
        match args.duration {
            Some(d) => tokio::time::sleep(Duration::from_secs(d)).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = limit => {}
        _ = crate::server::stop_signal() => { println!(); }
    }

    for member in &crew {
        member.silence();
    }
    for job in &background {
        job.abort();
    }
    // Where everything stands, read before the service stops.
    let end = admin.admin_state(None).await;
    let t = tally.lock().expect("tally lock").clone();
    server.stop().await;
    if let Ok(state) = &end {
        for (tag, text) in story::closing(state, &t.ledger) {
            printer.now(tag, &text);
        }
    }
    drop(dir);
    printer.now(
        Tag::Demo,
        &format!(
            "Demo over after {} s: {} lease{} granted, {} pull request{} opened, {} merged, {} lease{} expired and requeued. \
             The temporary database is deleted.",
            started.elapsed().as_secs(),
            t.leases,
            if t.leases == 1 { "" } else { "s" },
            t.prs,
            if t.prs == 1 { "" } else { "s" },
            t.merges,
            t.expiries,
            if t.expiries == 1 { "" } else { "s" },
        ),
    );
    Ok(())
}

/// Registers the simulated workers (as anyone may, over HTTP) and trusts `ada` with tier 1.
async fn register_crew(admin: &OwpClient, base: &str) -> anyhow::Result<Vec<Arc<Member>>> {
    let mut crew = Vec::new();
    for p in &CREW {
        let reg = admin
            .register(&RegisterRequest {
                name: p.name.to_string(),
                skills: p.skills.iter().map(|s| s.to_string()).collect(),
                capacity_points: p.capacity,
                max_concurrent_tasks: p.max_concurrent,
                github_login: None,
                capabilities: Some(json!({"x_demo": true})),
            })
            .await
            .context("cannot register a demo worker")?;
        if p.trust > 0 {
            admin
                .admin_update_worker(&reg.worker_id, Some(p.trust), None)
                .await
                .context("cannot set a demo worker's trust level")?;
        }
        crew.push(Arc::new(Member {
            name: p.name,
            worker_id: reg.worker_id,
            client: OwpClient::new(base)?.with_worker_token(Some(reg.token)),
            handles: Mutex::new(Vec::new()),
            pr_due: Mutex::new(HashMap::new()),
        }));
    }
    Ok(crew)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::client::Worker;
    use serde_json::Value;

    fn task(
        id: &str,
        key: &str,
        priority: &str,
        skills: &[&str],
        area: &str,
        status: &str,
    ) -> Task {
        serde_json::from_value(json!({
            "task_id": id, "repo": REPO, "key": key, "title": format!("Title of {key}"),
            "description": "", "estimate_points": 2, "priority": priority,
            "required_skills": skills, "area": area, "tier": 0, "status": status,
            "assigned_worker_id": if status == "ready" { Value::Null } else { json!("w_ada") },
            "lease_id": null, "lease_expires_at": null, "artifact": null, "attempts": 0,
            "status_reason": null, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    }

    fn worker(id: &str, name: &str, skills: &[&str]) -> Worker {
        serde_json::from_value(json!({
            "worker_id": id, "name": name, "skills": skills, "capacity_points": 5,
            "max_concurrent_tasks": 1, "github_login": null, "status": "idle", "online": true,
            "last_heartbeat": null, "trust_level": 0, "capabilities": {}, "active_points": 0,
            "active_tasks": 0, "created_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    }

    fn state(tasks: Vec<Task>, throttled: bool) -> State {
        State {
            repos: vec![
                serde_json::from_value(json!({
                    "repo": REPO, "max_open_prs": 2, "area_locks_enabled": true, "open_prs": 1,
                    "active_leases": if throttled { 1 } else { 0 }, "throttled": throttled,
                    "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
                }))
                .unwrap(),
            ],
            workers: vec![
                worker("w_ada", "ada", &["python"]),
                worker("w_meg", "margaret", &["python"]),
            ],
            tasks,
            events: vec![],
        }
    }

    #[test]
    fn an_area_lock_is_found_for_the_task_a_worker_was_kept_from() {
        let s = state(
            vec![
                task("t1", "DEMO-2", "critical", &["python"], "auth", "pr_opened"),
                task("t2", "DEMO-1", "high", &["python"], "auth", "ready"),
                task("t3", "DEMO-8", "high", &["python"], "api", "leased"),
                task("t4", "DEMO-5", "high", &["rust"], "cli", "ready"),
            ],
            false,
        );
        let lock = locked_out(&s, "w_meg", Some("t3")).expect("DEMO-1 was skipped");
        assert_eq!(lock.skipped.task_id, "t2");
        assert_eq!(lock.holder.task_id, "t1");
        let text = lock_sentence(&s, "margaret", &lock, s.tasks.get(2));
        assert!(text.contains("kept margaret off DEMO-1"), "{text}");
        assert!(text.contains("ada holds area auth with DEMO-2"), "{text}");
        assert!(text.contains("got DEMO-8 instead"), "{text}");
        // A task ranked after the one it got is no lock at all.
        assert!(locked_out(&s, "w_meg", Some("t2")).is_none());
        // Waiting: the lock shows unless the budget is what is full.
        assert!(locked_out(&s, "w_meg", None).is_some());
        let mut full = s.clone();
        full.repos[0].throttled = true;
        assert!(locked_out(&full, "w_meg", None).is_none());
    }

    #[test]
    fn events_read_as_sentences() {
        let s = state(
            vec![task(
                "t1",
                "DEMO-2",
                "critical",
                &["python"],
                "auth",
                "in_progress",
            )],
            true,
        );
        let t = Timeline::new(Some(20));
        let ev = |kind: &str, data: Value| Event {
            id: 1,
            kind: kind.into(),
            at: "2026-01-01T00:00:00Z".into(),
            repo: Some(REPO.into()),
            task_id: Some("t1".into()),
            worker_id: Some("w_ada".into()),
            actor: "system".into(),
            data,
        };
        let (tag, text) = describe(&ev("task.leased", json!({})), &s, &t).unwrap();
        assert_eq!(tag, Tag::Lease);
        assert!(text.starts_with("ada was offered DEMO-2"), "{text}");
        assert!(text.contains("area auth"));
        let (tag, text) = describe(
            &ev("task.status", json!({"status": "pr_opened", "artifact": {"pr_url": "https://example.invalid/demo/pull/101"}})),
            &s,
            &t,
        )
        .unwrap();
        assert_eq!(tag, Tag::Pr);
        assert!(text.contains("pull/101"));
        let (tag, _) = describe(&ev("task.status", json!({"status": "merged"})), &s, &t).unwrap();
        assert_eq!(tag, Tag::Merge);
        let (tag, text) =
            describe(&ev("lease.expired", json!({"status": "ready"})), &s, &t).unwrap();
        assert_eq!(tag, Tag::Expiry);
        assert!(text.contains("back in the queue"));
        let (tag, _) = describe(&ev("worker.offline", json!({})), &s, &t).unwrap();
        assert_eq!(tag, Tag::Offline);
        assert!(describe(&ev("lease.renewed", json!({})), &s, &t).is_none());
        assert!(budget_sentence(&s.repos[0], false).contains("is full: 2 of 2 slots"));
        assert!(budget_sentence(&s.repos[0], true).contains("is full again (1 open PR, 1 lease)"));
    }

    #[test]
    fn sse_parser_handles_split_chunks_and_comments() {
        let mut p = SseParser::default();
        assert!(
            p.push(b": keep-alive\n\nid: 1\nevent: task.leased\ndata: {\"a\":")
                .is_empty()
        );
        assert_eq!(p.push(b"1}\n\n"), vec!["{\"a\":1}".to_string()]);
        let both = p.push(b"data: x\r\ndata: y\r\n\r\ndata: \xc3");
        assert_eq!(both, vec!["x\ny".to_string()]);
        assert_eq!(p.push(b"\xa9\n\n"), vec!["é".to_string()]);
    }

    #[test]
    fn short_runs_use_the_fast_timeline() {
        let fast = Timeline::new(Some(20));
        assert!(fast.lease_ttl + fast.silence_after.as_secs() + 2 < 20);
        assert!(fast.accept_ttl as f64 > fast.think.1);
        assert!(Duration::from_secs(fast.heartbeat_ttl) > fast.beat_every * 3);
        let normal = Timeline::new(None);
        assert_eq!(
            (normal.accept_ttl, normal.lease_ttl, normal.heartbeat_ttl),
            (10, 20, 6)
        );
    }
}
