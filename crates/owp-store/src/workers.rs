//! Workers: registration, bearer tokens, presence, heartbeats and admin updates.

use std::sync::Arc;

use rand::TryRngCore;
use serde_json::{Map, Value, json};

use super::claim_rules::person_sql::Setting;
use super::columns::Columns;
use super::composed;
use super::engine::checked::{checked_in_tx, checked_read};
use super::known_workers::TokenDigest;
use super::presence::{ContactCell, online_event};
use super::rows::WorkerRow;
use super::{NewEvent, Store, StoreError, WriteTx, new_id};
use crate::domain::WorkerStatus;
use crate::domain::limits;
use crate::domain::model::normalize_skills;

/// Remembered rows read again in one statement (see [`Workers::refresh_remembered`]).
const REFRESH_CHUNK: usize = 500;
/// At most this many in one call.
const REFRESH_MOST: usize = 5_000;

/// What a worker declares when it registers.
#[derive(Clone, Debug)]
pub struct WorkerInput {
    pub name: String,
    pub skills: Vec<String>,
    pub capacity_points: i64,
    pub max_concurrent_tasks: i64,
    pub github_login: Option<String>,
    pub capabilities: Value,
    pub extensions: Map<String, Value>,
    /// Count this worker's outcomes (reputation, trust progression).
    pub reputation_opt_in: bool,
    /// List this worker on the leaderboard.
    pub leaderboard_opt_in: bool,
    /// Offer it only tasks that require at least one of its skills.
    pub specialist: bool,
}

impl WorkerInput {
    /// A worker that declares its name, skills and capacity only: no GitHub login, capabilities,
    /// extensions or opt-ins.
    pub fn plain(name: &str, skills: &[&str], capacity_points: i64, max_tasks: i64) -> Self {
        WorkerInput {
            name: name.into(),
            skills: skills.iter().map(|s| s.to_string()).collect(),
            capacity_points,
            max_concurrent_tasks: max_tasks,
            github_login: None,
            capabilities: json!({}),
            extensions: Map::new(),
            reputation_opt_in: false,
            leaderboard_opt_in: false,
            specialist: false,
        }
    }

    pub fn validate(&self) -> Result<(), StoreError> {
        if self.name.trim().is_empty() {
            return Err(StoreError::invalid(
                "invalid_name",
                "`name` must not be empty",
            ));
        }
        limits::text("name", &self.name, limits::MAX_NAME_CHARS)?;
        limits::opt_text(
            "github_login",
            self.github_login.as_deref(),
            limits::MAX_LOGIN_CHARS,
        )?;
        limits::skills("skills", &self.skills)?;
        limits::range(
            "capacity_points",
            "invalid_capacity_points",
            self.capacity_points,
            limits::CAPACITY_POINTS,
        )?;
        limits::range(
            "max_concurrent_tasks",
            "invalid_max_concurrent_tasks",
            self.max_concurrent_tasks,
            limits::MAX_CONCURRENT_TASKS,
        )?;
        if !self.capabilities.is_object() {
            return Err(StoreError::invalid(
                "invalid_capabilities",
                "`capabilities` must be an object",
            ));
        }
        limits::json(
            "capabilities",
            &self.capabilities,
            limits::MAX_CAPABILITIES_BYTES,
        )?;
        limits::extensions("", &self.extensions)?;
        Ok(())
    }
}

/// A new bearer token: 32 random bytes from the OS CSPRNG, hex-encoded, with a readable prefix.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system random source is available");
    format!("owpw_{}", hex::encode(bytes))
}

/// `410 archived`: the worker was archived by the operator, for good.
pub fn archived_worker(worker_id: &str) -> StoreError {
    StoreError::gone(
        "archived",
        format!("worker `{worker_id}` was archived by the operator; it takes no more work"),
    )
}

/// Tokens are stored only as their SHA-256 (they are long random values, so a fast hash is right).
pub fn hash_token(token: &str) -> String {
    hex::encode(TokenDigest::of(token).0)
}

/// Workers, read: by token (remembered a moment), by id, all; presence and heartbeats; each
/// change in a transaction of its own ([`Store::workers`]).
pub struct Workers<'s> {
    store: &'s Store,
}

/// Workers inside a caller's write transaction: registered, their tokens rotated, seen, paused,
/// updated, a person's implicit worker ([`WriteTx::workers`]).
pub struct WorkersTx<'t> {
    tx: &'t mut WriteTx,
}

impl Store {
    /// The view of the store named by [`Workers`].
    pub fn workers(&self) -> Workers<'_> {
        Workers { store: self }
    }
}

impl WriteTx {
    /// The view of this transaction named by [`WorkersTx`].
    pub fn workers(&mut self) -> WorkersTx<'_> {
        WorkersTx { tx: self }
    }
}

impl WorkersTx<'_> {
    /// Registers a worker; returns it with its token (shown once, stored hashed).
    pub async fn register(
        &mut self,
        input: &WorkerInput,
    ) -> Result<(WorkerRow, String), StoreError> {
        input.validate()?;
        let id = new_id("w");
        let token = new_token();
        let (digest, skills) = (
            hash_token(&token),
            normalize_skills(&input.skills).join(","),
        );
        let capabilities = input.capabilities.to_string();
        let extensions = Value::Object(input.extensions.clone()).to_string();
        let now = self.tx.now;
        checked_in_tx!(
            self.tx.conn(),
            workers::register(
                &id,
                input.name.trim(),
                &digest,
                &skills,
                input.capacity_points,
                input.max_concurrent_tasks,
                input.github_login.as_deref(),
                now,
                &capabilities,
                &extensions,
                i64::from(input.reputation_opt_in),
                i64::from(input.leaderboard_opt_in),
                i64::from(input.specialist)
            )
        )?;
        let worker = self.get(&id).await?;
        self.tx.event(
            NewEvent::new("worker.registered", format!("worker:{id}"))
                .worker(Some(&id))
                .data(json!({"name": worker.name, "skills": worker.skills})),
        );
        Ok((worker, token))
    }

    /// Issues a new token for a worker (the old one stops working). An archived worker gets none:
    /// `410 archived`.
    pub async fn rotate_token(&mut self, worker_id: &str) -> Result<String, StoreError> {
        let token = new_token();
        let (digest, now) = (hash_token(&token), self.tx.now);
        let n = checked_in_tx!(
            self.tx.conn(),
            workers::rotate_token(&digest, now, worker_id)
        )?;
        if n == 0 {
            let archived = checked_in_tx!(self.tx.conn(), workers::archived(worker_id))?;
            return Err(if archived > 0 {
                archived_worker(worker_id)
            } else {
                StoreError::not_found("worker_not_found", "unknown worker")
            });
        }
        self.tx.forget_known_workers();
        // Logged, so that another process sharing a SQLite file learns of it (see
        // `known_workers`).
        self.tx.event(
            NewEvent::new("worker.token", format!("worker:{worker_id}")).worker(Some(worker_id)),
        );
        Ok(token)
    }

    pub async fn get(&mut self, worker_id: &str) -> Result<WorkerRow, StoreError> {
        let lock = self.tx.store().backend == crate::Backend::Postgres;
        let row = composed::workers::by_id(lock)
            .query()
            .bind(worker_id)
            .fetch_optional(self.tx.conn())
            .await?;
        match row {
            Some(r) => WorkerRow::decode(&r),
            None => Err(StoreError::not_found(
                "worker_not_found",
                format!("unknown worker `{worker_id}`"),
            )),
        }
    }

    /// Marks a worker online (every authenticated request does); `was_online` is what the caller
    /// saw before, so coming back online is logged once.
    pub async fn touch(&mut self, worker_id: &str, was_online: bool) -> Result<(), StoreError> {
        self.tx.ensure_begun().await?;
        let now = self.tx.now;
        checked_in_tx!(self.tx.conn(), workers::seen(worker_id, now))?;
        self.tx.record_seen(worker_id);
        if !was_online {
            self.tx.event(online_event(worker_id));
        }
        Ok(())
    }

    /// Marks a worker seen by an authenticated request. A worker seen less than
    /// [`super::rows::SEEN_GRANULARITY_MS`] ago is not written again: its online window moves by at most that
    /// much, well inside the one-second precision of presence.
    pub async fn mark_seen(&mut self, worker: &WorkerRow) -> Result<(), StoreError> {
        let ttl = self.tx.store().timing.heartbeat_ttl_ms;
        if worker.seen_lately(self.tx.now) {
            return Ok(());
        }
        let was_online = worker.online(self.tx.now, ttl);
        self.touch(&worker.id, was_online).await
    }

    /// The writes of a heartbeat: optionally sets idle/paused, and renews every lease the worker
    /// holds that has not ended. Returns the number of leases renewed. (The request marked the
    /// worker online already: see [`Workers::contact`].)
    pub async fn heartbeat(
        &mut self,
        worker: &WorkerRow,
        status: Option<WorkerStatus>,
    ) -> Result<u64, StoreError> {
        self.tx.ensure_begun().await?;
        if let Some(status) = status {
            let paused = status == WorkerStatus::Paused;
            // As it is now: the request's row may be a remembered one (see `known_workers`).
            let current = self.get(&worker.id).await?;
            if paused != current.paused {
                self.set_paused(&worker.id, paused, &format!("worker:{}", worker.id))
                    .await?;
            }
        }
        self.renew_leases(&worker.id, None).await
    }

    /// Extends the leases of a worker (all, or one) by the lease TTL. A lease that is not yet
    /// acknowledged still ends at its accept-by deadline, neither sooner nor later: only `ack`
    /// accepts. Ended leases are not revived.
    pub async fn renew_leases(
        &mut self,
        worker_id: &str,
        lease_id: Option<&str>,
    ) -> Result<u64, StoreError> {
        let expires = self.tx.now + self.tx.store().timing.lease_ttl_ms;
        // The lease's own row: the task's is not written (a renewal changes nothing a person
        // looking at the task would notice), nor is any indexed column of the lease's.
        let now = self.tx.now;
        Ok(match lease_id {
            Some(lease) => checked_in_tx!(
                self.tx.conn(),
                leases::renew_one(expires, now, worker_id, lease)
            )?,
            None => checked_in_tx!(
                self.tx.conn(),
                leases::renew_worker(expires, now, worker_id)
            )?,
        })
    }

    pub async fn set_paused(
        &mut self,
        worker_id: &str,
        paused: bool,
        actor: &str,
    ) -> Result<(), StoreError> {
        let status = if paused { "paused" } else { "idle" };
        checked_in_tx!(self.tx.conn(), workers::set_status(worker_id, status))?;
        self.tx.forget_known_workers();
        self.tx.event(
            NewEvent::new(
                if paused {
                    "worker.paused"
                } else {
                    "worker.resumed"
                },
                actor,
            )
            .worker(Some(worker_id)),
        );
        Ok(())
    }

    /// Admin update of a worker's trust level and/or status.
    pub async fn admin_update(
        &mut self,
        worker_id: &str,
        trust_level: Option<i64>,
        status: Option<WorkerStatus>,
    ) -> Result<WorkerRow, StoreError> {
        let worker = self.get(worker_id).await?;
        if let Some(trust) = trust_level {
            limits::range("trust_level", "invalid_trust_level", trust, limits::TIER)?;
            checked_in_tx!(self.tx.conn(), workers::set_trust(worker_id, trust))?;
            // The trust is the person's, on every worker of theirs (contract section 14).
            self.tx
                .person_links()
                .person_setting_set(worker_id, Setting::Trust, trust)
                .await?;
            self.tx.forget_known_workers();
            self.tx.event(
                NewEvent::new("worker.trust", "admin")
                    .worker(Some(worker_id))
                    .data(json!({"from": worker.trust_level, "to": trust})),
            );
        }
        if let Some(status) = status {
            let paused = status == WorkerStatus::Paused;
            // An archived worker stays paused: resuming it would let it work again.
            if !paused && worker.archived {
                return Err(archived_worker(worker_id));
            }
            if paused != worker.paused {
                self.set_paused(worker_id, paused, "admin").await?;
            }
        }
        self.get(worker_id).await
    }

    /// The implicit worker of the GitHub account `account_id`, if it has one: found by the
    /// account id, never by a login.
    pub async fn implicit_of(&mut self, account_id: i64) -> Result<Option<String>, StoreError> {
        Ok(checked_in_tx!(
            self.tx.conn(),
            workers::implicit_of(account_id)
        )?)
    }

    /// The implicit worker of the GitHub account `account_id`, now named `login` (a person
    /// claiming by comment), created on first use: trust 0, every skill,
    /// `max_concurrent_tasks` as the repo config says. It is found by the account id, never by
    /// the login: a new account that takes a freed login gets a worker of its own (the id
    /// `gh_<login>` when no worker has it, else `gh_<login>_<account id>`, which no login can
    /// name), and inherits nothing.
    pub async fn implicit_github(
        &mut self,
        login: &str,
        account_id: i64,
        max_concurrent_tasks: i64,
    ) -> Result<WorkerRow, StoreError> {
        let max = max_concurrent_tasks.max(1);
        if let Some(id) = self.implicit_of(account_id).await? {
            let now = self.tx.now;
            checked_in_tx!(self.tx.conn(), workers::implicit_seen(&id, now, max))?;
            return self.get(&id).await;
        }
        for id in [
            implicit_worker_id(login),
            format!("{}_{account_id}", implicit_worker_id(login)),
        ] {
            // Points do not limit a person: the concurrency cap does.
            let (points, now) = (1_000_000i64, self.tx.now);
            let made = checked_in_tx!(
                self.tx.conn(),
                workers::implicit_create(&id, login, points, max, now, account_id)
            )?;
            if made > 0 {
                self.tx.person_links().met(account_id, login).await?;
                return self.get(&id).await;
            }
        }
        Err(StoreError::conflict(
            "worker_exists",
            "the worker ids of this GitHub account are taken",
        ))
    }
}

impl Workers<'_> {
    /// Registers a worker in its own transaction.
    pub async fn register(&self, input: &WorkerInput) -> Result<(WorkerRow, String), StoreError> {
        self.store
            .write(|mut tx| async move {
                let r = tx.workers().register(input).await;
                (tx, r)
            })
            .await
    }

    /// The worker a bearer token belongs to: remembered from a request a moment ago (see
    /// [`super::known_workers`]), or read.
    pub async fn by_token(&self, token: &str) -> Result<Option<WorkerRow>, StoreError> {
        let digest = TokenDigest::of(token);
        let now = super::now_ms();
        if let Some((mut row, contact)) = self.remembered_worker(&digest, now) {
            contact.overlay(&mut row);
            if row.online(now, self.store.timing.heartbeat_ttl_ms) {
                self.count_worker_auth(true);
                return Ok(Some(row));
            }
        }
        self.count_worker_auth(false);
        self.read_worker_by_digest(&digest).await
    }

    /// The worker of an authenticated request, marked online (every request of a worker does
    /// it; see [`Workers::contact`]): a remembered row is found with one lookup, and its contact
    /// noted in the cell it holds.
    pub async fn authenticate(&self, token: &str) -> Result<Option<WorkerRow>, StoreError> {
        let digest = TokenDigest::of(token);
        let now = super::now_ms();
        if let Some((mut row, contact)) = self.remembered_worker(&digest, now)
            && super::presence::noted(&contact, &mut row, now, self.store.timing.heartbeat_ttl_ms)
        {
            self.count_worker_auth(true);
            return Ok(Some(row));
        }
        self.count_worker_auth(false);
        let mut row = self.read_worker_by_digest(&digest).await?;
        if let Some(row) = &mut row {
            self.contact(row).await?;
        }
        Ok(row)
    }

    /// The row remembered for `digest`, as it was read (see [`super::known_workers`]).
    fn remembered_worker(
        &self,
        digest: &TokenDigest,
        now: i64,
    ) -> Option<(WorkerRow, Arc<ContactCell>)> {
        let version = self.store.empty_claims.version();
        self.store.known_workers.get(digest, now, version)
    }

    /// A worker's request was served from a remembered row (`hit`) or read its row.
    fn count_worker_auth(&self, hit: bool) {
        if let Some(o) = self.store.observer() {
            o.worker_auth(hit);
        }
    }

    async fn read_worker_by_digest(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<WorkerRow>, StoreError> {
        let generation = self.store.known_workers.generation();
        let version = self.store.empty_claims.version();
        let mut row = self.read_worker_by_token(&hex::encode(digest.0)).await?;
        if let Some(row) = &mut row {
            self.remember_read(*digest, row, generation, version);
        }
        Ok(row)
    }

    /// A row just read, with this process's newer contact laid over it, remembered as read
    /// at `generation` and `version` (taken before the read, so a change committed meanwhile
    /// still wins).
    fn remember_read(
        &self,
        digest: TokenDigest,
        row: &mut WorkerRow,
        generation: u64,
        version: u64,
    ) {
        let contact = self.store.contact_cell(&row.id);
        contact.overlay(row);
        self.store
            .known_workers
            .remember(digest, row, contact, generation, version);
    }

    /// Reads again the remembered rows that are due ([`super::known_workers::KnownWorkers::due`]),
    /// [`REFRESH_CHUNK`] in one statement, at most [`REFRESH_MOST`] a call: a server calls it every
    /// second, so that rows in use are read long before they end and no request waits for
    /// its worker's row. Returns how many rows it read.
    pub async fn refresh_remembered(&self) -> Result<usize, StoreError> {
        let due = self.store.known_workers.due(super::now_ms(), REFRESH_MOST);
        let mut read = 0;
        for chunk in due.chunks(REFRESH_CHUNK) {
            let generation = self.store.known_workers.generation();
            let version = self.store.empty_claims.version();
            let hashes: Vec<String> = chunk.iter().map(|d| hex::encode(d.0)).collect();
            let rows = composed::workers::by_tokens(self.store.backend())
                .query()
                .bind(Value::from(hashes).to_string())
                .fetch_all(&self.store.read)
                .await?;
            for row in &rows {
                let hash: String = row.col("token_hash")?;
                let Some(digest) = TokenDigest::from_hex(&hash) else {
                    continue;
                };
                let mut worker = WorkerRow::decode(row)?;
                self.remember_read(digest, &mut worker, generation, version);
            }
            read += rows.len();
        }
        Ok(read)
    }

    /// Whether workers found by their tokens are remembered for long now: other processes'
    /// changes are known to reach this one (see [`super::known_workers`]).
    pub fn remembered_long(&self) -> bool {
        self.store.known_workers.is_watched(super::now_ms())
    }

    async fn read_worker_by_token(&self, hash: &str) -> Result<Option<WorkerRow>, StoreError> {
        let sql = composed::workers::by_token();
        if let Some(reads) = &self.store.direct_reads {
            // One indexed read on the calling thread (see `engine::sqlite_direct::ReadConns`).
            return reads.with(|conn| {
                conn.read_one(sql.text(), &[hash.into()])?
                    .as_ref()
                    .map(WorkerRow::decode)
                    .transpose()
            });
        }
        let row = sql
            .query()
            .bind(hash)
            .fetch_optional(&self.store.read)
            .await?;
        row.as_ref().map(WorkerRow::decode).transpose()
    }

    pub async fn get(&self, worker_id: &str) -> Result<Option<WorkerRow>, StoreError> {
        let row = composed::workers::by_id(false)
            .query()
            .bind(worker_id)
            .fetch_optional(&self.store.read)
            .await?;
        let mut row = row.as_ref().map(WorkerRow::decode).transpose()?;
        if let Some(row) = &mut row {
            self.with_contact(row);
        }
        Ok(row)
    }

    pub async fn all(&self) -> Result<Vec<WorkerRow>, StoreError> {
        let rows = composed::workers::all()
            .query()
            .fetch_all(&self.store.read)
            .await?;
        let mut rows = rows
            .iter()
            .map(WorkerRow::decode)
            .collect::<Result<Vec<_>, _>>()?;
        for row in &mut rows {
            self.with_contact(row);
        }
        Ok(rows)
    }

    /// Marks the worker of an authenticated request online (every one does; contract section
    /// 0). A worker online already is only noted: nothing is written now, a presence flush
    /// writes it when it is due (see [`super::presence`]). One that comes back online is
    /// written at once, with its `worker.online` event. `worker` then carries the contact.
    pub async fn contact(&self, worker: &mut WorkerRow) -> Result<(), StoreError> {
        let now = super::now_ms();
        if self.store.note_contact_if_online(worker, now) {
            return Ok(());
        }
        let id = worker.id.clone();
        let at = self
            .store
            .write(|mut tx| {
                let id = &id;
                async move {
                    let r = tx.workers().touch(id, false).await.map(|()| tx.now);
                    (tx, r)
                }
            })
            .await?;
        self.store.contact_committed(&id, at);
        worker.last_seen_at = Some(at);
        Ok(())
    }

    /// A heartbeat of `worker` (authenticated, so marked online already): returns the worker as
    /// it is now and how many leases it renewed. A heartbeat that asks for no status and has no
    /// lease to renew writes nothing: one read of the worker's live leases tells, and the answer
    /// is the request's own row (perhaps a remembered one, see [`super::known_workers`]); a row
    /// whose counters are current (read for the request, or remembered while the pool stood
    /// still) and count no task needs not even that read. One
    /// that asks for a status compares it with the worker as it is in its write transaction.
    pub async fn heartbeat(
        &self,
        mut worker: WorkerRow,
        status: Option<WorkerStatus>,
    ) -> Result<(WorkerRow, u64), StoreError> {
        if status.is_none() {
            // A row read for this request that counts no task holds no live lease: a lease is
            // counted from the claim that grants it until it ends.
            let idle = worker.fresh && worker.active_tasks == 0;
            // The request's row carries its contact already (`Workers::contact`).
            if idle || self.renewable_leases(&mut worker).await? == 0 {
                return Ok((worker, 0));
            }
        }
        let (mut fresh, renewed) = self
            .store
            .on_writer(move |store| async move {
                store
                    .write(|mut tx| {
                        let worker = &worker;
                        async move {
                            let result = async {
                                let renewed = tx.workers().heartbeat(worker, status).await?;
                                Ok((tx.workers().get(&worker.id).await?, renewed))
                            }
                            .await;
                            (tx, result)
                        }
                    })
                    .await
            })
            .await?;
        self.with_contact(&mut fresh);
        Ok((fresh, renewed))
    }

    /// How many leases of `worker` a heartbeat now would renew, in one read (of its row by key
    /// and of the index of live leases), which also brings the row's counters and pause up to
    /// date (the row may be a remembered one).
    async fn renewable_leases(&self, worker: &mut WorkerRow) -> Result<i64, StoreError> {
        const SQL: &str = "SELECT active_tasks, active_points, status, \
            (SELECT COUNT(*) FROM leases l WHERE l.worker_id = workers.id \
             AND l.ended_at IS NULL AND l.deadline > $2) AS renewable \
            FROM workers WHERE id = $1";
        let now = super::now_ms();
        let (tasks, points, status, renewable): (i64, i64, String, i64) =
            if let Some(reads) = &self.store.direct_reads {
                reads.with(|conn| {
                    let row = conn
                        .read_one(SQL, &[worker.id.as_str().into(), now.into()])?
                        .ok_or_else(gone)?;
                    Ok((
                        row.col("active_tasks")?,
                        row.col("active_points")?,
                        row.col("status")?,
                        row.col("renewable")?,
                    ))
                })?
            } else {
                sqlx::query_as(SQL)
                    .bind(&worker.id)
                    .bind(now)
                    .fetch_optional(&self.store.read)
                    .await?
                    .ok_or_else(gone)?
            };
        worker.active_tasks = tasks;
        worker.active_points = points;
        worker.paused = status == "paused";
        Ok(renewable)
    }

    /// `row` with the latest contact this process knows of (some wait for the next flush).
    fn with_contact(&self, row: &mut WorkerRow) {
        if let Some(contact) = self.store.known_contact(&row.id) {
            contact.overlay(row);
        }
    }

    /// Logs workers whose heartbeat TTL has passed as offline (once each). Returns how many.
    pub async fn sweep_presence(&self) -> Result<usize, StoreError> {
        let cutoff = super::now_ms() - self.store.timing.heartbeat_ttl_ms;
        let due = checked_read!(self.store, presence::due_offline(cutoff))?;
        if due.is_empty() {
            return Ok(0);
        }
        let ttl = self.store.timing.heartbeat_ttl_ms;
        let due = &due;
        self.store
            .write(|mut tx| async move {
                let r = async {
                    let cutoff = tx.now - ttl;
                    let mut n = 0;
                    for id in due {
                        // Conditional, so of several processes sweeping at once one logs it.
                        let changed = checked_in_tx!(tx.conn(), workers::offline(id, cutoff))?;
                        if changed > 0 {
                            n += 1;
                            tx.event(NewEvent::new("worker.offline", "system").worker(Some(id)));
                        }
                    }
                    Ok(n)
                }
                .await;
                (tx, r)
            })
            .await
    }
}

/// A worker that authenticated a moment ago and is no longer there.
fn gone() -> StoreError {
    StoreError::not_found("worker_not_found", "the worker no longer exists")
}

/// The id a new implicit worker of a GitHub login takes when it is free (see
/// [`WorkersTx::implicit_github`]); never how a person's worker is found.
fn implicit_worker_id(login: &str) -> String {
    format!("gh_{}", login.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with("owpw_") && a.len() == 5 + 64);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
        assert!(!hash_token(&a).contains(&a[5..]));
    }

    /// A remembered row that served a request and passed three quarters of its life is read
    /// again by [`Workers::refresh_remembered`], and the next request is served the row as it is
    /// now, from memory; a row that served nothing, or was just read, is not read.
    #[tokio::test]
    async fn rows_in_use_are_read_again_before_they_end() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("owp.db").display());
        let store = Store::open(&url, crate::Timing::default()).await.unwrap();
        let input = WorkerInput::plain("w", &[], 5, 1);
        let (_, token) = store.workers().register(&input).await.unwrap();
        store
            .known_workers
            .watched(super::super::now_ms() + 600_000);
        let workers = store.workers();
        workers.authenticate(&token).await.unwrap().unwrap();
        store
            .known_workers
            .age(None, super::super::known_workers::WATCHED_MAX_AGE * 3 / 4);
        assert_eq!(
            workers.refresh_remembered().await.unwrap(),
            0,
            "served none"
        );
        workers.authenticate(&token).await.unwrap().unwrap();
        // A change no commit of this process announced: only a read finds it.
        sqlx::query("UPDATE workers SET name = 'renamed'")
            .execute(&store.read)
            .await
            .unwrap();
        assert_eq!(workers.refresh_remembered().await.unwrap(), 1);
        assert_eq!(workers.refresh_remembered().await.unwrap(), 0, "just read");
        let row = workers.authenticate(&token).await.unwrap().unwrap();
        assert_eq!(row.name, "renamed");
        store.close().await;
    }
}
