//! The claim servers of a run: `owp serve` processes on the scratch database, each in a control
//! group of its own when capped.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use super::cpu_cap::{CpuCap, ServerCpu};

use super::*;

/// Which executable a run's servers are: this build's private copy, or (`--against PATH`)
/// another build's.
pub(super) struct Build {
    /// `this` or `against`.
    pub(super) label: &'static str,
    pub(super) exe: PathBuf,
}

/// This build, and the build of `--against` when given, each run from a private copy in `dir`
/// (so that a rebuild of either during a long run changes nothing).
pub(super) fn builds(args: &BenchArgs, dir: &Path) -> anyhow::Result<Vec<Build>> {
    let this = dir.join("owp");
    std::fs::copy(
        std::env::current_exe().context("cannot find the owp executable")?,
        &this,
    )
    .context("cannot copy the owp executable")?;
    let mut builds = vec![Build {
        label: "this",
        exe: this,
    }];
    if let Some(other) = &args.against {
        let exe = dir.join("owp-against");
        std::fs::copy(other, &exe)
            .with_context(|| format!("cannot copy --against {}", other.display()))?;
        builds.push(Build {
            label: "against",
            exe,
        });
    }
    Ok(builds)
}

/// `owp serve` as a child process (so its memory is its own).
pub(super) struct ServerProcess {
    pub(super) base: String,
    pub(super) child: tokio::process::Child,
    pub(super) log: PathBuf,
    /// The process's control group under `--server-cpu` (dropped after the process).
    pub(super) cap: Option<CpuCap>,
}

impl ServerProcess {
    pub(super) async fn spawn(
        exe: &Path,
        backend: BenchBackend,
        url: &str,
        dir: &Path,
        index: usize,
        cpu: Option<&ServerCpu>,
        pool: Option<u32>,
    ) -> anyhow::Result<ServerProcess> {
        let env: Vec<(&str, String)> = pool
            .map(|n| ("OWP_DATABASE_POOL", n.to_string()))
            .into_iter()
            .collect();
        let mut server =
            Self::spawn_exe(exe, backend, url, dir, &format!("server-{index}"), &env).await?;
        server.capped(cpu)?;
        Ok(server)
    }

    /// Puts the process in a control group of its own under `cpu` (`--server-cpu`), if given.
    pub(super) fn capped(&mut self, cpu: Option<&ServerCpu>) -> anyhow::Result<()> {
        if let (Some(cpu), Some(pid)) = (cpu, self.child.id()) {
            self.cap = Some(cpu.cap(pid)?);
        }
        Ok(())
    }

    /// A server with the GitHub App on (webhook endpoint), its API pointed at a closed port.
    pub(super) async fn spawn_github(
        exe: &Path,
        backend: BenchBackend,
        url: &str,
        dir: &Path,
        key: &Path,
    ) -> anyhow::Result<ServerProcess> {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let env = [
            ("GITHUB_APP_ID", "1".to_string()),
            ("GITHUB_PRIVATE_KEY_PATH", key.display().to_string()),
            ("GITHUB_API_URL", format!("http://127.0.0.1:{closed}")),
        ];
        Self::spawn_exe(exe, backend, url, dir, "github", &env).await
    }

    pub(super) async fn spawn_with(
        backend: BenchBackend,
        url: &str,
        dir: &Path,
        name: &str,
        env: &[(&str, String)],
    ) -> anyhow::Result<ServerProcess> {
        let exe = std::env::current_exe().context("cannot find the owp executable")?;
        Self::spawn_exe(&exe, backend, url, dir, name, env).await
    }

    /// `owp serve` of the executable `exe` (this build's private copy, or another build's).
    pub(super) async fn spawn_exe(
        exe: &Path,
        backend: BenchBackend,
        url: &str,
        dir: &Path,
        name: &str,
        env: &[(&str, String)],
    ) -> anyhow::Result<ServerProcess> {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log)?;
        let mut cmd = tokio::process::Command::new(exe);
        cmd.arg("serve");
        let driver = match backend {
            BenchBackend::SqliteSqlx => "sqlx",
            _ => "direct",
        };
        match backend {
            BenchBackend::Sqlite | BenchBackend::SqliteSqlx => {
                cmd.args(["--db", &dir.join("bench.db").display().to_string()]);
            }
            BenchBackend::Postgres => {
                cmd.args(["--database-url", url]);
            }
        }
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .current_dir(dir)
            .env("OWP_ADMIN_TOKEN", ADMIN)
            .env("GITHUB_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("OWP_LOG", "warn")
            .env("OWP_SQLITE_DRIVER", driver)
            // The load registers its hundreds of workers from one address.
            .env("OWP_RATE_REGISTRATIONS_PER_MINUTE", "0")
            .env_remove("OWP_DATABASE_URL")
            .env_remove("OWP_DB")
            .env_remove("GITHUB_APP_ID")
            .env_remove("GITHUB_PRIVATE_KEY")
            .env_remove("GITHUB_PRIVATE_KEY_PATH")
            .env_remove("GITHUB_API_URL")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true);
        let child = cmd.spawn().context("cannot start owp serve")?;
        let server = ServerProcess {
            base: format!("http://127.0.0.1:{port}"),
            child,
            log,
            cap: None,
        };
        let http = reqwest::Client::builder().no_proxy().build()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http.get(format!("{}/healthz", server.base)).send().await
                && r.status().is_success()
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!(
                    "owp serve did not start; its log:\n{}",
                    std::fs::read_to_string(&server.log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Peak resident set size of the process so far, in KiB.
    pub(super) fn peak_rss_kb(&self) -> u64 {
        let Some(pid) = self.child.id() else {
            return 0;
        };
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0)
    }

    pub(super) async fn stop(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        self.cap = None;
    }
}

/// The series of `/metrics` the bench reads, by the names `owp serve` exports them under (the
/// `owp` crate's tests hold them equal to its own).
pub const GITHUB_WAITED: &str = "owp_github_waited_microseconds_total";
/// See [`GITHUB_WAITED`].
pub const STORE_COMMITS: &str = "owp_store_commits_total";

/// A server's `/metrics` text; empty when it cannot be read.
pub(super) async fn scrape(base: &str) -> String {
    let Ok(http) = reqwest::Client::builder().no_proxy().build() else {
        return String::new();
    };
    let Ok(res) = http
        .get(format!("{base}/metrics"))
        .header("x-admin-token", ADMIN)
        .send()
        .await
    else {
        return String::new();
    };
    res.text().await.unwrap_or_default()
}

/// The time a server's webhook appliers and comment sender spent on each step
/// (`owp_github_waited_microseconds_total{on}`), in seconds, read from its `scrape`; empty when
/// it does not say (an earlier build).
pub(super) fn github_waited(scrape: &str) -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    let prefix = format!("{GITHUB_WAITED}{{on=\"");
    for line in scrape.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        if let Some((on, value)) = rest.split_once("\"} ")
            && let Ok(micros) = value.trim().parse::<f64>()
        {
            out.insert(on.to_string(), micros / 1e6);
        }
    }
    out
}

/// How many times a server's writes committed since it started (`owp_store_commits_total`),
/// read from its `scrape`; `None` when it does not say (an earlier build).
pub(super) fn store_commits(scrape: &str) -> Option<u64> {
    let prefix = format!("{STORE_COMMITS} ");
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse().ok())
}

pub(super) async fn admin_post(
    http: &reqwest::Client,
    url: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let res = http
        .post(url)
        .header("x-admin-token", ADMIN)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = res.status();
    let text = res.text().await?;
    if !status.is_success() {
        bail!("POST {url} → {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}
