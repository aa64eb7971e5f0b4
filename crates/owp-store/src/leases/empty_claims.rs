//! Claims that found nothing, remembered until the pool changes.
//!
//! An idle volunteer's tool asks for work again and again, and in a quiet pool the answer does
//! not change: every such claim ran the whole claim statement (and wrote the worker's row) to find
//! nothing again. So a claim that found nothing is remembered, with the pool's *version* it was
//! read at, for whom it decides ([`Asker`]): the person the worker speaks for (contract section
//! 14: the rules about people read the person, so every worker of theirs gets the same answer)
//! with the worker's own figures the claim reads (its skills, capabilities, limits, load, trust:
//! its shape), or, for a worker that speaks for nobody, the worker itself (its own history then
//! decides: its give-backs, its plans). A next claim of the same person and shape finds nothing
//! without the database while the pool is unchanged, for at most [`REMEMBERED_MS`]; a change to
//! the person made through any of their workers (a link, a trust, an opt-in, a claim's end that
//! starts a cool-down) appends an event and so forgets the answer for all of them.
//!
//! The version moves whenever this process learns that the pool changed: at each of its own
//! commits that appended an event other than a worker coming online or going offline (every
//! change a claim could depend on appends one; presence is no rule of the claim), when another
//! process sharing a PostgreSQL database says it committed, and when a read of the event log
//! finds a newer event (the server reads it every 250 ms, which is how it learns of another SQLite
//! process's changes). A remembered answer can only refuse: it never grants, so every rule still
//! holds, and a change makes the next claim run the statement again. What no event announces — a
//! rule's window that lapses with time alone, such as the hour after a nack — is seen again
//! within [`REMEMBERED_MS`], as a long poll sees it at its next change or deadline.
//!
//! A claim that found nothing also asks whether the pool holds any claimable task at all (one
//! probe of the candidates the claim statement reads, `claim_rules::candidates`). When it holds
//! none, that is remembered for the version too: every worker's claim then finds nothing at once,
//! the first one of each worker included — provided the request's row says it holds no task and
//! its counters are current ([`WorkerRow::fresh`]), since a lease an approval gave it is taken
//! from no candidate and is returned first ([`Proposals::approved_lease`]).
//!
//! [`Proposals::approved_lease`]: crate::proposals::Proposals::approved_lease

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::rows::WorkerRow;

/// How long a claim that found nothing is remembered at most.
pub(crate) const REMEMBERED_MS: i64 = 30_000;
/// The most answers remembered at once (beyond it the memory starts again: each entry is a few
/// dozen bytes, so this bounds it to some tens of megabytes).
const MAX_REMEMBERED: usize = 500_000;

/// The events that say only whether a worker is online.
const PRESENCE_ONLY: [&str; 2] = ["worker.online", "worker.offline"];

#[derive(Default)]
pub(crate) struct EmptyClaims {
    /// The pool's version: moves with every change this process learns of.
    version: AtomicU64,
    /// The newest event id seen by a read of the log.
    newest_read: AtomicI64,
    found_nothing: Mutex<HashMap<Asker, Remembered>>,
    /// The version at which the pool held no claimable task at all, and when that was seen.
    pool_empty: Mutex<Option<(u64, i64)>>,
    /// Claims answered from memory so far.
    answered: AtomicU64,
}

struct Remembered {
    version: u64,
    at: i64,
}

/// Whom a remembered answer is for: the person (GitHub account id) a worker speaks for and the
/// worker's shape ([`figures`]), or a worker that speaks for nobody.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Asker {
    Person { account_id: i64, shape: u64 },
    Worker { id: String, shape: u64 },
}

impl Asker {
    fn of(worker: &WorkerRow) -> Asker {
        let shape = figures(worker);
        match worker.github_account_id {
            Some(account_id) => Asker::Person { account_id, shape },
            None => Asker::Worker {
                id: worker.id.clone(),
                shape,
            },
        }
    }
}

impl EmptyClaims {
    /// The pool changed.
    pub(crate) fn changed(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// This process committed events up to `last`, of these kinds. Whether a worker is online
    /// is no rule of the claim, so presence alone (`worker.online`, `worker.offline`) changes
    /// nothing a claim would find; any other event does.
    pub(crate) fn committed<'a>(&self, last: i64, mut kinds: impl Iterator<Item = &'a str>) {
        self.newest_read.fetch_max(last, Ordering::AcqRel);
        if kinds.any(|k| !PRESENCE_ONLY.contains(&k)) {
            self.changed();
        }
    }

    /// A read of the event log found `id` as its newest event: whether it is newer than any
    /// this process wrote or read before (another process's change).
    pub(crate) fn read_newest(&self, id: i64) -> bool {
        let newer = self.newest_read.fetch_max(id, Ordering::AcqRel) < id;
        if newer {
            self.changed();
        }
        newer
    }

    /// The version to remember a claim's answer with: read before the claim runs, so that a
    /// change committed meanwhile makes the answer stale.
    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Whether a claim of `worker`'s person (or of `worker`, when it speaks for nobody) with the
    /// same figures found nothing at the current version, less than [`REMEMBERED_MS`] before
    /// `now`.
    pub(crate) fn nothing_for(&self, worker: &WorkerRow, now: i64) -> bool {
        let version = self.version();
        if worker.fresh && worker.active_tasks == 0 && self.pool_empty_at(version, now) {
            self.answered.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        let memory = self.found_nothing.lock().unwrap_or_else(|p| p.into_inner());
        let hit = memory
            .get(&Asker::of(worker))
            .is_some_and(|r| r.version == version && now - r.at < REMEMBERED_MS);
        if hit {
            self.answered.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// `worker`'s claim, run at `version`, found nothing at `now`.
    pub(crate) fn remember(&self, worker: &WorkerRow, version: u64, now: i64) {
        let asker = Asker::of(worker);
        let mut memory = self.found_nothing.lock().unwrap_or_else(|p| p.into_inner());
        if memory.len() >= MAX_REMEMBERED && !memory.contains_key(&asker) {
            memory.clear();
        }
        memory.insert(asker, Remembered { version, at: now });
    }

    /// Whether the pool was seen to hold no claimable task at `version`, less than
    /// [`REMEMBERED_MS`] before `now`.
    pub(crate) fn pool_empty_at(&self, version: u64, now: i64) -> bool {
        let empty = self.pool_empty.lock().unwrap_or_else(|p| p.into_inner());
        empty.is_some_and(|(v, at)| v == version && now - at < REMEMBERED_MS)
    }

    /// A probe after a claim run at `version` found no claimable task at all at `now`.
    pub(crate) fn pool_was_empty(&self, version: u64, now: i64) {
        *self.pool_empty.lock().unwrap_or_else(|p| p.into_inner()) = Some((version, now));
    }

    /// `worker`'s claim took a task: nothing to remember for its person (or for it).
    pub(crate) fn forget(&self, worker: &WorkerRow) {
        let mut memory = self.found_nothing.lock().unwrap_or_else(|p| p.into_inner());
        memory.remove(&Asker::of(worker));
    }

    pub(crate) fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }
}

/// What of the worker its claim reads besides its person (its shape): a change of any of them
/// makes a remembered answer stale, and a worker of another shape gets its own.
fn figures(w: &WorkerRow) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        &w.skills,
        &w.github_login,
        w.all_skills,
        w.capacity_points,
        w.max_concurrent_tasks,
        w.paused,
        w.trust_level,
        w.active_points,
        w.active_tasks,
        w.reputation_opt_in,
        w.specialist,
        w.archived,
    )
        .hash(&mut h);
    w.capabilities.to_string().hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Presence alone leaves a remembered answer standing; any other change, or a newer event
    /// of another process found in the log, ends it.
    #[test]
    fn only_changes_of_the_pool_end_a_remembered_answer() {
        let memory = EmptyClaims::default();
        let start = memory.version();
        memory.committed(5, ["worker.online", "worker.offline"].into_iter());
        assert_eq!(
            memory.version(),
            start,
            "presence changes nothing a claim finds"
        );
        memory.read_newest(5);
        assert_eq!(
            memory.version(),
            start,
            "the log holds nothing newer than this process wrote"
        );
        memory.committed(6, ["worker.online", "task.created"].into_iter());
        assert_eq!(memory.version(), start + 1);
        memory.read_newest(9);
        assert_eq!(memory.version(), start + 2, "another process's change");
    }

    fn idle_worker(id: &str) -> WorkerRow {
        WorkerRow::idle_for_tests(id, 0)
    }

    /// A pool seen without any claimable task answers every idle worker at once, even one that
    /// never claimed, until the pool changes or the time runs out; not a worker that holds a
    /// task or whose counters may be stale.
    #[test]
    fn an_empty_pool_answers_every_idle_worker() {
        let memory = EmptyClaims::default();
        let v = memory.version();
        let fresh = idle_worker("w1");
        assert!(!memory.nothing_for(&fresh, 10), "nothing known yet");
        memory.pool_was_empty(v, 10);
        assert!(memory.nothing_for(&idle_worker("w2"), 20));
        assert!(!memory.nothing_for(&idle_worker("w2"), 10 + REMEMBERED_MS));
        let holding = WorkerRow {
            active_tasks: 1,
            ..idle_worker("w3")
        };
        assert!(
            !memory.nothing_for(&holding, 20),
            "it may hold an approved lease"
        );
        let stale = WorkerRow {
            fresh: false,
            ..idle_worker("w4")
        };
        assert!(!memory.nothing_for(&stale, 20), "its counters may be stale");
        memory.changed();
        assert!(!memory.nothing_for(&fresh, 20), "the pool changed");
    }

    /// A claim of one of a person's workers that found nothing answers their other worker of
    /// the same shape; not one of another shape, another person's, or a worker that speaks for
    /// nobody; and any change of the pool ends it for all of them.
    #[test]
    fn an_answer_follows_the_person() {
        let memory = EmptyClaims::default();
        let v = memory.version();
        let of = |id: &str, person: Option<i64>| WorkerRow {
            github_account_id: person,
            ..idle_worker(id)
        };
        memory.remember(&of("laptop", Some(7)), v, 10);
        assert!(memory.nothing_for(&of("desktop", Some(7)), 20));
        let roomier = WorkerRow {
            max_concurrent_tasks: 2,
            ..of("desktop", Some(7))
        };
        assert!(!memory.nothing_for(&roomier, 20), "another shape");
        assert!(!memory.nothing_for(&of("desktop", Some(8)), 20));
        assert!(!memory.nothing_for(&of("desktop", None), 20));
        memory.remember(&of("lone", None), v, 10);
        assert!(memory.nothing_for(&of("lone", None), 20));
        assert!(!memory.nothing_for(&of("other", None), 20), "its own");
        memory.changed();
        assert!(!memory.nothing_for(&of("desktop", Some(7)), 20));
    }
}
