//! SQLite: the hot paths of a worker (claim, ack, status move) in one or two round trips each.
//!
//! sqlx runs every SQLite connection on its own thread, and each statement is a round trip to it:
//! two thread hand-offs, which under load cost more than the statement itself. Here the statements
//! of one step travel together ([`WriteTx::batch`]: `;`-separated, sharing numbered parameters),
//! with the transaction's `BEGIN IMMEDIATE` and, where nothing else has to happen first, its
//! `COMMIT`. The rules are the same as in [`super::transitions`] and [`crate::claim_rules`]; what keeps them
//! here is that SQLite serialises write transactions: the claim's single conditional `UPDATE`
//! picks and takes the first task in offer order that passes every rule against the rows as they
//! are inside this transaction, and the counter updates that follow it in the same transaction
//! apply only to the task it took (they find it by its new lease id).
//!
//! Each operation is a [`Part`]: its statements, numbered from `$1`, and the values they bind.
//! Several parts travel in one batch with their parameters renumbered (see [`super::write_groups`]).
//!
//! Whatever is not the plain happy path (an unknown lease, an expired one, another holder, an
//! invalid move) is handed to the general code in [`super::transitions`] within the same transaction.

use serde_json::{Value, json};

use super::{Move, MovePlan, ack_data, concurrent_change, inconsistent, task_lease_points};
use crate::claim_rules::Pick;
use crate::columns::{Columns, Outcome};
use crate::composed::Composed;
use crate::composed::leases::sqlite as statements;
use crate::domain::{Event, Lease};
use crate::engine::sqlite_direct::Param;
use crate::presence::online_event;
use crate::rows::{TaskRow, WorkerRow};
use crate::{HOUR_MS, NACK_COOLDOWN_MS, NewEvent, StoreError, WriteTx, format_ts, new_id};

/// One operation's statements in a batch: SQL whose parameters are `$1` to `$N`
/// ([`crate::composed::leases::sqlite`]), the number of statements, and the `N` values to bind.
pub(super) struct Part {
    sql: Composed,
    stmts: usize,
    values: Vec<Param>,
}

/// What a claim needs after its batch ran.
pub(super) struct ClaimCtx {
    lease_id: String,
    accept_by: i64,
    expires: i64,
    actor: String,
    worker_id: String,
    data: Value,
    online: Option<NewEvent>,
}

/// How a batched claim ended.
pub(super) enum Claimed {
    /// The worker row is gone: nothing was written.
    NoWorker,
    Done(Option<Box<Lease>>),
}

/// What an ack needs after its batch ran.
pub(super) struct AckCtx {
    worker_id: String,
    actor: String,
    data: Value,
}

impl WriteTx {
    /// Runs `parts` as one batch, each part's parameters numbered after those of the parts before
    /// it, and returns each part's outcomes. With `commit` (see [`WriteTx::batch`]) the batch
    /// also commits.
    pub(super) async fn run_parts(
        &mut self,
        parts: Vec<Part>,
        commit: bool,
    ) -> Result<Vec<Vec<Outcome>>, StoreError> {
        if let Some(out) = self.run_direct(&parts)? {
            if commit {
                self.batch(crate::composed::sqlite::nothing(), Vec::new(), true)
                    .await?;
            }
            return Ok(out);
        }
        let sql = statements::joined(parts.iter().map(|p| (&p.sql, p.values.len())));
        let counts: Vec<usize> = parts.iter().map(|p| p.stmts).collect();
        let values = parts.into_iter().flat_map(|p| p.values).collect();
        let out = self.batch(sql, values, commit).await?;
        if out.len() != counts.iter().sum::<usize>() {
            return Err(inconsistent("statement batch"));
        }
        let mut out = out.into_iter();
        Ok(counts
            .into_iter()
            .map(|n| out.by_ref().take(n).collect())
            .collect())
    }

    /// On a transaction on the direct connection, runs `parts` there (`None` on any other). On
    /// the calling thread there is no round trip to save: each part runs with its own
    /// parameters, one cached text per statement.
    fn run_direct(&mut self, parts: &[Part]) -> Result<Option<Vec<Vec<Outcome>>>, StoreError> {
        let Some(direct) = self.direct()? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(parts.len());
        for part in parts {
            let outcomes = direct.run(part.sql.text(), &part.values)?;
            if outcomes.len() != part.stmts {
                return Err(inconsistent("statement batch"));
            }
            out.push(outcomes);
        }
        Ok(Some(out))
    }

    /// The claim (see [`LeasesTx::claim`]) as one round trip: mark the worker seen, take the best
    /// eligible task, count it against the repository budget and the worker's capacity, record
    /// the lease and its audit event, read the task back, commit.
    /// A named pick ([`Pick::Named`]) runs inside the caller's transaction, which goes on after it.
    ///
    /// [`LeasesTx::claim`]: crate::leases::transitions::LeasesTx::claim
    pub(super) async fn claim_batched(
        &mut self,
        seen: &WorkerRow,
        pick: Pick,
    ) -> Result<Option<Lease>, StoreError> {
        let (part, mut ctx) = self.claim_part(seen, pick);
        if let Some(online) = ctx.online.take() {
            self.event(online);
        }
        let out = self.run_parts(vec![part], pick == Pick::First).await?;
        match self.claim_done(ctx, one(out)?)? {
            Claimed::NoWorker => Err(StoreError::not_found("worker_not_found", "unknown worker")),
            Claimed::Done(lease) => Ok(lease.map(|l| *l)),
        }
    }

    /// The statements of a claim by `seen`.
    pub(super) fn claim_part(&self, seen: &WorkerRow, pick: Pick) -> (Part, ClaimCtx) {
        let was_online = seen.online(self.now, self.store().timing.heartbeat_ttl_ms);
        let online = (!was_online).then(|| online_event(&seen.id));
        let timing = &self.store().timing;
        let now = self.now;
        let lease_id = new_id("l");
        let accept_by = now + timing.accept_ttl_ms;
        // Never before `accept_by`: until the ack the lease ends at `accept_by` (section 8.1).
        let expires = (now + timing.lease_ttl_ms).max(accept_by);
        // The skill filter takes the skills read when the request was authenticated (as a JSON
        // array in $11); the guard `w.skills = $7` makes the claim take nothing if they changed
        // since.
        let sql = statements::claim(pick.skills(seen), pick);
        let actor = format!("worker:{}", seen.id);
        let data = json!({"lease_id": lease_id, "status": "leased"});
        let values = vec![
            now.into(),
            seen.id.as_str().into(),
            lease_id.as_str().into(),
            accept_by.into(),
            expires.into(),
            (now - NACK_COOLDOWN_MS).into(),
            seen.skills.join(",").into(),
            actor.as_str().into(),
            data.to_string().into(),
            (now - HOUR_MS).into(),
            serde_json::to_string(&seen.skills)
                .unwrap_or_else(|_| "[]".into())
                .into(),
        ];
        let part = Part {
            sql,
            stmts: 7,
            values,
        };
        let ctx = ClaimCtx {
            lease_id,
            accept_by,
            expires,
            actor,
            worker_id: seen.id.clone(),
            data,
            online,
        };
        (part, ctx)
    }

    /// Reads what a claim's statements returned.
    pub(super) fn claim_done(
        &mut self,
        ctx: ClaimCtx,
        out: Vec<Outcome>,
    ) -> Result<Claimed, StoreError> {
        let [worker, took, budget, load, _lease, event, task] = outcomes::<7>(out)?;
        if worker.rows.is_empty() {
            return Ok(Claimed::NoWorker);
        }
        if let Some(online) = ctx.online {
            self.event(online);
        }
        if took.affected == 0 {
            return Ok(Claimed::Done(None));
        }
        if budget.affected != 1 || load.affected != 1 {
            return Err(inconsistent("claim"));
        }
        let task = decode_task(&task)?;
        self.appended_event(
            &event,
            &task,
            "task.leased",
            &ctx.actor,
            Some(&ctx.worker_id),
            ctx.data,
        )?;
        Ok(Claimed::Done(Some(Box::new(Lease {
            lease_id: ctx.lease_id,
            task: task.to_holder_api(),
            expires_at: format_ts(ctx.expires),
            accept_by: format_ts(ctx.accept_by),
        }))))
    }

    /// `ack` in one round trip on the plain path (the caller's lease, leased, not ended, not
    /// expired): the conditional move, the lease stamp and the audit event chained on it
    /// (`changes() = 1`), the task read back, and the commit. If the move finds nothing to do,
    /// nothing was written and the general [`LeasesTx::ack`] decides (an idempotent ack, an
    /// expiry, an error), in a transaction of its own if this one has already committed.
    ///
    /// [`LeasesTx::ack`]: crate::leases::transitions::LeasesTx::ack
    pub(super) async fn ack_batched(
        &mut self,
        worker_id: &str,
        lease_id: &str,
    ) -> Result<TaskRow, StoreError> {
        let (part, ctx) = self.ack_part(worker_id, lease_id);
        let out = self.run_parts(vec![part], true).await?;
        if let Some(task) = self.ack_done(ctx, one(out)?)? {
            return Ok(task);
        }
        if !self.is_committed() {
            return self.leases().ack_general(worker_id, lease_id).await;
        }
        // The write connection is taken in turns: end this one's.
        self.release();
        let mut fresh = self.store().begin().await?;
        let result = fresh.leases().ack_general(worker_id, lease_id).await;
        fresh.finish(result).await
    }

    /// The statements of an ack on its plain path.
    pub(super) fn ack_part(&self, worker_id: &str, lease_id: &str) -> (Part, AckCtx) {
        let expires = self.now + self.store().timing.lease_ttl_ms;
        let actor = format!("worker:{worker_id}");
        let data = ack_data(Some(lease_id));
        let sql = statements::ack();
        let values = vec![
            self.now.into(),
            worker_id.into(),
            lease_id.into(),
            expires.into(),
            actor.as_str().into(),
            data.to_string().into(),
        ];
        let part = Part {
            sql,
            stmts: 4,
            values,
        };
        let ctx = AckCtx {
            worker_id: worker_id.to_string(),
            actor,
            data,
        };
        (part, ctx)
    }

    /// Reads what an ack's statements returned: the task, or `None` when the plain path did not
    /// apply (nothing was written).
    pub(super) fn ack_done(
        &mut self,
        ctx: AckCtx,
        out: Vec<Outcome>,
    ) -> Result<Option<TaskRow>, StoreError> {
        let [moved, stamped, event, row] = outcomes::<4>(out)?;
        if moved.affected == 0 {
            return Ok(None);
        }
        if stamped.affected != 1 || event.rows.len() != 1 {
            return Err(inconsistent("ack"));
        }
        let task = decode_task(&row)?;
        self.appended_event(
            &event,
            &task,
            "task.status",
            &ctx.actor,
            Some(&ctx.worker_id),
            ctx.data,
        )?;
        Ok(Some(task))
    }

    /// A worker's status move on SQLite: one read (which begins the transaction) of the task and
    /// of its lease, then the general rules and [`LeasesTx::apply_move`], itself batched. The
    /// second value says whether `worker_id` holds the task under a lease that is plainly alive
    /// (not ended, deadline ahead); anything else goes through [`LeasesTx::held`].
    ///
    /// [`LeasesTx::apply_move`]: crate::leases::transitions::LeasesTx::apply_move
    /// [`LeasesTx::held`]: crate::leases::transitions::LeasesTx::held
    pub(super) async fn read_for_move(
        &mut self,
        worker_id: &str,
        task_id: &str,
    ) -> Result<(TaskRow, bool), StoreError> {
        let out = self.run_parts(vec![read_part(task_id)], false).await?;
        self.read_done(worker_id, task_id, one(out)?)
    }

    /// Reads what [`read_part`] returned (see [`WriteTx::read_for_move`]).
    pub(super) fn read_done(
        &self,
        worker_id: &str,
        task_id: &str,
        out: Vec<Outcome>,
    ) -> Result<(TaskRow, bool), StoreError> {
        let [row, lease] = outcomes::<2>(out)?;
        let Some(row) = row.rows.first() else {
            return Err(StoreError::not_found(
                "task_not_found",
                format!("unknown task `{task_id}`"),
            ));
        };
        let task = TaskRow::decode(row)?;
        let alive = match lease.rows.first() {
            Some(l) => {
                let holder: String = l.col("worker_id")?;
                let ended: Option<i64> = l.col("ended_at")?;
                holder == worker_id
                    && ended.is_none()
                    && task.worker_id.as_deref() == Some(worker_id)
                    && task.status.is_active()
                    && task.deadline.is_some_and(|d| d > self.now)
            }
            None => false,
        };
        Ok((task, alive))
    }

    /// [`LeasesTx::apply_move`] in one round trip: the task's conditional update first, then the
    /// counters, the lease record and the audit event, and the task read back. If the task
    /// changed since the caller read it, the update finds nothing and the request fails, rolling
    /// back. `commit` (only for a task read in this transaction, which then cannot have changed)
    /// commits in the same round trip.
    ///
    /// [`LeasesTx::apply_move`]: crate::leases::transitions::LeasesTx::apply_move
    pub(super) async fn apply_move_batched(
        &mut self,
        task: &TaskRow,
        mv: &Move,
        plan: &MovePlan,
        actor: &str,
        commit: bool,
    ) -> Result<TaskRow, StoreError> {
        let part = self.apply_part(task, mv, plan, actor);
        let out = self.run_parts(vec![part], commit).await?;
        self.apply_done(task, plan, actor, one(out)?)
    }

    /// The statements of [`WriteTx::apply_move_batched`].
    pub(super) fn apply_part(
        &self,
        task: &TaskRow,
        mv: &Move,
        plan: &MovePlan,
        actor: &str,
    ) -> Part {
        let leaving = plan.leaving_lease && task.worker_id.is_some();
        let sql = statements::apply_move(plan.holder, leaving);
        let values = vec![
            mv.to.as_str().into(),
            plan.status_reason.clone().into(),
            plan.artifact.as_ref().map(Value::to_string).into(),
            i64::from(mv.bump_attempts).into(),
            i64::from(mv.to.holds_area()).into(),
            self.now.into(),
            task.seq.into(),
            task.status.as_str().into(),
            task_lease_points(task).into(),
            task.worker_id.clone().into(),
            mv.lease_end.as_str().into(),
            task.lease_id.clone().into(),
            plan.active_delta.into(),
            plan.pr_delta.into(),
            task.repo_id.into(),
            plan.kind.into(),
            task.repo.clone().into(),
            task.id.clone().into(),
            actor.into(),
            plan.data.to_string().into(),
            i64::from(plan.awaits_maintainer).into(),
            plan.recorded_worker.clone().into(),
        ];
        Part {
            sql,
            stmts: if leaving { 6 } else { 4 },
            values,
        }
    }

    /// Reads what [`WriteTx::apply_part`]'s statements returned.
    pub(super) fn apply_done(
        &mut self,
        task: &TaskRow,
        plan: &MovePlan,
        actor: &str,
        out: Vec<Outcome>,
    ) -> Result<TaskRow, StoreError> {
        let n = out.len();
        if out.first().is_none_or(|moved| moved.affected == 0) {
            return Err(concurrent_change());
        }
        if n < 4 {
            return Err(inconsistent("status move"));
        }
        self.appended_event(
            &out[n - 2],
            task,
            plan.kind,
            actor,
            plan.recorded_worker.as_deref(),
            plan.data.clone(),
        )?;
        decode_task(&out[n - 1])
    }

    /// Records the event a batch appended about `task` (the batch returned its id).
    fn appended_event(
        &mut self,
        outcome: &Outcome,
        task: &TaskRow,
        kind: &'static str,
        actor: &str,
        worker_id: Option<&str>,
        data: Value,
    ) -> Result<(), StoreError> {
        let Some(row) = outcome.rows.first() else {
            return Err(inconsistent("audit event"));
        };
        let event = Event {
            id: row.col("id")?,
            kind: kind.to_string(),
            at: format_ts(self.now),
            repo: Some(task.repo.clone()),
            task_id: Some(task.id.clone()),
            worker_id: worker_id.map(str::to_string),
            actor: actor.to_string(),
            data,
        };
        self.appended(event);
        Ok(())
    }
}

/// The statements that read a task and its lease for a status move (see
/// [`WriteTx::read_for_move`]).
pub(super) fn read_part(task_id: &str) -> Part {
    let id = task_id.to_string();
    Part {
        sql: statements::read_for_move(),
        stmts: 2,
        values: vec![id.into()],
    }
}

/// Marks a worker seen (see [`WorkersTx::mark_seen`]); the caller records its `worker.online`
/// event if it was offline.
///
/// [`WorkersTx::mark_seen`]: crate::workers::WorkersTx::mark_seen
pub(super) fn seen_part(worker_id: &str, now: i64) -> Part {
    let id = worker_id.to_string();
    Part {
        sql: statements::seen(),
        stmts: 1,
        values: vec![now.into(), id.into()],
    }
}

/// The outcomes of a batch of one part.
fn one(out: Vec<Vec<Outcome>>) -> Result<Vec<Outcome>, StoreError> {
    out.into_iter()
        .next()
        .ok_or_else(|| inconsistent("statement batch"))
}

/// The outcomes of a batch of exactly `N` statements.
fn outcomes<const N: usize>(out: Vec<Outcome>) -> Result<[Outcome; N], StoreError> {
    out.try_into().map_err(|_| inconsistent("statement batch"))
}

fn decode_task(outcome: &Outcome) -> Result<TaskRow, StoreError> {
    match outcome.rows.first() {
        Some(row) => TaskRow::decode(row),
        None => Err(inconsistent("task read-back")),
    }
}
