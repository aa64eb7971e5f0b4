//! REST calls where octocrab's typed API does not fit.
//!
//! - [`all_pages`]: octocrab's own `all_pages` follows the absolute `next` links GitHub sends, and
//!   octocrab attaches an installation token only to requests for `api.github.com` (or relative
//!   paths), so on GitHub Enterprise Server and against a test server every page after the first
//!   goes out without credentials. Here each `next` link is followed by its path only.
//! - [`collaborator_permission`]: octocrab's typed call fails on responses without
//!   `user.permissions`, which GitHub documents as optional; only `permission` and `role_name` are
//!   read here.
//! - [`file_text`]: the file's raw bytes (`application/vnd.github.raw`), so no base64 decoding of
//!   GitHub's wrapped content is needed; at most a given number of bytes is read.

use crate::conditional::{EtagCache, Stored};
use http::StatusCode;
use http::header::{ACCEPT, HeaderMap, HeaderValue};
use octocrab::{Octocrab, Page};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Every item of a paginated listing, starting from its first page.
pub async fn all_pages<T: DeserializeOwned>(
    client: &Octocrab,
    mut page: Page<T>,
) -> octocrab::Result<Vec<T>> {
    let mut items = page.take_items();
    while let Some(next) = page.next.as_ref() {
        let path = next
            .path_and_query()
            .map_or_else(|| next.path().to_string(), |pq| pq.as_str().to_string());
        page = client.get(path, None::<&()>).await?;
        items.append(&mut page.take_items());
    }
    Ok(items)
}

/// A person's access to a repository, finest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RepoPermission {
    None,
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
}

impl RepoPermission {
    /// Maintainers may use `/owp block` and `/owp unblock`: write access or above.
    pub fn is_maintainer(self) -> bool {
        self >= RepoPermission::Write
    }

    /// From GitHub's `role_name` (`admin`, `maintain`, `write`, `triage`, `read`) or, failing
    /// that, its coarser `permission` (`admin`, `write`, `read`, `none`). Custom role names fall
    /// back to `permission`.
    pub fn from_github(role_name: Option<&str>, permission: &str) -> RepoPermission {
        let parse = |s: &str| match s {
            "admin" => Some(RepoPermission::Admin),
            "maintain" => Some(RepoPermission::Maintain),
            "write" | "push" => Some(RepoPermission::Write),
            "triage" => Some(RepoPermission::Triage),
            "read" | "pull" => Some(RepoPermission::Read),
            "none" => Some(RepoPermission::None),
            _ => None,
        };
        role_name
            .and_then(parse)
            .or_else(|| parse(permission))
            .unwrap_or(RepoPermission::None)
    }
}

#[derive(Deserialize)]
struct PermissionResponse {
    permission: String,
    role_name: Option<String>,
}

/// `login`'s access to `owner/name`. A login GitHub does not know has no access.
pub async fn collaborator_permission(
    client: &Octocrab,
    repo: &str,
    login: &str,
) -> octocrab::Result<RepoPermission> {
    let path = format!("/repos/{repo}/collaborators/{login}/permission");
    match client.get::<PermissionResponse, _, ()>(path, None).await {
        Ok(r) => Ok(RepoPermission::from_github(
            r.role_name.as_deref(),
            &r.permission,
        )),
        Err(octocrab::Error::GitHub { source, .. })
            if source.status_code == StatusCode::NOT_FOUND =>
        {
            Ok(RepoPermission::None)
        }
        Err(e) => Err(e),
    }
}

/// The text of `path` on the default branch of `owner/name`; `None` when there is no such file.
pub async fn file_text(
    client: &Octocrab,
    etags: Option<&EtagCache>,
    repo: &str,
    path: &str,
    max_bytes: usize,
) -> octocrab::Result<FileText> {
    use http_body_util::BodyExt;
    let mut headers = HeaderMap::new();
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("application/vnd.github.raw+json"),
    );
    let uri = format!("/repos/{repo}/contents/{}", path.trim_start_matches('/'));
    // A conditional request when the file was read before: `304` if it did not change.
    let key = format!("{uri} (raw)");
    let known = etags.and_then(|e| e.get(&key));
    if let Some(value) = known
        .as_ref()
        .and_then(|k| HeaderValue::from_str(&k.etag).ok())
    {
        headers.insert(http::header::IF_NONE_MATCH, value);
    }
    let response = client._get_with_headers(uri, Some(headers)).await?;
    if response.status() == StatusCode::NOT_FOUND {
        return Ok(FileText::Missing);
    }
    if response.status() == StatusCode::NOT_MODIFIED
        && let Some(known) = known
    {
        return Ok(FileText::Text(known.body));
    }
    let etag = response
        .headers()
        .get(http::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let response = octocrab::map_github_error(response).await?;
    let announced = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = announced
        && length > max_bytes as u64
    {
        return Ok(FileText::TooLarge(length));
    }
    // Read at most one byte past the limit, whatever the headers said.
    let limited = http_body_util::Limited::new(response.into_body(), max_bytes);
    match limited.collect().await {
        Ok(collected) => {
            let text = String::from_utf8_lossy(&collected.to_bytes()).into_owned();
            if let (Some(etags), Some(etag)) = (etags, etag) {
                let stored = Stored {
                    etag,
                    body: text.clone(),
                    next: None,
                };
                etags.put(&key, stored);
            }
            Ok(FileText::Text(text))
        }
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Ok(FileText::TooLarge(max_bytes as u64 + 1))
        }
        Err(e) => Err(octocrab::Error::Other {
            source: e,
            backtrace: std::backtrace::Backtrace::capture(),
        }),
    }
}

/// A file read with [`file_text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileText {
    Missing,
    /// Over the limit: its size (or more than the limit, when GitHub did not say).
    TooLarge(u64),
    Text(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_from_github() {
        let from = RepoPermission::from_github;
        assert_eq!(from(Some("maintain"), "write"), RepoPermission::Maintain);
        assert_eq!(from(Some("triage"), "read"), RepoPermission::Triage);
        assert_eq!(from(None, "admin"), RepoPermission::Admin);
        assert_eq!(from(Some("custom-role"), "write"), RepoPermission::Write);
        assert_eq!(from(None, "something"), RepoPermission::None);
    }

    #[test]
    fn maintainers_have_write_or_above() {
        use RepoPermission::{Admin, Maintain, Read, Triage, Write};
        for p in [Write, Maintain, Admin] {
            assert!(p.is_maintainer(), "{p:?}");
        }
        for p in [RepoPermission::None, Read, Triage] {
            assert!(!p.is_maintainer(), "{p:?}");
        }
    }
}
