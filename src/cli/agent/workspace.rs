//! The workspace of a lease: a clone of the repository (made once, fetched after), and one
//! `git worktree` per task on its own branch. The default branch is never committed to nor pushed.
//! Every git call goes through the `git` on `PATH`, with the person's own credentials.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, anyhow, bail};

use super::super::client::Task;
use crate::domain::contract::{DEFAULT_BRANCH, DEFAULT_ISSUE_BRANCH};

/// Where one task's files live under the work directory.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The repository's clone, shared by its tasks.
    pub clone: PathBuf,
    /// The task's worktree.
    pub worktree: PathBuf,
    /// The brief (outside the worktree, so it is never committed).
    pub brief: PathBuf,
    /// The output of the agent and the contract's commands.
    pub log: PathBuf,
}

impl Layout {
    pub fn new(workdir: &Path, task: &Task) -> Layout {
        let task_dir = safe_name(&task.task_id);
        Layout {
            clone: workdir.join("repos").join(safe_name(&task.repo)),
            worktree: workdir.join("tasks").join(&task_dir),
            brief: workdir.join("briefs").join(format!("{task_dir}.md")),
            log: workdir.join("logs").join(format!("{task_dir}.log")),
        }
    }
}

/// A file-name-safe form of a name (letters, digits, `-`, `_`, `.`; others become `-`).
pub fn safe_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches(|c| c == '.' || c == '-').to_string();
    if s.is_empty() { "x".to_string() } else { s }
}

/// The branch of a task: the contract's template (default `owp/{number}-{slug}` for a GitHub
/// issue's task, else `owp/{key}`) filled in and made a valid ref name.
pub fn branch_name(template: Option<&str>, task: &Task) -> String {
    let key = task.key.clone().unwrap_or_else(|| task.task_id.clone());
    let issue_number = key
        .rsplit_once('#')
        .map(|(_, n)| n.to_string())
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    let default = if issue_number.is_some() {
        DEFAULT_ISSUE_BRANCH
    } else {
        DEFAULT_BRANCH
    };
    let template = template
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or(default);
    let number = issue_number.unwrap_or_else(|| key.clone());
    let filled = template
        .replace("{key}", &key)
        .replace("{number}", &number)
        .replace("{slug}", &slug(&task.title))
        .replace("{task_id}", &task.task_id);
    sanitize_ref(&filled)
}

/// A title as a short lower-case slug (`fix-the-parser`).
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(40).collect();
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "task".into() } else { out }
}

/// Makes `name` a valid git branch name (see `git check-ref-format`): no spaces, control
/// characters, `~^:?*[\`, `..`, `@{`, no component starting with `.` or ending with `.lock`, no
/// leading `-`, no trailing `/` or `.`.
pub fn sanitize_ref(name: &str) -> String {
    let replaced: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_control() || c.is_whitespace() || "~^:?*[\\#@{}".contains(c) {
                '-'
            } else {
                c
            }
        })
        .collect();
    let mut parts = Vec::new();
    for part in replaced.split('/') {
        let mut p = part.to_string();
        while p.contains("..") {
            p = p.replace("..", ".");
        }
        let mut p = p.trim_start_matches(['.', '-']).to_string();
        while p.ends_with(".lock") {
            p.truncate(p.len() - 5);
        }
        let p = p.trim_end_matches('.').to_string();
        if !p.is_empty() {
            parts.push(p);
        }
    }
    let joined = parts.join("/");
    let joined: String = joined.chars().take(200).collect();
    let joined = joined.trim_end_matches(['/', '.']).to_string();
    if joined.is_empty() {
        "owp/task".into()
    } else {
        joined
    }
}

/// Whether `url` names a repository on this machine rather than on a server: a path (absolute,
/// relative, a Windows drive or share) or a `file:` URL. `git clone` accepts both, and a pool that
/// names one would have the worker clone, and push into, one of the volunteer's own repositories.
pub fn is_local_clone_url(url: &str) -> bool {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("file:") {
        return true;
    }
    if let Some((scheme, _)) = lower.split_once("://") {
        // `ssh://`, `https://`, `git://`, `ext::`-less transports: a server.
        return scheme.is_empty();
    }
    // A Windows drive (`C:\…`, `C:/…`) is a path, not `host:path`.
    let bytes = url.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return true;
    }
    // scp-like `user@host:path` or `host:path`: a colon before any slash.
    match (url.find(':'), url.find(['/', '\\'])) {
        (Some(colon), Some(slash)) => colon > slash,
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Refuses a clone URL this worker does not use: `-…` (an option to git), a transport other than
/// https, http, ssh, git and scp-like `host:path`, and a local path unless `allow_local`.
pub fn clone_url_problem(url: &str, allow_local: bool) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with('-') {
        return Some("the repository's clone URL starts with `-`".into());
    }
    if is_local_clone_url(url) {
        if allow_local {
            return None;
        }
        return Some(format!(
            "the repository's clone URL `{url}` is a local path, not a server's URL; \
             this worker clones only https, ssh and git URLs (pass --allow-local-clone to use a local repository)"
        ));
    }
    if let Some((scheme, _)) = lower.split_once("://")
        && !matches!(
            scheme,
            "https" | "http" | "ssh" | "git" | "git+ssh" | "ssh+git"
        )
    {
        return Some(format!(
            "the repository's clone URL uses `{scheme}://`; this worker clones only https, ssh and git URLs"
        ));
    }
    if lower.contains("::") {
        return Some("the repository's clone URL names a git remote helper (`::`)".into());
    }
    None
}

/// Runs `git ARGS` in `dir` and returns its trimmed standard output.
pub async fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = tokio::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .await
        .map_err(|e| anyhow!("cannot run git (is it installed and on PATH?): {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "`git {}` failed: {}",
            args.join(" "),
            err.trim().lines().last().unwrap_or("")
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A prepared worktree.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub branch: String,
    /// `origin/<default branch>`, which the branch starts from.
    pub base_ref: String,
    /// The default branch's name (`main`).
    pub default_branch: String,
}

/// Clones (or fetches) the repository and makes the task's worktree on `branch`. A worktree
/// left by an earlier run of the same task is used again as it is.
pub async fn prepare(layout: &Layout, clone_url: &str, branch: &str) -> anyhow::Result<Prepared> {
    if let Some(parent) = layout.clone.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    if layout.clone.join(".git").exists() {
        git(&layout.clone, &["fetch", "--prune", "origin"]).await?;
    } else {
        let parent = layout.clone.parent().unwrap_or(Path::new("."));
        let target = layout.clone.to_string_lossy().to_string();
        git(parent, &["clone", "--", clone_url, &target]).await?;
    }
    // The remote's default branch (what origin/HEAD points at).
    let default_branch = match git(
        &layout.clone,
        &["symbolic-ref", "--short", "refs/remotes/origin/HEAD"],
    )
    .await
    {
        Ok(r) => r.trim_start_matches("origin/").to_string(),
        Err(_) => {
            git(&layout.clone, &["remote", "set-head", "origin", "--auto"]).await?;
            git(
                &layout.clone,
                &["symbolic-ref", "--short", "refs/remotes/origin/HEAD"],
            )
            .await?
            .trim_start_matches("origin/")
            .to_string()
        }
    };
    if branch == default_branch {
        bail!(
            "the branch template names the default branch `{default_branch}`; refusing to work on it"
        );
    }
    let base_ref = format!("origin/{default_branch}");
    if !layout.worktree.join(".git").exists() {
        if let Some(parent) = layout.worktree.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        // A stale registration of a worktree whose folder is gone would block `worktree add`.
        let _ = git(&layout.clone, &["worktree", "prune"]).await;
        let path = layout.worktree.to_string_lossy().to_string();
        git(
            &layout.clone,
            &["worktree", "add", "-B", branch, &path, &base_ref],
        )
        .await?;
    }
    Ok(Prepared {
        branch: branch.to_string(),
        base_ref,
        default_branch,
    })
}

/// How many commits the worktree's branch has beyond the default branch.
pub async fn new_commits(worktree: &Path, base_ref: &str) -> anyhow::Result<u64> {
    let count = git(
        worktree,
        &["rev-list", "--count", "HEAD", "--not", base_ref],
    )
    .await?;
    count
        .parse()
        .map_err(|_| anyhow!("git rev-list answered {count:?}"))
}

/// Whether the worktree holds changes that are not committed (untracked files included).
pub async fn has_changes(worktree: &Path) -> anyhow::Result<bool> {
    Ok(!git(worktree, &["status", "--porcelain"]).await?.is_empty())
}

/// Pushes the worktree's `HEAD` to `origin` as `branch` (never the default branch).
pub async fn push(worktree: &Path, prepared: &Prepared) -> anyhow::Result<String> {
    if prepared.branch == prepared.default_branch {
        bail!("refusing to push to the default branch");
    }
    let refspec = format!("HEAD:refs/heads/{}", prepared.branch);
    git(worktree, &["push", "origin", &refspec]).await?;
    git(worktree, &["rev-parse", "HEAD"]).await
}

/// Removes a task's worktree (after its pull request is open); the branch stays.
pub async fn remove(layout: &Layout) {
    let path = layout.worktree.to_string_lossy().to_string();
    let _ = git(&layout.clone, &["worktree", "remove", "--force", &path]).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(key: Option<&str>, title: &str) -> Task {
        let mut t = crate::cli::brief::tests_task();
        t.key = key.map(str::to_string);
        t.title = title.to_string();
        t
    }

    #[test]
    fn branch_names() {
        let t = task(Some("acme/widgets#7"), "Fix the parser!");
        assert_eq!(branch_name(None, &t), "owp/7-fix-the-parser");
        assert_eq!(
            branch_name(Some("fix/{number}-{slug}"), &t),
            "fix/7-fix-the-parser"
        );
        let t = task(None, "x");
        assert_eq!(branch_name(None, &t), "owp/t-1");
        let t = task(Some("DEMO-3"), "x");
        assert_eq!(branch_name(None, &t), "owp/DEMO-3");
        let t = task(Some("../.lock a~b^c:d"), "x");
        let b = branch_name(Some("owp/{key}.lock"), &t);
        assert_eq!(b, "owp/lock-a-b-c-d");
        assert_eq!(sanitize_ref("-x/.y/z."), "x/y/z");
        assert_eq!(sanitize_ref("a@{b}"), "a--b-");
        assert_eq!(sanitize_ref("///"), "owp/task");
    }

    #[test]
    fn clone_urls_must_name_a_server_unless_local_is_allowed() {
        for url in [
            "https://github.com/acme/w.git",
            "ssh://git@example.com/acme/w.git",
            "git://example.com/w.git",
            "git@github.com:acme/w.git",
            "example.com:w.git",
        ] {
            assert!(!is_local_clone_url(url), "{url}");
            assert_eq!(clone_url_problem(url, false), None, "{url}");
        }
        for url in [
            "/srv/git/w.git",
            "../w.git",
            "w.git",
            "file:///srv/git/w.git",
            "FILE://localhost/srv",
            "C:\\git\\w.git",
            "c:/git/w.git",
            "\\\\server\\share\\w.git",
            "./host:path",
        ] {
            assert!(is_local_clone_url(url), "{url}");
            assert!(clone_url_problem(url, false).is_some(), "{url}");
            assert_eq!(clone_url_problem(url, true), None, "{url}");
        }
        for url in ["ext::sh -c x", "fd::3", "ftp://example.com/w.git", "-uhoh"] {
            assert!(clone_url_problem(url, true).is_some(), "{url}");
        }
    }

    #[test]
    fn safe_names() {
        assert_eq!(safe_name("acme/widgets"), "acme-widgets");
        assert_eq!(safe_name("../.."), "x");
    }
}
