//! GitHub logins proven for workers (`gh_links`) and the one-time codes that prove them
//! (`gh_link_codes`).

use sqlx::{Any, Executor};

use crate::store::{Store, StoreError, WriteTx};

/// Why a link code was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkRefusal {
    /// Unknown, already used, or expired.
    UnknownCode,
    /// The worker is already linked to another login.
    LinkedElsewhere,
}

/// The GitHub login proven for a worker, if any.
async fn login_of_worker<'e>(
    exec: impl Executor<'e, Database = Any>,
    worker_id: &str,
) -> Result<Option<String>, StoreError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT login FROM gh_links WHERE worker_id = $1")
        .bind(worker_id)
        .fetch_optional(exec)
        .await?;
    Ok(row.map(|(l,)| l))
}

impl WriteTx {
    /// The worker a GitHub login proved to own, if any.
    pub async fn gh_linked_worker(&mut self, login: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT worker_id FROM gh_links WHERE login = $1")
                .bind(login.to_lowercase())
                .fetch_optional(self.conn())
                .await?;
        Ok(row.map(|(w,)| w))
    }

    /// The GitHub account id a worker speaks for, if known.
    pub async fn gh_worker_account(&mut self, worker_id: &str) -> Result<Option<i64>, StoreError> {
        let row: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT github_account_id FROM workers WHERE id = $1")
                .bind(worker_id)
                .fetch_optional(self.conn())
                .await?;
        Ok(row.and_then(|(a,)| a))
    }

    /// The GitHub login proven for a worker, if any.
    pub async fn gh_login_of_worker(
        &mut self,
        worker_id: &str,
    ) -> Result<Option<String>, StoreError> {
        login_of_worker(self.conn(), worker_id).await
    }

    /// A new one-time link code for a worker (stored hashed); earlier unused codes stop working.
    pub async fn gh_create_link_code(
        &mut self,
        worker_id: &str,
        code_hash: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let now = self.now;
        sqlx::query("DELETE FROM gh_link_codes WHERE worker_id = $1 AND used_at IS NULL")
            .bind(worker_id)
            .execute(self.conn())
            .await?;
        sqlx::query(
            "INSERT INTO gh_link_codes (code_hash, worker_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(code_hash)
        .bind(worker_id)
        .bind(now)
        .bind(expires_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Uses a link code: the login is linked to the code's worker. Returns the worker id.
    pub async fn gh_use_link_code(
        &mut self,
        code_hash: &str,
        login: &str,
        account_id: i64,
    ) -> Result<Result<String, LinkRefusal>, StoreError> {
        let now = self.now;
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT worker_id FROM gh_link_codes WHERE code_hash = $1 AND used_at IS NULL \
             AND expires_at > $2",
        )
        .bind(code_hash)
        .bind(now)
        .fetch_optional(self.conn())
        .await?;
        let Some((worker_id,)) = row else {
            return Ok(Err(LinkRefusal::UnknownCode));
        };
        if let Err(refusal) = self.gh_link_worker(&worker_id, login, account_id).await? {
            return Ok(Err(refusal));
        }
        sqlx::query("UPDATE gh_link_codes SET used_at = $1, used_by = $2 WHERE code_hash = $3")
            .bind(now)
            .bind(login)
            .bind(code_hash)
            .execute(self.conn())
            .await?;
        Ok(Ok(worker_id))
    }

    /// Links worker `worker_id` to the GitHub account `account_id` (now named `login`), proven by
    /// the account itself (a `/owp link CODE` comment, or GitHub's device flow): the one step
    /// every proof ends in. A worker already linked to another account is refused.
    pub async fn gh_link_worker(
        &mut self,
        worker_id: &str,
        login: &str,
        account_id: i64,
    ) -> Result<Result<(), LinkRefusal>, StoreError> {
        let now = self.now;
        let login_key = login.to_lowercase();
        if let Some(other) = login_of_worker(self.conn(), worker_id).await?
            && other != login_key
        {
            return Ok(Err(LinkRefusal::LinkedElsewhere));
        }
        // A login owns one worker at a time: a new proof moves the link.
        sqlx::query("DELETE FROM gh_links WHERE login = $1")
            .bind(&login_key)
            .execute(self.conn())
            .await?;
        sqlx::query("INSERT INTO gh_links (login, worker_id, linked_at) VALUES ($1, $2, $3)")
            .bind(&login_key)
            .bind(worker_id)
            .bind(now)
            .execute(self.conn())
            .await?;
        // The worker speaks for the account that proved the link (its age is read by this id).
        sqlx::query("UPDATE workers SET github_login = $1, github_account_id = $2 WHERE id = $3")
            .bind(login)
            .bind(account_id)
            .bind(worker_id)
            .execute(self.conn())
            .await?;
        self.forget_known_workers();
        // A plan proposed before the link is the person's now.
        self.proposals_to_person(worker_id).await?;
        Ok(Ok(()))
    }
}

impl Store {
    /// The GitHub login proven for a worker, if any.
    pub async fn gh_login_of_worker(&self, worker_id: &str) -> Result<Option<String>, StoreError> {
        login_of_worker(&self.read, worker_id).await
    }

    /// The GitHub account id a worker speaks for (its person), if proven.
    pub async fn gh_worker_account(&self, worker_id: &str) -> Result<Option<i64>, StoreError> {
        let row: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT github_account_id FROM workers WHERE id = $1")
                .bind(worker_id)
                .fetch_optional(&self.read)
                .await?;
        Ok(row.and_then(|(a,)| a))
    }
}
