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
//!   GitHub's wrapped content is needed.

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
    repo: &str,
    path: &str,
) -> octocrab::Result<Option<String>> {
    let mut headers = HeaderMap::new();
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("application/vnd.github.raw+json"),
    );
    let uri = format!("/repos/{repo}/contents/{}", path.trim_start_matches('/'));
    let response = client._get_with_headers(uri, Some(headers)).await?;
    if response.status() == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let response = octocrab::map_github_error(response).await?;
    client.body_to_string(response).await.map(Some)
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
