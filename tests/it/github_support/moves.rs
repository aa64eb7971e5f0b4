//! Renamed and transferred repositories, transferred issues, as GitHub answers for them.
//!
//! A repository keeps its numeric id when it is renamed or transferred. Its old `/repos/{owner}/
//! {name}/…` addresses then answer `301 Moved Permanently` (`307` for other methods than GET and
//! HEAD) with `Location` at `/repositories/{id}/…`, which serves the repository under its id. A
//! transferred issue's old address answers `301` to `/repositories/{id}/issues/{number}` of its
//! new place. [`redirect`] finds these answers and [`canonical_path`] serves the id form.

use chrono::Utc;

use super::model::{Model, Repo};

/// Where an old address lives now: the status to answer and the `Location`.
pub struct Redirect {
    pub status: u16,
    pub location: String,
}

/// The answer for `path` when it names a repository by an old name, or a transferred issue.
pub fn redirect(api: &str, m: &Model, method: &str, path: &str, query: &str) -> Option<Redirect> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let ["repos", owner, name, rest @ ..] = segments.as_slice() else {
        return None;
    };
    let full = format!("{owner}/{name}").to_lowercase();
    let status = if matches!(method, "GET" | "HEAD") {
        301
    } else {
        307
    };
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    if let ["issues", number] = rest
        && let Ok(number) = number.parse::<u64>()
        && let Some((repo_id, new_number)) = m.moved_issues.get(&(full.clone(), number))
    {
        return Some(Redirect {
            status,
            location: format!("{api}/repositories/{repo_id}/issues/{new_number}{query}"),
        });
    }
    if m.repos.contains_key(&full) {
        return None;
    }
    let id = m.moved_repos.get(&full)?;
    let tail = if rest.is_empty() {
        String::new()
    } else {
        format!("/{}", rest.join("/"))
    };
    Some(Redirect {
        status,
        location: format!("{api}/repositories/{id}{tail}{query}"),
    })
}

/// `/repositories/{id}/…` as the `/repos/{owner}/{name}/…` path it serves; other paths as they are.
pub fn canonical_path(m: &Model, path: &str) -> String {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if let ["repositories", id, rest @ ..] = segments.as_slice()
        && let Ok(id) = id.parse::<u64>()
        && let Some(repo) = m.repos.values().find(|r| r.id == id)
    {
        let mut out = format!("/repos/{}", repo.full_name);
        for part in rest {
            out.push('/');
            out.push_str(part);
        }
        return out;
    }
    path.to_string()
}

/// Renames (or transfers, when the owner changes) a repository: same id, new name; comments
/// follow, and the old name redirects.
pub fn rename_repo(m: &mut Model, old: &str, new: &str) {
    let mut repo: Repo = m
        .repos
        .remove(&old.to_lowercase())
        .expect("unknown repository");
    repo.full_name = new.to_string();
    for comment in m.comments.values_mut() {
        if comment.repo.eq_ignore_ascii_case(old) {
            comment.repo = new.to_string();
        }
    }
    m.moved_repos.insert(old.to_lowercase(), repo.id);
    m.moved_repos.remove(&new.to_lowercase());
    m.repos.insert(new.to_lowercase(), repo);
}

/// Transfers issue `number` of `from` to repository `to`, where it gets the next number; its
/// comments go along (same ids). Returns the new number.
pub fn transfer_issue(m: &mut Model, from: &str, number: u64, to: &str) -> u64 {
    let mut issue = m
        .repo_mut(from)
        .and_then(|r| r.issues.remove(&number))
        .expect("unknown issue");
    let target = m.repo_mut(to).expect("unknown repository");
    let new_number = target.next_number;
    target.next_number += 1;
    let target_id = target.id;
    let target_name = target.full_name.clone();
    issue.number = new_number;
    issue.updated_at = Utc::now();
    target.issues.insert(new_number, issue);
    for comment in m.comments.values_mut() {
        if comment.repo.eq_ignore_ascii_case(from) && comment.number == number {
            comment.repo = target_name.clone();
            comment.number = new_number;
        }
    }
    m.moved_issues
        .insert((from.to_lowercase(), number), (target_id, new_number));
    new_number
}
