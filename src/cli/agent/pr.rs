//! Opening the pull request with the person's own `gh` (or asking for its URL when there is no
//! `gh`), and its body: the contract's template plus the line that closes the task's issue.

use std::path::PathBuf;

use anyhow::{Context, anyhow};

use super::process;
use super::workspace::Prepared;
use crate::cli::brief;
use crate::cli::client::present::{is_github_repo, now_clock};
use crate::cli::client::{Task, say};
use crate::domain::contract::PullRequestStart;

/// A program on `PATH` (with the Windows executable extensions).
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let exts: Vec<String> = if cfg!(windows) {
        std::env::var("PATHEXT")
            .unwrap_or_else(|_| ".COM;.EXE;.BAT;.CMD".into())
            .split(';')
            .map(str::to_string)
            .chain([String::new()])
            .collect()
    } else {
        vec![String::new()]
    };
    std::env::split_paths(&path).find_map(|dir| {
        exts.iter()
            .map(|ext| dir.join(format!("{name}{ext}")))
            .find(|p| p.is_file())
    })
}

/// The pull request's body: the contract's template, then the closing keyword for the issue.
pub fn pr_body(task: &Task) -> String {
    let contract = brief::contract_of(task);
    let mut body = contract
        .pr_template
        .as_deref()
        .map(str::trim_end)
        .filter(|t| !t.is_empty())
        .map(|t| format!("{t}\n\n"))
        .unwrap_or_default();
    let same_repo_number = task
        .key
        .as_deref()
        .and_then(|k| k.rsplit_once('#'))
        .filter(|(repo, n)| *repo == task.repo && n.chars().all(|c| c.is_ascii_digit()))
        .map(|(_, n)| n.to_string());
    match (same_repo_number, brief::issue_url(task)) {
        (Some(n), _) => body.push_str(&format!("Fixes #{n}\n")),
        (None, Some(url)) => body.push_str(&format!("Fixes {url}\n")),
        (None, None) => {}
    }
    body.push_str(&format!(
        "\nOpen Work Protocol task `{}`{}.\n",
        task.task_id,
        task.key
            .as_deref()
            .map(|k| format!(" ({k})"))
            .unwrap_or_default()
    ));
    body
}

pub fn pr_command_preview(task: &Task, branch: &str) -> String {
    if is_github_repo(&task.repo) {
        format!(
            "gh pr create --repo {} --head {branch} --title {}",
            task.repo,
            process::quote(&task.title)
        )
    } else {
        "(not a GitHub repository: open it by hand, then type `pr URL`)".into()
    }
}

/// Whether the repository asks for drafts first (its policy, else its contract), and this
/// machine can open one (a GitHub repository and the person's `gh`).
pub fn drafts_first(task: &Task) -> bool {
    let asked = match &task.policy {
        Some(policy) => policy.drafts_first(),
        None => brief::contract_of(task).pull_requests == Some(PullRequestStart::Draft),
    };
    asked && is_github_repo(&task.repo) && find_on_path("gh").is_some()
}

/// Marks the draft `url` ready for review with the person's `gh` (`gh pr ready`); the error
/// says why not.
pub async fn mark_ready(task: &Task, url: &str) -> Result<(), String> {
    let gh = find_on_path("gh").ok_or("`gh` is no longer on PATH")?;
    let out = tokio::process::Command::new(&gh)
        .args(["pr", "ready", url, "--repo", &task.repo])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", gh.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(format!(
        "`gh pr ready` failed ({}): {}",
        out.status,
        err.trim().lines().last().unwrap_or("")
    ))
}

/// Drafts first, where the repository asks for them: the branch is pushed and the pull request
/// opened as a draft before the worker's checks run; its URL (`None`: the usual order, the pull
/// request opened ready after the checks).
pub async fn draft_before_checks(
    task: &Task,
    prepared: &Prepared,
    worktree: &std::path::Path,
) -> anyhow::Result<Option<String>> {
    if !drafts_first(task) {
        return Ok(None);
    }
    super::workspace::push(worktree, prepared).await?;
    let url = open_pr(task, prepared, true).await?;
    if let Some(url) = &url {
        say!(
            "{}  draft pull request {url} opened: it is marked ready when the checks pass",
            now_clock()
        );
    }
    Ok(url)
}

/// The draft `url` marked ready now that the checks passed, or why it stays a draft (said here;
/// the pull request is reported all the same).
pub async fn ready_or_say(task: &Task, url: &str) {
    match mark_ready(task, url).await {
        Ok(()) => say!("{}  {url} marked ready for review", now_clock()),
        Err(why) => say!(
            "{}  {url} stays a draft: {why}; mark it ready on GitHub",
            now_clock()
        ),
    }
}

/// Opens the pull request with the person's `gh` (as a draft when `draft`); `None` when there is
/// no `gh` or the repository is not on GitHub.
pub async fn open_pr(
    task: &Task,
    prepared: &Prepared,
    draft: bool,
) -> anyhow::Result<Option<String>> {
    if !is_github_repo(&task.repo) {
        return Ok(None);
    }
    let Some(gh) = find_on_path("gh") else {
        return Ok(None);
    };
    let body = pr_body(task);
    let out = tokio::process::Command::new(&gh)
        .args([
            "pr",
            "create",
            "--repo",
            &task.repo,
            "--head",
            &prepared.branch,
        ])
        .args(["--base", &prepared.default_branch])
        .args(["--title", &task.title, "--body", &body])
        .args(draft.then_some("--draft"))
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("cannot run {}", gh.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(anyhow!(
            "`gh pr create` failed ({}): {}",
            out.status,
            err.trim().lines().last().unwrap_or("")
        ));
    }
    let url = stdout
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with("https://") || l.starts_with("http://"))
        .map(str::to_string);
    url.map(Some)
        .ok_or_else(|| anyhow!("`gh pr create` printed no pull request URL"))
}

/// The line of [`pr_body`] a pull request opened by hand must carry: the one that links the
/// issue (`Fixes #4`), else its first line with words.
fn must_say(task: &Task) -> Option<String> {
    let body = pr_body(task);
    let lines = || body.lines().map(str::trim).filter(|l| !l.is_empty());
    lines()
        .find(|l| l.starts_with("Fixes "))
        .or_else(|| lines().next())
        .map(str::to_string)
}

/// Without `gh`: print where to open the pull request and read `pr URL` from the terminal.
pub async fn wait_for_pr_url(task: &Task, prepared: &Prepared) -> Option<String> {
    if is_github_repo(&task.repo) {
        say!(
            "open the pull request at https://github.com/{}/compare/{}...{}?expand=1",
            task.repo,
            prepared.default_branch,
            prepared.branch
        );
    } else {
        say!(
            "branch {} is pushed: open a pull request for it",
            prepared.branch
        );
    }
    match must_say(task) {
        Some(line) => say!("then type `pr URL` here (its description should say `{line}`)"),
        None => say!("then type `pr URL` here"),
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut line = String::new();
        while stdin.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            if tx.send(std::mem::take(&mut line)).is_err() {
                break;
            }
        }
    });
    while let Some(line) = rx.recv().await {
        match crate::cli::prompt::parse_prompt(&line, 1) {
            Ok(crate::cli::prompt::PromptCommand::Pr { url, .. }) => return Some(url),
            Ok(_) | Err(_) => say!("type `pr URL` (the pull request you opened)"),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pr_bodies_close_the_issue() {
        let mut t = crate::cli::brief::tests_task();
        t.contract = Some(Some(crate::domain::RepoContract {
            pr_template: Some("## Summary\n".into()),
            ..Default::default()
        }));
        let body = pr_body(&t);
        assert!(body.starts_with("## Summary\n\nFixes #7\n"), "{body}");
        t.repo = "acme/other".into();
        let body = pr_body(&t);
        assert!(
            body.contains("Fixes https://github.com/acme/widgets/issues/7"),
            "{body}"
        );
        t.key = Some("PLAIN-1".into());
        assert!(!pr_body(&t).contains("Fixes"));
    }
}
