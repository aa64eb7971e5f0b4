//! What GitHub said lately, kept so that a volunteer's action asks GitHub again only when the
//! answer is stale (schema in `migrations/*/0058_github_reads_bounded.sql`): a pull request's
//! state and author (from a read or a `pull_request` delivery, `gh_pr_facts`), and each vouch
//! list login the App asked about (`gh_login_asks`: when, and what GitHub answered). Shared by
//! every replica; nothing here decides anything.

use std::collections::HashMap;

use sqlx::Row;

use super::pulls::PrState;
use crate::composed;
use crate::engine::checked::{checked_in_tx, checked_read, checked_write};
use crate::{HOUR_MS, Store, StoreError, WriteTx, now_ms};

/// How long a row of either table is kept (an answer older than this is asked again anyway).
const KEPT_MS: i64 = 48 * HOUR_MS;

/// What GitHub said of a pull request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownPull {
    /// Its state; `None`: GitHub knows no such pull request in the repository.
    pub state: Option<PrState>,
    /// Its author's account id and login (none for a missing one).
    pub author_id: Option<i64>,
    pub author: Option<String>,
    /// When GitHub said it (ms).
    pub read_at: i64,
}

/// The state kept for a pull request (`missing`: GitHub knows none).
fn state_text(state: Option<PrState>) -> &'static str {
    state.map_or("missing", PrState::as_str)
}

/// One login asked about, and GitHub's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginAsk {
    /// Lower-case.
    pub login: String,
    pub asked_at: i64,
    /// The account GitHub named, if it did.
    pub account_id: Option<i64>,
    /// GitHub answered that it knows no such account (404).
    pub missing: bool,
}

/// The most logins one statement looks up.
const LOGINS_PER_STATEMENT: usize = 500;

/// What GitHub answered the App, kept so that it is not asked again: pull requests, logins and
/// conditional requests' validators ([`Store::known_answers`]).
pub struct KnownAnswers<'s> {
    pub(crate) store: &'s Store,
}

impl Store {
    /// The view of the store named by [`KnownAnswers`].
    pub fn known_answers(&self) -> KnownAnswers<'_> {
        KnownAnswers { store: self }
    }
}

impl KnownAnswers<'_> {
    /// What GitHub said of pull request `number` of `repo` at `fresh_since` or later, if anything.
    pub async fn pull(
        &self,
        repo: &str,
        number: i64,
        fresh_since: i64,
    ) -> Result<Option<KnownPull>, StoreError> {
        let row = checked_read!(self.store, github::known_pull(repo, number, fresh_since))?;
        let Some((state, author_id, author, read_at)) = row else {
            return Ok(None);
        };
        Ok(Some(KnownPull {
            state: match state.as_str() {
                "missing" => None,
                other => Some(PrState::parse(other)?),
            },
            author_id,
            author,
            read_at,
        }))
    }

    /// Keeps what GitHub just said of pull request `number` of `repo` (an answer older than the
    /// one kept changes nothing).
    pub async fn note_pull(
        &self,
        repo: &str,
        number: i64,
        pull: &KnownPull,
    ) -> Result<(), StoreError> {
        let (state, author_id) = (state_text(pull.state), pull.author_id);
        let (author, read_at) = (pull.author.as_deref(), pull.read_at);
        checked_write!(
            self.store,
            pulls::note_pull(repo, number, state, author_id, author, read_at)
        )?;
        Ok(())
    }

    /// What the App asked GitHub lately about each of `logins` (lower-case), by login.
    pub async fn login_asks(
        &self,
        logins: &[&str],
    ) -> Result<HashMap<String, LoginAsk>, StoreError> {
        let mut found = HashMap::new();
        for chunk in logins.chunks(LOGINS_PER_STATEMENT) {
            let mut query = composed::github::login_asks(chunk.len()).query();
            for login in chunk {
                query = query.bind(*login);
            }
            for row in query.fetch_all(&self.store.read).await? {
                let ask = LoginAsk {
                    login: row.try_get("login")?,
                    asked_at: row.try_get("asked_at")?,
                    account_id: row.try_get("account_id")?,
                    missing: row.try_get::<i64, _>("missing")? != 0,
                };
                found.insert(ask.login.clone(), ask);
            }
        }
        Ok(found)
    }

    /// Forgets the answers kept longer than two days (run every minute or so).
    pub async fn forget_old(&self) -> Result<(), StoreError> {
        let before = now_ms() - KEPT_MS;
        checked_write!(self.store, pulls::sweep_pr_facts(before))?;
        checked_write!(self.store, pulls::sweep_login_asks(before))?;
        Ok(())
    }
}

/// GitHub's answers kept inside a caller's write transaction ([`WriteTx::known_answers`]).
pub struct KnownAnswersTx<'t> {
    tx: &'t mut WriteTx,
}

impl WriteTx {
    /// The view of this transaction named by [`KnownAnswersTx`].
    pub fn known_answers(&mut self) -> KnownAnswersTx<'_> {
        KnownAnswersTx { tx: self }
    }
}

impl KnownAnswersTx<'_> {
    /// [`KnownAnswers::note_pull`] in this transaction (a `pull_request` delivery, reconciliation).
    pub async fn note_pull(
        &mut self,
        repo: &str,
        number: i64,
        pull: &KnownPull,
    ) -> Result<(), StoreError> {
        let (state, author_id) = (state_text(pull.state), pull.author_id);
        let (author, read_at) = (pull.author.as_deref(), pull.read_at);
        checked_in_tx!(
            self.tx.conn(),
            pulls::note_pull(repo, number, state, author_id, author, read_at)
        )?;
        Ok(())
    }

    /// Keeps what GitHub answered to each of `asks`.
    pub async fn note_login_asks(&mut self, asks: &[LoginAsk]) -> Result<(), StoreError> {
        for ask in asks {
            let login = ask.login.to_ascii_lowercase();
            let (asked_at, account_id) = (ask.asked_at, ask.account_id);
            let missing = i64::from(ask.missing);
            checked_in_tx!(
                self.tx.conn(),
                pulls::login_asked(&login, asked_at, account_id, missing)
            )?;
        }
        Ok(())
    }
}
