//! The saved registration: where a profile lives, reading and writing it (owner-only), and the
//! session a command opens with it.

use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::cli::agent::AgentSettings;
use crate::cli::client::OwpClient;

use super::*;

/// What `owp worker register` saves: enough to act as the worker later.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerConfig {
    pub server: String,
    pub worker_id: String,
    pub token: String,
    pub name: String,
    #[serde(default)]
    pub heartbeat_ttl_seconds: Option<u64>,
    #[serde(default)]
    pub lease_ttl_seconds: Option<u64>,
    #[serde(default)]
    pub accept_ttl_seconds: Option<u64>,
    #[serde(default)]
    pub registered_at: Option<String>,
    /// The saved `--agent` command and work directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentSettings>,
}

impl fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("server", &self.server)
            .field("worker_id", &self.worker_id)
            .field("token", &"***")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The folder of saved registrations: `explicit` (`--config-dir`/`OWP_CONFIG_DIR`), else
/// `$XDG_CONFIG_HOME/owp`, else `$HOME/.config/owp`.
pub fn config_dir(
    explicit: Option<&Path>,
    xdg_config_home: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    if let Some(dir) = explicit.filter(|d| !d.as_os_str().is_empty()) {
        return Some(dir.to_path_buf());
    }
    if let Some(xdg) = xdg_config_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        return Some(xdg.join("owp"));
    }
    home.filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".config").join("owp"))
}

/// `worker.json`, or `worker-NAME.json` for a profile.
pub fn config_file(dir: &Path, profile: Option<&str>) -> anyhow::Result<PathBuf> {
    match profile {
        None => Ok(dir.join("worker.json")),
        Some(name) => {
            let valid = !name.is_empty()
                && name.len() <= 64
                && !name.starts_with('.')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid {
                bail!(
                    "profile name {name:?} is not usable: use letters, digits, `-`, `_` or `.` (at most 64)"
                );
            }
            Ok(dir.join(format!("worker-{name}.json")))
        }
    }
}

/// Writes the registration atomically, readable only by its owner (0600 on unix).
pub fn save_config(path: &Path, config: &WorkerConfig) -> anyhow::Result<()> {
    save_json(path, config)
}

/// Writes `value` as JSON to `path` atomically, readable only by its owner (0600 on unix; the
/// folder 0700).
pub fn save_json<T: serde::Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict permissions in {}", dir.display()))?;
    }
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    file.write_all(text.as_bytes())
        .and_then(|_| file.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.persist(path)
        .map_err(|e| anyhow!("cannot save {}: {}", path.display(), e.error))?;
    Ok(())
}

/// Reads a saved registration; `None` when there is none.
pub fn load_config(path: &Path) -> anyhow::Result<Option<WorkerConfig>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow!("cannot read {}: {e}", path.display())),
    };
    let config = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "{} is not a worker registration ({e}): register again with `owp worker register`",
            path.display()
        )
    })?;
    Ok(Some(config))
}

/// Where the registration of `common`'s profile is saved.
pub(super) fn config_path_of(common: &CommonArgs) -> anyhow::Result<PathBuf> {
    config_path(common)
}

pub(super) fn config_path(common: &CommonArgs) -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE"));
    let dir = config_dir(
        common.config_dir.as_deref(),
        std::env::var_os("XDG_CONFIG_HOME"),
        home,
    )
    .ok_or_else(|| {
        anyhow!("cannot tell where to save the worker registration: set OWP_CONFIG_DIR or HOME")
    })?;
    config_file(&dir, common.profile.as_deref())
}

pub(super) fn profile_flag(common: &CommonArgs) -> String {
    match &common.profile {
        Some(p) => format!(" --profile {p}"),
        None => String::new(),
    }
}

/// A registered worker ready to talk to its server.
pub(super) struct Session {
    pub(super) client: OwpClient,
    pub(super) config: WorkerConfig,
    pub(super) json: bool,
}

impl Session {
    pub(super) fn load(common: &CommonArgs) -> anyhow::Result<Session> {
        let path = config_path(common)?;
        let config = load_config(&path)?.ok_or_else(|| {
            anyhow!(
                "no worker registered{} (looked for {}): run `owp worker register{} --name NAME --skills a,b --capacity 5` first",
                common
                    .profile
                    .as_deref()
                    .map(|p| format!(" under profile {p}"))
                    .unwrap_or_default(),
                path.display(),
                profile_flag(common),
            )
        })?;
        let server = common
            .server
            .clone()
            .unwrap_or_else(|| config.server.clone());
        let client = OwpClient::new(&server)?.with_worker_token(Some(config.token.clone()));
        Ok(Session {
            client,
            config,
            json: common.json,
        })
    }

    pub(super) fn heartbeat_every(&self) -> Duration {
        let ttl = self.config.heartbeat_ttl_seconds.unwrap_or(90);
        Duration::from_secs((ttl / 3).max(1))
    }
}
