//! Reputation, trust progression and the leaderboard.
//!
//! Every count reads the `outcomes` table, which a trigger fills from the audit log (migration
//! 0012): one row per (kind, task, lease), so an outcome logged twice — a redelivered webhook, a
//! second replica — is counted once, and no process keeps a counter of its own.

use std::collections::HashMap;

use serde_json::json;
use sqlx::Row;

use super::claim_rules::person_sql::Setting;
use super::composed;
use super::engine::checked::{checked_in_tx, checked_read};
use super::{NewEvent, Store, StoreError, WriteTx};
use crate::domain::{Promotion, Reputation};

/// Where a worker stands in one repository: its own trust, what it earned there, and the next
/// rule it could earn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustProgress {
    pub trust_level: i64,
    pub opted_in: bool,
    /// Merged tasks counted in the repository.
    pub merged_here: i64,
    /// The highest level a rule grants it (0 when none does, or it did not opt in).
    pub earned: i64,
}

impl TrustProgress {
    pub fn effective(&self) -> i64 {
        self.trust_level.max(self.earned)
    }

    /// The rule that would grant at least `tier`, with the fewest merges: what is still needed.
    pub fn rule_for(&self, tier: i64, rules: &[Promotion]) -> Option<Promotion> {
        rules
            .iter()
            .filter(|r| r.level >= tier)
            .min_by_key(|r| r.merged)
            .copied()
    }
}

/// One row of a leaderboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderRow {
    /// Whom the row counts: `github:` and a person's account id, or a worker id.
    pub worker_id: String,
    pub name: String,
    pub github_login: Option<String>,
    pub merged: i64,
    /// The estimate points of the merged tasks.
    pub points: i64,
}

/// The sums of a reputation over outcomes `o`.
fn decode_reputation(row: &sqlx::any::AnyRow) -> Result<Reputation, StoreError> {
    Ok(Reputation::new(
        row.try_get("merged")?,
        row.try_get("closed_unmerged")?,
        row.try_get("expired")?,
        row.try_get("nacked")?,
    ))
}

fn progress_from(
    row: &sqlx::any::AnyRow,
    rules: &[Promotion],
) -> Result<TrustProgress, StoreError> {
    let trust_level: i64 = row.try_get("trust_level")?;
    let opted_in = row.try_get::<i64, _>("reputation_opt_in")? != 0;
    let merged_here: i64 = row.try_get("merged_here")?;
    let earned = if opted_in {
        rules
            .iter()
            .filter(|r| r.merged <= merged_here)
            .map(|r| r.level)
            .max()
            .unwrap_or(0)
    } else {
        0
    };
    Ok(TrustProgress {
        trust_level,
        opted_in,
        merged_here,
        earned,
    })
}

fn decode_rules(rows: Vec<(i64, i64)>) -> Vec<Promotion> {
    rows.into_iter()
        .map(|(level, merged)| Promotion { level, merged })
        .collect()
}

/// Reputation, promotions and the leaderboard, read; each change in a transaction of its own
/// ([`Store::reputations`]).
pub struct Reputations<'s> {
    store: &'s Store,
}

/// Opt-ins, promotion rules and trust progress inside a caller's write transaction
/// ([`WriteTx::reputations`]).
pub struct ReputationsTx<'t> {
    tx: &'t mut WriteTx,
}

impl Store {
    /// The reputation's view of the store.
    pub fn reputations(&self) -> Reputations<'_> {
        Reputations { store: self }
    }
}

impl WriteTx {
    /// The reputation's view of this transaction.
    pub fn reputations(&mut self) -> ReputationsTx<'_> {
        ReputationsTx { tx: self }
    }
}

impl ReputationsTx<'_> {
    /// A worker opts in or out of reputation and/or the leaderboard.
    pub async fn set_opt_in(
        &mut self,
        worker_id: &str,
        reputation: Option<bool>,
        leaderboard: Option<bool>,
    ) -> Result<(), StoreError> {
        if reputation.is_none() && leaderboard.is_none() {
            return Ok(());
        }
        let (reputation_in, leaderboard_in) =
            (reputation.map(i64::from), leaderboard.map(i64::from));
        let n = checked_in_tx!(
            self.tx.conn(),
            reputation::opt_in(worker_id, reputation_in, leaderboard_in)
        )?;
        if n == 0 {
            return Err(StoreError::not_found("worker_not_found", "unknown worker"));
        }
        // The opt-ins are the person's, on every worker of theirs (contract section 14).
        if let Some(on) = reputation {
            self.tx
                .person_links()
                .person_setting_set(worker_id, Setting::ReputationOptIn, i64::from(on))
                .await?;
        }
        if let Some(on) = leaderboard {
            self.tx
                .person_links()
                .person_setting_set(worker_id, Setting::LeaderboardOptIn, i64::from(on))
                .await?;
        }
        self.tx.forget_known_workers();
        self.tx.event(
            NewEvent::new("worker.opt_in", format!("worker:{worker_id}"))
                .worker(Some(worker_id))
                .data(json!({"reputation": reputation, "leaderboard": leaderboard})),
        );
        Ok(())
    }

    /// Replaces the promotion rules of repository `repo` (nothing when it is unknown).
    pub async fn set_repo_promotions(
        &mut self,
        repo: &str,
        rules: &[Promotion],
        actor: &str,
    ) -> Result<(), StoreError> {
        Promotion::validate(rules)?;
        if let Some(row) = self.tx.repos().by_name(repo).await? {
            self.set_promotions(row.id, &row.name, rules, actor).await?;
        }
        Ok(())
    }

    /// Replaces a repository's promotion rules (validated).
    pub async fn set_promotions(
        &mut self,
        repo_id: i64,
        repo: &str,
        rules: &[Promotion],
        actor: &str,
    ) -> Result<(), StoreError> {
        let rules = Promotion::validate(rules)?;
        let old = self.promotions(repo_id).await?;
        if old == rules {
            return Ok(());
        }
        checked_in_tx!(self.tx.conn(), reputation::clear_promotions(repo_id))?;
        for r in &rules {
            checked_in_tx!(
                self.tx.conn(),
                reputation::add_promotion(repo_id, r.level, r.merged)
            )?;
        }
        self.tx.event(
            NewEvent::new("repo.promote", actor)
                .repo(repo)
                .data(json!({"promote": rules})),
        );
        Ok(())
    }

    /// The promotion rules of a repository, by level.
    pub async fn promotions(&mut self, repo_id: i64) -> Result<Vec<Promotion>, StoreError> {
        let rows = checked_in_tx!(self.tx.conn(), reputation::promotions(repo_id))?;
        Ok(decode_rules(rows))
    }

    /// Where `worker_id` stands in repository `repo_id`, read in this transaction.
    pub async fn trust_progress(
        &mut self,
        worker_id: &str,
        repo_id: i64,
    ) -> Result<(TrustProgress, Vec<Promotion>), StoreError> {
        let rules = self.promotions(repo_id).await?;
        let row = composed::reputation::progress()
            .query()
            .bind(worker_id)
            .bind(repo_id)
            .fetch_optional(self.tx.conn())
            .await?
            .ok_or_else(|| StoreError::not_found("worker_not_found", "unknown worker"))?;
        Ok((progress_from(&row, &rules)?, rules))
    }
}

impl Reputations<'_> {
    /// A worker's counted outcomes.
    pub async fn of(&self, worker_id: &str) -> Result<Reputation, StoreError> {
        let row = composed::reputation::reputation()
            .query()
            .bind(worker_id)
            .fetch_one(&self.store.read)
            .await?;
        decode_reputation(&row)
    }

    /// The counted outcomes of every worker whose person opted in, by worker id: each its
    /// person's on every worker of theirs, as [`Reputations::of`] reads it.
    pub async fn opted_in(&self) -> Result<HashMap<String, Reputation>, StoreError> {
        let rows = composed::reputation::reputations()
            .query()
            .fetch_all(&self.store.read)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("worker_id")?, decode_reputation(r)?)))
            .collect()
    }

    /// Every repository's promotion rules, by repository id.
    pub async fn all_promotions(&self) -> Result<HashMap<i64, Vec<Promotion>>, StoreError> {
        let rows = checked_read!(self.store, reputation::all_promotions())?;
        let mut out: HashMap<i64, Vec<Promotion>> = HashMap::new();
        for (repo_id, level, merged) in rows {
            out.entry(repo_id)
                .or_default()
                .push(Promotion { level, merged });
        }
        Ok(out)
    }

    /// The promotion rules of a repository, by level.
    pub async fn promotions(&self, repo_id: i64) -> Result<Vec<Promotion>, StoreError> {
        let rows = checked_read!(self.store, reputation::promotions(repo_id))?;
        Ok(decode_rules(rows))
    }

    /// Where a worker stands in a repository (for messages; claims decide in their statement).
    pub async fn trust_progress(
        &self,
        worker_id: &str,
        repo_id: i64,
    ) -> Result<(TrustProgress, Vec<Promotion>), StoreError> {
        let rules = self.promotions(repo_id).await?;
        let row = composed::reputation::progress()
            .query()
            .bind(worker_id)
            .bind(repo_id)
            .fetch_optional(&self.store.read)
            .await?
            .ok_or_else(|| StoreError::not_found("worker_not_found", "unknown worker"))?;
        Ok((progress_from(&row, &rules)?, rules))
    }

    /// The leaderboard: workers that opted in, by merged tasks since `since` (ms), then points.
    /// `repo` narrows it to one repository; `public_only` counts public repositories only.
    pub async fn leaderboard(
        &self,
        repo: Option<&str>,
        since: i64,
        public_only: bool,
    ) -> Result<Vec<LeaderRow>, StoreError> {
        let rows = composed::reputation::leaderboard(public_only)
            .query()
            .bind(since)
            .bind(repo.unwrap_or(""))
            .fetch_all(&self.store.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(LeaderRow {
                    worker_id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    github_login: r.try_get("github_login")?,
                    merged: r.try_get("merged")?,
                    points: r.try_get("points")?,
                })
            })
            .collect()
    }

    /// Creates or updates a repository policy and, when `promote` is given, replaces its
    /// promotion rules, in one transaction.
    pub async fn upsert_repo_promoting(
        &self,
        input: &super::repos::RepoUpsert,
        visibility: Option<crate::domain::Visibility>,
        promote: Option<&[Promotion]>,
        actor: &str,
    ) -> Result<(super::rows::RepoRow, bool), StoreError> {
        if let Some(rules) = promote {
            Promotion::validate(rules)?;
        }
        self.store
            .write_upsert(|mut tx| async move {
                let r = async {
                    let (row, created) = tx.repos().upsert_with(input, visibility, actor).await?;
                    if let Some(rules) = promote {
                        tx.reputations()
                            .set_promotions(row.id, &row.name, rules, actor)
                            .await?;
                    }
                    Ok((row, created))
                }
                .await;
                (tx, r)
            })
            .await
    }

    /// Opt-in of a worker, in its own transaction.
    pub async fn set_opt_in(
        &self,
        worker_id: &str,
        reputation: Option<bool>,
        leaderboard: Option<bool>,
    ) -> Result<(), StoreError> {
        self.store
            .write(|mut tx| async move {
                let r = tx
                    .reputations()
                    .set_opt_in(worker_id, reputation, leaderboard)
                    .await;
                (tx, r)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, Timing};

    /// Two processes on one database log the same merge (a webhook applied twice, a retried
    /// transaction): the outcome counts once, because the table's key says so, not a counter.
    #[tokio::test]
    async fn the_same_outcome_logged_twice_by_two_stores_counts_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("owp.db").display());
        let a = Store::open(&url, Timing::default()).await.unwrap();
        let b = Store::open(&url, Timing::default()).await.unwrap();
        let merged = |lease: &str| {
            NewEvent::new("task.status", "github:pull_request")
                .repo("o/r")
                .task("tsk_1")
                .worker(Some("w_1"))
                .data(json!({"from": "pr_opened", "status": "merged", "lease_id": lease}))
        };
        for store in [&a, &b, &a] {
            store
                .write(|mut tx| async move {
                    tx.event(merged("l_1"));
                    (tx, Ok(()))
                })
                .await
                .unwrap();
        }
        assert_eq!(a.reputations().of("w_1").await.unwrap().merged, 1);
        // A worker's own word is not a merge; a nack and an expiry count as themselves.
        a.write(|mut tx| async move {
            tx.event(
                NewEvent::new("task.status", "worker:w_1")
                    .repo("o/r")
                    .task("tsk_2")
                    .worker(Some("w_1"))
                    .data(json!({"from": "pr_opened", "status": "merged", "lease_id": "l_2"})),
            );
            tx.event(
                NewEvent::new("lease.nacked", "worker:w_1")
                    .task("tsk_3")
                    .worker(Some("w_1"))
                    .data(json!({"lease_id": "l_3"})),
            );
            tx.event(
                NewEvent::new("lease.expired", "system")
                    .task("tsk_4")
                    .worker(Some("w_1"))
                    .data(json!({"lease_id": "l_4"})),
            );
            tx.event(
                NewEvent::new("task.status", "github:pull_request")
                    .task("tsk_5")
                    .worker(Some("w_1"))
                    .data(json!({"from": "pr_opened", "status": "ready", "lease_id": "l_5"})),
            );
            (tx, Ok(()))
        })
        .await
        .unwrap();
        assert_eq!(
            b.reputations().of("w_1").await.unwrap(),
            Reputation::new(1, 1, 1, 1)
        );
        assert_eq!(Reputation::new(1, 1, 1, 1).score, 10 - 4 - 3 - 1);
    }
}
