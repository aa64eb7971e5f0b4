//! What GitHub last answered to the App's conditional requests (`gh_etags`), kept so that a
//! restarted process reads unchanged listings with `304 Not Modified` answers at once.

use crate::engine::checked::checked_read;
use crate::engine::sqlite_writer::ExecuteWrite;
use crate::{Store, StoreError};

/// Rows not refreshed for this long are dropped.
const KEEP_MS: i64 = 7 * 24 * 3_600_000;

/// One remembered answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtagRow {
    pub path: String,
    pub etag: String,
    pub body: String,
    pub next_page: Option<String>,
}

impl Store {
    /// The remembered answers, newest first, at most `limit`.
    pub async fn gh_etags(&self, limit: usize) -> Result<Vec<EtagRow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = checked_read!(self, github::etags(limit))?;
        Ok(rows
            .into_iter()
            .map(|(path, etag, body, next_page)| EtagRow {
                path,
                etag,
                body,
                next_page,
            })
            .collect())
    }

    /// Remembers `rows` (replacing what was kept for their paths), and forgets rows not
    /// refreshed for a week.
    pub async fn gh_save_etags(&self, rows: &[EtagRow]) -> Result<(), StoreError> {
        let now = crate::now_ms();
        for row in rows {
            sqlx::query(
                "INSERT INTO gh_etags (path, etag, body, next_page, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (path) DO UPDATE SET \
                 etag = excluded.etag, body = excluded.body, next_page = excluded.next_page, \
                 updated_at = excluded.updated_at",
            )
            .bind(&row.path)
            .bind(&row.etag)
            .bind(&row.body)
            .bind(&row.next_page)
            .bind(now)
            .execute_write(self)
            .await?;
        }
        sqlx::query("DELETE FROM gh_etags WHERE updated_at < $1")
            .bind(now - KEEP_MS)
            .execute_write(self)
            .await?;
        Ok(())
    }
}
