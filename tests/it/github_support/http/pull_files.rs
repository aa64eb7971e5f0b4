//! `GET /repos/{owner}/{repo}/pulls/{pull_number}/files`, as GitHub serves it: a pull request's
//! changed files as diff entries, paginated (`per_page` 30 by default, at most 100; `page`) with
//! a `Link` header, at most 3,000 files in all however many it changes, and 404 for a number that
//! is not a pull request.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::super::json::WEB;
use super::super::model::{PullFile, Repo};
use super::{Reply, paginate};

/// GitHub lists at most this many files of one pull request.
pub const MAX_LISTED_FILES: usize = 3_000;

pub(super) fn list(
    api: &str,
    repo: &Repo,
    number: &str,
    path: &str,
    query: &HashMap<String, String>,
) -> Result<Reply, Reply> {
    let number: u64 = number.parse().map_err(|_| Reply::not_found())?;
    let pull = repo.pulls.get(&number).ok_or_else(Reply::not_found)?;
    let head = format!("{number:0>40x}");
    let items = pull
        .files
        .iter()
        .take(MAX_LISTED_FILES)
        .enumerate()
        .map(|(i, f)| diff_entry(api, &repo.full_name, &head, i, f))
        .collect();
    Ok(paginate(api, path, query, items))
}

/// One file as GitHub's `diff-entry`.
fn diff_entry(api: &str, full: &str, head: &str, index: usize, f: &PullFile) -> Value {
    let name = &f.filename;
    let mut entry = json!({
        "sha": format!("{:040x}", index + 1),
        "filename": name,
        "status": if f.previous_filename.is_some() { "renamed" } else { "modified" },
        "additions": 1,
        "deletions": 1,
        "changes": 2,
        "blob_url": format!("{WEB}/{full}/blob/{head}/{}", url_path(name)),
        "raw_url": format!("{WEB}/{full}/raw/{head}/{}", url_path(name)),
        "contents_url": format!("{api}/repos/{full}/contents/{}?ref={head}", url_path(name)),
        "patch": "@@ -1 +1 @@\n-old\n+new",
    });
    if let Some(previous) = &f.previous_filename {
        entry["previous_filename"] = json!(previous);
    }
    entry
}

/// A path as GitHub writes it in a URL: each segment percent-encoded, the slashes kept.
fn url_path(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            segment
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    other => format!("%{other:02X}"),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}
