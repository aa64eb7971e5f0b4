//! How fast the App writes to GitHub: per-installation budgets of content-creating requests
//! (`gh_write_log`), the spacing between writes, and back-off after GitHub's limits.

use crate::engine::checked::{checked_in_tx, checked_write};
use crate::engine::tx_conn::{TxConnection, Typed};
use crate::{HOUR_MS, Store, StoreError, WriteTx};

/// A content-creating request budget: at most this many per installation per minute (GitHub's
/// secondary limit is 80).
pub const WRITES_PER_MINUTE: i64 = 80;

/// … and at most this many per hour (GitHub's secondary limit is 500). A write counts from its
/// reservation until GitHub answered it ([`InstallationPacingTx::settled`]), so in no hour does
/// GitHub, which counts a write when it arrives, see more than the log.
pub const WRITES_PER_HOUR: i64 = 500;

/// Replies and reactions leave this many writes of each minute, and four times as many of each
/// hour, to status comments, which go first.
pub const STATUS_RESERVE_PER_MINUTE: i64 = 20;

/// GitHub asks for content-creating requests to be made serially, about a second apart.
pub const WRITE_SPACING_MS: i64 = 1000;

/// The longest a write counts as in flight when its answer is never noted (the process sending
/// it stopped): longer than a request may take.
pub const WRITE_IN_FLIGHT_MS: i64 = 60_000;

/// A write that finds another of its installation in flight tries again this long after, at
/// the earliest.
pub const IN_FLIGHT_RECHECK_MS: i64 = 100;

const MINUTE_MS: i64 = 60_000;

/// A secondary limit more than this long after an installation's last pause starts its back-off
/// again from the first wait.
pub const LIMIT_STREAK_RESET_MS: i64 = HOUR_MS;

/// How an installation's content-creating requests are paced, across every replica (the
/// database holds the log): at most `per_minute` in any `minute_ms` and `per_hour` in any
/// `hour_ms`, each at least `spacing_ms` after the one before, and one at a time: a write taken
/// to be sent ([`InstallationPacingTx::take`]) is in flight until GitHub answered it
/// ([`InstallationPacingTx::settled`]), at most `in_flight_ms`, and no other write of its
/// installation goes out meanwhile (`in_flight_ms` 0: writes may overlap). Replies and reactions
/// use three quarters of each budget; the rest is left to status comments, which go first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WritePacing {
    pub per_minute: i64,
    pub per_hour: i64,
    pub spacing_ms: i64,
    pub in_flight_ms: i64,
    /// The windows' lengths: a minute and an hour, except in tests that shorten them.
    pub minute_ms: i64,
    pub hour_ms: i64,
}

/// Installation `id`'s pause `(blocked until, limits in a row)`, its row locked until commit on
/// PostgreSQL (SQLite has one writer at a time).
async fn blocked_locked(
    conn: &mut TxConnection,
    id: i64,
) -> Result<Option<(i64, i64)>, StoreError> {
    Ok(match conn.typed() {
        Typed::Sqlite(conn) => owp_sql_sqlite::pacing::blocked(conn, id).await?,
        Typed::Postgres(conn) => owp_sql_postgres::locks::installation(conn, id).await?,
    })
}

impl Default for WritePacing {
    /// GitHub's limits.
    fn default() -> Self {
        WritePacing {
            per_minute: WRITES_PER_MINUTE,
            per_hour: WRITES_PER_HOUR,
            spacing_ms: WRITE_SPACING_MS,
            in_flight_ms: WRITE_IN_FLIGHT_MS,
            minute_ms: MINUTE_MS,
            hour_ms: HOUR_MS,
        }
    }
}

impl WritePacing {
    /// The budgets a kind of write may use: (per minute, per hour).
    fn budgets(&self, status: bool) -> (i64, i64) {
        if status {
            (self.per_minute, self.per_hour)
        } else if self.per_minute == WRITES_PER_MINUTE && self.per_hour == WRITES_PER_HOUR {
            (
                WRITES_PER_MINUTE - STATUS_RESERVE_PER_MINUTE,
                WRITES_PER_HOUR - 4 * STATUS_RESERVE_PER_MINUTE,
            )
        } else {
            (
                (self.per_minute * 3 / 4).max(1),
                (self.per_hour * 3 / 4).max(1),
            )
        }
    }
}

/// How fast the App may write to each installation, and the back-off after GitHub's limits
/// ([`Store::pacing`]).
pub struct InstallationPacing<'s> {
    store: &'s Store,
}

impl Store {
    /// The view of the store named by [`InstallationPacing`].
    pub fn pacing(&self) -> InstallationPacing<'_> {
        InstallationPacing { store: self }
    }
}

impl InstallationPacing<'_> {
    /// GitHub named a secondary rate limit without saying how long to wait: the installation
    /// pauses `first_ms` the first time, twice as long each time the limit comes again within
    /// [`LIMIT_STREAK_RESET_MS`] of the last pause, at most `cap_ms`. Returns when it may send again.
    pub async fn back_off(
        &self,
        installation_id: i64,
        first_ms: i64,
        cap_ms: i64,
    ) -> Result<i64, StoreError> {
        let mut tx = self.store.begin().await?;
        let now = tx.now;
        let row = blocked_locked(tx.conn(), installation_id).await?;
        let (blocked_until, streak) = row.unwrap_or((0, 0));
        let streak = if blocked_until > 0 && blocked_until + LIMIT_STREAK_RESET_MS >= now {
            streak.saturating_add(1).max(1)
        } else {
            1
        };
        let doublings = u32::try_from((streak - 1).clamp(0, 30)).unwrap_or(30);
        let wait = first_ms
            .max(1)
            .saturating_mul(1i64 << doublings)
            .min(cap_ms.max(first_ms));
        let until = blocked_until.max(now + wait);
        checked_in_tx!(tx.conn(), pacing::limited(installation_id, until, streak))?;
        tx.commit().await?;
        Ok(until)
    }

    /// GitHub asked the App to wait: no request of this installation before `until`.
    pub async fn block(&self, installation_id: i64, until: i64) -> Result<(), StoreError> {
        checked_write!(self.store, pacing::block(installation_id, until))?;
        Ok(())
    }
}

/// An installation's write budget, taken and settled inside a caller's write transaction
/// ([`WriteTx::pacing`]).
pub struct InstallationPacingTx<'t> {
    tx: &'t mut WriteTx,
}

impl WriteTx {
    /// The view of this transaction named by [`InstallationPacingTx`].
    pub fn pacing(&mut self) -> InstallationPacingTx<'_> {
        InstallationPacingTx { tx: self }
    }
}

impl InstallationPacingTx<'_> {
    /// Takes one content-creating request of an installation's budget in this transaction:
    /// `Ok(at)` when it is reserved at `at`, `Err(until)` when it has to wait until `until`
    /// (nothing is written then). The write is in flight until GitHub answered it
    /// ([`InstallationPacingTx::settled`]), at most `pacing.in_flight_ms` (0: not at all). With
    /// `ahead_ms` above 0 a write whose only wait is at most that long is reserved at the end of
    /// the wait instead (its sender waits it out): the counts read now are used for that time
    /// too, which can only be more than they will be then.
    pub async fn take(
        &mut self,
        installation_id: i64,
        status: bool,
        pacing: &WritePacing,
        ahead_ms: i64,
    ) -> Result<Result<i64, i64>, StoreError> {
        let blocked = blocked_locked(self.tx.conn(), installation_id).await?;
        // The time once the installation's row is locked (and a connection was had): a write
        // taken now goes out as soon as this commits, so its time is when GitHub will see it,
        // not when the transaction began (on a busy database, up to a lock's wait earlier).
        let now = crate::now_ms().max(self.tx.now);
        if let Some((until, _)) = blocked
            && until > now
        {
            return Ok(Err(until));
        }
        let before = now - pacing.hour_ms.max(pacing.minute_ms);
        checked_in_tx!(
            self.tx.conn(),
            pacing::forget_writes(installation_id, before)
        )?;
        let (minute_ago, hour_ago) = (now - pacing.minute_ms, now - pacing.hour_ms);
        let counts = checked_in_tx!(
            self.tx.conn(),
            pacing::write_counts(installation_id, minute_ago, hour_ago)
        )?;
        let at = match verdict(pacing, status, now, counts) {
            Ok(()) => now,
            Err(until) if until - now <= ahead_ms => {
                if let Err(later) = verdict(pacing, status, until, counts) {
                    return Ok(Err(later));
                }
                until
            }
            Err(until) => return Ok(Err(until)),
        };
        let in_flight_until = (pacing.in_flight_ms > 0).then(|| at + pacing.in_flight_ms);
        checked_in_tx!(
            self.tx.conn(),
            pacing::take_write(installation_id, at, in_flight_until)
        )?;
        Ok(Ok(at))
    }

    /// Settles the write reserved at `reserved_at` ([`InstallationPacingTx::take`]): sent at
    /// `sent_at` and answered by GitHub, or, with `None`, never sent: its reservation is taken
    /// back, and the installation's next write need not wait for it. An answered write is no
    /// longer in flight, and from now on it counts from now, as GitHub counts it from when it
    /// arrived (at the latest, now): without this a write slower to arrive than the one an hour
    /// after it could make GitHub see one more in its hour than the log. The next write's second
    /// counts from the answer too: GitHub saw the request at some time between `sent_at` and
    /// its answer, and only the answer bounds it. A process held up between noting `sent_at` and
    /// its request leaving (a CPU-capped replica stalls for tens of milliseconds at a time) made
    /// the next write, from another replica, arrive 938 ms after it when the second counted from
    /// `sent_at`. `sent_at` stays in the log, for the record.
    pub async fn settled(
        &mut self,
        installation_id: i64,
        reserved_at: i64,
        sent_at: Option<i64>,
    ) -> Result<(), StoreError> {
        match sent_at {
            Some(sent_at) => {
                let now = crate::now_ms().max(self.tx.now).max(reserved_at);
                let sent_at = sent_at.clamp(reserved_at, now);
                checked_in_tx!(
                    self.tx.conn(),
                    pacing::write_answered(installation_id, reserved_at, now, sent_at)
                )?;
            }
            None => {
                checked_in_tx!(
                    self.tx.conn(),
                    pacing::write_unsent(installation_id, reserved_at)
                )?;
            }
        }
        Ok(())
    }
}

/// What an installation's log says of its writes (`sql/pacing/write_counts.sql`).
type Counts = owp_sql_sqlite::pacing::WriteCounts;

/// Whether a write may go `now` (`Ok`), or when it may (`Err`): after its installation's write
/// in flight, its budgets and its spacing (the installation's pause is read by the caller).
fn verdict(pacing: &WritePacing, status: bool, now: i64, counts: Counts) -> Result<(), i64> {
    let (minute, oldest_minute, hour, oldest_hour, newest, in_flight) = counts;
    if pacing.in_flight_ms > 0
        && let Some(until) = in_flight
        && until > now
    {
        // Another write of the installation is on its way (this process or another).
        return Err(until.min(now + pacing.spacing_ms.max(IN_FLIGHT_RECHECK_MS)));
    }
    let (per_minute, per_hour) = pacing.budgets(status);
    if minute >= per_minute {
        return Err(oldest_minute.unwrap_or(now) + pacing.minute_ms + 1);
    }
    if hour >= per_hour {
        return Err(oldest_hour.unwrap_or(now) + pacing.hour_ms + 1);
    }
    if let Some(newest) = newest
        && now < newest + pacing.spacing_ms
    {
        return Err(newest + pacing.spacing_ms);
    }
    Ok(())
}
