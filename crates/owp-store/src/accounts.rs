//! GitHub accounts' creation times (`gh_accounts`), kept per GitHub account id for the
//! repositories that take claims only from accounts of a minimum age, and the account each worker
//! speaks for (`workers.github_account_id`). An account whose age GitHub did not give is kept as
//! unknown, with when it was last asked, so that it is asked again at most once in
//! [`ACCOUNT_RETRY_MS`].

use super::engine::checked::{checked_in_tx, checked_read};
use super::{Store, StoreError, WriteTx};

/// How long an account whose age GitHub did not give waits before it is asked again.
pub const ACCOUNT_RETRY_MS: i64 = 5 * 60 * 1000;

/// What the database knows of a GitHub account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeptAccount {
    /// When it was created (ms), if GitHub said so.
    pub created_at: Option<i64>,
    /// When GitHub was last asked (ms).
    pub read_at: i64,
}

/// A worker that speaks for a GitHub account whose age is not known, for the App to ask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountToRead {
    pub worker_id: String,
    pub login: String,
    /// `None` for a link made before account ids were kept.
    pub account_id: Option<i64>,
}

/// The GitHub accounts the pool has seen: their kept facts and those due to be read again
/// ([`Store::accounts`]).
pub struct Accounts<'s> {
    store: &'s Store,
}

impl Store {
    /// The view of the store named by [`Accounts`].
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts { store: self }
    }
}

impl Accounts<'_> {
    /// What is known of the GitHub account `account_id`.
    pub async fn get(&self, account_id: i64) -> Result<Option<KeptAccount>, StoreError> {
        let row = checked_read!(self.store, accounts::account(account_id))?;
        Ok(row.map(|(created_at, read_at)| KeptAccount {
            created_at,
            read_at,
        }))
    }

    /// Up to `limit` linked or claiming workers whose GitHub account's age is not known and was
    /// not asked for since `asked_before`, when some repository asks for a minimum age.
    pub async fn to_read(
        &self,
        asked_before: i64,
        limit: i64,
    ) -> Result<Vec<AccountToRead>, StoreError> {
        let rows = checked_read!(self.store, accounts::to_read(asked_before, limit))?;
        Ok(rows
            .into_iter()
            .map(|(worker_id, login, account_id)| AccountToRead {
                worker_id,
                login,
                account_id,
            })
            .collect())
    }
}

/// GitHub accounts remembered inside a caller's write transaction ([`WriteTx::accounts`]).
pub struct AccountsTx<'t> {
    tx: &'t mut WriteTx,
}

impl WriteTx {
    /// The view of this transaction named by [`AccountsTx`].
    pub fn accounts(&mut self) -> AccountsTx<'_> {
        AccountsTx { tx: self }
    }
}

impl AccountsTx<'_> {
    /// Keeps what GitHub said of the account `account_id` (then named `login`): when it was
    /// created (ms), or `None` when GitHub did not answer. A known age is never forgotten.
    pub async fn remember(
        &mut self,
        account_id: i64,
        login: &str,
        created_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let now = self.tx.now;
        checked_in_tx!(
            self.tx.conn(),
            accounts::remember(account_id, login, created_at, now)
        )?;
        Ok(())
    }

    /// Records the GitHub account a worker speaks for (a link made before account ids were kept,
    /// once GitHub named the account).
    pub async fn set_worker_account(
        &mut self,
        worker_id: &str,
        account_id: i64,
    ) -> Result<(), StoreError> {
        checked_in_tx!(
            self.tx.conn(),
            accounts::link_account(account_id, worker_id)
        )?;
        // The worker speaks for the account only when its link does (one definition of the
        // person of a worker: `claim_rules::person_of`).
        let linked = checked_in_tx!(
            self.tx.conn(),
            accounts::worker_account(account_id, worker_id)
        )?;
        if let Some(login) = linked {
            self.tx
                .person_links()
                .met(account_id, login.as_deref().unwrap_or_default())
                .await?;
            self.tx
                .person_links()
                .history_to_person(worker_id, account_id)
                .await?;
        }
        self.tx.forget_known_workers();
        Ok(())
    }
}
