//! The simulated GitHub in a process of its own (`owp bench --github-installations N
//! --github-apart`), as a fake GitHub outside the bench would be: the bench starts its own
//! executable again as `owp bench --github-sim-serve APP_ID`, which runs [`SimGithub`] and, on a
//! second port, a control server through which the bench opens issues and reads what the
//! simulation saw. The App's requests then share no process, runtime or allocator with the
//! bench's webhook senders and its readers of the database; the figures are read the same way
//! in both cases, so a run of each side by side says whether the bench's own process colours
//! them.
//!
//! The child lives as long as its standard input is open: it stops when the bench closes it or
//! exits, on every platform.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::{SimGithub, SimReport};

/// The longest the bench waits for the child to say where it listens.
const START_WAIT: Duration = Duration::from_secs(30);

/// An installation: its id, its account and its repositories (`(id, owner/name)`).
pub(crate) type Installation = (u64, String, Vec<(u64, String)>);

#[derive(Serialize, Deserialize)]
struct NewIssue {
    repo: String,
    number: u64,
    title: String,
    body: String,
    author: String,
    author_id: u64,
}

/// How far the simulation is: its clock, how many deliveries listings it answered, and how many
/// issues have their status comment.
#[derive(Serialize, Deserialize)]
pub(crate) struct Progress {
    pub(crate) now_ms: u64,
    pub(crate) deliveries_listed: usize,
    pub(crate) status_issues: usize,
}

impl Progress {
    fn of(sim: &SimGithub) -> Progress {
        Progress {
            now_ms: sim.now_ms(),
            deliveries_listed: sim.deliveries_listed(),
            status_issues: sim.status_issues(),
        }
    }
}

/// The child's one line on its standard output.
#[derive(Serialize, Deserialize)]
struct Listening {
    api: String,
    control: String,
}

/// The simulation of a run: in the bench's process, or in one of its own.
pub(crate) enum Simulation {
    Here(SimGithub),
    Apart(Box<Apart>),
}

/// A simulation in a child process, read through its control server.
pub(crate) struct Apart {
    api: String,
    control: String,
    http: reqwest::Client,
    /// Killed when dropped; its standard input closes with it.
    _child: tokio::process::Child,
}

impl Simulation {
    /// Starts a simulation `latency` away that knows the App `app_id` by its key at `key`, in
    /// this process or (`apart`) in a process of its own.
    pub(crate) async fn start(
        apart: bool,
        latency: Duration,
        app_id: u64,
        key: &Path,
    ) -> anyhow::Result<Simulation> {
        if !apart {
            let pem =
                std::fs::read(key).with_context(|| format!("cannot read {}", key.display()))?;
            return Ok(Simulation::Here(
                SimGithub::start(latency, app_id, &pem).await?,
            ));
        }
        let exe = std::env::current_exe().context("cannot find the owp executable")?;
        let mut child = tokio::process::Command::new(exe)
            .args(["bench", "--github-sim-serve", &app_id.to_string()])
            .args(["--github-latency-ms", &latency.as_millis().to_string()])
            .arg("--github-key")
            .arg(key)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start the simulated GitHub's process")?;
        let stdout = child.stdout.take().context("no standard output")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(START_WAIT, lines.next_line())
            .await
            .context("the simulated GitHub's process did not start in time")??
            .context("the simulated GitHub's process stopped before it listened")?;
        let Listening { api, control } = serde_json::from_str(&line)
            .with_context(|| format!("the simulated GitHub's process said {line:?}"))?;
        let http = reqwest::Client::builder().no_proxy().build()?;
        Ok(Simulation::Apart(Box::new(Apart {
            api,
            control,
            http,
            _child: child,
        })))
    }

    /// Where the App finds GitHub's API.
    pub(crate) fn url(&self) -> &str {
        match self {
            Simulation::Here(sim) => &sim.url,
            Simulation::Apart(a) => &a.api,
        }
    }

    pub(crate) async fn add_installations(&self, all: Vec<Installation>) -> anyhow::Result<()> {
        match self {
            Simulation::Here(sim) => {
                for (id, account, repos) in &all {
                    sim.add_installation(*id, account, repos);
                }
                Ok(())
            }
            Simulation::Apart(a) => a.post::<()>("installations", &all).await,
        }
    }

    /// Opens issue `number` of `repo` and returns its id (see [`SimGithub::open_issue`]).
    pub(crate) async fn open_issue(
        &self,
        repo: &str,
        number: u64,
        title: &str,
        body: &str,
        author: (&str, u64),
    ) -> anyhow::Result<u64> {
        match self {
            Simulation::Here(sim) => sim.open_issue(repo, number, title, body, author),
            Simulation::Apart(a) => {
                let issue = NewIssue {
                    repo: repo.to_string(),
                    number,
                    title: title.to_string(),
                    body: body.to_string(),
                    author: author.0.to_string(),
                    author_id: author.1,
                };
                a.post("issues", &issue).await
            }
        }
    }

    /// Milliseconds since the simulation started, the times it failed deliveries were listed
    /// and the status comments posted so far (see [`SimGithub`]).
    pub(crate) async fn progress(&self) -> anyhow::Result<Progress> {
        match self {
            Simulation::Here(sim) => Ok(Progress::of(sim)),
            Simulation::Apart(a) => a.get("progress").await,
        }
    }

    pub(crate) async fn report(&self) -> anyhow::Result<SimReport> {
        match self {
            Simulation::Here(sim) => Ok(sim.report()),
            Simulation::Apart(a) => a.get("report").await,
        }
    }
}

impl Apart {
    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let answer = self
            .http
            .get(format!("{}/{path}", self.control))
            .send()
            .await?;
        read(answer).await
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        let answer = self
            .http
            .post(format!("{}/{path}", self.control))
            .json(body)
            .send()
            .await?;
        read(answer).await
    }
}

async fn read<T: serde::de::DeserializeOwned>(answer: reqwest::Response) -> anyhow::Result<T> {
    let status = answer.status();
    let text = answer.text().await?;
    if !status.is_success() {
        bail!("the simulated GitHub's process answered {status}: {text}");
    }
    Ok(serde_json::from_str(if text.is_empty() {
        "null"
    } else {
        &text
    })?)
}

/// The child: `owp bench --github-sim-serve APP_ID --github-latency-ms L --github-key K`. Prints
/// where it listens and serves until its standard input closes.
pub(crate) async fn serve(app_id: u64, latency: Duration, key: &Path) -> anyhow::Result<()> {
    let pem = std::fs::read(key).with_context(|| format!("cannot read {}", key.display()))?;
    let sim = Arc::new(SimGithub::start(latency, app_id, &pem).await?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let control = format!("http://{}", listener.local_addr()?);
    let app = axum::Router::new()
        .route("/installations", axum::routing::post(add_installations))
        .route("/issues", axum::routing::post(open_issue))
        .route("/progress", axum::routing::get(progress))
        .route("/report", axum::routing::get(report))
        .with_state(Arc::clone(&sim));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let line = serde_json::to_string(&Listening {
        api: sim.url.clone(),
        control,
    })?;
    let mut stdout = tokio::io::stdout();
    stdout.write_all(format!("{line}\n").as_bytes()).await?;
    stdout.flush().await?;
    // Until the bench closes the pipe (or exits).
    let mut rest = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut rest).await;
    server.abort();
    Ok(())
}

type Sim = State<Arc<SimGithub>>;

async fn add_installations(State(sim): Sim, Json(all): Json<Vec<Installation>>) -> StatusCode {
    for (id, account, repos) in &all {
        sim.add_installation(*id, account, repos);
    }
    StatusCode::NO_CONTENT
}

async fn open_issue(
    State(sim): Sim,
    Json(i): Json<NewIssue>,
) -> Result<Json<u64>, (StatusCode, String)> {
    sim.open_issue(
        &i.repo,
        i.number,
        &i.title,
        &i.body,
        (&i.author, i.author_id),
    )
    .map(Json)
    .map_err(|e| (StatusCode::NOT_FOUND, e.to_string()))
}

async fn progress(State(sim): Sim) -> Json<Progress> {
    Json(Progress::of(&sim))
}

async fn report(State(sim): Sim) -> Json<SimReport> {
    Json(sim.report())
}
