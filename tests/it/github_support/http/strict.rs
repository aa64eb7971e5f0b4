//! The fake's strictness: each request is checked against GitHub's REST description
//! ([`crate::github_support::openapi`]) before it is routed, and listings link to their pages in
//! GitHub's own `/repositories/{id}/…` form.

use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

use super::super::Shared;
use super::super::model::{Model, Repo};
use super::super::openapi::{self, Violation};
use super::Reply;

/// `/repositories/{id}/rest` as the `/repos/{owner}/{name}/rest` it stands for (GitHub serves
/// both; its `Link` headers use the first). Other paths are returned as they are.
pub(super) fn repository_path(m: &Model, path: &str) -> String {
    let Some(rest) = path.strip_prefix("/repositories/") else {
        return path.to_string();
    };
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let Some(repo) = id
        .parse::<u64>()
        .ok()
        .and_then(|id| m.repos.values().find(|r| r.id == id))
    else {
        return path.to_string();
    };
    if tail.is_empty() {
        format!("/repos/{}", repo.full_name)
    } else {
        format!("/repos/{}/{tail}", repo.full_name)
    }
}

/// The `Link` header of a listing in GitHub's form: `/repositories/{id}/…` for a repository's
/// listings, an opaque `cursor=` for webhook deliveries (never a bare number: GitHub's description
/// types it as a string).
pub(super) fn github_links(m: &Model, api: &str, path: &str, reply: &mut Reply) {
    for (name, value) in reply.headers.iter_mut() {
        if name != "link" {
            continue;
        }
        if path.starts_with("/app/hook/deliveries") {
            *value = value
                .replace("&page=", "&cursor=v1_")
                .replace("?page=", "?cursor=v1_");
            continue;
        }
        let mut parts = path.trim_start_matches('/').splitn(4, '/');
        let (Some("repos"), Some(owner), Some(name)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if let Some(repo) = m.repo(&format!("{owner}/{name}")) {
            *value = value.replace(
                &format!("{api}/repos/{owner}/{name}/"),
                &format!("{api}/repositories/{}/", repo.id),
            );
        }
    }
}

/// Checks a request against GitHub's description. A violation is recorded (the test fails when
/// the fake is dropped) and, where GitHub would refuse the request, answered as GitHub answers.
pub(super) fn check(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Reply> {
    let pairs: Vec<(String, String)> = query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .map(|(k, v)| {
            (
                super::percent_decode(k),
                super::percent_decode(&v.replace('+', " ")),
            )
        })
        .collect();
    if let Some(agent) = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        let mut agents = shared.user_agents.lock().unwrap();
        if !agents.iter().any(|a| a == agent) {
            agents.push(agent.to_string());
        }
    }
    let violation = openapi::check(method.as_str(), path, &pairs, headers, body).err()?;
    // Tests pick a free port for an `owp serve` child and poll it until it answers; when a fake
    // took that port in the meantime, the polls land here. They are not the App's calls.
    let meant_for_owp =
        path == "/healthz" || path == "/metrics" || path == "/v1" || path.starts_with("/v1/");
    if meant_for_owp && matches!(violation, Violation::UnknownRoute(_)) {
        return Some(Reply::not_found());
    }
    shared
        .violations
        .lock()
        .unwrap()
        .push(violation.describe().to_string());
    match violation {
        Violation::UnknownRoute(_) | Violation::WrongMethod(_) => Some(Reply::not_found()),
        Violation::BadBody(message) => Some(Reply::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Invalid request. {message}"),
        )),
        Violation::BadHeaders(_) => Some(Reply::error(
            StatusCode::FORBIDDEN,
            "Request forbidden by administrative rules. Please make sure your request has a \
             User-Agent header.",
        )),
        // GitHub ignores a query parameter it does not know: the request goes on.
        Violation::BadQuery(_) => None,
    }
}

/// A page of a listing GitHub wraps in an object (`{"total_count", "<key>": [...]}`), from the
/// page [`super::paginate`] made of its items.
pub(super) fn paginate_wrapped(mut page: Reply, key: &str) -> Reply {
    let items = page.body.take().unwrap_or(Value::Array(Vec::new()));
    let total = page
        .headers
        .iter()
        .find(|(name, _)| name == "x-total-count")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let count = total.unwrap_or_else(|| items.as_array().map_or(0, Vec::len));
    page.body = Some(serde_json::json!({ "total_count": count, key: items }));
    page
}

/// A pull request as GitHub lists it (`pull-request-simple`): without `merged` and the other
/// fields only `GET /repos/{owner}/{repo}/pulls/{pull_number}` answers.
pub(super) fn pull_list_item(mut pull: Value) -> Value {
    if let Some(fields) = pull.as_object_mut() {
        for only_single in [
            "merged",
            "mergeable",
            "rebaseable",
            "mergeable_state",
            "merged_by",
            "comments",
            "review_comments",
            "maintainer_can_modify",
            "commits",
            "additions",
            "deletions",
            "changed_files",
        ] {
            fields.remove(only_single);
        }
    }
    pull
}

/// GitHub answers 404 on the permission route for a login it does not know. The fake knows the
/// people with a permission, an issue, a pull request or a comment, and those it has shown.
pub(super) fn known_login(m: &Model, repo: &Repo, login: &str) -> Result<(), Reply> {
    let known = repo.permissions.contains_key(&login.to_lowercase()) || m.knows_account(login);
    if known {
        Ok(())
    } else {
        Err(Reply::error(
            StatusCode::NOT_FOUND,
            &format!("{login} is not a user"),
        ))
    }
}

/// Every `"user"` of an answer whose account was deleted becomes `null`.
pub(super) fn deleted_users(shared: &Shared, reply: &mut Reply) {
    let deleted = shared.deleted_accounts.lock().unwrap();
    if deleted.is_empty() {
        return;
    }
    fn walk(value: &mut Value, deleted: &std::collections::HashSet<String>) {
        match value {
            Value::Object(fields) => {
                if let Some(user) = fields.get_mut("user") {
                    let gone = user
                        .get("login")
                        .and_then(Value::as_str)
                        .is_some_and(|l| deleted.contains(&l.to_lowercase()));
                    if gone {
                        *user = Value::Null;
                    }
                }
                fields.values_mut().for_each(|v| walk(v, deleted));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, deleted)),
            _ => {}
        }
    }
    if let Some(body) = reply.body.as_mut() {
        walk(body, &deleted);
    }
}

/// Checks the fake's own answer against GitHub's schema for it (where vendored): a mismatch is a
/// violation, so the test that saw it fails.
pub(super) fn check_answer(shared: &Shared, method: &Method, path: &str, reply: &Reply) {
    let Some(body) = reply.body.as_ref() else {
        return;
    };
    if let Err(e) = openapi::check_answer(method.as_str(), path, reply.status.as_u16(), body) {
        shared.violations.lock().unwrap().push(e);
    }
}
