//! The simulated GitHub's answers: GitHub's REST shapes, reduced to the fields octocrab and the
//! App read (and a few that every GitHub answer carries), and its error bodies.

use serde_json::{Value, json};

use super::{SimComment, SimIssue, SimRepo};

/// The App's own account, as GitHub shows it on the App's comments.
pub(super) const BOT_LOGIN: &str = "owp-bench[bot]";
const BOT_ID: u64 = 9_000_001;
pub(super) const WEB: &str = "https://github.com";
/// Every object the simulation makes was made at this time.
const CREATED: &str = "2026-01-01T00:00:00Z";

pub(super) fn user(api: &str, login: &str, id: u64, kind: &str) -> Value {
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_{id}"),
        "type": kind,
        "site_admin": false,
        "url": format!("{api}/users/{login}"),
        "html_url": format!("{WEB}/{login}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
    })
}

pub(super) fn bot(api: &str) -> Value {
    user(api, BOT_LOGIN, BOT_ID, "Bot")
}

/// `GET /users/{login}`: a public profile, with the account's age.
pub(super) fn profile(api: &str, login: &str, id: u64) -> Value {
    let mut u = user(api, login, id, "User");
    u["created_at"] = json!(CREATED);
    u["updated_at"] = json!(CREATED);
    u["public_repos"] = json!(1);
    u["followers"] = json!(0);
    u["following"] = json!(0);
    u
}

pub(super) fn app(api: &str, app_id: u64) -> Value {
    json!({
        "id": app_id,
        "slug": BOT_LOGIN.trim_end_matches("[bot]"),
        "node_id": format!("A_{app_id}"),
        "name": "OWP bench",
        "owner": user(api, "bench-owner", 1, "Organization"),
        "html_url": format!("{WEB}/apps/owp-bench"),
        "created_at": CREATED,
        "updated_at": CREATED,
        "permissions": permissions(),
        "events": ["issues", "issue_comment", "pull_request"],
    })
}

pub(super) fn permissions() -> Value {
    json!({"issues": "write", "pull_requests": "write", "contents": "read", "metadata": "read"})
}

pub(super) fn installation(api: &str, id: u64, account: &str) -> Value {
    json!({
        "id": id,
        "account": user(api, account, id, "Organization"),
        "app_id": 1,
        "target_type": "Organization",
        "repository_selection": "selected",
        "permissions": permissions(),
        "events": ["issues", "issue_comment", "pull_request"],
        "created_at": CREATED,
        "updated_at": CREATED,
        "suspended_at": null,
        "access_tokens_url": format!("{api}/app/installations/{id}/access_tokens"),
        "repositories_url": format!("{api}/installation/repositories"),
        "html_url": format!("{WEB}/organizations/{account}/settings/installations/{id}"),
    })
}

pub(super) fn repo(api: &str, r: &SimRepo) -> Value {
    let (owner, name) = r.full_name.split_once('/').unwrap_or(("", &r.full_name));
    json!({
        "id": r.id,
        "node_id": format!("R_{}", r.id),
        "name": name,
        "full_name": r.full_name,
        "private": false,
        "owner": user(api, owner, r.installation, "Organization"),
        "html_url": format!("{WEB}/{}", r.full_name),
        "url": format!("{api}/repos/{}", r.full_name),
        "default_branch": "main",
        "archived": false,
        "disabled": false,
        "visibility": "public",
        "created_at": CREATED,
        "updated_at": CREATED,
    })
}

pub(super) fn label(api: &str, repo: &str, name: &str) -> Value {
    json!({
        "id": name.len() as u64 * 1_000 + 7,
        "node_id": format!("LA_{name}"),
        "url": format!("{api}/repos/{repo}/labels/{name}"),
        "name": name,
        "color": "ededed",
        "default": false,
        "description": null,
    })
}

pub(super) fn issue(api: &str, repo: &str, i: &SimIssue) -> Value {
    json!({
        "id": i.id,
        "node_id": format!("I_{}", i.id),
        "number": i.number,
        "title": i.title,
        "body": i.body,
        "state": "open",
        "locked": false,
        "labels": i.labels.iter().map(|l| label(api, repo, l)).collect::<Vec<_>>(),
        "user": user(api, &i.author, i.author_id, "User"),
        "assignees": [],
        "comments": i.comments,
        "author_association": "NONE",
        "html_url": format!("{WEB}/{repo}/issues/{}", i.number),
        "url": format!("{api}/repos/{repo}/issues/{}", i.number),
        "repository_url": format!("{api}/repos/{repo}"),
        "comments_url": format!("{api}/repos/{repo}/issues/{}/comments", i.number),
        "created_at": CREATED,
        "updated_at": CREATED,
        "closed_at": null,
        "issue_dependencies_summary": {
            "blocked_by": 0, "total_blocked_by": 0, "blocking": 0, "total_blocking": 0
        },
    })
}

pub(super) fn comment(api: &str, c: &SimComment) -> Value {
    let repo = &c.repo;
    json!({
        "id": c.id,
        "node_id": format!("IC_{}", c.id),
        "url": format!("{api}/repos/{repo}/issues/comments/{}", c.id),
        "html_url": format!("{WEB}/{repo}/issues/{}#issuecomment-{}", c.number, c.id),
        "issue_url": format!("{api}/repos/{repo}/issues/{}", c.number),
        "body": c.body,
        "user": bot(api),
        "author_association": "NONE",
        "created_at": CREATED,
        "updated_at": CREATED,
    })
}

pub(super) fn reaction(api: &str, id: u64, content: &str) -> Value {
    json!({
        "id": id,
        "node_id": format!("REA_{id}"),
        "user": bot(api),
        "content": content,
        "created_at": CREATED,
    })
}

/// GitHub's error body.
pub(super) fn error(message: &str) -> Value {
    json!({"message": message, "documentation_url": "https://docs.github.com/rest"})
}
