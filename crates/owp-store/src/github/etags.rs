//! What GitHub last answered to the App's conditional requests (`gh_etags`), kept so that a
//! restarted process reads unchanged listings with `304 Not Modified` answers at once.

use crate::StoreError;
use crate::engine::checked::{checked_read, checked_write};
use crate::github::known_answers::KnownAnswers;

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

impl KnownAnswers<'_> {
    /// The remembered answers, newest first, at most `limit`.
    pub async fn etags(&self, limit: usize) -> Result<Vec<EtagRow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = checked_read!(self.store, github::etags(limit))?;
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
    pub async fn save_etags(&self, rows: &[EtagRow]) -> Result<(), StoreError> {
        let now = crate::now_ms();
        for row in rows {
            let (path, etag, body) = (&row.path, &row.etag, &row.body);
            let next_page = row.next_page.as_deref();
            checked_write!(
                self.store,
                upkeep::save_etag(path, etag, body, next_page, now)
            )?;
        }
        checked_write!(self.store, upkeep::sweep_etags(now - KEEP_MS))?;
        Ok(())
    }
}
