//! `owp worker join SERVER_URL`: one command from nothing to taking work. It registers (asking
//! for the name, skills and capacity at a terminal, or taking them from flags; the GitHub login
//! comes from `gh api user` when `gh` is installed), saves the profile, and starts `run`. Joining
//! again with a saved profile for the same server takes work at once, without a second worker.
//! Where the pool's GitHub App can prove people, it then proves the volunteer's GitHub account with
//! GitHub's device page, as `owp worker link` does (at a terminal; `--no-link` skips it).
//! With `--dry-run` it changes nothing: it says what it would register and save, and shows the
//! next lease's plan only for a profile that is already saved.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::bail;

use super::{
    CommonArgs, LinkChoice, RunArgs, WorkerDescription, config_path_of, link, load_config,
    register_and_save, remember_agent, run_worker,
};
use crate::cli::agent::flow::find_on_path;
use crate::cli::agent::{self, AgentArgs};
use crate::cli::client::{normalize_base_url, say};
use crate::cli::server_url;

#[derive(clap::Args, Debug, Clone)]
pub struct JoinArgs {
    /// The pool's server, e.g. https://pool.example.org
    #[arg(value_name = "SERVER_URL")]
    pub url: String,
    /// Display name [default: asked, else your GitHub login or user name].
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub worker: WorkerDescription,
    /// Ask nothing: take every answer from the flags and defaults.
    #[arg(long)]
    pub no_input: bool,
    #[command(flatten)]
    pub link: LinkChoice,
    /// Register and save the profile, but do not start `run`.
    #[arg(long)]
    pub no_run: bool,
    /// Seconds each claim waits on the server for work to appear (at most 30).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u64).range(0..=30))]
    pub wait: u64,
    #[command(flatten)]
    pub agent: AgentArgs,
    /// Keep several workers on one machine: each profile has its own saved registration.
    #[arg(long, env = "OWP_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// Where the registration is saved [default: $XDG_CONFIG_HOME/owp or ~/.config/owp]
    #[arg(long, env = "OWP_CONFIG_DIR", value_name = "DIR")]
    pub config_dir: Option<std::path::PathBuf>,
}

pub async fn join(args: JoinArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let url = server_url::parse(&args.url)?;
    if let Some(dropped) = &url.dropped {
        say!(
            "using the server's base URL {} (left out {dropped}, a page of its dashboard or API)",
            url.base
        );
    }
    let common = CommonArgs {
        server: Some(url.base),
        profile: args.profile.clone(),
        config_dir: args.config_dir.clone(),
        json: false,
    };
    let path = config_path_of(&common)?;
    let saved = load_config(&path).ok().flatten();
    let server = common.server.clone().unwrap_or_default();
    let saved = saved.filter(|c| normalize_base_url(&c.server) == server);
    // Flags that cannot go together are refused before anything is registered. `--dry-run`
    // without an agent command is a dry run of the join itself.
    let saved_agent = saved.as_ref().and_then(|c| c.agent.clone());
    let with_agent = args.agent.agent.is_some()
        || args.agent.acp.is_some()
        || (saved_agent.is_some() && !args.agent.no_agent);
    let dry_run = args.agent.dry_run;
    if !args.no_run && (with_agent || !dry_run) {
        agent::options(&args.agent, saved_agent, args.wait)?;
    }
    match saved {
        Some(config) => say!(
            "already joined {server} as {} ({}); taking work",
            config.name,
            config.worker_id
        ),
        None => {
            let ask = !args.no_input && std::io::stdin().is_terminal();
            let mut desc = args.worker.clone();
            if desc.github_login.is_none() {
                desc.github_login = github_login().await;
                if let Some(login) = &desc.github_login {
                    say!("GitHub login from `gh`: {login} (shown only, unverified)");
                }
            }
            let fallback = desc
                .github_login
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .or_else(|| std::env::var("USERNAME").ok())
                .unwrap_or_else(|| "volunteer".to_string());
            let name = match &args.name {
                Some(n) => n.clone(),
                None if ask => answer("Name for this worker", &fallback)?,
                None => fallback,
            };
            if ask && desc.skills.is_empty() {
                let skills = answer(
                    "Skills, comma-separated (e.g. rust,docs; empty: any task that needs none)",
                    "",
                )?;
                desc.skills = skills
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
            }
            if ask {
                let capacity = answer(
                    "Capacity in estimate points held at once",
                    &desc.capacity.to_string(),
                )?;
                desc.capacity = match capacity.trim().parse::<i64>() {
                    Ok(n) if n >= 1 => n,
                    _ => bail!("capacity must be a whole number of at least 1"),
                };
            }
            if dry_run {
                return dry_run_plan(&name, &desc, &server, &path);
            }
            let (config, path, _) =
                register_and_save(&name, &desc, &common, args.agent.agent.as_deref()).await?;
            say!(
                "joined {} as {} ({}) · saved to {} · {:.1}s",
                config.server,
                config.name,
                config.worker_id,
                path.display(),
                started.elapsed().as_secs_f64()
            );
            link::prove_after_registering(&config, &common, &args.link, ask).await?;
        }
    }
    if args.no_run {
        // `--agent` is saved with the profile all the same, as it is when the worker runs.
        if (args.agent.agent.is_some() || args.agent.acp.is_some()) && !dry_run {
            let path = config_path_of(&common)?;
            let Some(config) = load_config(&path)? else {
                bail!("the profile at {} could not be read back", path.display());
            };
            if let Some(options) = agent::options(&args.agent, config.agent.clone(), args.wait)? {
                remember_agent(&common, &args.agent, &options, &config)?;
            }
        }
        return Ok(());
    }
    if dry_run && !with_agent {
        say!("dry run: `owp worker run` would start now; nothing was claimed");
        return Ok(());
    }
    run_worker(RunArgs {
        no_prompt: false,
        wait: args.wait,
        agent: args.agent,
        common,
    })
    .await
}

/// `join --dry-run` without a saved profile: what a join would register and save; nothing is sent.
fn dry_run_plan(
    name: &str,
    desc: &WorkerDescription,
    server: &str,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let skills = if desc.skills.is_empty() {
        "no skills (only tasks that need none)".to_string()
    } else {
        format!("skills {}", desc.skills.join(", "))
    };
    say!("dry run: nothing is registered, saved or claimed");
    say!(
        "  would register {} on {server} · {skills} · capacity {} points · up to {} at a time",
        name.trim(),
        desc.capacity,
        desc.max_concurrent
    );
    say!("  would save the profile to {}", path.display());
    say!("  run the same command without --dry-run to join");
    Ok(())
}

/// The login `gh` is signed in as, when `gh` is installed and signed in.
async fn github_login() -> Option<String> {
    let gh = find_on_path("gh")?;
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::process::Command::new(gh)
            .args(["api", "user", "--jq", ".login"])
            .stdin(std::process::Stdio::null())
            .output(),
    )
    .await
    .ok()?
    .ok()?;
    let login = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let valid = !login.is_empty()
        && login.len() <= 39
        && !login.starts_with('-')
        && login.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    (out.status.success() && valid).then_some(login)
}

/// Asks one question at the terminal; an empty answer takes `default`.
fn answer(question: &str, default: &str) -> anyhow::Result<String> {
    let mut out = std::io::stdout();
    if default.is_empty() {
        write!(out, "{question}: ")?;
    } else {
        write!(out, "{question} [{default}]: ")?;
    }
    out.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim();
    Ok(if line.is_empty() {
        default.to_string()
    } else {
        line.to_string()
    })
}
