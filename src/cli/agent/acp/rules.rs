//! What an ACP agent may do in a lease's workspace, decided by this machine alone: the volunteer's
//! choices (the programs it may run, whether it may fetch) and the task's locked paths (where it
//! may write). Nothing the agent, the task's text or the server says widens them.
//!
//! - Reads: any file inside the workspace but `.git`.
//! - Writes (an `edit`, `delete` or `move`, and `fs/write_text_file`): inside the workspace, not
//!   in `.git`, and inside one of the task's `paths` (by its base, as the pool locks them); a task
//!   without paths may write anywhere in its workspace but `.git`.
//! - Commands (`execute`): one program the volunteer named with `--acp-allow-command`, with no
//!   shell operator that would chain another one.
//! - `fetch` only with `--acp-allow-fetch`; `think`, `read`, `search` (inside the workspace); any
//!   other kind is refused.
//!
//! Paths are absolute (as the protocol says), lexically inside the workspace with no `..`, and no
//! part of them below the workspace may be a symbolic link (which could lead outside).

use std::path::{Component, Path, PathBuf};

use serde_json::Value;

/// The volunteer's choices for ACP agents (flags or the saved profile).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allowed {
    /// Programs (by name, e.g. `git`, `cargo`) the agent may run.
    pub commands: Vec<String>,
    /// Whether the agent may fetch from the network.
    pub fetch: bool,
}

/// The rules of one lease's session.
#[derive(Clone, Debug)]
pub struct Rules {
    /// The workspace as given to the agent (`session/new`'s `cwd`).
    given: PathBuf,
    /// The same, canonical.
    root: PathBuf,
    /// The task's path patterns (empty: the whole workspace).
    paths: Vec<String>,
    allowed: Allowed,
}

/// A refusal, said to the agent and logged.
pub type Refusal = String;

impl Rules {
    pub fn new(workspace: &Path, paths: &[String], allowed: Allowed) -> std::io::Result<Rules> {
        Ok(Rules {
            given: std::path::absolute(workspace)?,
            root: workspace.canonicalize()?,
            paths: paths.to_vec(),
            allowed,
        })
    }

    /// The workspace as the agent is told it (absolute, as the protocol asks).
    pub fn workspace(&self) -> &Path {
        &self.given
    }

    /// The relative, `/`-separated form of `raw` inside the workspace, and its place on disk.
    fn inside(&self, raw: &str) -> Result<(String, PathBuf), Refusal> {
        let path = Path::new(raw);
        if !path.is_absolute() {
            return Err(format!("{raw} is not an absolute path"));
        }
        let rest = path
            .strip_prefix(&self.given)
            .or_else(|_| path.strip_prefix(&self.root))
            .map_err(|_| format!("{raw} is outside the workspace"))?;
        let mut parts = Vec::new();
        for c in rest.components() {
            match c {
                Component::Normal(s) => parts.push(
                    s.to_str()
                        .ok_or_else(|| format!("{raw} is not a UTF-8 path"))?
                        .to_string(),
                ),
                Component::CurDir => {}
                _ => return Err(format!("{raw} leaves the workspace (`..`)")),
            }
        }
        if parts
            .first()
            .is_some_and(|p| p.eq_ignore_ascii_case(".git"))
        {
            return Err(format!("{raw} is inside .git"));
        }
        // No symbolic link below the workspace: it could point anywhere.
        let mut on_disk = self.root.clone();
        for p in &parts {
            on_disk.push(p);
            match std::fs::symlink_metadata(&on_disk) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(format!("{raw} goes through a symbolic link"));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let on_disk = parts.iter().fold(self.root.clone(), |p, s| p.join(s));
        Ok((parts.join("/"), on_disk))
    }

    /// Where the agent may read `raw`.
    pub fn read(&self, raw: &str) -> Result<PathBuf, Refusal> {
        self.inside(raw).map(|(_, p)| p)
    }

    /// Where the agent may write `raw`: inside the workspace and the task's paths.
    pub fn write(&self, raw: &str) -> Result<PathBuf, Refusal> {
        let (rel, on_disk) = self.inside(raw)?;
        if rel.is_empty() {
            return Err(format!("{raw} is the workspace itself"));
        }
        if !self.paths.is_empty() && !self.paths.iter().any(|p| within(p, &rel)) {
            return Err(format!(
                "{rel} is outside the task's paths ({})",
                self.paths.join(", ")
            ));
        }
        Ok(on_disk)
    }

    /// Whether a command line may run: one allowed program, nothing chained.
    pub fn command(&self, line: &str) -> Result<(), Refusal> {
        if line.contains([';', '&', '|', '`', '>', '<', '\n', '\r']) || line.contains("$(") {
            return Err(format!(
                "`{}` chains or redirects commands, which the volunteer cannot allow one by one",
                clip(line)
            ));
        }
        let words = shlex::split(line).unwrap_or_default();
        let Some(first) = words.first() else {
            return Err("an empty command".into());
        };
        let program = program_of(first);
        if self
            .allowed
            .commands
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&program))
        {
            Ok(())
        } else {
            Err(format!(
                "the volunteer did not allow `{program}` (--acp-allow-command)"
            ))
        }
    }

    /// The answer to `session/request_permission`'s `toolCall`: `Ok` to allow it once.
    pub fn permission(&self, tool_call: &Value) -> Result<(), Refusal> {
        let kind = tool_call["kind"].as_str().unwrap_or("other");
        let locations: Vec<&str> = tool_call["locations"]
            .as_array()
            .map(|l| l.iter().filter_map(|x| x["path"].as_str()).collect())
            .unwrap_or_default();
        let raw = &tool_call["rawInput"];
        match kind {
            "edit" | "delete" | "move" => {
                let mut targets = locations.clone();
                for key in ["path", "file_path", "destination", "new_path"] {
                    if let Some(p) = raw[key].as_str() {
                        targets.push(p);
                    }
                }
                if targets.is_empty() {
                    return Err(format!("a {kind} that names no file"));
                }
                targets.iter().try_for_each(|p| self.write(p).map(|_| ()))
            }
            "read" | "search" => locations.iter().try_for_each(|p| self.read(p).map(|_| ())),
            "think" => Ok(()),
            "execute" => {
                let line = match &raw["command"] {
                    Value::String(s) => s.clone(),
                    Value::Array(words) => words
                        .iter()
                        .map(|w| w.as_str().map(crate::cli::agent::process::quote_sh))
                        .collect::<Option<Vec<_>>>()
                        .map(|w| w.join(" "))
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                if line.trim().is_empty() {
                    return Err("a command that does not say what it runs".into());
                }
                if let Some(cwd) = raw["cwd"].as_str() {
                    self.read(cwd)?;
                }
                self.command(&line)
            }
            "fetch" if self.allowed.fetch => Ok(()),
            "fetch" => Err("the volunteer did not allow fetching (--acp-allow-fetch)".into()),
            other => Err(format!("a tool call of kind `{other}` is not allowed")),
        }
    }
}

/// Whether the relative file `rel` lies inside `pattern`'s base (as the pool locks paths).
fn within(pattern: &str, rel: &str) -> bool {
    let base = crate::domain::paths::base(pattern);
    base.is_empty()
        || rel == base
        || rel.len() > base.len() && rel.starts_with(&base) && rel.as_bytes()[base.len()] == b'/'
}

/// A program's name from the first word of a command: its file name, without `.exe`, `.cmd`
/// or `.bat`.
fn program_of(word: &str) -> String {
    let name = word.rsplit(['/', '\\']).next().unwrap_or(word);
    let lower = name.to_ascii_lowercase();
    for ext in [".exe", ".cmd", ".bat"] {
        if let Some(stem) = lower.strip_suffix(ext) {
            return stem.to_string();
        }
    }
    lower
}

fn clip(s: &str) -> String {
    s.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(dir: &Path, paths: &[&str]) -> Rules {
        let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        let allowed = Allowed {
            commands: vec!["git".into(), "cargo".into()],
            fetch: false,
        };
        Rules::new(dir, &paths, allowed).unwrap()
    }

    #[test]
    fn writes_stay_in_the_workspace_and_the_tasks_paths() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir_all(ws.join("src")).unwrap();
        let r = rules(&ws, &["src/**"]);
        let at = |p: &str| ws.join(p).display().to_string();
        assert!(r.write(&at("src/a.rs")).is_ok());
        assert!(r.write(&at("src/deep/b.rs")).is_ok());
        assert!(
            r.write(&at("README.md"))
                .unwrap_err()
                .contains("outside the task's paths")
        );
        assert!(r.write(&at("srcx/a.rs")).is_err());
        assert!(r.write(&at("src/../README.md")).unwrap_err().contains(".."));
        assert!(r.write(&at(".git/config")).unwrap_err().contains(".git"));
        assert!(r.read(&at(".git/config")).is_err());
        assert!(r.read(&at("README.md")).is_ok());
        let outside = dir.path().join("elsewhere.txt").display().to_string();
        assert!(
            r.read(&outside)
                .unwrap_err()
                .contains("outside the workspace")
        );
        assert!(r.read("relative.txt").unwrap_err().contains("absolute"));
        // No paths: the whole workspace but .git.
        let open = rules(&ws, &[]);
        assert!(open.write(&at("README.md")).is_ok());
        assert!(open.write(&at(".git/HEAD")).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_leads_nowhere() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir_all(ws.join("src")).unwrap();
        std::os::unix::fs::symlink(dir.path(), ws.join("src/out")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", ws.join("src/pw")).unwrap();
        let r = rules(&ws, &["src/**"]);
        let at = |p: &str| ws.join(p).display().to_string();
        assert!(
            r.write(&at("src/out/x.txt"))
                .unwrap_err()
                .contains("symbolic link")
        );
        assert!(r.read(&at("src/pw")).unwrap_err().contains("symbolic link"));
    }

    #[test]
    fn commands_are_the_volunteers_alone() {
        let dir = tempfile::tempdir().unwrap();
        let r = rules(dir.path(), &[]);
        assert!(r.command("git commit -m 'x y'").is_ok());
        assert!(r.command("/usr/bin/git status").is_ok());
        assert!(r.command("cargo.exe test").is_ok());
        assert!(r.command("curl https://example.com").is_err());
        for chained in [
            "git status; curl x",
            "git log | sh",
            "git $(curl x)",
            "git status && rm -rf /",
            "git `id`",
            "git log > /etc/x",
        ] {
            assert!(r.command(chained).is_err(), "{chained}");
        }
        let call = |kind: &str, raw: Value| json!({"kind": kind, "rawInput": raw});
        assert!(
            r.permission(&call("execute", json!({"command": "git status"})))
                .is_ok()
        );
        assert!(
            r.permission(&call("execute", json!({"command": ["git", "add", "."]})))
                .is_ok()
        );
        assert!(
            r.permission(&call("execute", json!({"command": "sh -c 'x'"})))
                .is_err()
        );
        assert!(r.permission(&call("execute", json!({}))).is_err());
        assert!(r.permission(&call("fetch", json!({}))).is_err());
        assert!(r.permission(&call("think", json!({}))).is_ok());
        assert!(r.permission(&call("other", json!({}))).is_err());
        assert!(
            r.permission(&call("edit", json!({}))).is_err(),
            "names no file"
        );
    }
}
