//! Reviewers with room (rule 13, `migrations/*/0035_reviewers.sql`): a repository's reviewers
//! as its settings name them (`repo_reviewers`), who reviews each task's pull request
//! (`task_reviews`), and each reviewer's load. The claim's condition on their room is SQL of its
//! own (`claim_rules::reviewer_room`); a review is open while its task is `pr_opened`
//! ([`crate::claim_rules::OPEN_REVIEWS`]), so a merge or a close ends it without a write here.

use std::collections::{HashMap, HashSet};

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::composed;
use crate::domain::model::ReviewerLoad;
use crate::engine::checked::{checked_in_tx, checked_read};
use crate::rows::TaskRow;
use crate::{NewEvent, Store, StoreError, WriteTx, format_ts};

/// `away_until` of a reviewer away without a date (`/owp away`): until `/owp back`.
pub const AWAY_UNTIL_BACK: i64 = 253_402_300_799_999;

/// One reviewer of a repository, with their open reviews.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reviewer {
    pub repo_id: i64,
    /// The login as the settings list it, in lower case (the row's key).
    pub key: String,
    /// Their login as shown: the one GitHub last gave for their account, else the listed one.
    pub login: String,
    /// Their GitHub account id; `None` while the listed login is not resolved (no reviewer with
    /// room then, see `claim_rules::present`).
    pub account_id: Option<i64>,
    pub capacity: i64,
    /// Open reviews ([`crate::claim_rules::OPEN_REVIEWS`]).
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

fn decode_reviewer(row: &AnyRow) -> Result<Reviewer, StoreError> {
    Ok(Reviewer {
        repo_id: row.try_get("repo_id")?,
        key: row.try_get("login_key")?,
        login: row.try_get("login")?,
        account_id: row.try_get("account_id")?,
        capacity: row.try_get("capacity")?,
        open: row.try_get("open")?,
        away_until: row.try_get("away_until")?,
    })
}

/// The sentence that tells maintainers a listed reviewer is not resolved to a GitHub account
/// (shown with the settings' problems).
fn unresolved_problem(login: &str) -> String {
    format!(
        "review.reviewers: `{login}` names no GitHub account the App could find yet, so they \
         count as no reviewer with room until it does"
    )
}

/// A row of `repo_reviewers` as [`ReviewersTx::set`] compares it: (key, listed login,
/// how many at once, account id).
type ListedRow = (String, String, i64, Option<i64>);

/// How the settings' reviewers become rows: each listed login keeps the row of its key (and the
/// account that row was resolved to: a new account on the login is not that reviewer); a login
/// not listed before takes the row of the account it resolves to (`accounts`: the settings were
/// updated to a reviewer's new login), else a new row. An account is one row. Returns (the row it
/// comes from, the row after), by key.
fn carry(
    old: &[ListedRow],
    listed: &[(String, i64)],
    accounts: &HashMap<String, i64>,
) -> Vec<(Option<String>, ListedRow)> {
    let by_key = |key: &str| old.iter().find(|o| o.0 == key);
    let keyed: HashSet<&str> = listed
        .iter()
        .filter_map(|(login, _)| by_key(&login.to_lowercase()).map(|o| o.0.as_str()))
        .collect();
    let mut taken: HashSet<i64> = old
        .iter()
        .filter(|o| keyed.contains(o.0.as_str()))
        .filter_map(|o| o.3)
        .collect();
    let mut out = Vec::with_capacity(listed.len());
    for (login, capacity) in listed
        .iter()
        .filter(|(l, _)| by_key(&l.to_lowercase()).is_none())
    {
        let key = login.to_lowercase();
        let id = accounts.get(&key).copied().filter(|id| !taken.contains(id));
        taken.extend(id);
        let from = id
            .and_then(|id| old.iter().find(|o| o.3 == Some(id)))
            .map(|o| o.0.clone());
        out.push((from, (key, login.clone(), *capacity, id)));
    }
    for (login, capacity) in listed {
        let key = login.to_lowercase();
        let Some(o) = by_key(&key) else { continue };
        let id = o.3.or_else(|| {
            let id = accounts.get(&key).copied().filter(|id| !taken.contains(id));
            taken.extend(id);
            id
        });
        out.push((Some(key.clone()), (key, login.clone(), *capacity, id)));
    }
    out.sort_by(|a, b| a.1.0.cmp(&b.1.0));
    out
}

/// A repository's reviewers, read ([`Store::reviewers`]).
pub struct Reviewers<'s> {
    store: &'s Store,
}

/// Reviewers inside a caller's write transaction ([`WriteTx::reviewers`]).
pub struct ReviewersTx<'t> {
    tx: &'t mut WriteTx,
}

impl Store {
    /// The reviewers' view of the store.
    pub fn reviewers(&self) -> Reviewers<'_> {
        Reviewers { store: self }
    }
}

impl WriteTx {
    /// The reviewers' view of this transaction.
    pub fn reviewers(&mut self) -> ReviewersTx<'_> {
        ReviewersTx { tx: self }
    }
}

impl ReviewersTx<'_> {
    /// Replaces repository `repo`'s reviewers with `reviewers` (login, how many at once), as its
    /// settings were just recorded, each resolved to its GitHub account as [`carry`] says
    /// (`accounts`: lower-case login → account id, as the App knows them or GitHub answered); a
    /// reviewer who stays keeps their away state and last assignment, and the reviews of one
    /// who leaves stay recorded on their tasks. Nothing is written when nothing changes.
    pub async fn set(
        &mut self,
        repo: &str,
        reviewers: &[(String, u32)],
        accounts: &HashMap<String, i64>,
        actor: &str,
    ) -> Result<(), StoreError> {
        let Some(row) = self.tx.repos().by_name(repo).await? else {
            return Ok(());
        };
        let mut old: Vec<ListedRow> = checked_in_tx!(self.tx.conn(), reviewers::listed(row.id))?;
        old.sort_by(|a, b| a.0.cmp(&b.0));
        let listed: Vec<(String, i64)> = reviewers
            .iter()
            .map(|(login, n)| (login.clone(), i64::from(*n)))
            .collect();
        let plan = carry(&old, &listed, accounts);
        let after: Vec<ListedRow> = plan.iter().map(|(_, r)| r.clone()).collect();
        if old == after {
            return Ok(());
        }
        let kept: HashSet<&str> = plan.iter().filter_map(|(f, _)| f.as_deref()).collect();
        for (key, ..) in old.iter().filter(|o| !kept.contains(o.0.as_str())) {
            checked_in_tx!(self.tx.conn(), reviewers::unlist(row.id, key))?;
        }
        // Rows that move to a new key first: no key they take is one a row keeps.
        let mut moves: Vec<&(Option<String>, ListedRow)> = plan.iter().collect();
        moves.sort_by_key(|(from, (key, ..))| from.as_deref() == Some(key.as_str()));
        for (from, (key, login, capacity, account)) in moves {
            if let Some(from) = from {
                checked_in_tx!(
                    self.tx.conn(),
                    reviewers::relist(row.id, from, key, login, *capacity, *account)
                )?;
            } else {
                checked_in_tx!(
                    self.tx.conn(),
                    reviewers::list(row.id, key, login, *capacity, *account)
                )?;
            }
        }
        let count = i64::try_from(after.len()).unwrap_or(i64::MAX);
        checked_in_tx!(self.tx.conn(), reviewers::count(row.id, count))?;
        let shown: serde_json::Map<String, serde_json::Value> = after
            .iter()
            .map(|(_, l, n, _)| (l.clone(), json!(n)))
            .collect();
        let ids: serde_json::Map<String, serde_json::Value> = after
            .iter()
            .map(|(_, l, _, id)| (l.clone(), json!(id)))
            .collect();
        self.tx.event(
            NewEvent::new("repo.reviewers", actor)
                .repo(repo)
                .data(json!({"reviewers": shown, "accounts": ids})),
        );
        Ok(())
    }

    /// Resolves `repo`'s reviewers not resolved yet whose listed login is among `accounts`
    /// (lower-case login, account id: as the App knew them or GitHub answered), unless another
    /// reviewer of the repository is that account already.
    pub async fn resolve(
        &mut self,
        repo: &str,
        accounts: &[(String, i64)],
        actor: &str,
    ) -> Result<(), StoreError> {
        if accounts.is_empty() {
            return Ok(());
        }
        let Some(row) = self.tx.repos().by_name(repo).await? else {
            return Ok(());
        };
        for (login, account_id) in accounts {
            let key = login.to_lowercase();
            let done = checked_in_tx!(
                self.tx.conn(),
                reviewers::resolve(row.id, &key, *account_id)
            )?;
            if done > 0 {
                self.tx.event(
                    NewEvent::new("repo.reviewer_resolved", actor)
                        .repo(repo)
                        .data(json!({"login": login, "account_id": account_id})),
                );
            }
        }
        Ok(())
    }

    /// GitHub just said that `login` names the account `account_id` (a delivery's sender or
    /// author, a proof of a link): a reviewer row of that account shows the login from now on,
    /// and a reviewer listed by that login and not resolved yet is that account, in every
    /// repository, without asking GitHub.
    pub async fn person_seen(&mut self, account_id: i64, login: &str) -> Result<(), StoreError> {
        checked_in_tx!(
            self.tx.conn(),
            reviewers::account_renamed(account_id, login)
        )?;
        let key = login.to_lowercase();
        checked_in_tx!(
            self.tx.conn(),
            reviewers::account_seen(account_id, login, &key)
        )?;
        Ok(())
    }

    /// Why a listed reviewer of `repo` is not counted (one sentence each, by login): their login
    /// names no GitHub account the App has found yet.
    pub async fn problems_of(&mut self, repo: &str) -> Result<Vec<String>, StoreError> {
        let logins = checked_in_tx!(self.tx.conn(), reviewers::unresolved_of(repo))?;
        Ok(logins.iter().map(|l| unresolved_problem(l)).collect())
    }

    /// The reviewer of repository `repo_id` whose login is `login` (compared case-insensitively):
    /// the listed login, else the login GitHub last gave for a reviewer's account.
    pub async fn by_login(
        &mut self,
        repo_id: i64,
        login: &str,
    ) -> Result<Option<Reviewer>, StoreError> {
        let row = composed::reviewers::by_login()
            .query()
            .bind(repo_id)
            .bind(login.to_lowercase())
            .fetch_optional(self.tx.conn())
            .await?;
        row.as_ref().map(decode_reviewer).transpose()
    }

    /// The reviewer of repository `repo_id` who is the person `account_id`, if the settings name
    /// them (by whichever login they had when their entry was resolved).
    pub async fn of_person(
        &mut self,
        repo_id: i64,
        account_id: i64,
    ) -> Result<Option<Reviewer>, StoreError> {
        let row = composed::reviewers::by_person()
            .query()
            .bind(repo_id)
            .bind(account_id)
            .fetch_optional(self.tx.conn())
            .await?;
        row.as_ref().map(decode_reviewer).transpose()
    }

    /// Marks the reviewer `reviewer` away until `until` (ms), or back (`None`).
    pub async fn set_away(
        &mut self,
        repo: &str,
        reviewer: &Reviewer,
        until: Option<i64>,
        actor: &str,
    ) -> Result<(), StoreError> {
        let (repo_id, key) = (reviewer.repo_id, &reviewer.key);
        checked_in_tx!(self.tx.conn(), reviewers::away(repo_id, key, until))?;
        let event = match until {
            Some(until) => NewEvent::new("github.reviewer_away", actor).data(json!({
                "login": reviewer.login,
                "account_id": reviewer.account_id,
                "until": (until != AWAY_UNTIL_BACK).then(|| format_ts(until)),
            })),
            None => NewEvent::new("github.reviewer_back", actor)
                .data(json!({"login": reviewer.login, "account_id": reviewer.account_id})),
        };
        self.tx.event(event.repo(repo));
        Ok(())
    }

    /// The reviewer of `task`'s pull request, while its review is open (the task is
    /// `pr_opened`): their account id and login as shown; `None` when nobody reviews it.
    pub async fn open_review_of(
        &mut self,
        task: &TaskRow,
    ) -> Result<Option<(Option<i64>, String)>, StoreError> {
        Ok(checked_in_tx!(
            self.tx.conn(),
            reviewers::open_review(task.seq)
        )?)
    }

    /// Assigns `task`'s pull request (by the person `author`, never their own reviewer) to the
    /// reviewer of its repository with room who has the fewest open reviews, ties to the one
    /// assigned least recently, and returns them; `None` when no reviewer who is
    /// [`crate::claim_rules::present`] has room.
    pub async fn assign(
        &mut self,
        task: &TaskRow,
        author: i64,
        actor: &str,
    ) -> Result<Option<Reviewer>, StoreError> {
        let picked = composed::reviewers::next()
            .query()
            .bind(task.repo_id)
            .bind(author)
            .bind(self.tx.now)
            .fetch_optional(self.tx.conn())
            .await?;
        let Some(reviewer) = picked.as_ref().map(decode_reviewer).transpose()? else {
            return Ok(None);
        };
        self.record_review(task, &reviewer, None, actor).await?;
        Ok(Some(reviewer))
    }

    /// Records `reviewer` (one of the task's repository, resolved to their account) as the
    /// reviewer of `task`'s pull request from now on, in place of `from` when the review moves.
    pub async fn record_review(
        &mut self,
        task: &TaskRow,
        reviewer: &Reviewer,
        from: Option<&str>,
        actor: &str,
    ) -> Result<(), StoreError> {
        let now = self.tx.now;
        let (seq, repo_id) = (task.seq, task.repo_id);
        let (login, account) = (reviewer.login.to_lowercase(), reviewer.account_id);
        checked_in_tx!(
            self.tx.conn(),
            reviewers::review(seq, repo_id, &login, account, now)
        )?;
        checked_in_tx!(
            self.tx.conn(),
            reviewers::assigned(repo_id, &reviewer.key, now)
        )?;
        self.tx.event(
            NewEvent::new("github.reviewer_assigned", actor)
                .repo(&task.repo)
                .task(&task.id)
                .data(json!({
                    "reviewer": reviewer.login,
                    "account_id": reviewer.account_id,
                    "from": from,
                })),
        );
        Ok(())
    }
}

impl Reviewers<'_> {
    /// The reviewer of the task `task_seq`'s pull request while its review is open (see
    /// [`ReviewersTx::open_review_of`]).
    pub async fn open_review(&self, task_seq: i64) -> Result<Option<String>, StoreError> {
        let row = checked_read!(self.store, reviewers::open_review(task_seq))?;
        Ok(row.map(|(_, login)| login))
    }

    /// The listed logins of `repo`'s reviewers (lower case), each with whether it is resolved
    /// to an account.
    pub async fn keys(&self, repo: &str) -> Result<HashMap<String, bool>, StoreError> {
        let rows = checked_read!(self.store, reviewers::keys(repo))?;
        Ok(rows.into_iter().map(|(k, id)| (k, id.is_some())).collect())
    }

    /// The accounts the App already knows by `logins` (lower case), without asking GitHub: a
    /// login that names exactly one person the pool has met (`persons`, whose logins follow
    /// what GitHub sends), or that GitHub last gave for a reviewer's account.
    pub async fn known_accounts(
        &self,
        logins: &[String],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let mut out = HashMap::new();
        for login in logins {
            let key = login.to_lowercase();
            let ids = checked_read!(self.store, reviewers::known_accounts(&key))?;
            if let [id] = ids.as_slice() {
                out.insert(key, *id);
            }
        }
        Ok(out)
    }

    /// Why a listed reviewer of `repo` is not counted (see
    /// [`ReviewersTx::problems_of`]).
    pub async fn problems_of(&self, repo: &str) -> Result<Vec<String>, StoreError> {
        let logins = checked_read!(self.store, reviewers::unresolved_of(repo))?;
        Ok(logins.iter().map(|l| unresolved_problem(l)).collect())
    }

    /// Every repository's reviewers and their loads at `now`, by repository id, each list by
    /// login.
    pub async fn loads(&self, now: i64) -> Result<HashMap<i64, Vec<ReviewerLoad>>, StoreError> {
        let rows = composed::reviewers::all()
            .query()
            .fetch_all(&self.store.read)
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
