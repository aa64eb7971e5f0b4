//! How old a claimant's GitHub account is, for repositories whose `.github/owp.yml` says
//! `claim: {min_account_age_days: N}`: GitHub is asked once per person (`GET /users/{login}`),
//! and the answer is kept in the database (an account's creation date never changes).

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

use crate::github::api::{self, CallError};
use crate::github::service::Github;

/// When an account was created (ms), and whether GitHub was asked for it just now (so that it
/// is to be kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountAge {
    pub created_at: i64,
    pub fresh: bool,
}

#[derive(Deserialize)]
struct WireUser {
    created_at: DateTime<Utc>,
}

/// When `login`'s account was created: from the database, or else from GitHub. `None` when
/// GitHub knows no such account (or the login is not one GitHub could have given).
pub async fn account_age(
    github: &Github,
    installation: i64,
    login: &str,
) -> Result<Option<AccountAge>, CallError> {
    if let Some(created_at) = github
        .store
        .gh_account_created(login)
        .await
        .map_err(|e| CallError::Transient(e.to_string()))?
    {
        return Ok(Some(AccountAge {
            created_at,
            fresh: false,
        }));
    }
    let plausible = !login.is_empty()
        && login.len() <= 39
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !plausible {
        return Ok(None);
    }
    let client = api::installation(&github.app, installation).await?;
    match api::get(&client, &format!("/users/{login}")).await {
        Ok(answer) => Ok(Some(AccountAge {
            created_at: answer.json::<WireUser>()?.created_at.timestamp_millis(),
            fresh: true,
        })),
        Err(CallError::Permanent { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// When an account created at `created_at` (ms) is `min_days` old: the first moment it may
/// claim. `None` when it may claim at `now` already.
pub fn too_new_until(created_at: i64, min_days: u32, now: i64) -> Option<DateTime<Utc>> {
    if min_days == 0 {
        return None;
    }
    let from = DateTime::from_timestamp_millis(created_at)? + TimeDelta::days(i64::from(min_days));
    (from.timestamp_millis() > now).then_some(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_claims_once_it_is_old_enough() {
        let day = 86_400_000;
        let created = 1_700_000_000_000;
        assert_eq!(too_new_until(created, 0, created), None);
        let until = too_new_until(created, 30, created + 29 * day).unwrap();
        assert_eq!(until.timestamp_millis(), created + 30 * day);
        assert_eq!(too_new_until(created, 30, created + 30 * day), None);
        assert_eq!(too_new_until(created, 3650, created + 3651 * day), None);
    }
}
