//! Reviewers with room (rule 13, `migrations/*/0035_reviewers.sql`): a repository's reviewers
//! as its settings name them (`repo_reviewers`), who reviews each task's pull request
//! (`task_reviews`), and each reviewer's load. The claim's condition on their room is SQL of its
//! own (`leases::claim_rules::reviewer_room`); a review is open while its task is `pr_opened`
//! ([`OPEN_REVIEWS`]), so a merge or a close ends it without a write here.

use std::collections::HashMap;

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::model::ReviewerLoad;
use crate::store::leases::claim_rules::{OPEN_REVIEWS, present};
use crate::store::rows::TaskRow;
use crate::store::{NewEvent, Store, StoreError, WriteTx, format_ts};

/// `away_until` of a reviewer away without a date (`/owp away`): until `/owp back`.
pub const AWAY_UNTIL_BACK: i64 = 253_402_300_799_999;

/// One reviewer of a repository, with their open reviews.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reviewer {
    pub repo_id: i64,
    /// Their login as the settings write it.
    pub login: String,
    pub capacity: i64,
    /// Open reviews ([`OPEN_REVIEWS`]).
    pub open: i64,
    /// Until when they are away (ms; [`AWAY_UNTIL_BACK`]: until they say they are back).
    pub away_until: Option<i64>,
}

impl Reviewer {
    /// Whether they are away at `now`.
    pub fn away_at(&self, now: i64) -> bool {
        self.away_until.is_some_and(|until| until > now)
    }

    /// Their load as `GET /v1/admin/state` shows it at `now`.
    pub fn load(&self, now: i64) -> ReviewerLoad {
        let away = self.away_at(now);
        ReviewerLoad {
            login: self.login.clone(),
            open: self.open,
            capacity: self.capacity,
            away,
            away_until: self
                .away_until
                .filter(|&until| away && until != AWAY_UNTIL_BACK)
                .map(format_ts),
        }
    }
}

/// The columns of a [`Reviewer`] over `repo_reviewers rv`.
fn reviewer_select() -> String {
    format!(
        "SELECT rv.repo_id, rv.login, rv.login_key, rv.capacity, rv.away_until, \
           rv.last_assigned_at, ({OPEN_REVIEWS}) AS open FROM repo_reviewers rv"
    )
}

fn decode_reviewer(row: &AnyRow) -> Result<Reviewer, StoreError> {
    Ok(Reviewer {
        repo_id: row.try_get("repo_id")?,
        login: row.try_get("login")?,
        capacity: row.try_get("capacity")?,
        open: row.try_get("open")?,
        away_until: row.try_get("away_until")?,
    })
}

impl WriteTx {
    /// Replaces repository `repo`'s reviewers with `reviewers` (login, how many at once), as its
    /// settings were just recorded; a reviewer who stays keeps their away state and last
    /// assignment, and the reviews of one who leaves stay recorded on their tasks. Nothing is
    /// written when nothing changes.
    pub async fn gh_set_reviewers(
        &mut self,
        repo: &str,
        reviewers: &[(String, u32)],
        actor: &str,
    ) -> Result<(), StoreError> {
        let Some(row) = self.repo_by_name(repo).await? else {
            return Ok(());
        };
        let old: Vec<(String, i64)> = sqlx::query_as(
            "SELECT login, capacity FROM repo_reviewers WHERE repo_id = $1 ORDER BY login_key",
        )
        .bind(row.id)
        .fetch_all(self.conn())
        .await?;
        let mut new: Vec<(String, i64)> = reviewers
            .iter()
            .map(|(login, n)| (login.clone(), i64::from(*n)))
            .collect();
        new.sort_by_key(|(login, _)| login.to_lowercase());
        if old == new {
            return Ok(());
        }
        let keys: Vec<String> = new.iter().map(|(l, _)| l.to_lowercase()).collect();
        for (login_key,) in sqlx::query_as::<_, (String,)>(
            "SELECT login_key FROM repo_reviewers WHERE repo_id = $1",
        )
        .bind(row.id)
        .fetch_all(self.conn())
        .await?
        {
            if !keys.contains(&login_key) {
                sqlx::query("DELETE FROM repo_reviewers WHERE repo_id = $1 AND login_key = $2")
                    .bind(row.id)
                    .bind(&login_key)
                    .execute(self.conn())
                    .await?;
            }
        }
        for ((login, capacity), key) in new.iter().zip(&keys) {
            sqlx::query(
                "INSERT INTO repo_reviewers (repo_id, login_key, login, capacity) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (repo_id, login_key) DO UPDATE SET login = $3, capacity = $4",
            )
            .bind(row.id)
            .bind(key)
            .bind(login)
            .bind(capacity)
            .execute(self.conn())
            .await?;
        }
        let count = i64::try_from(new.len()).unwrap_or(i64::MAX);
        sqlx::query("UPDATE repos SET reviewers = $1 WHERE id = $2")
            .bind(count)
            .bind(row.id)
            .execute(self.conn())
            .await?;
        let listed: serde_json::Map<String, serde_json::Value> =
            new.iter().map(|(l, n)| (l.clone(), json!(n))).collect();
        self.event(
            NewEvent::new("repo.reviewers", actor)
                .repo(repo)
                .data(json!({"reviewers": listed})),
        );
        Ok(())
    }

    /// The reviewer `login` (compared case-insensitively) of repository `repo_id`, if the
    /// settings name them.
    pub async fn gh_reviewer(
        &mut self,
        repo_id: i64,
        login: &str,
    ) -> Result<Option<Reviewer>, StoreError> {
        let sql = format!(
            "{} WHERE rv.repo_id = $1 AND rv.login_key = $2",
            reviewer_select()
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(repo_id)
            .bind(login.to_lowercase())
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(decode_reviewer).transpose()
    }

    /// Marks the reviewer `reviewer` away until `until` (ms), or back (`None`).
    pub async fn gh_set_reviewer_away(
        &mut self,
        repo: &str,
        reviewer: &Reviewer,
        until: Option<i64>,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE repo_reviewers SET away_until = $1 WHERE repo_id = $2 AND login_key = $3",
        )
        .bind(until)
        .bind(reviewer.repo_id)
        .bind(reviewer.login.to_lowercase())
        .execute(self.conn())
        .await?;
        let event = match until {
            Some(until) => NewEvent::new("github.reviewer_away", actor).data(json!({
                "login": reviewer.login,
                "until": (until != AWAY_UNTIL_BACK).then(|| format_ts(until)),
            })),
            None => {
                NewEvent::new("github.reviewer_back", actor).data(json!({"login": reviewer.login}))
            }
        };
        self.event(event.repo(repo));
        Ok(())
    }

    /// The reviewer of `task`'s pull request, while its review is open (the task is
    /// `pr_opened`), as the settings write their login; `None` when nobody reviews it.
    pub async fn gh_open_review_of(
        &mut self,
        task: &TaskRow,
    ) -> Result<Option<String>, StoreError> {
        let sql = review_of_task_sql();
        let row: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(task.seq)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.map(|(login,)| login))
    }

    /// Assigns `task`'s pull request (by `author`, never their own reviewer) to the reviewer of
    /// its repository with room who has the fewest open reviews, ties to the one assigned least
    /// recently, and returns their login; `None` when no reviewer who is not away has room.
    pub async fn gh_assign_reviewer(
        &mut self,
        task: &TaskRow,
        author: &str,
        actor: &str,
    ) -> Result<Option<String>, StoreError> {
        let sql = format!(
            "SELECT c.login FROM ({} WHERE rv.repo_id = $1 AND rv.login_key <> $2 AND {}) c \
             WHERE c.open < c.capacity \
             ORDER BY c.open, COALESCE(c.last_assigned_at, 0), c.login_key LIMIT 1",
            reviewer_select(),
            present("rv", "$3")
        );
        let picked: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(task.repo_id)
            .bind(author.to_lowercase())
            .bind(self.now)
            .fetch_optional(self.conn())
            .await?;
        let Some((login,)) = picked else {
            return Ok(None);
        };
        self.gh_record_review(task, &login, None, actor).await?;
        Ok(Some(login))
    }

    /// Records `login` (a reviewer of the task's repository) as the reviewer of `task`'s pull
    /// request from now on, in place of `from` when the review moves.
    pub async fn gh_record_review(
        &mut self,
        task: &TaskRow,
        login: &str,
        from: Option<&str>,
        actor: &str,
    ) -> Result<(), StoreError> {
        let now = self.now;
        let key = login.to_lowercase();
        sqlx::query(
            "INSERT INTO task_reviews (task_seq, repo_id, reviewer, assigned_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (task_seq) DO UPDATE SET repo_id = $2, reviewer = $3, assigned_at = $4",
        )
        .bind(task.seq)
        .bind(task.repo_id)
        .bind(&key)
        .bind(now)
        .execute(self.conn())
        .await?;
        sqlx::query(
            "UPDATE repo_reviewers SET last_assigned_at = $1 WHERE repo_id = $2 AND login_key = $3",
        )
        .bind(now)
        .bind(task.repo_id)
        .bind(&key)
        .execute(self.conn())
        .await?;
        self.event(
            NewEvent::new("github.reviewer_assigned", actor)
                .repo(&task.repo)
                .task(&task.id)
                .data(json!({"reviewer": login, "from": from})),
        );
        Ok(())
    }
}

/// The login of the reviewer of the task `$1` (by `seq`) while its review is open.
fn review_of_task_sql() -> String {
    "SELECT COALESCE(rv.login, tr.reviewer) FROM task_reviews tr \
       JOIN tasks t ON t.seq = tr.task_seq \
       LEFT JOIN repo_reviewers rv ON rv.repo_id = tr.repo_id AND rv.login_key = tr.reviewer \
     WHERE tr.task_seq = $1 AND t.status = 'pr_opened'"
        .to_string()
}

impl Store {
    /// The reviewer of the task `task_seq`'s pull request while its review is open (see
    /// [`WriteTx::gh_open_review_of`]).
    pub async fn gh_open_review(&self, task_seq: i64) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(review_of_task_sql()))
            .bind(task_seq)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.map(|(login,)| login))
    }

    /// Every repository's reviewers and their loads at `now`, by repository id, each list by
    /// login.
    pub async fn reviewer_loads(
        &self,
        now: i64,
    ) -> Result<HashMap<i64, Vec<ReviewerLoad>>, StoreError> {
        let sql = format!("{} ORDER BY rv.repo_id, rv.login_key", reviewer_select());
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.read)
            .await?;
        let mut out: HashMap<i64, Vec<ReviewerLoad>> = HashMap::new();
        for row in &rows {
            let reviewer = decode_reviewer(row)?;
            out.entry(reviewer.repo_id)
                .or_default()
                .push(reviewer.load(now));
        }
        Ok(out)
    }
}
