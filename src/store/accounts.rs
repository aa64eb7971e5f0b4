//! GitHub accounts' creation times, read from GitHub once per person and kept (`gh_accounts`),
//! for the repositories that take claims only from accounts of a minimum age.

use super::{Store, StoreError, WriteTx};

impl Store {
    /// When the GitHub account `login` was created (ms), if it was read before.
    pub async fn gh_account_created(&self, login: &str) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT created_at FROM gh_accounts WHERE login = $1")
                .bind(login.to_lowercase())
                .fetch_optional(self.read_pool())
                .await?;
        Ok(row.map(|(at,)| at))
    }
}

impl WriteTx {
    /// Keeps when the GitHub account `login` was created (ms); the first reading stays.
    pub async fn gh_remember_account(
        &mut self,
        login: &str,
        created_at: i64,
    ) -> Result<(), StoreError> {
        let now = self.now;
        sqlx::query(
            "INSERT INTO gh_accounts (login, created_at, read_at) VALUES ($1, $2, $3) \
             ON CONFLICT (login) DO NOTHING",
        )
        .bind(login.to_lowercase())
        .bind(created_at)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
