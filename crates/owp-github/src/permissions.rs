//! What a person may do on a repository of the App's installations, asked of GitHub in one place
//! (`GET /repos/{o}/{r}/collaborators/{login}/permission`, with the installation's token) for
//! every reader: the App's maintainer commands and pull requests, and the people signed in on the
//! dashboard, the API and the event stream.
//!
//! An answer is trusted for at most [`PERMISSION_MAX_AGE_MS`] (five minutes, the contract's
//! bound): it is kept in the database (`signin_permissions`), so every replica uses it, and in
//! this process while it is young. Concurrent asks for the same person and repository share one
//! request ("single flight"): N requests waiting on one answer cost GitHub one call. An ask that
//! GitHub does not answer returns the error, never a permission: each caller refuses on it.
//!
//! An ask a volunteer's action causes ([`Ask::Counted`]: a stranger's maintainer
//! command, a pull request's author, the reply throttle's exemption) is counted before GitHub is
//! asked, per installation, in the database every replica shares
//! ([`crate::volunteer_reads::take_permission`]), unless GitHub said before that the person
//! maintains the repository; past the bound nothing is asked and the caller is told to wait
//! ([`CallError::Wait`]), which each caller takes as "not known to be a maintainer".

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

use crate::api::{self, CallError};
use crate::app_auth::GithubApp;
use crate::raw_calls::RepoPermission;
use crate::store::{Store, now_ms};

/// How long what GitHub said about a person's access is trusted, at most.
pub const PERMISSION_MAX_AGE_MS: i64 = crate::store::leases::MAINTAINER_ANSWER_MS;

/// An answer, and when GitHub gave it (ms).
type Answer = Result<(RepoPermission, i64), CallError>;
/// An ask under way, or its answer, shared by every caller that waits on it.
type Flight = Shared<BoxFuture<'static, Answer>>;

/// Whether an ask is counted with a volunteer's reads before GitHub is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// An ask a volunteer's action causes: counted per installation, and refused past the bound
    /// (see the module's documentation).
    Counted,
    /// An ask of someone few and known: a person signed in, or one GitHub marks as the
    /// repository's collaborator, member or owner.
    Uncounted,
}

/// People's permissions on the App's repositories, asked once per person, repository and
/// [`PERMISSION_MAX_AGE_MS`].
pub struct Permissions {
    store: Store,
    app: Arc<GithubApp>,
    max_age_ms: i64,
    /// (repository, login), both lower-case → the ask under way or its young answer.
    flights: Mutex<HashMap<(String, String), Flight>>,
}

impl Permissions {
    /// `max_age_ms` is capped at [`PERMISSION_MAX_AGE_MS`].
    pub fn new(store: Store, app: Arc<GithubApp>, max_age_ms: Option<i64>) -> Arc<Permissions> {
        Arc::new(Permissions {
            store,
            app,
            max_age_ms: max_age_ms
                .unwrap_or(PERMISSION_MAX_AGE_MS)
                .clamp(0, PERMISSION_MAX_AGE_MS),
            flights: Mutex::new(HashMap::new()),
        })
    }

    fn key(repo: &str, login: &str) -> (String, String) {
        (repo.to_lowercase(), login.to_lowercase())
    }

    fn young(&self, answer: Option<&Answer>, now: i64) -> bool {
        matches!(answer, Some(Ok((_, at))) if now - at < self.max_age_ms)
    }

    /// What `login` may do on `repo` of `installation`: a young answer, or GitHub's, asked once
    /// for every concurrent caller. With [`Ask::Counted`], a read GitHub must answer is first
    /// counted per installation (a person GitHub said before maintains `repo` is not). `Err` when
    /// GitHub did not answer (the caller refuses).
    pub async fn of(
        self: &Arc<Self>,
        installation: i64,
        repo: &str,
        login: &str,
        ask: Ask,
    ) -> Result<RepoPermission, CallError> {
        let key = Self::key(repo, login);
        let flight = {
            let Ok(mut flights) = self.flights.lock() else {
                return Err(CallError::Transient("permission cache poisoned".into()));
            };
            let now = now_ms();
            let reusable = flights.get(&key).is_some_and(|f| match f.peek() {
                None => true,
                answer => self.young(answer, now),
            });
            if reusable {
                flights[&key].clone()
            } else {
                flights.retain(|_, f| f.peek().is_none() || self.young(f.peek(), now));
                let me = Arc::clone(self);
                let (repo, login) = (repo.to_string(), login.to_string());
                let flight = async move { me.ask(installation, &repo, &login, ask).await }
                    .boxed()
                    .shared();
                flights.insert(key, flight.clone());
                flight
            }
        };
        flight.await.map(|(p, _)| p)
    }

    /// What GitHub said within the trusted age, in this process (never asks).
    pub fn known(&self, repo: &str, login: &str) -> Option<RepoPermission> {
        let flights = self.flights.lock().ok()?;
        let answer = flights.get(&Self::key(repo, login))?.peek()?;
        match answer {
            Ok((p, at)) if now_ms() - at < self.max_age_ms => Some(*p),
            _ => None,
        }
    }

    /// The database's young answer (another replica's, or a sign-in's), else GitHub's (kept).
    async fn ask(&self, installation: i64, repo: &str, login: &str, ask: Ask) -> Answer {
        let (repo_key, login_key) = Self::key(repo, login);
        if let Ok(Some((p, at))) = self
            .store
            .signin()
            .permission(&login_key, &repo_key, self.max_age_ms)
            .await
        {
            return Ok((parse(&p), at));
        }
        if ask == Ask::Counted && !self.maintained_before(&login_key, &repo_key).await {
            let taken = crate::volunteer_reads::take_permission(&self.store, installation).await;
            match taken {
                Ok(None) => {}
                Ok(Some(wait)) => {
                    let wait = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
                    return Err(CallError::Wait {
                        until: now_ms().saturating_add(wait),
                    });
                }
                Err(e) => return Err(CallError::Transient(e.to_string())),
            }
        }
        let client = api::installation(&self.app, installation).await?;
        let permission = api::permission(&client, repo, login).await?;
        let at = now_ms();
        if let Err(e) = self
            .store
            .signin()
            .permission_save(&login_key, &repo_key, name(permission))
            .await
        {
            tracing::warn!(error = %e, "cannot keep a permission GitHub gave");
        }
        Ok((permission, at))
    }
}

impl Permissions {
    /// Whether GitHub ever said (however long ago) that `login` maintains `repo`: such a
    /// person's asks are not counted with strangers'.
    async fn maintained_before(&self, login_key: &str, repo_key: &str) -> bool {
        matches!(
            self.store.signin().permission(login_key, repo_key, i64::MAX / 2).await,
            Ok(Some((p, _))) if parse(&p).is_maintainer()
        )
    }
}

/// A permission as kept in the database.
pub fn name(p: RepoPermission) -> &'static str {
    match p {
        RepoPermission::None => "none",
        RepoPermission::Read => "read",
        RepoPermission::Triage => "triage",
        RepoPermission::Write => "write",
        RepoPermission::Maintain => "maintain",
        RepoPermission::Admin => "admin",
    }
}

/// A permission as kept in the database (anything unknown is none).
pub fn parse(s: &str) -> RepoPermission {
    RepoPermission::from_github(Some(s), "none")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for p in [
            RepoPermission::None,
            RepoPermission::Read,
            RepoPermission::Triage,
            RepoPermission::Write,
            RepoPermission::Maintain,
            RepoPermission::Admin,
        ] {
            assert_eq!(parse(name(p)), p);
        }
        assert_eq!(parse("custom"), RepoPermission::None);
    }
}
