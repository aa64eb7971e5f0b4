//! `owp worker run --agent`: hand each lease to a command the person chose (their own AI coding
//! tool), in a git worktree of its own, then test, push and open the pull request with the
//! person's own tools. The scheduler never runs anything on anyone's machine: this is the
//! person's CLI running the person's tool.
//!
//! - [`workspace`]: the clone, the per-task worktree and branch, the push.
//! - [`process`]: the platform shell, quoting, logs, stopping a process tree.
//! - [`flow`]: one lease from claim to report.

pub mod flow;
pub mod process;
pub mod workspace;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The `[agent]` setting saved in a worker profile, so that `owp worker run` needs no flags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSettings {
    /// The command template.
    pub command: String,
    /// The work directory, when not the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<PathBuf>,
}

/// The default work directory: `owp/work` in the user's data directory (e.g.
/// `~/.local/share/owp/work`, `~/Library/Application Support/owp/work`, `%APPDATA%\owp\work`).
pub fn default_workdir() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("owp").join("work"))
}
