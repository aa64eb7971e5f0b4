//! GitHub's JSON shapes for the fake's objects.
//!
//! Each object starts from a real example (the payload fixtures in `tests/fixtures/github/`), so
//! that every field a client may require is there, and gets the fake's values written over it.

use std::sync::LazyLock;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::model::{BOT_LOGIN, Comment, Issue, Model, Pull, Repo};

/// Web pages live on github.com, so links look like GitHub's.
pub const WEB: &str = "https://github.com";

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

static ISSUE_PAYLOAD: LazyLock<Value> =
    LazyLock::new(|| fixture(include_str!("../../fixtures/github/issues.opened.json")));
static LABELED_PAYLOAD: LazyLock<Value> =
    LazyLock::new(|| fixture(include_str!("../../fixtures/github/issues.labeled.json")));
static COMMENT_PAYLOAD: LazyLock<Value> = LazyLock::new(|| {
    fixture(include_str!(
        "../../fixtures/github/issue_comment.created.json"
    ))
});
static PULL_PAYLOAD: LazyLock<Value> = LazyLock::new(|| {
    fixture(include_str!(
        "../../fixtures/github/pull_request.opened.json"
    ))
});

pub fn time(t: DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

pub fn set(target: &mut Value, fields: Value) {
    let (Value::Object(target), Value::Object(fields)) = (target, fields) else {
        panic!("both must be objects");
    };
    for (k, v) in fields {
        target.insert(k, v);
    }
}

/// A user (or, for logins ending in `[bot]`, a bot) account.
pub fn user(api: &str, model: &mut Model, login: &str) -> Value {
    let id = model.user_id(login);
    let kind = if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    let mut u = ISSUE_PAYLOAD["sender"].clone();
    set(
        &mut u,
        json!({
            "login": login,
            "id": id,
            "node_id": format!("U_{id}"),
            "type": kind,
            "url": format!("{api}/users/{login}"),
            "html_url": format!("{WEB}/{login}"),
            "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
            "followers_url": format!("{api}/users/{login}/followers"),
            "following_url": format!("{api}/users/{login}/following{{/other_user}}"),
            "gists_url": format!("{api}/users/{login}/gists{{/gist_id}}"),
            "starred_url": format!("{api}/users/{login}/starred{{/owner}}{{/repo}}"),
            "subscriptions_url": format!("{api}/users/{login}/subscriptions"),
            "organizations_url": format!("{api}/users/{login}/orgs"),
            "repos_url": format!("{api}/users/{login}/repos"),
            "events_url": format!("{api}/users/{login}/events{{/privacy}}"),
            "received_events_url": format!("{api}/users/{login}/received_events"),
        }),
    );
    u
}

/// `GET /user` for the person a user access token stands for: GitHub's public profile
/// (`public-user`; a GitHub App's user token carries no private profile fields).
pub fn signed_in_user(api: &str, model: &mut Model, login: &str) -> Value {
    let mut u = user(api, model, login);
    // Every account the fake knows was created on the same day.
    let created = "2020-01-01T00:00:00Z";
    set(
        &mut u,
        json!({
            "name": null,
            "company": null,
            "blog": "",
            "location": null,
            "email": null,
            "hireable": null,
            "bio": null,
            "twitter_username": null,
            "public_repos": 0,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": created,
            "updated_at": created,
        }),
    );
    u
}

pub fn repo(api: &str, model: &mut Model, r: &Repo) -> Value {
    let owner = user(api, model, r.owner());
    let full = &r.full_name;
    let mut v = ISSUE_PAYLOAD["repository"].clone();
    set(
        &mut v,
        json!({
            "id": r.id,
            "node_id": format!("R_{}", r.id),
            "name": r.name(),
            "full_name": full,
            "owner": owner,
            "private": false,
            "default_branch": r.default_branch,
            "url": format!("{api}/repos/{full}"),
            "html_url": format!("{WEB}/{full}"),
            "issues_url": format!("{api}/repos/{full}/issues{{/number}}"),
            "pulls_url": format!("{api}/repos/{full}/pulls{{/number}}"),
            "contents_url": format!("{api}/repos/{full}/contents/{{+path}}"),
        }),
    );
    v
}

/// The short repository form used in installation lists.
pub fn repo_name(r: &Repo) -> Value {
    json!({
        "id": r.id,
        "node_id": format!("R_{}", r.id),
        "name": r.name(),
        "full_name": r.full_name,
        "private": false,
    })
}

pub fn label(api: &str, repo: &str, name: &str) -> Value {
    // A stable id per name, so the same label keeps its id.
    let id = name
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
        % 1_000_000_000;
    let mut v = LABELED_PAYLOAD["label"].clone();
    set(
        &mut v,
        json!({
            "id": id,
            "node_id": format!("LA_{id}"),
            "url": format!("{api}/repos/{repo}/labels/{}", name.replace(' ', "%20")),
            "name": name,
            "color": "ededed",
            "default": false,
            "description": null,
        }),
    );
    v
}

fn issue_urls(api: &str, repo: &str, number: u64, kind: &str) -> Value {
    json!({
        "url": format!("{api}/repos/{repo}/issues/{number}"),
        "repository_url": format!("{api}/repos/{repo}"),
        "labels_url": format!("{api}/repos/{repo}/issues/{number}/labels{{/name}}"),
        "comments_url": format!("{api}/repos/{repo}/issues/{number}/comments"),
        "events_url": format!("{api}/repos/{repo}/issues/{number}/events"),
        "html_url": format!("{WEB}/{repo}/{kind}/{number}"),
    })
}

fn comment_count(model: &Model, repo: &str, number: u64) -> usize {
    model
        .comments
        .values()
        .filter(|c| c.repo.eq_ignore_ascii_case(repo) && c.number == number)
        .count()
}

pub fn issue(api: &str, model: &mut Model, repo: &Repo, i: &Issue) -> Value {
    let full = &repo.full_name;
    let author = user(api, model, &i.author);
    let labels: Vec<Value> = i.labels.iter().map(|l| label(api, full, l)).collect();
    let comments = comment_count(model, full, i.number);
    let mut v = ISSUE_PAYLOAD["issue"].clone();
    set(&mut v, issue_urls(api, full, i.number, "issues"));
    set(
        &mut v,
        json!({
            "id": repo.id * 100_000 + i.number,
            "node_id": format!("I_{}_{}", repo.id, i.number),
            "number": i.number,
            "title": i.title,
            "body": i.body,
            "user": author,
            "labels": labels,
            "state": if i.open { "open" } else { "closed" },
            "state_reason": if i.open { Value::Null } else { json!("completed") },
            "locked": false,
            "assignee": null,
            "assignees": [],
            "milestone": null,
            "comments": comments,
            "created_at": time(i.created_at),
            "updated_at": time(i.updated_at),
            "closed_at": i.closed_at.map(time),
            "author_association": "NONE",
            "issue_dependencies_summary": model.dependency_summary(full, i.number),
        }),
    );
    v
}

/// A pull request as the issues API shows it (with its `pull_request` link object).
pub fn pull_as_issue(api: &str, model: &mut Model, repo: &Repo, p: &Pull) -> Value {
    let as_issue = Issue {
        number: p.number,
        title: p.title.clone(),
        body: p.body.clone(),
        open: p.open,
        labels: p.labels.clone(),
        author: p.author.clone(),
        created_at: p.created_at,
        updated_at: p.updated_at,
        closed_at: p.closed_at,
    };
    let mut v = issue(api, model, repo, &as_issue);
    let full = &repo.full_name;
    set(&mut v, issue_urls(api, full, p.number, "pull"));
    set(
        &mut v,
        json!({
            "pull_request": {
                "url": format!("{api}/repos/{full}/pulls/{}", p.number),
                "html_url": format!("{WEB}/{full}/pull/{}", p.number),
                "diff_url": format!("{WEB}/{full}/pull/{}.diff", p.number),
                "patch_url": format!("{WEB}/{full}/pull/{}.patch", p.number),
                "merged_at": p.merged_at.map(time),
            }
        }),
    );
    v
}

pub fn pull(api: &str, model: &mut Model, repo: &Repo, p: &Pull) -> Value {
    let full = &repo.full_name;
    let author = user(api, model, &p.author);
    let labels: Vec<Value> = p.labels.iter().map(|l| label(api, full, l)).collect();
    let repo_json = self::repo(api, model, repo);
    let n = p.number;
    let mut v = PULL_PAYLOAD["pull_request"].clone();
    let mut head = v["head"].clone();
    set(
        &mut head,
        json!({"ref": p.head_ref, "label": format!("{}:{}", repo.owner(), p.head_ref),
               "repo": repo_json.clone(), "user": author.clone()}),
    );
    let mut base = v["base"].clone();
    set(
        &mut base,
        json!({"ref": p.base_ref, "label": format!("{}:{}", repo.owner(), p.base_ref),
               "repo": repo_json, "user": author.clone()}),
    );
    set(
        &mut v,
        json!({
            "id": repo.id * 100_000 + n,
            "node_id": format!("PR_{}_{}", repo.id, n),
            "number": n,
            "url": format!("{api}/repos/{full}/pulls/{n}"),
            "html_url": format!("{WEB}/{full}/pull/{n}"),
            "diff_url": format!("{WEB}/{full}/pull/{n}.diff"),
            "patch_url": format!("{WEB}/{full}/pull/{n}.patch"),
            "issue_url": format!("{api}/repos/{full}/issues/{n}"),
            "comments_url": format!("{api}/repos/{full}/issues/{n}/comments"),
            "title": p.title,
            "body": p.body,
            "user": author,
            "labels": labels,
            "state": if p.open { "open" } else { "closed" },
            "draft": p.draft,
            "merged": p.merged,
            "merged_at": p.merged_at.map(time),
            "closed_at": p.closed_at.map(time),
            "created_at": time(p.created_at),
            "updated_at": time(p.updated_at),
            "head": head,
            "base": base,
            "author_association": "CONTRIBUTOR",
            "changed_files": p.files.len(),
        }),
    );
    v
}

pub fn comment(api: &str, model: &mut Model, c: &Comment) -> Value {
    let author = user(api, model, &c.author);
    let kind = match model.repo(&c.repo) {
        Some(r) if r.pulls.contains_key(&c.number) => "pull",
        _ => "issues",
    };
    let repo = &c.repo;
    let mut v = COMMENT_PAYLOAD["comment"].clone();
    set(
        &mut v,
        json!({
            "id": c.id,
            "node_id": format!("IC_{}", c.id),
            "url": format!("{api}/repos/{repo}/issues/comments/{}", c.id),
            "html_url": format!("{WEB}/{repo}/{kind}/{}#issuecomment-{}", c.number, c.id),
            "issue_url": format!("{api}/repos/{repo}/issues/{}", c.number),
            "body": c.body,
            "user": author,
            "created_at": time(c.created_at),
            "updated_at": time(c.updated_at),
            "author_association": if c.author_is_bot {
                "NONE"
            } else {
                model.author_association(repo, &c.author)
            },
        }),
    );
    v
}

pub fn installation(api: &str, model: &mut Model, id: u64) -> Value {
    let inst = model.installations[&id].clone();
    let account = user(api, model, &inst.account);
    let mut v = fixture(include_str!(
        "../../fixtures/github/installation.created.json"
    ))["installation"]
        .clone();
    set(
        &mut v,
        json!({
            "id": id,
            "account": account,
            "app_id": model.app_id,
            "access_tokens_url": format!("{api}/app/installations/{id}/access_tokens"),
            "repositories_url": format!("{api}/installation/repositories"),
            "html_url": format!("{WEB}/settings/installations/{id}"),
            "target_type": "User",
            "permissions": permissions(),
            "events": crate::github_support::APP_EVENTS,
            "suspended_at": if inst.suspended { time(Utc::now()) } else { Value::Null },
        }),
    );
    v
}

/// The permissions the test App holds (those of `app-manifest.yml`).
pub fn permissions() -> Value {
    json!({
        "issues": "write",
        "pull_requests": "read",
        "contents": "read",
        "metadata": "read",
    })
}

#[allow(
    dead_code,
    reason = "part of the fake's API, unused by today's stories"
)]
pub fn bot_login() -> &'static str {
    BOT_LOGIN
}

/// GitHub's error body.
pub fn error(message: &str) -> Value {
    json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": "",
    })
}
