//! The calls on a repository, with an installation's token: an issue's comments and reactions,
//! issues and pull requests (their blockers, changed files and commits), a person's permission,
//! and a file's text.

use chrono::{DateTime, Utc};
use octocrab::Octocrab;
use serde::Deserialize;
use serde_json::Value;

use super::{Answer, CallError, WireUser, get, list, list_with, patch, post};
use crate::conditional::EtagCache;
use crate::events::{Actor, Issue, PullRequest, without_nul};
use crate::raw_calls::{self, RepoPermission};

// ------------------------------------------------------------------------------------------------
// Comments
// ------------------------------------------------------------------------------------------------

/// A comment as the sender needs it to find its own comments again.
#[derive(Debug, Clone)]
pub struct CommentInfo {
    pub id: i64,
    pub body: String,
    /// Written by a bot account (the App is one).
    pub by_bot: bool,
}

#[derive(Deserialize)]
struct WireComment {
    id: i64,
    body: Option<String>,
    user: Option<WireUser>,
}

/// The comments of an issue, oldest first.
pub async fn issue_comments(
    client: &Octocrab,
    repo: &str,
    number: i64,
) -> Result<Vec<CommentInfo>, CallError> {
    let comments: Vec<WireComment> = list(
        client,
        &format!("/repos/{repo}/issues/{number}/comments?per_page=100"),
    )
    .await?;
    Ok(comments
        .into_iter()
        .map(|c| {
            let by_bot = c.user.map(|u| u.actor().is_bot()).unwrap_or(false);
            CommentInfo {
                id: c.id,
                body: c.body.unwrap_or_default(),
                by_bot,
            }
        })
        .collect())
}

/// Posts a comment; returns its id.
pub async fn create_comment(
    client: &Octocrab,
    repo: &str,
    number: i64,
    body: &str,
) -> Result<(i64, Answer), CallError> {
    let answer = post(
        client,
        &format!("/repos/{repo}/issues/{number}/comments"),
        &serde_json::json!({ "body": body }),
    )
    .await?;
    let id = comment_id(&answer)?;
    Ok((id, answer))
}

/// Replaces a comment's text.
pub async fn update_comment(
    client: &Octocrab,
    repo: &str,
    comment_id: i64,
    body: &str,
) -> Result<Answer, CallError> {
    patch(
        client,
        &format!("/repos/{repo}/issues/comments/{comment_id}"),
        &serde_json::json!({ "body": body }),
    )
    .await
}

/// Reacts to a comment (`+1`, `eyes`, …); returns the reaction's id.
pub async fn react(
    client: &Octocrab,
    repo: &str,
    comment_id: i64,
    content: &str,
) -> Result<(i64, Answer), CallError> {
    let answer = post(
        client,
        &format!("/repos/{repo}/issues/comments/{comment_id}/reactions"),
        &serde_json::json!({ "content": content }),
    )
    .await?;
    let id = comment_id_of(&answer).unwrap_or_default();
    Ok((id, answer))
}

fn comment_id_of(answer: &Answer) -> Option<i64> {
    serde_json::from_str::<Value>(&answer.body)
        .ok()?
        .get("id")?
        .as_i64()
}

fn comment_id(answer: &Answer) -> Result<i64, CallError> {
    comment_id_of(answer)
        .ok_or_else(|| CallError::Transient("GitHub's answer has no comment id".into()))
}

// ------------------------------------------------------------------------------------------------
// Issues and pull requests
// ------------------------------------------------------------------------------------------------

/// An issue as the REST API returns it: the webhook payloads' shape, with a REST user.
type WireIssue = crate::events::wire::Issue<WireUser>;

#[derive(Deserialize)]
struct WireBranch {
    #[serde(rename = "ref")]
    name: String,
}

#[derive(Deserialize)]
struct WirePull {
    number: u64,
    title: String,
    body: Option<String>,
    state: String,
    #[serde(default)]
    draft: Option<bool>,
    #[serde(default)]
    merged: Option<bool>,
    merged_at: Option<DateTime<Utc>>,
    html_url: String,
    /// `null` for a deleted account.
    user: Option<WireUser>,
    base: WireBranch,
}

impl From<WirePull> for PullRequest {
    fn from(p: WirePull) -> PullRequest {
        PullRequest {
            number: p.number,
            title: p.title,
            body: p.body.unwrap_or_default(),
            open: p.state == "open",
            draft: p.draft.unwrap_or(false),
            merged: p.merged.unwrap_or(p.merged_at.is_some()),
            merged_at: p.merged_at,
            html_url: p.html_url,
            author: Actor::or_ghost(p.user),
            base_ref: p.base.name,
            head_sha: None,
        }
    }
}

/// The open issues of a repository carrying `label` (pull requests left out).
pub async fn open_issues_with_label(
    client: &Octocrab,
    etags: &EtagCache,
    repo: &str,
    label: &str,
) -> Result<Vec<Issue>, CallError> {
    let path = format!(
        "/repos/{repo}/issues?state=open&labels={}&per_page=100",
        encode_query(label)
    );
    let issues: Vec<WireIssue> = list_with(client, Some(etags), &path).await?;
    Ok(issues
        .into_iter()
        .map(Issue::from)
        .filter(|i| !i.is_pull_request)
        .collect())
}

/// One issue.
pub async fn issue(client: &Octocrab, repo: &str, number: i64) -> Result<Issue, CallError> {
    let answer = get(client, &format!("/repos/{repo}/issues/{number}")).await?;
    Ok(answer.json::<WireIssue>()?.into())
}

/// An issue read by its number, and where GitHub found it.
#[derive(Debug)]
pub enum IssueRead {
    /// The issue asked for.
    Here(Issue),
    /// GitHub answered with another issue: the one asked for was transferred, and GitHub
    /// followed it (a 301 to `/repositories/{id}/issues/{n}`). Its repository (`owner/name`)
    /// and number now, as GitHub names them.
    Moved { repo: Option<String>, number: u64 },
}

/// The `owner/name` an API URL of a repository names (`…/repos/{owner}/{name}`).
fn repo_of_url(url: &str) -> Option<String> {
    let rest = url.split("/repos/").nth(1)?;
    let mut parts = rest.split('/');
    let (owner, name) = (parts.next()?, parts.next()?);
    (!owner.is_empty() && !name.is_empty()).then(|| format!("{owner}/{name}"))
}

/// One issue, checked to be the one asked for: after a transfer, GitHub redirects the old
/// address to the issue's new place, and the answer is then another repository's issue.
pub async fn issue_where(
    client: &Octocrab,
    repo: &str,
    number: i64,
) -> Result<IssueRead, CallError> {
    #[derive(Deserialize)]
    struct Place {
        number: u64,
        repository_url: Option<String>,
    }
    let answer = get(client, &format!("/repos/{repo}/issues/{number}")).await?;
    let place: Place = answer.json()?;
    let there = place.repository_url.as_deref().and_then(repo_of_url);
    let same_repo = there
        .as_deref()
        .is_none_or(|r| r.eq_ignore_ascii_case(repo));
    if same_repo && i64::try_from(place.number).ok() == Some(number) {
        Ok(IssueRead::Here(answer.json::<WireIssue>()?.into()))
    } else {
        Ok(IssueRead::Moved {
            repo: there,
            number: place.number,
        })
    }
}

/// The issues that block issue `number` (GitHub's "blocked by"), as `owner/name#N` keys with
/// whether each is open: one page of 100 (a task keeps at most 50 blockers). Call it only when
/// the issue's `issue_dependencies_summary` counts an open blocker.
pub async fn issue_blockers(
    client: &Octocrab,
    repo: &str,
    number: i64,
) -> Result<Vec<crate::store::deps::ExternalBlocker>, CallError> {
    #[derive(Deserialize)]
    struct Blocker {
        number: u64,
        state: String,
        repository_url: String,
    }
    let answer = get(
        client,
        &format!("/repos/{repo}/issues/{number}/dependencies/blocked_by?per_page=100"),
    )
    .await?;
    let blockers: Vec<Blocker> = answer.json()?;
    Ok(blockers
        .into_iter()
        .filter_map(|b| {
            let (_, full_name) = b.repository_url.rsplit_once("/repos/")?;
            Some(crate::store::deps::ExternalBlocker {
                key: format!("{full_name}#{}", b.number),
                open: b.state == "open",
            })
        })
        .collect())
}

/// The open pull requests of a repository.
pub async fn open_pulls(
    client: &Octocrab,
    etags: &EtagCache,
    repo: &str,
) -> Result<Vec<PullRequest>, CallError> {
    let pulls: Vec<WirePull> = list_with(
        client,
        Some(etags),
        &format!("/repos/{repo}/pulls?state=open&per_page=100"),
    )
    .await?;
    Ok(pulls.into_iter().map(PullRequest::from).collect())
}

/// One pull request.
pub async fn pull(client: &Octocrab, repo: &str, number: i64) -> Result<PullRequest, CallError> {
    let answer = get(client, &format!("/repos/{repo}/pulls/{number}")).await?;
    Ok(answer.json::<WirePull>()?.into())
}

/// Pages of a pull request's changed files GitHub serves at most (3,000 files, 100 a page).
pub const PULL_FILES_PAGES: usize = 30;

/// One page (from 1) of the files a pull request changes (`GET /repos/{o}/{r}/pulls/{n}/files`,
/// 100 a page, up to GitHub's own cap of 3,000 files, [`PULL_FILES_PAGES`] pages), each as its
/// path and, for a renamed file, its former path too: both are paths the pull request changes;
/// and whether GitHub has a next page. Names are a stranger's text; callers normalise them
/// (`domain::paths`).
pub async fn pull_files_page(
    client: &Octocrab,
    repo: &str,
    number: i64,
    page: usize,
) -> Result<(Vec<String>, bool), CallError> {
    #[derive(Deserialize)]
    struct WireFile {
        filename: String,
        #[serde(default)]
        previous_filename: Option<String>,
    }
    let answer = get(
        client,
        &format!("/repos/{repo}/pulls/{number}/files?per_page=100&page={page}"),
    )
    .await?;
    let files = answer
        .json::<Vec<WireFile>>()?
        .into_iter()
        .flat_map(|f| std::iter::once(f.filename).chain(f.previous_filename))
        .collect();
    Ok((files, answer.next.is_some()))
}

/// GitHub lists at most this many commits of one pull request (`GET …/pulls/{n}/commits`).
pub const PULL_COMMITS_PAGES: usize = 3;

/// One page (100) of a pull request's commits: each commit's SHA and whether GitHub verified its
/// signature (`commit.verification.verified`), and whether more pages follow.
pub async fn pull_commits_page(
    client: &Octocrab,
    repo: &str,
    number: i64,
    page: usize,
) -> Result<(Vec<(String, bool)>, bool), CallError> {
    #[derive(Deserialize)]
    struct WireCommit {
        sha: String,
        commit: WireInner,
    }
    #[derive(Deserialize)]
    struct WireInner {
        #[serde(default)]
        verification: Option<WireVerification>,
    }
    #[derive(Deserialize)]
    struct WireVerification {
        verified: bool,
    }
    let answer = get(
        client,
        &format!("/repos/{repo}/pulls/{number}/commits?per_page=100&page={page}"),
    )
    .await?;
    let commits = answer
        .json::<Vec<WireCommit>>()?
        .into_iter()
        .map(|c| (c.sha, c.commit.verification.is_some_and(|v| v.verified)))
        .collect();
    Ok((commits, answer.next.is_some()))
}

/// A person's access to a repository.
pub async fn permission(
    client: &Octocrab,
    repo: &str,
    login: &str,
) -> Result<RepoPermission, CallError> {
    raw_calls::collaborator_permission(client, repo, login)
        .await
        .map_err(|e| CallError::from_octocrab(&e))
}

/// The text of a file on the default branch, reading at most `max_bytes` of it.
pub async fn file_text(
    client: &Octocrab,
    etags: Option<&EtagCache>,
    repo: &str,
    path: &str,
    max_bytes: usize,
) -> Result<raw_calls::FileText, CallError> {
    let text = raw_calls::file_text(client, etags, repo, path, max_bytes)
        .await
        .map_err(|e| CallError::from_octocrab(&e))?;
    Ok(match text {
        raw_calls::FileText::Text(t) => raw_calls::FileText::Text(without_nul(&t)),
        other => other,
    })
}

fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                out.push(b as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_are_encoded_for_queries() {
        assert_eq!(encode_query("pool:ready"), "pool:ready");
        assert_eq!(encode_query("good first issue"), "good%20first%20issue");
    }
}
