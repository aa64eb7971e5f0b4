//! Vouch lists (contract section 12, rule 12), read from GitHub: a repository's `VOUCHED.td`
//! (else `.github/VOUCHED.td`) on its default branch, and the lists of the repositories its
//! `vouch.import` names, with conditional requests (an unchanged file costs a `304`). They are
//! read with the settings file ([`crate::service::Github::read_config`]: when a
//! repository joins, when its settings are read again, on reconciliation, and when a push to the
//! default branch changes a list), writing nothing; [`record`] keeps what was read in the
//! caller's transaction. A list GitHub does not answer for keeps its previous entries; one that
//! never was answered, or that is not valid, closes a repository with `vouch.required` to all but
//! its maintainers (the rule fails closed).
//!
//! Each login is resolved to the account GitHub names by it, fairly and cheaply: at most
//! [`MAX_RESOLVED_PER_READ`] asked a read, those asked longest ago (or never) first, within
//! [`LOOKUPS_PER_INSTALLATION_PER_HOUR`]; GitHub's answer about a login is kept for
//! [`LOGIN_ANSWER_KEPT_MS`] (a login GitHub does not know is not asked again on every read), and a
//! person GitHub names in a delivery or a device link is matched at once, without a lookup.
//!
//! The rules themselves are SQL conditions of the claim (`store::leases::claim_rules`).

use std::collections::{HashMap, HashSet};

use octocrab::Octocrab;

use crate::account_ids::{self, Lookup};
use crate::api;
use crate::conditional::EtagCache;
use crate::domain::vouch::{self, VOUCH_PATHS};
use crate::raw_calls::FileText;
use crate::repo_config::VouchConfig;
use crate::store::github::known_answers::LoginAsk;
use crate::store::github::vouch::{ListOutcome, VouchListState, VouchSource};
use crate::store::{HOUR_MS, Store, StoreError, WriteTx};

/// The most bytes of one list that are read (10,000 lines of a login and short details).
pub const MAX_LIST_BYTES: usize = 1024 * 1024;

/// One list as read from GitHub.
#[derive(Clone, Debug)]
pub struct ListRead {
    /// The repository whose file it is.
    pub origin: String,
    pub source: VouchSource,
    pub outcome: ListOutcome,
}

/// Every list a repository's settings ask for, as read from GitHub, the account ids GitHub gave
/// (or the App knew) for logins of the lists not resolved before, and what GitHub answered to
/// each login asked.
#[derive(Clone, Debug, Default)]
pub struct VouchRead {
    pub lists: Vec<ListRead>,
    pub accounts: Vec<(String, i64)>,
    pub asked: Vec<LoginAsk>,
}

/// The most logins one read of a repository's lists asks GitHub to resolve (`GET
/// /users/{login}`): those asked longest ago, or never, first, whatever their place in the file;
/// the rest are asked at the next read (reconciliation reads every list every 15 minutes: 480 an
/// hour, a list of 10,000 logins within 21 hours), or resolved when GitHub names the person (a
/// comment, a pull request, a proof of a link: `Vouch::person_seen`). Until then an
/// entry vouches for nobody, and a denouncement refuses whoever the login names (the rule fails
/// closed).
pub const MAX_RESOLVED_PER_READ: usize = 120;

/// The most logins of vouch lists the App asks GitHub about in an hour, per installation, for
/// every repository of it together (counted where every replica sees it).
pub const LOOKUPS_PER_INSTALLATION_PER_HOUR: u32 = 500;

/// How long GitHub's answer about a login is used without asking again: the account it named,
/// or that it knows no such account (a login not asked again on every read).
pub const LOGIN_ANSWER_KEPT_MS: i64 = 24 * 60 * 60_000;

/// How long a list found absent is not asked for again by reconciliation (a push that adds it
/// is read at once).
pub const ABSENT_RECHECK_MS: i64 = 24 * 60 * 60_000;

/// What reading the lists may reuse: the conditional requests' cache, and what was found before
/// (none when every list is to be read again).
pub struct Lists<'a> {
    pub etags: &'a EtagCache,
    pub known: &'a [VouchListState],
    /// The logins of the repository's entries, each with whether it is resolved to an account
    /// id already ([`crate::store::github::vouch::Vouch::logins`]): only the others are asked.
    pub logins: &'a HashMap<String, bool>,
    /// How logins are resolved (once for concurrent reads).
    pub asks: &'a account_ids::AccountIds,
    /// What GitHub answered lately about logins, and the count of lookups per installation.
    pub store: &'a Store,
    /// The installation the lists are read through.
    pub installation: i64,
    /// The instant of the read (ms).
    pub now: i64,
}

/// Reads `repo`'s own list and those of `settings.import`, through `client`.
pub async fn read(
    client: &Octocrab,
    lists_known: &Lists<'_>,
    repo: &str,
    settings: &VouchConfig,
) -> VouchRead {
    let mut lists = vec![ListRead {
        origin: repo.to_string(),
        source: VouchSource::File,
        outcome: read_list(client, lists_known, repo).await,
    }];
    for import in &settings.import {
        if import.eq_ignore_ascii_case(repo) {
            continue;
        }
        // GitHub answers 404 alike for a repository without a list and for one the App cannot
        // read: an import that names no list is an error maintainers see.
        let outcome = match read_list(client, lists_known, import).await {
            ListOutcome::NoFile => ListOutcome::Invalid {
                path: VOUCH_PATHS[0].to_string(),
                error: format!(
                    "vouch.import: {import} has no VOUCHED.td, or the App cannot read it \
                     (a public repository, or one where the App is installed)"
                ),
            },
            other => other,
        };
        lists.push(ListRead {
            origin: import.clone(),
            source: VouchSource::Import,
            outcome,
        });
    }
    let (accounts, asked) = resolve(client, lists_known, &lists).await;
    VouchRead {
        lists,
        accounts,
        asked,
    }
}

/// The account ids of the lists' logins that are not resolved yet (an import's vouches are not
/// kept, so not asked): what GitHub answered lately (within [`LOGIN_ANSWER_KEPT_MS`]) is used as
/// it is, a login GitHub did not know then is left alone, and of the others at most
/// [`MAX_RESOLVED_PER_READ`] are asked, those asked longest ago (or never) first, within the
/// installation's [`LOOKUPS_PER_INSTALLATION_PER_HOUR`]. Returns the ids, and what each ask
/// answered (to be kept).
async fn resolve(
    client: &Octocrab,
    read: &Lists<'_>,
    lists: &[ListRead],
) -> (Vec<(String, i64)>, Vec<LoginAsk>) {
    let known = read.logins;
    let listed = lists.iter().flat_map(|l| match &l.outcome {
        ListOutcome::Entries { entries, .. } => entries
            .iter()
            .filter(|e| l.source != VouchSource::Import || e.denounced)
            .map(|e| e.login.to_ascii_lowercase())
            .collect(),
        _ => Vec::new(),
    });
    let unresolved = known.iter().filter(|(_, r)| !**r).map(|(l, _)| l.clone());
    let mut seen = HashSet::new();
    let candidates: Vec<String> = listed
        .chain(unresolved)
        .filter(|l| known.get(l) != Some(&true) && seen.insert(l.clone()))
        .collect();
    let asker = Asker {
        asks: read.asks,
        store: read.store,
        installation: read.installation,
        now: read.now,
    };
    resolve_logins(client, &asker, &candidates).await
}

/// How logins are resolved to accounts: the one way to ask GitHub (once for concurrent asks),
/// what it answered lately, the installation whose budget the lookups count against, and the
/// instant (ms).
pub struct Asker<'a> {
    pub asks: &'a account_ids::AccountIds,
    pub store: &'a Store,
    pub installation: i64,
    pub now: i64,
}

/// The account ids of `candidates` (lower-case logins): what GitHub answered lately (within
/// [`LOGIN_ANSWER_KEPT_MS`]) is used as it is, a login GitHub did not know then is left alone,
/// and of the others at most [`MAX_RESOLVED_PER_READ`] are asked, those asked longest ago (or
/// never) first, within the installation's [`LOOKUPS_PER_INSTALLATION_PER_HOUR`] (vouch lists
/// and reviewers count together). Returns the ids, and what each ask answered (to be kept with
/// `KnownAnswersTx::note_login_asks`).
pub async fn resolve_logins(
    client: &Octocrab,
    read: &Asker<'_>,
    candidates: &[String],
) -> (Vec<(String, i64)>, Vec<LoginAsk>) {
    if candidates.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let names: Vec<&str> = candidates.iter().map(String::as_str).collect();
    let answered = match read.store.known_answers().login_asks(&names).await {
        Ok(answered) => answered,
        Err(error) => {
            tracing::warn!(%error, "cannot read which logins were asked about; none is asked now");
            return (Vec::new(), Vec::new());
        }
    };
    let recent = read.now - LOGIN_ANSWER_KEPT_MS;
    let mut accounts = Vec::new();
    let mut asked = Vec::new();
    // (when it was asked last, its place): never asked first, then the longest ago.
    let mut due: Vec<(Option<i64>, usize)> = Vec::new();
    for (place, login) in candidates.iter().enumerate() {
        match answered.get(login) {
            Some(a) if a.asked_at > recent && a.account_id.is_some() => {
                accounts.extend(a.account_id.map(|id| (login.clone(), id)));
            }
            Some(a) if a.asked_at > recent && a.missing => {}
            Some(a) => due.push((Some(a.asked_at), place)),
            None => due.push((None, place)),
        }
    }
    due.sort_unstable();
    let budget = format!("ghv:installation:{}", read.installation);
    for (_, place) in due.into_iter().take(MAX_RESOLVED_PER_READ) {
        let login = &candidates[place];
        let answer = if crate::domain::vouch::is_login(login) {
            match read
                .store
                .shared_limits()
                .take_in(&budget, LOOKUPS_PER_INSTALLATION_PER_HOUR, HOUR_MS)
                .await
            {
                Ok(None) => read.asks.of(client, login).await,
                Ok(Some(_)) => break,
                Err(error) => {
                    tracing::warn!(%error, "cannot count a vouch list lookup; none more is asked now");
                    break;
                }
            }
        } else {
            Lookup::Missing
        };
        let found = match answer {
            Lookup::Found(id) => Some(id),
            Lookup::Missing | Lookup::Failed => None,
        };
        accounts.extend(found.map(|id| (login.clone(), id)));
        asked.push(LoginAsk {
            login: login.clone(),
            asked_at: read.now,
            account_id: found,
            missing: answer == Lookup::Missing,
        });
    }
    (accounts, asked)
}

/// One repository's list: the first of [`VOUCH_PATHS`] that exists, trying first where it was
/// found last; nothing (the list stays as it was) when it was found absent less than
/// [`ABSENT_RECHECK_MS`] ago.
async fn read_list(client: &Octocrab, lists: &Lists<'_>, repo: &str) -> ListOutcome {
    let known = lists.known.iter().find(|l| l.origin == repo);
    let mut paths = VOUCH_PATHS;
    match known {
        Some(VouchListState {
            path: None,
            error: None,
            read_at: Some(at),
            ..
        }) if lists.now - at < ABSENT_RECHECK_MS => return ListOutcome::NoAnswer,
        Some(VouchListState {
            path: Some(found), ..
        }) if found == VOUCH_PATHS[1] => paths.reverse(),
        _ => {}
    }
    let etags = lists.etags;
    for path in paths {
        match api::file_text(client, Some(etags), repo, path, MAX_LIST_BYTES).await {
            Ok(FileText::Missing) => continue,
            Ok(FileText::TooLarge(size)) => {
                return ListOutcome::Invalid {
                    path: path.to_string(),
                    error: format!(
                        "{repo}/{path}: the file is {size} bytes or more; at most \
                         {MAX_LIST_BYTES} are read, and the list is not applied"
                    ),
                };
            }
            Ok(FileText::Text(text)) => {
                return match vouch::parse(path, &text) {
                    Ok(list) => ListOutcome::Entries {
                        path: path.to_string(),
                        error: list.error(&format!("{repo}/{path}")),
                        entries: list.entries,
                    },
                    Err(e) => ListOutcome::Invalid {
                        path: path.to_string(),
                        error: format!("{repo}/{e}"),
                    },
                };
            }
            Err(api::CallError::Permanent { status: 403, .. }) => {
                return ListOutcome::Invalid {
                    path: path.to_string(),
                    error: format!(
                        "{repo}: the App cannot read this repository's vouch list (GitHub \
                         answered 403); install the App there or make the list public"
                    ),
                };
            }
            Err(e) => {
                tracing::warn!(repo, path, error = %e, "cannot read a vouch list; the previous one stays");
                return ListOutcome::NoAnswer;
            }
        }
    }
    ListOutcome::NoFile
}

/// Records what [`read`] found for `repo`, in the caller's transaction, with the settings in
/// force (`vouch.trust`, `vouch.required`).
pub async fn record(
    tx: &mut WriteTx,
    repo: &str,
    settings: &VouchConfig,
    read: Option<&VouchRead>,
) -> Result<(), StoreError> {
    tx.vouch()
        .set_settings(repo, i64::from(settings.trust), settings.required)
        .await?;
    if let Some(read) = read {
        let origins: Vec<&str> = read.lists.iter().map(|l| l.origin.as_str()).collect();
        tx.vouch().keep_lists(repo, &origins).await?;
        for list in &read.lists {
            tx.vouch()
                .record_list(repo, &list.origin, list.source, &list.outcome)
                .await?;
        }
        tx.known_answers().note_login_asks(&read.asked).await?;
        tx.vouch().resolve(repo, &read.accounts).await?;
    }
    tx.vouch().update_closed(repo).await
}
