//! GitHub accounts proven for workers (`gh_links`, keyed by the account id since
//! `migrations/*/0045_persons_by_account_id.sql`), the one-time codes that prove them
//! (`gh_link_codes`), and the logins the pool shows for a person, refreshed from what GitHub
//! sends ([`PersonLinksTx::seen`]).

use crate::claim_rules::person_sql::Setting;
use crate::composed;
use crate::domain::person::Person;
use crate::engine::checked::{checked_in_tx, checked_read};
use crate::{NewEvent, Store, StoreError, WriteTx};

/// Why a link code was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkRefusal {
    /// Unknown, already used, or expired.
    UnknownCode,
    /// The worker is already linked to another login.
    LinkedElsewhere,
}

/// What a proof that moved a person to another worker did ([`PersonLinksTx::link_worker`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkMove {
    /// The worker that spoke for the person until now and no longer does.
    pub left: Option<String>,
    /// The tasks whose live leases moved from that worker to the one linked now.
    pub moved_tasks: Vec<String>,
    /// The tasks whose plans of the person (open or approved) moved to the worker linked now.
    pub moved_plans: Vec<String>,
}

/// A person's GitHub account and the workers proven for it, read ([`Store::person_links`]).
pub struct PersonLinks<'s> {
    store: &'s Store,
}

/// A person's record, their links and link codes inside a caller's write transaction
/// ([`WriteTx::person_links`]).
pub struct PersonLinksTx<'t> {
    tx: &'t mut WriteTx,
}

impl Store {
    /// The view of the store named by [`PersonLinks`].
    pub fn person_links(&self) -> PersonLinks<'_> {
        PersonLinks { store: self }
    }
}

impl WriteTx {
    /// The view of this transaction named by [`PersonLinksTx`].
    pub fn person_links(&mut self) -> PersonLinksTx<'_> {
        PersonLinksTx { tx: self }
    }
}

impl PersonLinksTx<'_> {
    /// The pool meets the person `account_id`, now named `login` (a link, their first comment
    /// claim): their record (`persons`) is made, or its login refreshed.
    pub async fn met(&mut self, account_id: i64, login: &str) -> Result<(), StoreError> {
        let now = self.tx.now;
        checked_in_tx!(self.tx.conn(), persons::met(account_id, login, now))?;
        Ok(())
    }

    /// Sets `setting` of the person worker `worker_id` speaks for, if any
    /// ([`crate::claim_rules::person_of`]): what is set through one worker of a person holds on
    /// all of them, and on their next one.
    pub(crate) async fn person_setting_set(
        &mut self,
        worker_id: &str,
        setting: Setting,
        value: i64,
    ) -> Result<(), StoreError> {
        composed::persons::set_setting(setting)
            .query()
            .bind(value)
            .bind(worker_id)
            .execute(self.tx.conn())
            .await?;
        Ok(())
    }

    /// The history a worker made before it spoke for anyone (its leases, give-backs and
    /// outcomes) becomes the history of the person `account_id` who proved it: it follows them
    /// to their next worker. What the person's record does not hold yet (trust, opt-ins: their
    /// first link) it takes from this worker; what it holds, the worker now reads.
    pub(crate) async fn history_to_person(
        &mut self,
        worker_id: &str,
        account_id: i64,
    ) -> Result<(), StoreError> {
        let conn = self.tx.conn();
        checked_in_tx!(conn, persons::settings_from_worker(account_id, worker_id))?;
        checked_in_tx!(conn, persons::leases_to_person(account_id, worker_id))?;
        checked_in_tx!(conn, persons::nacks_to_person(account_id, worker_id))?;
        checked_in_tx!(conn, persons::outcomes_to_person(account_id, worker_id))?;
        Ok(())
    }

    /// The worker the GitHub account `account_id` proved to own, if any.
    pub async fn linked_worker(&mut self, account_id: i64) -> Result<Option<String>, StoreError> {
        Ok(checked_in_tx!(
            self.tx.conn(),
            persons::linked_worker(account_id)
        )?)
    }

    /// GitHub sent the account `account_id` under `login` (a webhook's sender, a pull request's
    /// author): the one place the logins the pool shows for a person follow what GitHub says. Its
    /// link, its implicit worker (named by its login) and the account's record are renamed; no
    /// row is found by the login.
    pub async fn seen(&mut self, account_id: i64, login: &str) -> Result<(), StoreError> {
        let key = login.to_lowercase();
        let links = checked_in_tx!(self.tx.conn(), persons::link_renamed(account_id, &key))?;
        let workers = checked_in_tx!(self.tx.conn(), persons::workers_renamed(account_id, login))?;
        if workers > 0 {
            // The comment claims of a renamed person show the new login.
            checked_in_tx!(self.tx.conn(), persons::claims_renamed(account_id, login))?;
        }
        self.tx.vouch().person_seen(account_id, &key).await?;
        self.tx.reviewers().person_seen(account_id, login).await?;
        checked_in_tx!(self.tx.conn(), persons::record_renamed(account_id, login))?;
        checked_in_tx!(self.tx.conn(), persons::account_renamed(account_id, login))?;
        if links + workers > 0 {
            self.tx.forget_known_workers();
        }
        Ok(())
    }

    /// The person (GitHub account id) a worker is: a person's implicit worker, or a worker linked
    /// by the account's own proof. `None` for any other worker, whatever login it declared. The
    /// rules read the same definition (`claim_rules::person_of`).
    pub async fn account_of_worker(&mut self, worker_id: &str) -> Result<Option<i64>, StoreError> {
        let row: Option<i64> = composed::persons::person()
            .query_scalar()
            .bind(worker_id)
            .fetch_one(self.tx.conn())
            .await?;
        Ok(row)
    }

    /// The person a worker speaks for ([`crate::claim_rules::person_of`]), with their login as
    /// GitHub last sent it (their record, `persons`).
    pub async fn person_of_worker(
        &mut self,
        worker_id: &str,
    ) -> Result<Option<Person>, StoreError> {
        let (id, login): (Option<i64>, Option<String>) = composed::persons::person_and_login()
            .query_as()
            .bind(worker_id)
            .fetch_one(self.tx.conn())
            .await?;
        Ok(Person::of(id, login.as_deref()))
    }

    /// The GitHub login proven for a worker, if any.
    pub async fn login_of_worker(&mut self, worker_id: &str) -> Result<Option<String>, StoreError> {
        Ok(checked_in_tx!(
            self.tx.conn(),
            persons::login_of_worker(worker_id)
        )?)
    }

    /// A new one-time link code for a worker (stored hashed); earlier unused codes stop working.
    pub async fn create_code(
        &mut self,
        worker_id: &str,
        code_hash: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let now = self.tx.now;
        checked_in_tx!(self.tx.conn(), persons::clear_link_codes(worker_id))?;
        checked_in_tx!(
            self.tx.conn(),
            persons::create_link_code(code_hash, worker_id, now, expires_at)
        )?;
        Ok(())
    }

    /// Uses a link code: the login is linked to the code's worker. Returns the worker id.
    pub async fn use_code(
        &mut self,
        code_hash: &str,
        login: &str,
        account_id: i64,
    ) -> Result<Result<(String, LinkMove), LinkRefusal>, StoreError> {
        let now = self.tx.now;
        let row = checked_in_tx!(self.tx.conn(), persons::link_code_worker(code_hash, now))?;
        let Some(worker_id) = row else {
            return Ok(Err(LinkRefusal::UnknownCode));
        };
        let moved = match self
            .tx
            .person_links()
            .link_worker(&worker_id, login, account_id)
            .await?
        {
            Ok(moved) => moved,
            Err(refusal) => return Ok(Err(refusal)),
        };
        checked_in_tx!(
            self.tx.conn(),
            persons::link_code_used(code_hash, now, login)
        )?;
        Ok(Ok((worker_id, moved)))
    }

    /// Links worker `worker_id` to the GitHub account `account_id` (now named `login`), proven by
    /// the account itself (a `/owp link CODE` comment, or GitHub's device flow): the one step
    /// every proof ends in. The link is kept by the account id; `login` is only shown. A worker
    /// already linked to another account is refused; an account owns one worker at a time (a
    /// new proof moves the link, and the worker it leaves speaks for nobody). Nothing of the
    /// person is stranded on the worker left: their history is recorded by the account (see
    /// `claim_rules::by_person`), their open plans move to the new worker, and so do its live
    /// leases (what moved is returned, for the callers to tell the person).
    pub async fn link_worker(
        &mut self,
        worker_id: &str,
        login: &str,
        account_id: i64,
    ) -> Result<Result<LinkMove, LinkRefusal>, StoreError> {
        let now = self.tx.now;
        let login_key = login.to_lowercase();
        let current = checked_in_tx!(self.tx.conn(), persons::link_of_worker(worker_id))?;
        match current {
            Some((Some(other), _)) if other != account_id => {
                return Ok(Err(LinkRefusal::LinkedElsewhere));
            }
            // A link made before ids were kept: only the login it was made for can tell.
            Some((None, other)) if other != login_key => {
                return Ok(Err(LinkRefusal::LinkedElsewhere));
            }
            _ => {}
        }
        let conn = self.tx.conn();
        let left = checked_in_tx!(conn, persons::other_linked_worker(account_id, worker_id))?;
        checked_in_tx!(conn, persons::unlink_others(account_id, worker_id))?;
        checked_in_tx!(conn, persons::forget_other_links(account_id, worker_id))?;
        checked_in_tx!(conn, persons::link(worker_id, account_id, &login_key, now))?;
        // The worker speaks for the account that proved the link (its age is read by this id).
        checked_in_tx!(conn, persons::speaks_for(worker_id, account_id, login))?;
        self.tx.person_links().met(account_id, login).await?;
        self.history_to_person(worker_id, account_id).await?;
        self.tx.forget_known_workers();
        // The proof just named the person's login: their vouch entries match them from now on.
        self.tx.vouch().person_seen(account_id, &login_key).await?;
        self.tx.reviewers().person_seen(account_id, login).await?;
        // A plan proposed before the link is the person's now, and the person's plans follow.
        let moved_plans = self.tx.proposals().to_person(worker_id).await?;
        let moved_tasks = match &left {
            Some(from) => self.move_live_leases(from, worker_id).await?,
            None => Vec::new(),
        };
        Ok(Ok(LinkMove {
            left,
            moved_tasks,
            moved_plans,
        }))
    }

    /// The live leases of worker `from` (which no longer speaks for its person) move to worker
    /// `to` (which does now), with their tasks, comment claims and load; each with its audit
    /// event. Returns the ids of the tasks moved.
    async fn move_live_leases(&mut self, from: &str, to: &str) -> Result<Vec<String>, StoreError> {
        let held = checked_in_tx!(self.tx.conn(), persons::live_leases_of(from))?;
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let points: i64 = held.iter().map(|(_, _, p, _)| p).sum();
        let count = i64::try_from(held.len()).unwrap_or(i64::MAX);
        for (task_id, lease_id, _, repo) in &held {
            let conn = self.tx.conn();
            checked_in_tx!(conn, persons::lease_to_worker(lease_id, to))?;
            checked_in_tx!(conn, persons::task_to_worker(task_id, lease_id, to))?;
            checked_in_tx!(conn, persons::claim_to_worker(task_id, from, to))?;
            self.tx.event(
                NewEvent::new("lease.moved", format!("worker:{to}"))
                    .repo(repo)
                    .task(task_id)
                    .worker(Some(to))
                    .data(serde_json::json!({
                        "lease_id": lease_id, "from": from, "to": to,
                        "reason": "the person linked another worker",
                    })),
            );
        }
        for (worker, sign) in [(from, -1i64), (to, 1)] {
            let (tasks, points) = (sign * count, sign * points);
            checked_in_tx!(self.tx.conn(), persons::load_moved(worker, tasks, points))?;
        }
        Ok(held.into_iter().map(|(task, ..)| task).collect())
    }
}

impl PersonLinks<'_> {
    /// The GitHub login proven for a worker, if any.
    pub async fn login_of_worker(&self, worker_id: &str) -> Result<Option<String>, StoreError> {
        Ok(checked_read!(
            self.store,
            persons::login_of_worker(worker_id)
        )?)
    }

    /// The GitHub account id a worker speaks for (its person,
    /// [`crate::claim_rules::person_of`]), if proven.
    pub async fn worker_account(&self, worker_id: &str) -> Result<Option<i64>, StoreError> {
        let row: Option<i64> = composed::persons::person()
            .query_scalar()
            .bind(worker_id)
            .fetch_one(&self.store.read)
            .await?;
        Ok(row)
    }
}
