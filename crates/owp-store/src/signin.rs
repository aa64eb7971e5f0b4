//! Who is signed in (schema in `migrations/*/0023_signin.sql`): sign-ins under way, sessions and
//! maintainer tokens, and what GitHub said each person may do on each repository.
//!
//! Every replica reads the same rows, so a session opened on one is known to all, and a sign-out
//! or a revocation holds everywhere at once. Secrets arrive here as digests only (the caller
//! hashes them): nothing in these tables opens a session by itself.

use super::engine::checked::{checked_in_tx, checked_read, checked_write};
use super::{Store, StoreError, now_ms};

/// What kind of sign-in a flow is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowKind {
    /// `GET /auth/github`: a `state` and a PKCE verifier.
    Web,
    /// `POST /v1/auth/device`: GitHub's device code.
    Device,
}

impl FlowKind {
    fn as_str(self) -> &'static str {
        match self {
            FlowKind::Web => "web",
            FlowKind::Device => "device",
        }
    }
}

/// What kind of credential a session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    /// A dashboard session opened with the admin token.
    Admin,
    /// A maintainer's dashboard session (cookie and CSRF token).
    Web,
    /// A maintainer token (`owpm_…`).
    Token,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Admin => "admin",
            SessionKind::Web => "web",
            SessionKind::Token => "token",
        }
    }

    fn parse(s: &str) -> Option<SessionKind> {
        match s {
            "admin" => Some(SessionKind::Admin),
            "web" => Some(SessionKind::Web),
            "token" => Some(SessionKind::Token),
            _ => None,
        }
    }
}

/// A live session or token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub kind: SessionKind,
    /// The GitHub login (maintainers only).
    pub login: Option<String>,
    pub github_id: Option<i64>,
    /// The CSRF token of a dashboard session.
    pub csrf: Option<String>,
    pub expires_at: i64,
}

/// A new session or token.
pub struct NewSession<'a> {
    pub digest: &'a str,
    pub kind: SessionKind,
    pub login: Option<&'a str>,
    pub github_id: Option<i64>,
    pub csrf: Option<&'a str>,
    pub ttl_ms: i64,
}

/// What a poll of a device flow may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevicePoll {
    /// Ask GitHub now.
    Go,
    /// Polled again sooner than the flow's interval: wait this long (ms).
    TooSoon(i64),
    /// No such flow of this service, or it expired or was used.
    Unknown,
}

impl DevicePoll {
    /// What a flow's row (`polled_at`, `interval_ms`; none: no such live flow) allows at `now`.
    pub(crate) fn of(row: Option<(Option<i64>, i64)>, now: i64) -> DevicePoll {
        match row {
            Some((Some(polled), interval)) => DevicePoll::TooSoon((polled + interval - now).max(1)),
            Some((None, _)) => DevicePoll::Go,
            None => DevicePoll::Unknown,
        }
    }
}

/// Finished flows and expired sessions are kept this long before they are swept (so a replayed
/// `state` is recognised as used rather than unknown for a while).
const KEEP_ENDED_MS: i64 = 24 * 3_600_000;

/// Sign-ins under way, sessions and maintainer tokens, the permission cache and each person's
/// repositories ([`Store::signin`]).
pub struct SignIn<'s> {
    store: &'s Store,
}

impl Store {
    /// The sign-in's view of the store.
    pub fn signin(&self) -> SignIn<'_> {
        SignIn { store: self }
    }
}

impl SignIn<'_> {
    /// Records a sign-in under way, valid for `ttl_ms`; sweeps flows long over.
    pub async fn flow_start(
        &self,
        digest: &str,
        kind: FlowKind,
        verifier: Option<&str>,
        interval_ms: i64,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        checked_write!(self.store, signin::sweep_flows(now - KEEP_ENDED_MS))?;
        let expires_at = now + ttl_ms;
        let kind = kind.as_str();
        checked_write!(
            self.store,
            signin::start_flow(digest, kind, verifier, interval_ms, now, expires_at)
        )?;
        Ok(())
    }

    /// Takes a web sign-in by the digest of its `state`: its PKCE verifier, once. `None` when the
    /// state is unknown, expired or was used already.
    pub async fn flow_take(&self, digest: &str) -> Result<Option<String>, StoreError> {
        let mut tx = self.store.begin().await?;
        let now = tx.now;
        let verifier = checked_in_tx!(tx.conn(), signin::take_web_flow(digest, now))?;
        tx.commit().await?;
        Ok(verifier.flatten())
    }

    /// A poll of the device flow `digest`: allowed when the flow is this service's, live and
    /// unused, and its interval has passed since the last poll (which this one now is).
    pub async fn device_poll(&self, digest: &str) -> Result<DevicePoll, StoreError> {
        let mut tx = self.store.begin().await?;
        let now = tx.now;
        let out = if checked_in_tx!(tx.conn(), signin::poll_device_flow(digest, now))? {
            DevicePoll::Go
        } else {
            let row = checked_in_tx!(tx.conn(), signin::device_flow_wait(digest, now))?;
            DevicePoll::of(row, now)
        };
        tx.commit().await?;
        Ok(out)
    }

    /// GitHub asked a device flow to poll more slowly: its interval becomes `interval_ms`.
    pub async fn device_interval(&self, digest: &str, interval_ms: i64) -> Result<(), StoreError> {
        checked_write!(self.store, signin::slow_device_flow(digest, interval_ms))?;
        Ok(())
    }

    /// Ends a device flow: true for the one caller that ends it (a token is made only then).
    pub async fn flow_finish(&self, digest: &str) -> Result<bool, StoreError> {
        let done = checked_write!(self.store, signin::finish_flow(digest, now_ms()))?;
        Ok(done == 1)
    }

    /// Opens a session or makes a token; returns when it expires (ms). Sweeps sessions long
    /// over.
    pub async fn session_create(&self, new: &NewSession<'_>) -> Result<i64, StoreError> {
        let now = now_ms();
        checked_write!(self.store, signin::sweep_sessions(now - KEEP_ENDED_MS))?;
        let expires_at = now + new.ttl_ms;
        let (digest, kind, login, github_id, csrf) = (
            new.digest,
            new.kind.as_str(),
            new.login,
            new.github_id,
            new.csrf,
        );
        checked_write!(
            self.store,
            signin::create_session(digest, kind, login, github_id, csrf, now, expires_at)
        )?;
        Ok(expires_at)
    }

    /// The live session (or token) whose secret has this digest.
    pub async fn session(&self, digest: &str) -> Result<Option<SessionRow>, StoreError> {
        let row = checked_read!(self.store, signin::session(digest, now_ms()))?;
        Ok(row.and_then(|(kind, login, github_id, csrf, expires_at)| {
            Some(SessionRow {
                kind: SessionKind::parse(&kind)?,
                login,
                github_id,
                csrf,
                expires_at,
            })
        }))
    }

    /// Ends the session (or token) whose secret has this digest, at once.
    pub async fn session_end(&self, digest: &str) -> Result<bool, StoreError> {
        let n = checked_write!(self.store, signin::end_session(digest, now_ms()))?;
        Ok(n > 0)
    }

    /// How many sessions and tokens are live.
    pub async fn live_sessions(&self) -> Result<usize, StoreError> {
        let n = checked_read!(self.store, signin::live_sessions(now_ms()))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Ends every session and token of GitHub user `login` (any case); how many were live.
    pub async fn revoke_login(&self, login: &str) -> Result<u64, StoreError> {
        let n = checked_write!(self.store, signin::revoke_login(login, now_ms()))?;
        checked_write!(self.store, signin::forget_permissions_of(login))?;
        checked_write!(self.store, signin::forget_repos_of(login))?;
        Ok(n)
    }

    /// What GitHub said `login` may do on `repo`, and when (ms), when it said so less than
    /// `max_age_ms` ago.
    pub async fn permission(
        &self,
        login: &str,
        repo: &str,
        max_age_ms: i64,
    ) -> Result<Option<(String, i64)>, StoreError> {
        let after = now_ms() - max_age_ms;
        Ok(checked_read!(
            self.store,
            signin::permission(login, repo, after)
        )?)
    }

    /// Remembers what GitHub said `login` may do on `repo`, now.
    pub async fn permission_save(
        &self,
        login: &str,
        repo: &str,
        permission: &str,
    ) -> Result<(), StoreError> {
        checked_write!(
            self.store,
            signin::save_permission(login, repo, permission, now_ms())
        )?;
        Ok(())
    }

    /// The GitHub login of the person whose change last moved task `task_id` (an event of
    /// `github:LOGIN`, a maintainer signed in or commenting), if a person did.
    pub async fn status_person(&self, task_id: &str) -> Result<Option<String>, StoreError> {
        let actor = checked_read!(self.store, signin::status_person(task_id))?;
        Ok(actor.and_then(|actor| {
            let login = actor.strip_prefix("github:")?;
            let person = !login.is_empty()
                && !matches!(login, "pull_request" | "reconcile" | "config" | "sync")
                && login
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            person.then(|| login.to_string())
        }))
    }

    /// The installations of the App that this service knows, by id.
    pub async fn known_installations(&self) -> Result<Vec<i64>, StoreError> {
        Ok(checked_read!(self.store, signin::known_installations())?)
    }

    /// What `login` (lower-case) maintains from now on, as their own installations listed it at
    /// sign-in: `(repo, permission)` pairs replace the person's list, and each counts as
    /// GitHub's answer about that repository now (GitHub just gave it).
    pub async fn repos_replace(
        &self,
        login: &str,
        grants: &[(String, String)],
    ) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        let now = tx.now;
        checked_in_tx!(tx.conn(), signin::clear_repos(login))?;
        for (repo, permission) in grants {
            checked_in_tx!(tx.conn(), signin::list_repo(login, repo, permission, now))?;
            let repo = repo.to_lowercase();
            checked_in_tx!(
                tx.conn(),
                signin::save_permission(login, &repo, permission, now)
            )?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The repositories on `login`'s (lower-case) sign-in list that are still repositories of
    /// the App's installations, with their installation, by name.
    pub async fn repos_of(&self, login: &str) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(checked_read!(self.store, signin::repos_of(login))?)
    }

    /// The repositories of the App's installations, with their installation, by name.
    pub async fn installed_repos(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(checked_read!(self.store, signin::installed_repos())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timing;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("owp.db").display());
        (dir, Store::open(&url, Timing::default()).await.unwrap())
    }

    #[tokio::test]
    async fn a_web_flow_is_taken_once() {
        let (_dir, s) = store().await;
        s.signin()
            .flow_start("d1", FlowKind::Web, Some("verifier"), 0, 600_000)
            .await
            .unwrap();
        assert_eq!(s.signin().flow_take("nope").await.unwrap(), None);
        assert_eq!(
            s.signin().flow_take("d1").await.unwrap().as_deref(),
            Some("verifier")
        );
        assert_eq!(
            s.signin().flow_take("d1").await.unwrap(),
            None,
            "single use"
        );
        s.signin()
            .flow_start("d2", FlowKind::Web, Some("v"), 0, -1)
            .await
            .unwrap();
        assert_eq!(s.signin().flow_take("d2").await.unwrap(), None, "expired");
        s.signin()
            .flow_start("d3", FlowKind::Device, None, 5000, 600_000)
            .await
            .unwrap();
        assert_eq!(
            s.signin().flow_take("d3").await.unwrap(),
            None,
            "not a web flow"
        );
    }

    #[tokio::test]
    async fn device_polls_keep_their_interval_and_finish_once() {
        let (_dir, s) = store().await;
        s.signin()
            .flow_start("dev", FlowKind::Device, None, 60_000, 600_000)
            .await
            .unwrap();
        assert_eq!(s.signin().device_poll("dev").await.unwrap(), DevicePoll::Go);
        assert!(matches!(
            s.signin().device_poll("dev").await.unwrap(),
            DevicePoll::TooSoon(ms) if ms > 50_000
        ));
        assert_eq!(
            s.signin().device_poll("x").await.unwrap(),
            DevicePoll::Unknown
        );
        assert!(s.signin().flow_finish("dev").await.unwrap());
        assert!(!s.signin().flow_finish("dev").await.unwrap(), "once");
        assert_eq!(
            s.signin().device_poll("dev").await.unwrap(),
            DevicePoll::Unknown
        );
    }

    #[tokio::test]
    async fn sessions_end_and_are_revoked_by_login() {
        let (_dir, s) = store().await;
        let new = |digest: &'static str, kind| NewSession {
            digest,
            kind,
            login: Some("Octo"),
            github_id: Some(7),
            csrf: Some("c"),
            ttl_ms: 60_000,
        };
        s.signin()
            .session_create(&new("a", SessionKind::Web))
            .await
            .unwrap();
        s.signin()
            .session_create(&new("b", SessionKind::Token))
            .await
            .unwrap();
        let row = s.signin().session("a").await.unwrap().unwrap();
        assert_eq!(
            (row.kind, row.login.as_deref()),
            (SessionKind::Web, Some("Octo"))
        );
        assert!(s.signin().session_end("a").await.unwrap());
        assert_eq!(s.signin().session("a").await.unwrap(), None);
        assert!(s.signin().session("b").await.unwrap().is_some());
        assert_eq!(s.signin().revoke_login("octo").await.unwrap(), 1);
        assert_eq!(s.signin().session("b").await.unwrap(), None);
        let old = NewSession {
            ttl_ms: -1,
            ..new("c", SessionKind::Admin)
        };
        s.signin().session_create(&old).await.unwrap();
        assert_eq!(s.signin().session("c").await.unwrap(), None, "expired");
    }

    #[tokio::test]
    async fn permissions_are_trusted_while_young() {
        let (_dir, s) = store().await;
        s.signin()
            .permission_save("octo", "o/r", "write")
            .await
            .unwrap();
        assert_eq!(
            s.signin()
                .permission("octo", "o/r", 300_000)
                .await
                .unwrap()
                .map(|(p, _)| p)
                .as_deref(),
            Some("write")
        );
        assert_eq!(s.signin().permission("octo", "o/r", 0).await.unwrap(), None);
        s.signin()
            .permission_save("octo", "o/r", "read")
            .await
            .unwrap();
        assert_eq!(
            s.signin()
                .permission("octo", "o/r", 300_000)
                .await
                .unwrap()
                .map(|(p, _)| p)
                .as_deref(),
            Some("read")
        );
    }

    #[tokio::test]
    async fn a_sign_in_list_counts_as_githubs_answer_and_only_installed_repositories_show() {
        let (_dir, s) = store().await;
        let grants = [("Octo-Org/Web".to_string(), "maintain".to_string())];
        s.signin().repos_replace("octo", &grants).await.unwrap();
        assert_eq!(
            s.signin()
                .permission("octo", "octo-org/web", 300_000)
                .await
                .unwrap()
                .map(|(p, _)| p)
                .as_deref(),
            Some("maintain"),
            "GitHub's answer at sign-in"
        );
        assert_eq!(
            s.signin().repos_of("octo").await.unwrap(),
            vec![],
            "not a repository of the App's installations here"
        );
        s.signin().repos_replace("octo", &[]).await.unwrap();
        assert_eq!(s.signin().revoke_login("Octo").await.unwrap(), 0);
        assert_eq!(
            s.signin()
                .permission("octo", "octo-org/web", 300_000)
                .await
                .unwrap(),
            None,
            "a revocation forgets what GitHub said"
        );
    }
}
