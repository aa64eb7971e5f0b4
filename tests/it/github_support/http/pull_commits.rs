//! `GET /repos/{owner}/{repo}/pulls/{pull_number}/commits`, as GitHub serves it: a pull request's
//! commits, oldest first, paginated (`per_page` 30 by default, at most 100; `page`) with a `Link`
//! header, at most 250 however many it has, each with `commit.verification`, and 404 for a number
//! that is not a pull request.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::super::json::WEB;
use super::super::model::{PullCommit, Repo};
use super::{Reply, paginate};

/// GitHub lists at most this many commits of one pull request.
pub const MAX_LISTED_COMMITS: usize = 250;

pub(super) fn list(
    api: &str,
    repo: &Repo,
    number: &str,
    path: &str,
    query: &HashMap<String, String>,
) -> Result<Reply, Reply> {
    let number: u64 = number.parse().map_err(|_| Reply::not_found())?;
    let pull = repo.pulls.get(&number).ok_or_else(Reply::not_found)?;
    let items = pull
        .commits
        .iter()
        .take(MAX_LISTED_COMMITS)
        .map(|c| commit(api, &repo.full_name, c))
        .collect();
    Ok(paginate(api, path, query, items))
}

/// One commit as GitHub's `commit` object.
fn commit(api: &str, full: &str, c: &PullCommit) -> Value {
    let sha = &c.sha;
    let person =
        json!({"name": "Alice", "email": "alice@example.org", "date": "2026-11-26T10:00:00Z"});
    let (reason, signature) = if c.verified {
        (
            "valid",
            Value::String("-----BEGIN PGP SIGNATURE-----\n…".into()),
        )
    } else {
        ("unsigned", Value::Null)
    };
    json!({
        "url": format!("{api}/repos/{full}/commits/{sha}"),
        "sha": sha,
        "node_id": format!("C_{sha}"),
        "html_url": format!("{WEB}/{full}/commit/{sha}"),
        "comments_url": format!("{api}/repos/{full}/commits/{sha}/comments"),
        "commit": {
            "url": format!("{api}/repos/{full}/git/commits/{sha}"),
            "author": person,
            "committer": person,
            "message": "Change",
            "comment_count": 0,
            "tree": {"sha": format!("{:0>40}", "7"), "url": format!("{api}/repos/{full}/git/trees/{:0>40}", "7")},
            "verification": {
                "verified": c.verified,
                "reason": reason,
                "signature": signature,
                "payload": if c.verified { Value::String("tree …".into()) } else { Value::Null },
                "verified_at": if c.verified { Value::String("2026-11-26T10:00:00Z".into()) } else { Value::Null },
            },
        },
        "author": null,
        "committer": null,
        "parents": [],
    })
}
