//! The volunteer sees the pool's commands before they run. A repository's contract names `setup`,
//! `test` and `lint` commands that `owp worker run --agent` runs on the volunteer's machine; before
//! the first run of a repository's commands, and again whenever they change, they are shown and the
//! volunteer is asked once. The answer is kept in `approved-commands.json` in the worker's config
//! directory, keyed by server, repository and a digest of the commands. `--yes` approves (and
//! records) every offered set without asking; without a terminal and without `--yes` nothing runs.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::RepoContract;

/// The file that keeps the approvals, next to the worker profiles.
pub const FILE_NAME: &str = "approved-commands.json";

/// How the commands of a lease may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Approved now or before (or there is nothing to approve).
    Run,
    /// The volunteer said no.
    Declined,
    /// Nobody can be asked (no terminal) and `--yes` was not given.
    CannotAsk,
}

/// The saved approvals: `"SERVER REPO"` → the digests of the command sets approved.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Approvals {
    #[serde(default)]
    approved: BTreeMap<String, Vec<String>>,
}

/// The commands of a contract that run on the volunteer's machine, in order.
pub fn commands(contract: &RepoContract) -> Vec<(&'static str, &str)> {
    contract.commands()
}

/// A digest of the commands: any change to any of them asks again.
pub fn digest(commands: &[(&str, &str)]) -> String {
    let mut h = Sha256::new();
    for (name, command) in commands {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(command.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// Asks (or looks up) whether the contract's commands may run for `repo` of `server`.
/// `file` is where approvals are kept (`None`: nothing is remembered).
pub fn decide(
    file: Option<&Path>,
    server: &str,
    repo: &str,
    contract: &RepoContract,
    yes: bool,
    deadline: &str,
) -> anyhow::Result<Decision> {
    let list = commands(contract);
    if list.is_empty() {
        return Ok(Decision::Run);
    }
    let key = format!("{server} {repo}");
    let digest = digest(&list);
    let mut saved = file.map(load).unwrap_or_default();
    if saved
        .approved
        .get(&key)
        .is_some_and(|d| d.contains(&digest))
    {
        return Ok(Decision::Run);
    }
    let known_before = saved.approved.contains_key(&key);
    crate::cli::client::say!(
        "{} asks to run {} on this machine, in the task's worktree, with your permissions:",
        repo,
        if known_before {
            "changed commands"
        } else {
            "these commands"
        }
    );
    for (name, command) in &list {
        crate::cli::client::say!("  {name}: {command}");
    }
    let approved = if yes {
        crate::cli::client::say!("approved by --yes");
        true
    } else if std::io::stdin().is_terminal() {
        ask(deadline)?
    } else {
        return Ok(Decision::CannotAsk);
    };
    if !approved {
        return Ok(Decision::Declined);
    }
    if let Some(file) = file {
        let entry = saved.approved.entry(key).or_default();
        entry.push(digest);
        save(file, &saved)?;
    }
    Ok(Decision::Run)
}

/// One question at the terminal; anything but yes is no.
fn ask(deadline: &str) -> anyhow::Result<bool> {
    print!(
        "run them, now and for later leases of this repository while they stay the same? [y/N] (answer by {deadline}) "
    );
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the answer")?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn load(file: &Path) -> Approvals {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn save(file: &Path, approvals: &Approvals) -> anyhow::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(approvals)?;
    let tmp = PathBuf::from(format!("{}.tmp", file.display()));
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, file).with_context(|| format!("cannot write {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(test: &str) -> RepoContract {
        RepoContract {
            setup: Some("make deps".into()),
            test: Some(test.into()),
            ..Default::default()
        }
    }

    #[test]
    fn approvals_are_remembered_per_repository_and_commands() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(FILE_NAME);
        let c = contract("make test");
        assert_eq!(
            decide(Some(&file), "http://s", "acme/w", &c, true, "").unwrap(),
            Decision::Run
        );
        // Remembered: no --yes needed (and no terminal is asked).
        assert_eq!(
            decide(Some(&file), "http://s", "acme/w", &c, false, "").unwrap(),
            Decision::Run
        );
        // Another repository, another server, changed commands: not approved.
        for (server, repo, c) in [
            ("http://s", "acme/x", contract("make test")),
            ("http://t", "acme/w", contract("make test")),
            ("http://s", "acme/w", contract("make test; curl evil")),
        ] {
            if std::io::stdin().is_terminal() {
                continue;
            }
            assert_eq!(
                decide(Some(&file), server, repo, &c, false, "").unwrap(),
                Decision::CannotAsk
            );
        }
        // Nothing to run: nothing to ask.
        assert_eq!(
            decide(None, "s", "r", &RepoContract::default(), false, "").unwrap(),
            Decision::Run
        );
    }
}
