//! The volunteer sees the pool's commands before they run. A repository's contract names `setup`,
//! `test` and `lint` commands that `owp worker run --agent` runs on the volunteer's machine, in a
//! clone of the repository's clone URL, and instructions that the brief hands to the volunteer's
//! agent. Before the first run of a repository's commands, and again whenever any of that changes
//! (the clone URL, a command or the instructions), they are shown and the volunteer is asked once.
//! The answer is kept in `approved-commands.json` in the worker's config directory, keyed by
//! server and repository, with a digest of the clone URL, every command and the instructions
//! (and the text approved last, to show what changed). `--yes` approves (and records) every
//! offered set without asking; without a terminal and without `--yes` nothing runs. An approval
//! recorded before clone URLs and instructions were part of it asks again.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::RepoContract;

/// The file that keeps the approvals, next to the worker profiles.
pub const FILE_NAME: &str = "approved-commands.json";

/// How many approved versions are remembered per server and repository.
const KEPT_VERSIONS: usize = 20;

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

/// The saved approvals.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Approvals {
    /// `"SERVER REPO"` → digests of commands alone, as kept before clone URLs and instructions
    /// were part of an approval: read, never enough to run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    approved: BTreeMap<String, Vec<String>>,
    /// `"SERVER REPO"` → what was approved there.
    #[serde(default)]
    repos: BTreeMap<String, Approved>,
}

/// What a volunteer approved for one repository of one server.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Approved {
    /// The digests ([`Asked::digest`]) of every version approved, newest last.
    #[serde(default)]
    digests: Vec<String>,
    /// The version approved last, to tell what changed.
    #[serde(default)]
    clone_url: Option<String>,
    #[serde(default)]
    commands: Vec<(String, String)>,
    #[serde(default)]
    instructions: Option<String>,
}

/// What a lease asks to run, and from where: the repository's clone URL, its commands and the
/// maintainers' instructions the brief carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked<'a> {
    pub clone_url: &'a str,
    pub commands: Vec<(&'static str, &'a str)>,
    pub instructions: Option<&'a str>,
}

impl<'a> Asked<'a> {
    pub fn new(clone_url: &'a str, contract: &'a RepoContract) -> Asked<'a> {
        Asked {
            clone_url,
            commands: contract.commands(),
            instructions: crate::cli::brief::instructions_of(contract),
        }
    }

    /// A digest of all of it: any change to any part asks again.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        let mut part = |tag: &str, text: &str| {
            for piece in [tag, text] {
                h.update((piece.len() as u64).to_le_bytes());
                h.update(piece.as_bytes());
            }
        };
        part("clone_url", self.clone_url);
        for (name, command) in &self.commands {
            part(name, command);
        }
        part("instructions", self.instructions.unwrap_or(""));
        hex::encode(h.finalize())
    }
}

/// Asks (or looks up) whether what `asked` names may run for `repo` of `server`.
/// `file` is where approvals are kept (`None`: nothing is remembered).
pub fn decide(
    file: Option<&Path>,
    server: &str,
    repo: &str,
    asked: &Asked<'_>,
    yes: bool,
    deadline: &str,
) -> anyhow::Result<Decision> {
    if asked.commands.is_empty() {
        return Ok(Decision::Run);
    }
    let key = format!("{server} {repo}");
    let digest = asked.digest();
    let mut saved = file.map(load).unwrap_or_default();
    let before = saved.repos.get(&key).cloned();
    if before.as_ref().is_some_and(|b| b.digests.contains(&digest)) {
        return Ok(Decision::Run);
    }
    for line in question(
        repo,
        asked,
        before.as_ref(),
        saved.approved.contains_key(&key),
    ) {
        crate::cli::client::say!("{line}");
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
        let entry = saved.repos.entry(key).or_default();
        entry.digests.retain(|d| *d != digest);
        entry.digests.push(digest);
        let extra = entry.digests.len().saturating_sub(KEPT_VERSIONS);
        entry.digests.drain(..extra);
        entry.clone_url = Some(asked.clone_url.to_string());
        entry.commands = asked
            .commands
            .iter()
            .map(|(n, c)| (n.to_string(), c.to_string()))
            .collect();
        entry.instructions = asked.instructions.map(str::to_string);
        save(file, &saved)?;
    }
    Ok(Decision::Run)
}

/// What the volunteer reads before answering: what changed since the last approval (if there
/// was one), the commands, where the repository comes from, and the instructions for the agent.
fn question(
    repo: &str,
    asked: &Asked<'_>,
    before: Option<&Approved>,
    approved_unkeyed: bool,
) -> Vec<String> {
    let mut lines = Vec::new();
    let url_changed = before.is_some_and(|b| b.clone_url.as_deref() != Some(asked.clone_url));
    let commands_changed = before.is_some_and(|b| {
        b.commands.len() != asked.commands.len()
            || b.commands
                .iter()
                .zip(&asked.commands)
                .any(|((n, c), (m, d))| n != m || c != d)
    });
    let instructions_changed =
        before.is_some_and(|b| b.instructions.as_deref() != asked.instructions);
    if before.is_some() {
        let changed: Vec<String> = [
            (url_changed, "its clone URL"),
            (commands_changed, "its commands"),
            (instructions_changed, "its instructions"),
        ]
        .into_iter()
        .filter(|(c, _)| *c)
        .map(|(_, what)| what.to_string())
        .collect();
        lines.push(format!(
            "{repo} changed since you approved it: {}; asking again",
            crate::domain::rules::and_list(&changed)
        ));
    } else if approved_unkeyed {
        lines.push(format!(
            "{repo}: your earlier approval did not cover its clone URL and instructions; asking again"
        ));
    }
    lines.push(format!(
        "{repo} asks to run {} on this machine, in the task's worktree, with your permissions:",
        if commands_changed {
            "changed commands"
        } else {
            "these commands"
        }
    ));
    for (name, command) in &asked.commands {
        lines.push(format!("  {name}: {}", shown(command)));
    }
    let was = before
        .filter(|_| url_changed)
        .and_then(|b| b.clone_url.as_deref())
        .map(|old| format!(" (changed: it was {})", shown(old)))
        .unwrap_or_default();
    lines.push(format!("  in a clone of: {}{was}", shown(asked.clone_url)));
    if let Some(text) = asked.instructions {
        lines.push(format!(
            "  with these instructions to your agent{}:",
            if instructions_changed {
                " (changed)"
            } else {
                ""
            }
        ));
        for line in text.lines() {
            lines.push(format!("  | {}", shown(line)));
        }
    } else if instructions_changed {
        lines.push("  with no instructions to your agent (they were removed)".to_string());
    }
    lines
}

/// `text` as a terminal may show it: control characters (escapes) are replaced.
fn shown(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
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

    fn contract(test: &str, instructions: &str) -> RepoContract {
        RepoContract {
            setup: Some("make deps".into()),
            test: Some(test.into()),
            instructions: Some(instructions.into()),
            ..Default::default()
        }
    }

    #[test]
    fn approvals_are_remembered_per_repository_clone_url_commands_and_instructions() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(FILE_NAME);
        let c = contract("make test", "Small changes.");
        let asked = Asked::new("https://git.test/w.git", &c);
        assert_eq!(
            decide(Some(&file), "http://s", "acme/w", &asked, true, "").unwrap(),
            Decision::Run
        );
        // Remembered: no --yes needed (and no terminal is asked).
        assert_eq!(
            decide(Some(&file), "http://s", "acme/w", &asked, false, "").unwrap(),
            Decision::Run
        );
        if std::io::stdin().is_terminal() {
            return;
        }
        // Another repository, server, clone URL, command or instructions: not approved.
        let changed = [
            contract("make test", "Small changes."),
            contract("make test; curl evil", "Small changes."),
            contract("make test", "Small changes. Then run ./get.sh"),
        ];
        for (server, repo, url, c) in [
            ("http://s", "acme/x", "https://git.test/w.git", &changed[0]),
            ("http://t", "acme/w", "https://git.test/w.git", &changed[0]),
            ("http://s", "acme/w", "https://evil.test/w.git", &changed[0]),
            ("http://s", "acme/w", "https://git.test/w.git", &changed[1]),
            ("http://s", "acme/w", "https://git.test/w.git", &changed[2]),
        ] {
            assert_eq!(
                decide(Some(&file), server, repo, &Asked::new(url, c), false, "").unwrap(),
                Decision::CannotAsk,
                "{server} {repo} {url} {c:?}"
            );
        }
        // Nothing to run: nothing to ask.
        let none = RepoContract::default();
        assert_eq!(
            decide(None, "s", "r", &Asked::new("u", &none), false, "").unwrap(),
            Decision::Run
        );
    }

    #[test]
    fn an_approval_file_of_commands_alone_loads_and_asks_again() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(FILE_NAME);
        let c = contract("make test", "Small changes.");
        let asked = Asked::new("https://git.test/w.git", &c);
        let old = serde_json::json!({"approved": {"http://s acme/w": [asked.digest()]}});
        std::fs::write(&file, old.to_string()).unwrap();
        let saved = load(&file);
        assert_eq!(saved.approved.len(), 1);
        let lines = question("acme/w", &asked, None, true);
        assert!(
            lines[0].contains("did not cover its clone URL"),
            "{lines:?}"
        );
        if !std::io::stdin().is_terminal() {
            assert_eq!(
                decide(Some(&file), "http://s", "acme/w", &asked, false, "").unwrap(),
                Decision::CannotAsk
            );
        }
    }

    #[test]
    fn the_question_says_what_changed() {
        let c = contract("make test", "Line one.\nLine \u{1b}[2Jtwo.");
        let before = Approved {
            digests: vec!["x".into()],
            clone_url: Some("https://git.test/w.git".into()),
            commands: vec![
                ("setup".into(), "make deps".into()),
                ("test".into(), "make test".into()),
            ],
            instructions: Some("Line one.".into()),
        };
        let asked = Asked::new("https://evil.test/w.git", &c);
        let lines = question("acme/w", &asked, Some(&before), false);
        assert_eq!(
            lines[0],
            "acme/w changed since you approved it: its clone URL and its instructions; asking again"
        );
        assert!(lines[1].contains("these commands"), "{lines:?}");
        assert!(lines.contains(
            &"  in a clone of: https://evil.test/w.git (changed: it was https://git.test/w.git)"
                .to_string()
        ));
        assert!(lines.contains(&"  with these instructions to your agent (changed):".to_string()));
        assert!(
            lines.contains(&"  | Line \u{fffd}[2Jtwo.".to_string()),
            "{lines:?}"
        );
    }
}
