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
use sqlx::{Any, AssertSqlSafe, Executor, Row};

use super::effects::{budget_counters, insert_lease, marked_seen, take_task, worker_load};
use super::inconsistent;
use super::postgres_batches::Batched;
use crate::budget_rule::budget_room_after;
use crate::claim_rules::{
    OFFER_KEY, OFFER_KEY_ORDER, Pick, RuleSet, candidates, repo_rules, skill_rule, skill_shape,
    switched_off, worker_fits,
};
use crate::domain::{Event, Lease};
use crate::engine::write_tx::insert_event;
use crate::error::CLAIM_RACE;
use crate::presence::online_event;
use crate::rows::{TASK_SELECT, TaskRow, WorkerRow};
use crate::{
    Backend, HOUR_MS, NACK_COOLDOWN_MS, Store, StoreError, Timing, WriteTx, format_ts, new_id,
};

/// Where the pick starts in the queue, as an [`OFFER_KEY`]'s first part: before every task
/// (`-priority` is never below -3).
const HEAD: i64 = i64::MIN + 1;

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
    /// A claim in a transaction of its own (see [`WriteTx::claim`]), with the instant the worker
    /// was marked seen. On PostgreSQL the statement commits by itself when no hook has to join
    /// it and the worker was online (no `worker.online` event has to join it either).
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
                let claimed = tx.claim(worker).await.map(|lease| (lease, tx.now));
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
    /// The statement's skill rule depends on the workers' shape ([`skill_shape`]).
    type Shape = (bool, bool);
    type Answer = SingleClaim;

    fn worker(&self) -> &str {
        &self.0.id
    }

    fn shape(&self) -> Self::Shape {
        skill_shape(&self.0)
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
    sql: String,
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
    sqlx::query(AssertSqlSafe(sql))
        .bind(now)
        .bind(Value::Array(doc).to_string())
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

/// The audit event `kind` (an SQL string) of each task a statement changed, at `$1`: the rows of
/// `source` (`FROM … WHERE …`) join the task as the statement left it (`t`), its repository (`r`)
/// and its operation in the statement's document (`c`, with the event's `actor` and `data`); the
/// event names the task's worker.
pub(super) fn task_event(kind: &str, source: &str) -> String {
    insert_event(
        [
            kind,
            "$1",
            "r.name",
            "t.id",
            "t.worker_id",
            "c.actor",
            "c.data",
        ],
        source,
    )
}

/// The columns of [`TASK_SELECT`] read from the rows a data-modifying expression named `name`
/// returned (the table `tasks` as the statement left it), with the lease's clock read from
/// `lease` (a data-modifying expression on `leases` that returned the lease as the statement left
/// it, or `leases` itself when the statement does not change the clock).
pub(super) fn returned_task_select(name: &str, lease: &str) -> String {
    TASK_SELECT
        .replacen("FROM tasks t ", &format!("FROM {name} t "), 1)
        .replacen("LEFT JOIN leases tl ", &format!("LEFT JOIN {lease} tl "), 1)
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
/// skill rule ([`skill_shape`]).
///
/// Each worker's scan starts at `past` ([`OFFER_KEY`]), the end of the queue's head that the
/// workers before it took whole: every task up to it was picked in this statement. A worker's
/// pick moves `past` to its own task when that task was the first one after `past` not picked yet
/// (`f`: the usual case, where every worker could take the head); otherwise a task before it was
/// refused to this worker, or locked by another transaction, and the next worker starts where
/// this one did. The pick is the same as from the queue's head, and the tasks taken before it
/// cost no visit.
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
    // Each worker's skills read when its request was authenticated, as a JSON array (`b.sj`);
    // the guard `w.skills = b.skills` makes its claim take nothing if they changed since.
    let skills = skill_rule(Backend::Postgres, &pick.worker(first), "b.sj");
    let mut narrow = pick.condition();
    if !skip.is_empty() {
        let seqs: Vec<String> = skip.iter().map(i64::to_string).collect();
        narrow.push_str(&format!(" AND t.seq NOT IN ({})", seqs.join(", ")));
    }
    let rules = repo_rules(Backend::Postgres, "w.id", "$5", "$6", pick, set);
    // Where a worker's scan starts: past the head taken whole, leaving out the other tasks
    // picked before it.
    let after_past = format!("{OFFER_KEY} > (p.past_p, p.past_s) AND t.seq <> ALL(p.picked)");
    let plain = match set {
        RuleSet::Plain => switched_off(),
        RuleSet::Full => "TRUE".to_string(),
    };
    let sql = format!(
        "WITH RECURSIVE \
         b AS ( \
           SELECT * FROM json_to_recordset(CAST($2 AS json)) AS x(i BIGINT, id TEXT, \
             lease TEXT, skills TEXT, sj TEXT, actor TEXT, data TEXT)), \
         w AS ( \
           SELECT id, status, skills, active_tasks, max_concurrent_tasks, trust_level, \
             capacity_points, active_points FROM workers WHERE id IN (SELECT id FROM b) \
           ORDER BY id FOR UPDATE), \
         pick (i, seq, repo_id, plain, picked, repos, past_p, past_s) AS ( \
           SELECT CAST(0 AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), \
             CAST(NULL AS BIGINT), CAST('{{}}' AS BIGINT[]), CAST('{{}}' AS BIGINT[]), \
             CAST({HEAD} AS BIGINT), CAST(0 AS BIGINT) \
           UNION ALL \
           SELECT b.i, c.seq, c.repo_id, c.plain, \
             CASE WHEN c.seq IS NULL THEN p.picked ELSE p.picked || c.seq END, \
             CASE WHEN c.seq IS NULL THEN p.repos ELSE p.repos || c.repo_id END, \
             CASE WHEN f.first_seq = c.seq THEN c.key_p ELSE p.past_p END, \
             CASE WHEN f.first_seq = c.seq THEN c.seq ELSE p.past_s END \
           FROM pick p JOIN b ON b.i = p.i + 1 \
           LEFT JOIN LATERAL ( \
             SELECT t.seq, t.repo_id, -t.priority AS key_p, \
               CAST(CASE WHEN {plain} THEN 1 ELSE 0 END AS BIGINT) AS plain \
             FROM w CROSS JOIN {from} CROSS JOIN repos r \
             WHERE w.id = b.id AND {fits}{skills}{narrow} \
               AND {after_past} AND {batch_budget} \
               {rules} \
             {OFFER_KEY_ORDER} LIMIT 1 FOR UPDATE OF t SKIP LOCKED) c ON TRUE \
           LEFT JOIN LATERAL ( \
             SELECT t.seq AS first_seq FROM {from} \
             WHERE c.seq IS NOT NULL AND {after_past} \
             {OFFER_KEY_ORDER} LIMIT 1) f ON TRUE), \
         held AS ( \
           SELECT k.seq, k.repo_id FROM tasks k \
           WHERE k.seq IN (SELECT seq FROM pick WHERE plain = 1) AND k.status = 'ready' \
           FOR UPDATE SKIP LOCKED), \
         locked AS ( \
           SELECT id FROM repos WHERE id IN (SELECT repo_id FROM held) ORDER BY id FOR UPDATE), \
         budget AS ( \
           UPDATE repos SET {counters} \
           FROM (SELECT repo_id, COUNT(*) AS n FROM held GROUP BY repo_id) hn \
           WHERE repos.id = hn.repo_id AND repos.id IN (SELECT id FROM locked) AND {budget} \
           RETURNING repos.id, repos.area_locks_enabled), \
         took AS ( \
           UPDATE tasks SET {take} \
           FROM (SELECT h.seq AS take_seq, b.id AS take_worker, b.lease AS take_lease, \
                   bu.area_locks_enabled AS take_locks \
                 FROM held h JOIN pick p ON p.seq = h.seq JOIN b ON b.i = p.i \
                 JOIN budget bu ON bu.id = h.repo_id) x \
           WHERE tasks.seq = x.take_seq AND tasks.status = 'ready' \
           RETURNING tasks.*), \
         seen AS ( \
           UPDATE workers SET {seen}, {load} \
           FROM (SELECT b.id AS load_id, COUNT(tk.seq) AS load_n, \
                   COALESCE(SUM(tk.lease_points), 0) AS load_points \
                 FROM b LEFT JOIN took tk ON tk.worker_id = b.id GROUP BY b.id) s \
           WHERE workers.id = s.load_id RETURNING workers.id), \
         lease AS ({lease} RETURNING *), \
         ev AS ({event}) \
         SELECT (SELECT COUNT(*) FROM seen s WHERE s.id = b.id) AS seen_n, \
           p.seq AS picked_seq, (SELECT COUNT(*) FROM held h WHERE h.seq = p.seq) AS held_n, \
           COALESCE(p.plain, 1) AS plain_n, \
           (SELECT e.id FROM ev e WHERE e.task_id = k.id) AS event_id, k.* \
         FROM b LEFT JOIN pick p ON p.i = b.i LEFT JOIN ({took}) k ON k.seq = p.seq \
         ORDER BY b.i",
        batch_budget = budget_room_after("r.", "cardinality(array_positions(p.repos, r.id))"),
        counters = budget_counters("hn.n", "0"),
        budget = budget_room_after("repos.", "hn.n - 1"),
        take = take_task("x.take_worker", "x.take_lease", "$1", "x.take_locks"),
        seen = marked_seen("$1"),
        load = worker_load("s.load_n", "s.load_points"),
        lease = insert_lease("lease_id", "worker_id", "$1", "$3", "$4", "FROM took"),
        event = task_event(
            "'task.leased'",
            "FROM took t JOIN repos r ON r.id = t.repo_id JOIN b c ON c.id = t.worker_id"
        ),
        took = returned_task_select("took", "lease"),
        fits = worker_fits(Backend::Postgres, "b.skills"),
        from = candidates(Backend::Postgres).0,
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returned_rows_are_read_like_table_rows() {
        let sql = returned_task_select("took", "lease");
        assert!(sql.contains("FROM took t JOIN repos r ON r.id = t.repo_id"));
        assert!(sql.contains("LEFT JOIN lease tl ON tl.id = t.lease_id"));
        assert!(!sql.contains("FROM tasks t"));
        assert!(!sql.contains("JOIN leases tl"));
        // Only the FROM clause changes: the columns are those every task row decodes.
        assert_eq!(
            sql.replacen("FROM took t ", "FROM tasks t ", 1).replacen(
                "JOIN lease tl ",
                "JOIN leases tl ",
                1
            ),
            TASK_SELECT.to_string()
        );
    }
}
