//! Vouch lists (contract section 12, rule 12), read from GitHub: a repository's `VOUCHED.td`
//! (else `.github/VOUCHED.td`) on its default branch, and the lists of the repositories its
//! `vouch.import` names, with conditional requests (an unchanged file costs a `304`). They are
//! read with the settings file ([`crate::github::service::Github::read_config`]: when a
//! repository joins, when its settings are read again, on reconciliation, and when a push to the
//! default branch changes a list), writing nothing; [`record`] keeps what was read in the
//! caller's transaction. A list GitHub does not answer for keeps its previous entries; one that
//! never was answered, or that is not valid, closes a repository with `vouch.required` to all but
//! its maintainers (the rule fails closed).
//!
//! The rules themselves are SQL conditions of the claim (`store::leases::claim_rules`).

use std::collections::HashMap;

use octocrab::Octocrab;

use crate::domain::vouch::{self, VOUCH_PATHS};
use crate::github::account_ids;
use crate::github::api;
use crate::github::conditional::EtagCache;
use crate::github::raw_calls::FileText;
use crate::github::repo_config::VouchConfig;
use crate::store::github::vouch::{ListOutcome, VouchListState, VouchSource};
use crate::store::{StoreError, WriteTx};

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

/// Every list a repository's settings ask for, as read from GitHub, and the account ids GitHub
/// gave for logins of the lists not resolved before.
#[derive(Clone, Debug, Default)]
pub struct VouchRead {
    pub lists: Vec<ListRead>,
    pub accounts: Vec<(String, i64)>,
}

/// The most logins one read of a repository's lists asks GitHub to resolve (`GET
/// /users/{login}`); the rest are asked at the next read, or resolved when GitHub sends the
/// person (a comment, a pull request). Until then an entry vouches for nobody, and a
/// denouncement refuses whoever the login names (the rule fails closed).
pub const MAX_RESOLVED_PER_READ: usize = 50;

/// How long a list found absent is not asked for again by reconciliation (a push that adds it
/// is read at once).
pub const ABSENT_RECHECK_MS: i64 = 24 * 60 * 60_000;

/// What reading the lists may reuse: the conditional requests' cache, and what was found before
/// (none when every list is to be read again).
pub struct Lists<'a> {
    pub etags: &'a EtagCache,
    pub known: &'a [VouchListState],
    /// The logins of the repository's entries, each with whether it is resolved to an account
    /// id already ([`crate::store::Store::vouch_logins`]): only the others are asked.
    pub logins: &'a HashMap<String, bool>,
    /// How logins are resolved (once for concurrent reads).
    pub asks: &'a account_ids::AccountIds,
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
    let accounts = resolve(client, lists_known, &lists).await;
    VouchRead { lists, accounts }
}

/// Asks GitHub for the account ids of the lists' logins that are not resolved yet (an
/// import's vouches are not kept, so not asked), at most [`MAX_RESOLVED_PER_READ`], each once.
async fn resolve(client: &Octocrab, read: &Lists<'_>, lists: &[ListRead]) -> Vec<(String, i64)> {
    let known = read.logins;
    let mut asked: Vec<&str> = Vec::new();
    let listed = lists.iter().flat_map(|l| match &l.outcome {
        ListOutcome::Entries { entries, .. } => entries
            .iter()
            .filter(|e| l.source != VouchSource::Import || e.denounced)
            .map(|e| e.login.as_str())
            .collect(),
        _ => Vec::new(),
    });
    let unresolved = known.iter().filter(|(_, r)| !**r).map(|(l, _)| l.as_str());
    for login in listed.chain(unresolved) {
        if asked.len() == MAX_RESOLVED_PER_READ {
            break;
        }
        if known.get(login) != Some(&true) && !asked.contains(&login) {
            asked.push(login);
        }
    }
    let mut accounts = Vec::new();
    for login in asked {
        if let Some(id) = read.asks.of(client, login).await {
            accounts.push((login.to_string(), id));
        }
    }
    accounts
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
    tx.vouch_set_settings(repo, i64::from(settings.trust), settings.required)
        .await?;
    if let Some(read) = read {
        let origins: Vec<&str> = read.lists.iter().map(|l| l.origin.as_str()).collect();
        tx.vouch_keep_lists(repo, &origins).await?;
        for list in &read.lists {
            tx.vouch_record_list(repo, &list.origin, list.source, &list.outcome)
                .await?;
        }
        tx.vouch_resolve(repo, &read.accounts).await?;
    }
    tx.vouch_update_closed(repo).await
}
