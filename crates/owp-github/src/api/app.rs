//! The calls the App makes as itself (with its JWT): an installation's client and token, which
//! of its keys GitHub accepts, its installations and their repositories, and its webhook
//! deliveries.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use octocrab::Octocrab;
use serde::Deserialize;
use serde_json::Value;

use super::{CallError, Listing, WireUser, clients, get, list_pages, post, read_pages};
use crate::app_auth::GithubApp;
use crate::conditional::EtagCache;
use crate::events::RepoName;

/// The client of an installation (with a fresh token). When GitHub refuses the App JWT and the
/// App has other keys, the keys are checked ([`check_app_keys`]) and, if another is accepted,
/// the token is asked for again with it.
pub async fn installation(app: &GithubApp, id: i64) -> Result<Arc<Octocrab>, CallError> {
    let key = u64::try_from(id).map_err(|_| CallError::Permanent {
        status: 404,
        message: "invalid installation id".into(),
    })?;
    let used = app.current_key();
    let client = match app.installation(key).await {
        Ok(client) => client,
        Err(e) => {
            let error = CallError::from_auth(&e);
            if !matches!(error, CallError::Unauthorized(_)) || !key_changed(app, used).await {
                return Err(error);
            }
            app.installation(key)
                .await
                .map_err(|e| CallError::from_auth(&e))?
        }
    };
    clients::client_of(id, &client);
    Ok(client)
}

/// After GitHub refused the App JWT signed with key `used`: checks the keys again and says
/// whether another one is accepted now.
async fn key_changed(app: &GithubApp, used: usize) -> bool {
    if app.key_count() < 2 && app.current_key() == used {
        // One key: say it is refused (readiness, the log), nothing to fall back to.
        let _ = check_app_keys(app).await;
        return false;
    }
    matches!(check_app_keys(app).await, Ok(index) if index != used)
}

/// A call signed with the App JWT (`call` asks [`GithubApp::app_client`] each time): when GitHub
/// refuses it and another of the App's keys is accepted now ([`key_changed`]), the call is made
/// once more, signed with that key, as [`installation`] does for a token.
async fn as_app<T, F, Fut>(app: &GithubApp, mut call: F) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CallError>>,
{
    let used = app.current_key();
    match call().await {
        Err(CallError::Unauthorized(_)) if key_changed(app, used).await => call().await,
        other => other,
    }
}

/// Asks GitHub which of the App's keys it accepts (`GET /app` signed with each: the key in use
/// first, then the others in the order given) and records the answer
/// ([`GithubApp::set_key_state`]): the first key accepted signs every App JWT from now on.
/// `Unauthorized` when GitHub refuses every key; another error (the network, a server error)
/// when it could not be asked, with the state left as it was.
pub async fn check_app_keys(app: &GithubApp) -> Result<usize, CallError> {
    use crate::app_auth::KeyState;
    let _one_at_a_time = app.checking_keys().await;
    let first = app.current_key();
    let order = std::iter::once(first).chain((0..app.key_count()).filter(|i| *i != first));
    let mut refused = Vec::new();
    for index in order {
        let Some(client) = app.app_client_with(index) else {
            continue;
        };
        match get(client, "/app").await {
            Ok(_) => {
                if index != first && app.key_state() != KeyState::Unknown {
                    tracing::warn!(
                        key = index + 1,
                        keys = app.key_count(),
                        fingerprint = app.key_fingerprint(index),
                        refused = app.key_fingerprint(first),
                        "GitHub refuses the App's key {} now: key {} of {} signs from now on \
                         (remove the refused one from GITHUB_PRIVATE_KEY)",
                        first + 1,
                        index + 1,
                        app.key_count()
                    );
                }
                app.set_key_state(KeyState::Accepted { index });
                return Ok(index);
            }
            Err(CallError::Unauthorized(message)) => refused.push((index, message)),
            Err(other) => return Err(other),
        }
    }
    let message = refused.first().map_or("", |(_, m)| m.as_str());
    let reason = match refused.len() {
        1 => format!("GET /app signed with the App's key answers 401 ({message})"),
        n => format!("GET /app signed with each of the App's {n} keys answers 401 ({message})"),
    };
    app.set_key_state(KeyState::Refused {
        reason: reason.clone(),
    });
    Err(CallError::Unauthorized(reason))
}

/// An installation as listed by `GET /app/installations`.
#[derive(Debug, Clone)]
pub struct InstallationInfo {
    pub id: i64,
    pub account: String,
    pub suspended: bool,
}

#[derive(Deserialize)]
struct WireInstallation {
    id: i64,
    account: Option<WireUser>,
    suspended_at: Option<Value>,
}

/// The App's installations, up to `max_pages` pages.
pub async fn installations(
    app: &GithubApp,
    max_pages: usize,
) -> Result<Listing<InstallationInfo>, CallError> {
    const PATH: &str = "/app/installations?per_page=100";
    let listed: Listing<WireInstallation> = as_app(app, || {
        list_pages(
            app.app_client(),
            Some(app.etags()),
            PATH,
            max_pages,
            "installations",
        )
    })
    .await?;
    Ok(Listing {
        items: listed
            .items
            .into_iter()
            .map(|i| InstallationInfo {
                id: i.id,
                account: i.account.map(|a| a.login).unwrap_or_default(),
                suspended: i.suspended_at.is_some_and(|v| !v.is_null()),
            })
            .collect(),
        truncated: listed.truncated,
    })
}

#[derive(Deserialize)]
struct WireInstallationRepos {
    repositories: Vec<RepoName>,
}

/// The repositories an installation covers, up to `max_pages` pages.
pub async fn installation_repos(
    client: &Octocrab,
    etags: Option<&EtagCache>,
    max_pages: usize,
) -> Result<Listing<RepoName>, CallError> {
    let (pages, truncated) = read_pages::<WireInstallationRepos>(
        client,
        etags,
        "/installation/repositories?per_page=100",
        max_pages,
        "installation_repositories",
    )
    .await?;
    Ok(Listing {
        items: pages.into_iter().flat_map(|p| p.repositories).collect(),
        truncated,
    })
}

/// A webhook delivery as listed by `GET /app/hook/deliveries`.
#[derive(Debug, Clone, Deserialize)]
pub struct DeliveryInfo {
    pub id: i64,
    pub guid: String,
    #[serde(default)]
    pub status_code: u16,
    #[serde(default)]
    pub redelivery: bool,
    pub delivered_at: Option<DateTime<Utc>>,
    pub event: Option<String>,
}

impl DeliveryInfo {
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status_code)
    }
}

/// The App's recent webhook deliveries, newest first (at most `pages` pages of 100). A page
/// GitHub refuses is asked for again when another of the App's keys is accepted now.
pub async fn deliveries(app: &GithubApp, pages: usize) -> Result<Vec<DeliveryInfo>, CallError> {
    let mut items = Vec::new();
    let mut next = Some("/app/hook/deliveries?per_page=100".to_string());
    let mut read = 0;
    while let Some(path) = next {
        let answer = as_app(app, || get(app.app_client(), &path)).await?;
        let mut page: Vec<DeliveryInfo> = answer.json()?;
        items.append(&mut page);
        read += 1;
        next = answer.next.filter(|_| read < pages);
    }
    Ok(items)
}

/// Asks GitHub to send a delivery again.
pub async fn redeliver(app: &GithubApp, delivery_id: i64) -> Result<(), CallError> {
    let path = format!("/app/hook/deliveries/{delivery_id}/attempts");
    let body = serde_json::json!({});
    as_app(app, || post(app.app_client(), &path, &body))
        .await
        .map(|_| ())
}
