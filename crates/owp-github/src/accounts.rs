//! How old a claimant's GitHub account is, for repositories whose `.github/owp.yml` says
//! `claim: {min_account_age_days: N}`. An account is kept by its numeric id (a login can be
//! renamed, and taken by a new account); GitHub is asked by login (`GET /users/{login}`) and
//! its answer counts only when it names the same account id. Any other answer (404 after a
//! rename, 403 for a hidden account, a failure, another account's id) leaves the age unknown,
//! which the claim's rule refuses: the lookup fails closed. An unknown age is asked again at most
//! once per [`ACCOUNT_RETRY_MS`] per account, whoever claims how often, and reconciliation asks
//! for the accounts of linked workers that are still unknown.

use crate::account_ids::{WireUser, user_of};
use crate::api;
use crate::service::Github;
use crate::store::StoreError;
use crate::store::accounts::ACCOUNT_RETRY_MS;
use crate::volunteer_reads::{self, Asker};

/// What the App knows of an account's age after [`account_age`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountReading {
    pub account_id: i64,
    pub login: String,
    /// When it was created (ms); `None` when GitHub did not say.
    pub created_at: Option<i64>,
    /// GitHub was asked just now: the answer (or its absence) is to be kept.
    pub asked: bool,
}

/// What is known of the account `account_id`, named `login` by the event at hand: from the
/// database, or else asked of GitHub (unless it was asked less than [`ACCOUNT_RETRY_MS`] ago).
/// `account_id` is `None` only for a link made before ids were kept: then the id is the one
/// GitHub gives for the login. A read a volunteer's comment causes (`by_volunteer`) is first
/// counted against [`crate::volunteer_reads`]; past its bounds the age stays unknown,
/// not kept as asked (the next claim asks again), and the claim's rule refuses it.
pub async fn account_age(
    github: &Github,
    installation: i64,
    account_id: Option<i64>,
    login: &str,
    by_volunteer: bool,
) -> Result<Option<AccountReading>, StoreError> {
    let now = crate::store::now_ms();
    let unknown = |id: i64, created_at: Option<i64>| AccountReading {
        account_id: id,
        login: login.to_string(),
        created_at,
        asked: false,
    };
    if let Some(id) = account_id
        && let Some(kept) = github.store.accounts().get(id).await?
        && (kept.created_at.is_some() || kept.read_at > now - ACCOUNT_RETRY_MS)
    {
        return Ok(Some(unknown(id, kept.created_at)));
    }
    if by_volunteer
        && let Some(id) = account_id
        && volunteer_reads::take(&github.store, installation, Asker::Person(id), None)
            .await?
            .is_some()
    {
        return Ok(Some(unknown(id, None)));
    }
    let answer = ask(github, installation, login).await;
    let created_at = match (account_id, &answer) {
        (Some(id), Some(user)) if user.id == id => Some(user.created_at.timestamp_millis()),
        (None, Some(user)) => Some(user.created_at.timestamp_millis()),
        _ => None,
    };
    let Some(account_id) = account_id.or(answer.as_ref().map(|u| u.id)) else {
        return Ok(None);
    };
    Ok(Some(AccountReading {
        account_id,
        login: login.to_string(),
        created_at,
        asked: true,
    }))
}

/// GitHub's account of `login`, or `None` for any answer but one (logged).
async fn ask(github: &Github, installation: i64, login: &str) -> Option<WireUser> {
    let plausible = !login.is_empty()
        && login.len() <= 39
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !plausible {
        return None;
    }
    let answer = async {
        let client = api::installation(&github.app, installation).await?;
        user_of(&client, login).await
    };
    match answer.await {
        Ok(user) => Some(user),
        Err(error) => {
            tracing::warn!(%error, login, "cannot read a GitHub account's age; claims wait for it");
            None
        }
    }
}

/// Asks GitHub for the accounts of linked workers whose age is still unknown (a few per run),
/// when some repository asks for a minimum age; run by reconciliation.
pub async fn read_unknown_accounts(github: &Github, installation: i64) -> Result<(), StoreError> {
    let due = crate::store::now_ms() - ACCOUNT_RETRY_MS;
    for account in github.store.accounts().to_read(due, 20).await? {
        let Some(reading) = account_age(
            github,
            installation,
            account.account_id,
            &account.login,
            false,
        )
        .await?
        else {
            continue;
        };
        let mut tx = github.store.begin().await?;
        if account.account_id.is_none() {
            tx.accounts()
                .set_worker_account(&account.worker_id, reading.account_id)
                .await?;
        }
        if reading.asked {
            tx.accounts()
                .remember(reading.account_id, &reading.login, reading.created_at)
                .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}
