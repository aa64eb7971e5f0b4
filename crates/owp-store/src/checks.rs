//! Checks of linked pull requests' head commits (GitHub mode): what check suites, check runs and
//! commit statuses reported, and the combined state a task in `pr_opened` shows as
//! `artifact.checks`.

use serde_json::{Value, json};

use super::engine::checked::checked_in_tx;
use super::{NewEvent, StoreError, WriteTx};

/// Checks kept per commit; a commit reporting more keeps its first ones (GitHub's own limit on
/// statuses of one commit is 1000, and a repository's CI reports a handful).
pub const MAX_CHECKS_PER_COMMIT: i64 = 200;

/// What GitHub says of a task's pull request (its head, checks, commits' signatures, disclosed
/// tools) inside a caller's write transaction ([`WriteTx::pr_checks`]).
pub struct PrChecksTx<'t> {
    tx: &'t mut WriteTx,
}

impl WriteTx {
    /// The view of this transaction named by [`PrChecksTx`].
    pub fn pr_checks(&mut self) -> PrChecksTx<'_> {
        PrChecksTx { tx: self }
    }
}

impl PrChecksTx<'_> {
    /// Records the head commit of a linked pull request.
    pub async fn set_head(
        &mut self,
        repo: &str,
        pr_number: i64,
        sha: &str,
    ) -> Result<(), StoreError> {
        checked_in_tx!(self.tx.conn(), checks::set_head(repo, pr_number, sha))?;
        Ok(())
    }

    /// Records one check of a commit (its latest state wins).
    pub async fn record(
        &mut self,
        repo: &str,
        sha: &str,
        check: &str,
        state: &str,
    ) -> Result<(), StoreError> {
        let known = checked_in_tx!(self.tx.conn(), checks::count(repo, sha))?;
        let now = self.tx.now;
        if known >= MAX_CHECKS_PER_COMMIT {
            checked_in_tx!(self.tx.conn(), checks::update(repo, sha, check, state, now))?;
        } else {
            checked_in_tx!(self.tx.conn(), checks::record(repo, sha, check, state, now))?;
        }
        Ok(())
    }

    /// The combined state of a commit's checks: `failure` if any failed, else `pending` if any
    /// is pending, else `success`; `None` when none was reported.
    pub async fn state(
        &mut self,
        repo: &str,
        sha: &str,
    ) -> Result<Option<&'static str>, StoreError> {
        let states = checked_in_tx!(self.tx.conn(), checks::states(repo, sha))?;
        let has = |s: &str| states.iter().any(|x| x == s);
        Ok(if states.is_empty() {
            None
        } else if has("failure") {
            Some("failure")
        } else if has("pending") {
            Some("pending")
        } else {
            Some("success")
        })
    }

    /// Tasks whose acting, open linked pull request has head `sha`.
    pub async fn tasks_with_head(
        &mut self,
        repo: &str,
        sha: &str,
    ) -> Result<Vec<String>, StoreError> {
        Ok(checked_in_tx!(
            self.tx.conn(),
            checks::tasks_with_head(repo, sha)
        )?)
    }

    /// Shows `checks` on a task in `pr_opened` (`artifact.checks`), logging `task.checks` when it
    /// changed. Returns whether it changed.
    pub async fn set_task_checks(
        &mut self,
        task_id: &str,
        checks: Option<&str>,
        actor: &str,
    ) -> Result<bool, StoreError> {
        self.set_pr_artifact(
            task_id,
            ("checks", "task.checks"),
            checks.map(|c| json!(c)),
            actor,
        )
        .await
    }

    /// Shows what GitHub says of the commits of a task's pull request in `pr_opened`
    /// (`artifact.commits: {verified, unverified, unverified_count}`), logging `task.commits`
    /// when it changed. Returns whether it changed.
    pub async fn set_task_commits(
        &mut self,
        task_id: &str,
        commits: Option<Value>,
        actor: &str,
    ) -> Result<bool, StoreError> {
        self.set_pr_artifact(task_id, ("commits", "task.commits"), commits, actor)
            .await
    }

    /// Shows what the description of a task's pull request in `pr_opened` says made it
    /// (`artifact.pr_disclosure`, read where its worker reported none), logging
    /// `task.disclosure` when it changed. Returns whether it changed.
    pub async fn set_task_disclosure(
        &mut self,
        task_id: &str,
        disclosure: Option<&crate::domain::disclosure::Disclosure>,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let value = disclosure.map(|d| json!(d));
        let field = (crate::domain::disclosure::PR_DISCLOSURE, "task.disclosure");
        self.set_pr_artifact(task_id, field, value, actor).await
    }

    /// Sets (or removes) one field of the artifact of a task in `pr_opened` that GitHub, not its
    /// worker, reports, with its `task.FIELD` event when it changed.
    async fn set_pr_artifact(
        &mut self,
        task_id: &str,
        (field, kind): (&'static str, &'static str),
        value: Option<Value>,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let task = self.tx.leases().lock_task(task_id).await?;
        if task.status != crate::domain::TaskStatus::PrOpened {
            return Ok(false);
        }
        let mut artifact = match task.artifact.clone() {
            Some(Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        let old = artifact.get(field).cloned();
        if old == value {
            return Ok(false);
        }
        match &value {
            Some(v) => artifact.insert(field.into(), v.clone()),
            None => artifact.remove(field),
        };
        let (artifact, now) = (Value::Object(artifact).to_string(), self.tx.now);
        let changed = checked_in_tx!(
            self.tx.conn(),
            checks::set_artifact(task.seq, &artifact, now)
        )?;
        if changed == 0 {
            return Ok(false);
        }
        self.tx.event(
            NewEvent::new(kind, actor)
                .repo(&task.repo)
                .task(&task.id)
                .worker(task.worker_id.as_deref())
                .data(json!({ field: value, "from": old })),
        );
        Ok(true)
    }
}
