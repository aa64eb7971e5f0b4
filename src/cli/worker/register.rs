//! `owp worker register`: the worker's description, its capabilities, and saving the registration.

use std::path::PathBuf;

use anyhow::{anyhow, bail};
use chrono::Utc;
use serde_json::Value;

use crate::cli::agent::{self};
use crate::cli::client::{DEFAULT_SERVER, OwpClient, RegisterRequest, say};

use super::*;

/// The capabilities a worker has without being told: with an agent command configured (the hand-off
/// of `owp worker run --agent`), `agent_handoff: true` and `agent`: the command's program name
/// (`claude` for `claude -p {brief}`, `codex` for `C:\\tools\\codex.exe …`).
pub fn detected_capabilities(agent_command: Option<&str>) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    let Some(command) = agent_command.map(str::trim).filter(|c| !c.is_empty()) else {
        return map;
    };
    map.insert("agent_handoff".into(), Value::Bool(true));
    // Leading `KEY=value` assignments are skipped: their values are never sent.
    let name = agent::process::program_name(command);
    if !name.is_empty() {
        map.insert("agent".into(), Value::String(name));
    }
    map
}

/// `KEY=VALUE` → a JSON object; `true`/`false` and numbers keep their type, anything else is a
/// string.
pub fn parse_capabilities(items: &[String]) -> anyhow::Result<Option<Value>> {
    if items.is_empty() {
        return Ok(None);
    }
    let mut map = serde_json::Map::new();
    for item in items {
        let (key, value) = item
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| anyhow!("--capability {item:?} is not KEY=VALUE"))?;
        let value = match value {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            v => match v.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(v.to_string())),
            },
        };
        map.insert(key.to_string(), value);
    }
    Ok(Some(Value::Object(map)))
}

/// Registers a worker and saves its profile. `agent` is an agent command about to be used (else the
/// profile's saved one counts): the capabilities it implies are declared along with the given ones,
/// which win.
pub(super) async fn register_and_save(
    name: &str,
    desc: &WorkerDescription,
    common: &CommonArgs,
    agent: Option<&str>,
) -> anyhow::Result<(WorkerConfig, PathBuf, Option<WorkerConfig>)> {
    let name = name.trim();
    if name.is_empty() {
        bail!("--name must not be empty");
    }
    let path = config_path(common)?;
    let previous = load_config(&path).ok().flatten();
    let server = common
        .server
        .clone()
        .or_else(|| previous.as_ref().map(|p| p.server.clone()))
        .unwrap_or_else(|| DEFAULT_SERVER.to_string());
    let client = OwpClient::new(&server)?
        .with_admin_token(desc.admin_token.as_ref().map(|s| s.expose().to_string()));
    let request = RegisterRequest {
        name: name.to_string(),
        skills: desc
            .skills
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        capacity_points: desc.capacity,
        max_concurrent_tasks: desc.max_concurrent,
        github_login: desc
            .github_login
            .clone()
            .map(|l| l.trim().trim_start_matches('@').to_string())
            .filter(|l| !l.is_empty()),
        capabilities: {
            let saved_agent = previous
                .as_ref()
                .and_then(|p| p.agent.as_ref())
                .map(|a| a.command.as_str());
            let mut caps = detected_capabilities(agent.or(saved_agent));
            if let Some(Value::Object(given)) = parse_capabilities(&desc.capabilities)? {
                caps.extend(given);
            }
            (!caps.is_empty()).then_some(Value::Object(caps))
        },
    };
    // An admin token goes only where it was given for (`--admin-token` of this command, to this
    // command's server, whose redirects to other origins are not followed), and only when asked.
    let registration = match client.register(&request).await {
        Err(e) if matches!(e.status(), Some(401 | 403)) => {
            if client.admin_token.is_some() {
                client.register_as_admin(&request).await?
            } else {
                bail!(
                    "{e}; if only admins may register workers on this server, ask its admin, or pass their admin token with --admin-token"
                );
            }
        }
        other => other?,
    };
    let config = WorkerConfig {
        server: client.base_url.clone(),
        worker_id: registration.worker_id,
        token: registration.token,
        name: name.to_string(),
        heartbeat_ttl_seconds: registration.heartbeat_ttl_seconds,
        lease_ttl_seconds: registration.lease_ttl_seconds,
        accept_ttl_seconds: registration.accept_ttl_seconds,
        registered_at: Some(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        agent: previous.as_ref().and_then(|p| p.agent.clone()),
    };
    save_config(&path, &config)?;
    Ok((config, path, previous))
}

pub(super) async fn register(args: RegisterArgs) -> anyhow::Result<()> {
    let (config, path, previous) =
        register_and_save(&args.name, &args.worker, &args.common, None).await?;
    if args.common.json {
        let out = serde_json::json!({
            "worker_id": config.worker_id,
            "name": config.name,
            "server": config.server,
            "config_path": path,
            "heartbeat_ttl_seconds": config.heartbeat_ttl_seconds,
            "lease_ttl_seconds": config.lease_ttl_seconds,
            "accept_ttl_seconds": config.accept_ttl_seconds,
        });
        say!("{}", serde_json::to_string_pretty(&out)?);
        return link::prove_after_registering(&config, &args.common, &args.link, false).await;
    }
    let skills = if args.worker.skills.is_empty() {
        "no skills (only tasks that need none)".to_string()
    } else {
        format!("skills {}", args.worker.skills.join(", "))
    };
    say!(
        "registered {} as worker {} on {}",
        config.name,
        config.worker_id,
        config.server
    );
    say!(
        "  {skills} · capacity {} points · up to {} at a time",
        args.worker.capacity,
        plural(args.worker.max_concurrent, "task")
    );
    say!("  saved to {} (owner-only)", path.display());
    if let Some(prev) = previous.filter(|p| p.worker_id != config.worker_id) {
        say!(
            "  this replaces the earlier registration of {} ({}) in that file",
            prev.name,
            prev.worker_id
        );
    }
    let interactive = link::at_terminal(args.common.json);
    link::prove_after_registering(&config, &args.common, &args.link, interactive).await?;
    say!(
        "next: `owp worker run{}` to take work, or `owp worker status{}`",
        profile_flag(&args.common),
        profile_flag(&args.common)
    );
    Ok(())
}

/// `1 task`, `2 tasks`.
fn plural(n: i64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
