//! A worker's own proposals across the pool (`GET /v1/proposals`): how each ended, with the
//! task it was for, so that a worker learns what became of a plan it no longer waits on.

use sqlx::{AssertSqlSafe, Row};

use super::{LIST_LIMIT, PROPOSAL_SELECT, ProposalRow};
use crate::domain::proposals::OwnProposal;
use crate::{Store, StoreError, format_ts, now_ms};

impl Store {
    /// The proposals of worker `worker_id`, oldest first (at most the [`LIST_LIMIT`] newest).
    pub async fn worker_proposals(&self, worker_id: &str) -> Result<Vec<OwnProposal>, StoreError> {
        let select = PROPOSAL_SELECT.replacen(
            "SELECT ",
            "SELECT t.key AS task_key, t.title AS task_title, p.reason, p.ended_at, ",
            1,
        );
        let sql = format!(
            "SELECT * FROM ({select} WHERE p.worker_id = $1 ORDER BY p.seq DESC \
             LIMIT {LIST_LIMIT}) x ORDER BY x.seq"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(worker_id)
            .fetch_all(&self.read)
            .await?;
        let now = now_ms();
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let p = ProposalRow::decode(row)?;
            let ended_at: Option<i64> = row.try_get("ended_at")?;
            out.push(OwnProposal {
                proposal: p.to_api(now, None),
                task_key: row.try_get("task_key")?,
                task_title: row.try_get("task_title")?,
                // An open proposal past its days reads as expired: it ended when they ran out.
                ended_at: ended_at
                    .or(
                        (p.state_at(now) == crate::domain::proposals::ProposalState::Expired)
                            .then_some(p.expires_at),
                    )
                    .map(format_ts),
                reason: row.try_get("reason")?,
            });
        }
        Ok(out)
    }
}
