//! What a person's own token may list of the App's installations, as GitHub serves it:
//!
//! - `GET /user/installations`: the installations of the App the user access token belongs to
//!   on which the person has explicit access to at least one repository (a permission of their
//!   own, or the account is theirs), wrapped as `{total_count, installations}`, paginated.
//! - `GET /user/installations/{installation_id}/repositories`: that installation's repositories
//!   the person has explicit access to, each with `permissions: {admin, maintain, push, triage,
//!   pull}`, wrapped as `{total_count, repository_selection, repositories}`, paginated; 404 for
//!   an installation the person cannot see.
//!
//! Both need a user access token (`ghu_…`); the App's JWT and installation tokens are refused,
//! as GitHub refuses them.

use std::collections::HashMap;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::super::json as shape;
use super::super::model::{CallAuth, Model, Repo};
use super::{Reply, paginate, strict, unauthorized};

/// The person's own role on `repo`, when GitHub would list the repository to them.
fn role_of(repo: &Repo, login: &str) -> Option<String> {
    match repo.permissions.get(&login.to_lowercase()) {
        Some(role) if role != "none" => Some(role.clone()),
        Some(_) => None,
        None if repo.owner().eq_ignore_ascii_case(login) => Some("admin".into()),
        None => None,
    }
}

/// GitHub's `permissions` of a repository listed to a person.
fn permissions(role: &str) -> Value {
    let rank = |r: &str| match r {
        "admin" => 5,
        "maintain" => 4,
        "write" => 3,
        "triage" => 2,
        "read" => 1,
        _ => 0,
    };
    let has = rank(role);
    json!({
        "admin": has >= 5,
        "maintain": has >= 4,
        "push": has >= 3,
        "triage": has >= 2,
        "pull": has >= 1,
    })
}

fn person(auth: &CallAuth) -> Result<String, Reply> {
    match auth {
        CallAuth::User(login) => Ok(login.clone()),
        CallAuth::AppJwt | CallAuth::Installation(_) => Err(Reply::error(
            StatusCode::FORBIDDEN,
            "You must authenticate with an access token authorized to a GitHub App in order to \
             list installations",
        )),
        other => Err(unauthorized(other)),
    }
}

/// The installations (ids) the person can see.
fn visible_installations(m: &Model, login: &str) -> Vec<u64> {
    m.installations
        .iter()
        .filter(|(id, inst)| {
            inst.account.eq_ignore_ascii_case(login)
                || m.repos
                    .values()
                    .any(|r| r.installation == Some(**id) && role_of(r, login).is_some())
        })
        .map(|(id, _)| *id)
        .collect()
}

/// `GET /user/installations`.
pub(super) fn installations(
    api: &str,
    m: &mut Model,
    auth: &CallAuth,
    path: &str,
    query: &HashMap<String, String>,
) -> Result<Reply, Reply> {
    let login = person(auth)?;
    let ids = visible_installations(m, &login);
    let items: Vec<Value> = ids
        .into_iter()
        .map(|id| {
            let mut inst = shape::installation(api, m, id);
            shape::set(
                &mut inst,
                json!({
                    "app_slug": "owp-pool-test",
                    "repository_selection": "selected",
                    "created_at": shape::time(chrono::Utc::now()),
                    "updated_at": shape::time(chrono::Utc::now()),
                }),
            );
            inst
        })
        .collect();
    Ok(strict::paginate_wrapped(
        paginate(api, path, query, items),
        "installations",
    ))
}

/// `GET /user/installations/{installation_id}/repositories`.
pub(super) fn repositories(
    api: &str,
    m: &mut Model,
    auth: &CallAuth,
    installation: &str,
    path: &str,
    query: &HashMap<String, String>,
) -> Result<Reply, Reply> {
    let login = person(auth)?;
    let id: u64 = installation.parse().map_err(|_| Reply::not_found())?;
    if !visible_installations(m, &login).contains(&id) {
        return Err(Reply::not_found());
    }
    let listed: Vec<(Repo, String)> = m
        .repos
        .values()
        .filter(|r| r.installation == Some(id))
        .filter_map(|r| role_of(r, &login).map(|role| (r.clone(), role)))
        .collect();
    let items: Vec<Value> = listed
        .iter()
        .map(|(r, role)| {
            let mut v = shape::repo(api, m, r);
            v["permissions"] = permissions(role);
            v
        })
        .collect();
    let mut reply = strict::paginate_wrapped(paginate(api, path, query, items), "repositories");
    if let Some(body) = reply.body.as_mut() {
        body["repository_selection"] = json!("selected");
    }
    Ok(reply)
}
