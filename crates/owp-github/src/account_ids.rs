//! The account ids GitHub gives for logins (`GET /users/{login}`), asked once for concurrent
//! asks: what a vouch list's logins are resolved to, and the account a claimant's age is read
//! from (`github::accounts`).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use octocrab::Octocrab;
use serde::Deserialize;

use crate::api;

/// A GitHub account as `GET /users/{login}` answers it (what the pool reads of it).
#[derive(Deserialize)]
pub(crate) struct WireUser {
    pub(crate) id: i64,
    pub(crate) created_at: DateTime<Utc>,
}

/// GitHub's account of `login` (`GET /users/{login}`).
pub(crate) async fn user_of(client: &Octocrab, login: &str) -> Result<WireUser, api::CallError> {
    api::get(client, &format!("/users/{login}"))
        .await?
        .json::<WireUser>()
}

/// What GitHub answered when asked which account a login names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The account's id.
    Found(i64),
    /// GitHub knows no such account (404), or the text is no login at all: not asked.
    Missing,
    /// Any other answer, or none (logged): ask again later.
    Failed,
}

/// An ask for the account id of a login, or its answer, shared by every caller that waits on it.
type IdFlight = Shared<BoxFuture<'static, Lookup>>;

/// The account ids GitHub gives for logins (what a vouch list's logins are resolved to), asked
/// once for concurrent asks: callers asking for the same login while GitHub is being asked share
/// its answer. Nothing is kept past the ask (the list keeps the id).
#[derive(Default)]
pub struct AccountIds {
    /// Lower-case login → the ask under way.
    flights: Mutex<HashMap<String, IdFlight>>,
}

impl AccountIds {
    /// The id of the account GitHub names `login` now (see [`account_id_of`]).
    pub async fn of(&self, client: &Octocrab, login: &str) -> Lookup {
        let key = login.to_ascii_lowercase();
        let flight = {
            let Ok(mut flights) = self.flights.lock() else {
                return Lookup::Failed;
            };
            flights.retain(|_, f| f.peek().is_none());
            flights
                .entry(key)
                .or_insert_with(|| {
                    let (client, login) = (client.clone(), login.to_string());
                    async move { account_id_of(&client, &login).await }
                        .boxed()
                        .shared()
                })
                .clone()
        };
        flight.await
    }
}

/// The id of the account GitHub names `login` now, whether GitHub knows no such account (a
/// renamed or deleted one), or that it did not answer (logged): what a vouch list's login is
/// resolved to.
async fn account_id_of(client: &Octocrab, login: &str) -> Lookup {
    if !crate::domain::vouch::is_login(login) {
        return Lookup::Missing;
    }
    match user_of(client, login).await {
        Ok(user) => Lookup::Found(user.id),
        Err(api::CallError::Permanent {
            status: 404 | 410, ..
        }) => Lookup::Missing,
        Err(error) => {
            tracing::info!(%error, login, "GitHub did not name the account of a vouch list's login");
            Lookup::Failed
        }
    }
}
