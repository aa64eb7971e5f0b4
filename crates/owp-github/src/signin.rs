//! Maintainers sign in with GitHub (the contract's section 10): who a person is and what they
//! maintain (`admin`, `maintain` or `write` on a repository of the App's installations). The
//! routes (the web flow, the device flow) are in `http::signin`; this module holds what they ask
//! GitHub and the store.
//!
//! What a person maintains is learnt at sign-in from their own installations (`GET /user`,
//! `GET /user/installations` and each installation's repositories, with the person's token, which
//! is then dropped) and kept per person (`signin_repos`). Only the repositories on that list are
//! ever asked about for that person: each is confirmed with the permission route when the person
//! acts on it or lists it, at most every five minutes, once for any number of concurrent
//! requests ([`Permissions`]). A person who maintains nothing costs GitHub nothing after signing
//! in, however many repositories are installed.

use std::sync::{Arc, RwLock};

use crate::manifest::SIGNIN_CALLBACK_PATH;
use crate::oauth::{GithubUser, OAuthClient, OAuthError};
use crate::permissions::{Ask, Permissions, name as permission_name};
use crate::settings::Serving;
use crate::store::{Store, StoreError};

/// Pages (of 100) of `GET /user/installations` read at sign-in: the first 100 installations.
pub const MAX_INSTALLATION_PAGES: usize = 1;
/// Pages (of 100) of installation repositories read at sign-in, over all installations.
pub const MAX_REPO_PAGES: usize = 10;

/// Sign-in with GitHub, when `GITHUB_CLIENT_ID` is set.
pub struct SignIn {
    pub oauth: OAuthClient,
    pub store: Store,
    /// The one way to ask GitHub what a person may do (while the App runs).
    permissions: Option<Arc<Permissions>>,
    base_url: RwLock<String>,
}

impl SignIn {
    /// Sign-in as configured: `None` (off) without a client id.
    pub fn new(
        config: Serving<'_>,
        store: &Store,
        permissions: Option<Arc<Permissions>>,
    ) -> anyhow::Result<Option<Arc<SignIn>>> {
        let gh = config.github;
        let Some(client_id) = gh.signin_client_id() else {
            return Ok(None);
        };
        let secret = gh.github_client_secret.clone().unwrap_or_default();
        if secret.expose().trim().is_empty() {
            tracing::error!(
                "GITHUB_CLIENT_ID is set but GITHUB_CLIENT_SECRET is not: every web sign-in will fail"
            );
        }
        let oauth = OAuthClient::new(client_id, secret, &gh.web_url(), &gh.github_api_url)?;
        let base_url = config.base_url();
        Ok(Some(Arc::new(SignIn {
            oauth,
            store: store.clone(),
            permissions,
            base_url: RwLock::new(base_url),
        })))
    }

    /// The service's address, when no public URL is configured (the port is known only once
    /// bound).
    pub fn set_base_url(&self, url: String) {
        if let Ok(mut base) = self.base_url.write() {
            *base = url.trim_end_matches('/').to_string();
        }
    }

    fn base_url(&self) -> String {
        self.base_url.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Where GitHub sends the person back: `{OWP_PUBLIC_URL}/auth/github/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("{}{SIGNIN_CALLBACK_PATH}", self.base_url())
    }

    /// The session cookie is `Secure` when the service is reached over https.
    pub fn secure(&self) -> bool {
        self.base_url().starts_with("https://")
    }

    /// What GitHub says `login` may do on `repo`, when `repo` is on the person's sign-in list
    /// (no other repository is ever asked about for them): confirmed with the permission route
    /// at most every five minutes, once for concurrent asks; no answer → `503`, never a grant.
    pub async fn permission_of(
        &self,
        login: &str,
        repo: &str,
        installation: i64,
    ) -> Result<Option<String>, AccessError> {
        let Some(permissions) = &self.permissions else {
            return Ok(None);
        };
        let permission = permissions
            .of(installation, repo, login, Ask::Uncounted)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, repo, "cannot read a maintainer's permission from GitHub");
                AccessError::Github
            })?;
        Ok(permission
            .is_maintainer()
            .then(|| permission_name(permission).to_string()))
    }

    /// The person's sign-in list: repositories still of the App's installations.
    pub async fn listed(&self, login: &str) -> Result<Vec<(String, i64)>, StoreError> {
        self.store.signin().repos_of(&login.to_lowercase()).await
    }

    /// Who the person's token names and what they maintain, read with that token (which the
    /// caller drops): the repositories of this App's installations known here on which GitHub
    /// grants them admin, maintain or write. Reads at most [`MAX_INSTALLATION_PAGES`] of
    /// installations and [`MAX_REPO_PAGES`] of repositories, and says so when it stops there.
    pub async fn person(
        &self,
        token: &crate::domain::secret::Secret,
    ) -> Result<Person, OAuthError> {
        let user = self.oauth.user(token).await?;
        let known = self
            .store
            .signin()
            .known_installations()
            .await
            .map_err(|e| OAuthError::Unavailable(e.to_string()))?;
        let installations = self
            .oauth
            .user_installations(token, MAX_INSTALLATION_PAGES)
            .await?;
        if installations.cut {
            tracing::warn!(
                login = %user.login,
                read = installations.items.len(),
                "a person sees more installations than are read at sign-in; the rest are left out"
            );
        }
        let mut pages_left = MAX_REPO_PAGES;
        let mut repos = Vec::new();
        for id in installations
            .items
            .into_iter()
            .filter(|i| known.contains(i))
        {
            if pages_left == 0 {
                tracing::warn!(login = %user.login, installation = id, "the repository pages read at sign-in are used up; this installation is left out");
                continue;
            }
            let listed = self
                .oauth
                .user_installation_repos(token, id, pages_left)
                .await?;
            pages_left = pages_left.saturating_sub(listed.pages);
            if listed.cut {
                tracing::warn!(login = %user.login, installation = id, "a person sees more repositories than are read at sign-in; the rest are left out");
            }
            repos.extend(
                listed
                    .items
                    .into_iter()
                    .filter(|(_, p)| p.is_maintainer())
                    .map(|(repo, p)| (repo, id, p)),
            );
        }
        let installed: std::collections::HashMap<String, i64> = self
            .store
            .signin()
            .installed_repos()
            .await
            .map_err(|e| OAuthError::Unavailable(e.to_string()))?
            .into_iter()
            .collect();
        let grants = repos
            .into_iter()
            .filter(|(repo, id, _)| installed.get(repo) == Some(id))
            .map(|(repo, _, p)| (repo, permission_name(p).to_string()))
            .collect();
        Ok(Person { user, grants })
    }

    /// Keeps what the person maintains (their sign-in list) for every replica.
    pub async fn remember(&self, person: &Person) -> Result<(), StoreError> {
        self.store
            .signin()
            .repos_replace(&person.user.login.to_lowercase(), &person.grants)
            .await
    }
}

/// Who signed in, and the repositories they maintain (with their permission).
pub struct Person {
    pub user: GithubUser,
    pub grants: Vec<(String, String)>,
}

/// Why a person's permission could not be told.
#[derive(Debug)]
pub enum AccessError {
    /// The database did not answer.
    Store(StoreError),
    /// GitHub could not be asked (never taken as a grant).
    Github,
}

impl From<StoreError> for AccessError {
    fn from(e: StoreError) -> AccessError {
        AccessError::Store(e)
    }
}
