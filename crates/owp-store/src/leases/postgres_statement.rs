//! PostgreSQL: a worker's claim as one statement (its ack and status move: [`super::postgres_task_ops`]).
//!
//! Every statement is a network round trip, and PostgreSQL keeps the rows a transaction wrote
//! locked until it commits. A claim of a dozen round trips held its repository's review-budget
//! row (which every claim and pull request of the repository writes) for the rest of them and
//! for the `COMMIT`, each waiting for the server's scheduler under load: claims of one
//! repository queued behind that row. Here each plain operation is one statement of
//! data-modifying common table expressions, which the database runs in one go. Without a change
//! hook (the GitHub App's outbox must write in the same transaction) and without an audit event
//! of its own to add, the statement runs on its own and commits as it ends: its row locks last
//! for the statement and the commit's log flush, and no round trip happens while they are held.
//!
//! The rules are those of [`super::transitions`], [`crate::claim_rules`] and [`super::sqlite_batch`]. The order in which the
//! expressions lock rows is forced by what each one reads from the one before it:
//!
//! - **Claim** (PostgreSQL's only claim of a worker, for one worker or for several claiming
//!   together, [`super::postgres_batches`]; a named `/owp claim` runs the same statement narrowed
//!   to its task, [`Pick::Named`]): lock the workers in id order; for each worker in turn, pick
//!   the first claimable task in offer order that passes every rule from the narrow queue
//!   `task_queue` (`FOR UPDATE SKIP LOCKED`: two claims never wait for or receive the same task),
//!   leaving out what the workers before it picked and counting the budget they used (its scan
//!   starts past the head of the queue they took whole, [`claim_statement`]); lock those
//!   tasks' rows, skipping any another transaction is changing (a claim never waits for a task
//!   row, so it never closes a cycle with a change whose trigger waits for the queue row); lock
//!   their repositories in id order and count the tasks against each one's budget with a
//!   conditional `UPDATE` that re-checks the row under its lock; take the tasks of the
//!   repositories where that succeeded (the queue's trigger then drops their rows). Two of these
//!   claims in one repository queue on its row before either takes an area, so they never wait
//!   on each other in a cycle. If another transaction used the repository's last slot between
//!   this statement's snapshot and the lock, or held the picked task's row, nothing is taken; if
//!   one took the same area or an overlapping path first (the partial unique index, the path
//!   trigger), the statement fails and nothing is written. Each is a *race*, won by another claim: the
//!   statement runs again on a fresh snapshot (a failed one inside a transaction runs the whole
//!   transaction again), at most [`RACE_ATTEMPTS`] times, after which the claim answers that
//!   nothing is eligible now.
//! - **Ack** and **status move** ([`super::postgres_task_ops`]): a conditional update of the task
//!   on its plain path (the caller's live lease, the status and last update it was read with),
//!   with the lease, the counters and the audit event chained on it, for one operation or for
//!   several arriving together. If the condition finds nothing, nothing was written and the
//!   general code decides (an idempotent ack, an expired lease, an error).

use serde_json::{Value, json};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Executor, Row};

use super::inconsistent;
use super::postgres_batches::Batched;
use crate::claim_rules::{Pick, RuleSet, Skills};
use crate::composed::Composed;
use crate::composed::leases::postgres as statements;
use crate::domain::{Event, Lease};
use crate::error::CLAIM_RACE;
use crate::presence::online_event;
use crate::rows::{TaskRow, WorkerRow};
use crate::{
    Backend, HOUR_MS, NACK_COOLDOWN_MS, Store, StoreError, Timing, WriteTx, format_ts, new_id,
};

/// Attempts of a claim statement that keeps losing races to other claims.
const RACE_ATTEMPTS: u32 = 8;

/// How long claims join every rule in full ([`RuleSet::Full`]) once the plain statement picked a
/// task for which a switched rule is on (ms); after that, the next claim tries the plain
/// statement again.
const SETTINGS_ON_MS: i64 = 60_000;

/// How a claim statement ended for one worker.
pub(crate) enum SingleClaim {
    /// The worker row is gone: nothing was written.
    NoWorker,
    /// Nothing is eligible for the worker now (it was marked seen).
    Nothing,
    /// The plain statement ([`RuleSet::Plain`]) picked a task for which a rule it leaves out is
    /// on: no task was taken, and the full statement must run.
    SettingsOn,
    /// Another transaction took the repository's last review slot or the task's area first,
    /// or was changing the picked task (its sequence number, which the next attempt skips: a
    /// claim inside a transaction still holds the task's queue row it picked): no task was
    /// taken.
    Race(Option<i64>),
    Taken(Box<Lease>, Event),
    /// The statement of claims taken together failed (see [`super::postgres_batches`]): nothing
    /// was written, and the claim runs a statement of its own.
    Unbatched,
}

impl Store {
    /// A claim in a transaction of its own (see [`LeasesTx::claim`]), with the instant the worker
    /// was marked seen. On PostgreSQL the statement commits by itself when no hook has to join
    /// it and the worker was online (no `worker.online` event has to join it either).
    ///
    /// [`LeasesTx::claim`]: crate::leases::transitions::LeasesTx::claim
    pub(super) async fn claim_alone(
        &self,
        worker: &WorkerRow,
    ) -> Result<(Option<Lease>, i64), StoreError> {
        let now = crate::now_ms();
        if self.backend == Backend::Postgres
            && self.autocommits()
            && worker.online(now, self.timing.heartbeat_ttl_ms)
        {
            let mut settling = Settling::new(self, Pick::First, now, true);
            // On the plain rules, a claim joins the others arriving meanwhile in one statement.
            let mut attempt = if settling.set == RuleSet::Plain {
                let job = ClaimJob(worker.clone());
                let (answer, at) = self.claim_batches.take_with_others(self, job).await;
                let answer = Ok(answer.unwrap_or(SingleClaim::Unbatched));
                settling.now = at.max(now);
                answer
            } else {
                Ok(SingleClaim::Unbatched)
            };
            let claimed = loop {
                if let Some(settled) = settling.settled(self, attempt) {
                    break settled?;
                }
                let (set, skip, at) = (settling.set, &settling.skip, settling.now);
                let one = [worker];
                let statement =
                    claim_statement(&self.write, &self.timing, &one, at, Pick::First, set, skip);
                attempt = statement.await.and_then(only);
            };
            return match claimed {
                SingleClaim::NoWorker => Err(no_worker()),
                SingleClaim::Taken(lease, event) => {
                    self.committed(&[event]);
                    Ok((Some(*lease), settling.now))
                }
                SingleClaim::Nothing
                | SingleClaim::Race(_)
                | SingleClaim::SettingsOn
                | SingleClaim::Unbatched => Ok((None, settling.now)),
            };
        }
        let claimed = self
            .write_batched(|mut tx| async move {
                let claimed = tx.leases().claim(worker).await.map(|lease| (lease, tx.now));
                (tx, claimed)
            })
            .await;
        match claimed {
            // Every attempt lost the task's area to another claim: others were taking what this
            // claim would have. (A database that stays busy or deadlocked is still an error.)
            Err(StoreError::Conflict {
                code: CLAIM_RACE, ..
            }) => Ok((None, crate::now_ms())),
            other => other,
        }
    }

    /// The rules a claim statement for `pick` joins at `now`: the plain statement, unless one
    /// picked a task for which a rule it leaves out is on within [`SETTINGS_ON_MS`] (a claim by
    /// name always joins every rule).
    fn rule_set(&self, pick: Pick, now: i64) -> RuleSet {
        let on_until = self
            .settings_on_until
            .load(std::sync::atomic::Ordering::Relaxed);
        if matches!(pick, Pick::Named { .. }) || now < on_until {
            RuleSet::Full
        } else {
            RuleSet::Plain
        }
    }

    /// A plain claim statement picked a task for which a rule it leaves out is on: claims join
    /// every rule for a while.
    fn settings_on(&self, now: i64) -> RuleSet {
        self.settings_on_until
            .fetch_max(now + SETTINGS_ON_MS, std::sync::atomic::Ordering::Relaxed);
        RuleSet::Full
    }

    fn lost_race(&self) {
        if let Some(o) = self.observer() {
            o.claim_race();
        }
    }

    /// Whether a change may commit without a transaction around it: no hook has to join it.
    pub(super) fn autocommits(&self) -> bool {
        !self.joins_commits()
    }
}

impl WriteTx {
    /// The claim as one statement inside this transaction (a hook joins it). A race the
    /// statement noticed before writing runs it again on a fresh snapshot; one that failed it
    /// (a taken area, a deadlock) is a transient conflict, and [`Store::write`] runs the whole
    /// transaction again.
    pub(super) async fn claim_single(
        &mut self,
        seen: &WorkerRow,
        pick: Pick,
    ) -> Result<Option<Lease>, StoreError> {
        let (timing, now) = (self.store().timing.clone(), self.now);
        let mut settling = Settling::new(self.store(), pick, now, false);
        let claimed = loop {
            let (set, skip) = (settling.set, &settling.skip);
            let one = [seen];
            let statement = claim_statement(self.conn(), &timing, &one, now, pick, set, skip);
            let attempt = statement.await.and_then(only);
            if let Some(settled) = settling.settled(self.store(), attempt) {
                break settled?;
            }
        };
        if !matches!(claimed, SingleClaim::NoWorker) && !seen.online(now, timing.heartbeat_ttl_ms) {
            self.event(online_event(&seen.id));
        }
        match claimed {
            SingleClaim::NoWorker => Err(no_worker()),
            SingleClaim::Race(_)
            | SingleClaim::Nothing
            | SingleClaim::SettingsOn
            | SingleClaim::Unbatched => Ok(None),
            SingleClaim::Taken(lease, event) => {
                self.appended(event);
                Ok(Some(*lease))
            }
        }
    }
}

/// A claim on the plain rules by a worker, as its request was authenticated.
pub(crate) struct ClaimJob(pub(super) WorkerRow);

impl Batched for ClaimJob {
    /// The statement's skill rule depends on the workers' shape ([`Skills`]).
    type Shape = Skills;
    type Answer = SingleClaim;

    fn worker(&self) -> &str {
        &self.0.id
    }

    fn shape(&self) -> Self::Shape {
        Skills::of(&self.0)
    }

    async fn run(store: &Store, jobs: &[Self], now: i64) -> Result<Vec<SingleClaim>, StoreError> {
        let workers: Vec<&WorkerRow> = jobs.iter().map(|j| &j.0).collect();
        let (first, set) = (Pick::First, RuleSet::Plain);
        claim_statement(&store.write, &store.timing, &workers, now, first, set, &[]).await
    }
}

/// The one place that decides whether a claim statement runs again. A plain statement that
/// picked a task for which a switched rule is on runs again with every rule; a race the statement
/// noticed before writing runs it again on a fresh snapshot without the task another
/// transaction held. With `retry_conflicts` (a statement that commits on its own), a race that
/// failed the statement (an area or an overlapping path taken first, a deadlock) runs it again
/// too; inside a transaction such a failure ends it, and [`Store::write`] runs the whole
/// transaction again. After [`RACE_ATTEMPTS`] races the claim ends as [`SingleClaim::Race`]:
/// others were taking what it would have.
struct Settling {
    set: RuleSet,
    skip: Vec<i64>,
    races: u32,
    now: i64,
    retry_conflicts: bool,
}

impl Settling {
    fn new(store: &Store, pick: Pick, now: i64, retry_conflicts: bool) -> Settling {
        Settling {
            set: store.rule_set(pick, now),
            skip: Vec::new(),
            races: 0,
            now,
            retry_conflicts,
        }
    }

    /// What an attempt ended with, or `None` when the statement must run again.
    fn settled(
        &mut self,
        store: &Store,
        attempt: Result<SingleClaim, StoreError>,
    ) -> Option<Result<SingleClaim, StoreError>> {
        match attempt {
            Ok(SingleClaim::SettingsOn) => {
                self.set = store.settings_on(self.now);
                return None;
            }
            Ok(SingleClaim::Unbatched) => return None,
            Ok(SingleClaim::Race(busy)) => self.skip.extend(busy),
            Err(e) if self.retry_conflicts && e.is_conflict() => {}
            settled => return Some(settled),
        }
        store.lost_race();
        self.races += 1;
        (self.races >= RACE_ATTEMPTS).then_some(Ok(SingleClaim::Race(None)))
    }
}

/// The answer of a statement of operations ([`operations_query`]) for its one operation.
pub(super) fn only<T>(mut answers: Vec<T>) -> Result<T, StoreError> {
    answers
        .pop()
        .ok_or_else(|| inconsistent("the statement's answer"))
}

/// A statement for several operations at once (claims, acks or moves of workers arriving
/// together, or one): `$1` the instant, `$2` the operations as one JSON array, each numbered from
/// 1 as `i`, the order its answer's rows come back in ([`one_row_each`]); the statement's own
/// parameters follow.
pub(super) fn operations_query(
    sql: Composed,
    now: i64,
    operations: impl IntoIterator<Item = Value>,
) -> Query<'static, Any, AnyArguments> {
    let doc: Vec<Value> = operations
        .into_iter()
        .enumerate()
        .map(|(i, mut op)| {
            op["i"] = json!(i + 1);
            op
        })
        .collect();
    sql.query().bind(now).bind(Value::Array(doc).to_string())
}

/// The rows a statement of `n` operations answered ([`operations_query`]): one each, in order.
pub(super) fn one_row_each(
    rows: Vec<AnyRow>,
    n: usize,
    statement: &str,
) -> Result<Vec<AnyRow>, StoreError> {
    if rows.len() != n {
        return Err(inconsistent(&format!("{statement} statement's answers")));
    }
    Ok(rows)
}

fn no_worker() -> StoreError {
    StoreError::not_found("worker_not_found", "unknown worker")
}

/// The claim statement (see the module docs) for `seen`, the workers as their requests were
/// authenticated (one, or several claiming together, [`super::postgres_batches`]), joining the
/// rules `set`, passing over the tasks `skip` (sequence numbers another transaction was changing
/// when an earlier attempt picked them). It answers for each worker in order. The workers pick
/// one after the other, each from what the ones before it left (a recursive expression: the
/// tasks they picked, and the review budget they used in each repository), in one plan that
/// PostgreSQL starts once for them all. The plain statement ([`RuleSet::Plain`]) takes the task
/// it picked only if the rules it leaves out are off for it ([`switched_off`]), and otherwise
/// says so ([`SingleClaim::SettingsOn`]); workers claiming together always join the plain rules,
/// whose only conditions between two claims are those two (the switched rules — areas, paths,
/// the hourly cap, reviewers — are off for every task it takes), and have the same shape of
/// skill rule ([`Skills`]).
///
/// Each worker's scan starts at `past` ([`OFFER_KEY`]), the end of the queue's head that the
/// workers before it took whole: every task up to it was picked in this statement. A worker's
/// pick moves `past` to its own task when that task was the first one after `past` not picked yet
/// (`f`: the usual case, where every worker could take the head); otherwise a task before it was
/// refused to this worker, or locked by another transaction, and the next worker starts where
/// this one did. The pick is the same as from the queue's head, and the tasks taken before it
/// cost no visit.
///
/// [`switched_off`]: crate::claim_rules::switched_off
/// [`OFFER_KEY`]: crate::claim_rules::OFFER_KEY
pub(super) async fn claim_statement<'c>(
    conn: impl Executor<'c, Database = Any>,
    timing: &Timing,
    seen: &[&WorkerRow],
    now: i64,
    pick: Pick,
    set: RuleSet,
    skip: &[i64],
) -> Result<Vec<SingleClaim>, StoreError> {
    let Some(first) = seen.first() else {
        return Ok(Vec::new());
    };
    debug_assert!(seen.len() == 1 || (set == RuleSet::Plain && pick == Pick::First));
    let accept_by = now + timing.accept_ttl_ms;
    // Never before `accept_by`: until the ack the lease ends at `accept_by` (section 8.1).
    let expires = (now + timing.lease_ttl_ms).max(accept_by);
    let sql = statements::claim(pick.skills(first), pick, set, skip);
    let claimants: Vec<Claimant> = seen
        .iter()
        .map(|w| {
            let lease_id = new_id("l");
            Claimant {
                data: lease_data(&lease_id),
                lease_id,
                actor: format!("worker:{}", w.id),
            }
        })
        .collect();
    let operations = seen.iter().zip(&claimants).map(|(w, c)| {
        json!({
            "id": w.id,
            "lease": c.lease_id,
            "skills": w.skills.join(","),
            "sj": serde_json::to_string(&w.skills).unwrap_or_else(|_| "[]".into()),
            "actor": c.actor,
            "data": c.data.to_string(),
        })
    });
    let rows = operations_query(sql, now, operations)
        .bind(accept_by)
        .bind(expires)
        .bind(now - NACK_COOLDOWN_MS)
        .bind(now - HOUR_MS)
        .fetch_all(conn)
        .await;
    let rows = match rows.map_err(StoreError::from) {
        Ok(rows) => rows,
        // Another transaction took the task's area first, or the repository's last claim of the
        // hour: the statement wrote nothing (nor does one that deadlocked, a conflict already).
        // In a transaction, the transaction is over.
        Err(e) if e.is_unique_violation() || e.is_claim_recheck() => {
            return Err(StoreError::conflict(
                CLAIM_RACE,
                "another claim took the task's area or the repository's last claim of the hour first",
            ));
        }
        Err(e) => return Err(e),
    };
    one_row_each(rows, seen.len(), "claim")?
        .iter()
        .zip(seen.iter().zip(claimants))
        .map(|(row, (w, c))| claimed(row, w, c, now, accept_by, expires))
        .collect()
}

/// What one worker of a claim statement gets.
struct Claimant {
    lease_id: String,
    actor: String,
    /// The audit data of its `task.leased` event.
    data: Value,
}

/// The audit data of a claim's `task.leased` event.
fn lease_data(lease_id: &str) -> Value {
    json!({"lease_id": lease_id, "status": "leased"})
}

/// How a claim statement ended for one of its workers, from its row of the answer.
fn claimed(
    row: &AnyRow,
    seen: &WorkerRow,
    c: Claimant,
    now: i64,
    accept_by: i64,
    expires: i64,
) -> Result<SingleClaim, StoreError> {
    if row.try_get::<i64, _>("seen_n")? == 0 {
        return Ok(SingleClaim::NoWorker);
    }
    if row.try_get::<Option<i64>, _>("seq")?.is_none() {
        // A task was picked but not taken: another transaction was changing it, or its
        // repository's budget was used meanwhile.
        let picked = row.try_get::<Option<i64>, _>("picked_seq")?;
        let held = row.try_get::<i64, _>("held_n")? > 0;
        return Ok(match picked {
            None => SingleClaim::Nothing,
            Some(_) if row.try_get::<i64, _>("plain_n")? == 0 => SingleClaim::SettingsOn,
            Some(seq) if !held => SingleClaim::Race(Some(seq)),
            Some(_) => SingleClaim::Race(None),
        });
    }
    let task = TaskRow::decode(row)?;
    let event = returned_event(
        row,
        now,
        &task,
        "task.leased",
        &c.actor,
        Some(&seen.id),
        c.data,
    )?;
    Ok(SingleClaim::Taken(
        Box::new(Lease {
            lease_id: c.lease_id,
            task: task.to_holder_api(),
            expires_at: format_ts(expires),
            accept_by: format_ts(accept_by),
        }),
        event,
    ))
}

/// The audit event a statement appended about `task` (it returned the event's id as
/// `event_id`).
pub(super) fn returned_event(
    row: &AnyRow,
    now: i64,
    task: &TaskRow,
    kind: &'static str,
    actor: &str,
    worker_id: Option<&str>,
    data: Value,
) -> Result<Event, StoreError> {
    let Some(id) = row.try_get::<Option<i64>, _>("event_id")? else {
        return Err(inconsistent("audit event"));
    };
    Ok(Event {
        id,
        kind: kind.to_string(),
        at: format_ts(now),
        repo: Some(task.repo.clone()),
        task_id: Some(task.id.clone()),
        worker_id: worker_id.map(str::to_string),
        actor: actor.to_string(),
        data,
    })
}
