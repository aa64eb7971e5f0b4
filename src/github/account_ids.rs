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

use crate::github::api;

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

/// An ask for the account id of a login, or its answer, shared by every caller that waits on it.
type IdFlight = Shared<BoxFuture<'static, Option<i64>>>;

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
    pub async fn of(&self, client: &Octocrab, login: &str) -> Option<i64> {
        let key = login.to_ascii_lowercase();
        let flight = {
            let mut flights = self.flights.lock().ok()?;
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

/// The id of the account GitHub names `login` now, or `None` for any other answer (no such
/// account, a renamed one, a failure; logged): what a vouch list's login is resolved to.
async fn account_id_of(client: &Octocrab, login: &str) -> Option<i64> {
    if !crate::domain::vouch::is_login(login) {
        return None;
    }
    match user_of(client, login).await {
        Ok(user) => Some(user.id),
        Err(error) => {
            tracing::info!(%error, login, "GitHub did not name the account of a vouch list's login");
            None
        }
    }
}
