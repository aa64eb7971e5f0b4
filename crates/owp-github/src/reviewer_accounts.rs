//! Reviewers are people (rule 13, contract section 14): the logins a repository's settings list
//! under `review.reviewers` are resolved to GitHub account ids when the settings are read, and
//! the pool keeps the id (`store::github::reviewers`). A login is resolved from what the App
//! already knows first (a person GitHub named in a delivery, `Store::gh_known_accounts`), else
//! by the same bounded, remembered lookup as a vouch list's logins
//! ([`crate::vouch::resolve_logins`]). A login GitHub does not know stays unresolved
//! (shown to maintainers, and no reviewer with room: the rule fails closed) and is asked again
//! only once GitHub's answer is old; a person GitHub names later (a comment, a pull request)
//! resolves it at once (`ReviewersTx::person_seen`).

use std::collections::HashMap;

use octocrab::Octocrab;

use crate::store::github::known_answers::LoginAsk;
use crate::store::{StoreError, WriteTx};
use crate::vouch::{Asker, resolve_logins};

/// The accounts found for a repository's listed reviewers not resolved before, and what GitHub
/// answered to each login asked.
#[derive(Clone, Debug, Default)]
pub struct ReviewerRead {
    /// Lower-case login → account id.
    pub accounts: HashMap<String, i64>,
    pub asked: Vec<LoginAsk>,
}

/// Resolves the reviewers `listed` in `repo`'s settings whose row is not resolved to an account
/// yet (a login listed before keeps the account it was resolved to), writing nothing.
pub async fn read(
    client: &Octocrab,
    asker: &Asker<'_>,
    repo: &str,
    listed: &[String],
) -> ReviewerRead {
    let rows = match asker.store.reviewers().keys(repo).await {
        Ok(rows) => rows,
        Err(error) => {
            tracing::warn!(repo, %error, "cannot read the repository's reviewers; none is resolved now");
            return ReviewerRead::default();
        }
    };
    let mut wanted: Vec<String> = listed
        .iter()
        .map(|l| l.to_lowercase())
        .filter(|key| rows.get(key) != Some(&true))
        .collect();
    wanted.sort();
    wanted.dedup();
    if wanted.is_empty() {
        return ReviewerRead::default();
    }
    let mut accounts = match asker.store.reviewers().known_accounts(&wanted).await {
        Ok(known) => known,
        Err(error) => {
            tracing::warn!(repo, %error, "cannot read which accounts the App knows");
            return ReviewerRead::default();
        }
    };
    let ask: Vec<String> = wanted
        .into_iter()
        .filter(|key| !accounts.contains_key(key))
        .collect();
    let (found, asked) = resolve_logins(client, asker, &ask).await;
    accounts.extend(found);
    ReviewerRead { accounts, asked }
}

/// Keeps what [`read`] found, in the caller's transaction: GitHub's answers, and the accounts of
/// the repository's reviewers listed before and not resolved yet (the settings, when they are
/// recorded, resolve the rest: `ReviewersTx::set`).
pub async fn record(
    tx: &mut WriteTx,
    repo: &str,
    read: &ReviewerRead,
    actor: &str,
) -> Result<(), StoreError> {
    tx.known_answers().note_login_asks(&read.asked).await?;
    let mut accounts: Vec<(String, i64)> = read
        .accounts
        .iter()
        .map(|(l, id)| (l.clone(), *id))
        .collect();
    accounts.sort();
    tx.reviewers().resolve(repo, &accounts, actor).await
}
