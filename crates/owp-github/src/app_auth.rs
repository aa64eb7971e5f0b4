//! Authenticating as the GitHub App and as its installations.
//!
//! - The **App JWT** is signed with the App's RSA key (RS256). GitHub refuses tokens that expire
//!   more than 10 minutes ahead; `iat` is set 60 s in the past to allow for clock drift.
//! - An **installation access token** (valid one hour) is what REST calls on a repository use.
//!   [`GithubApp`] keeps one octocrab client per installation — each client caches its own token —
//!   and makes sure a token handed out is valid for at least [`TOKEN_REFRESH_MARGIN`], so a
//!   request never starts with a token about to expire.
//!
//! The REST base URL is `GITHUB_API_URL` (GitHub Enterprise Server, or a fake GitHub in tests).
//!
//! The clients never retry on their own (see [`GithubApp::new`]): whoever calls GitHub decides
//! whether and when a failed call is repeated.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::TimeDelta;
use octocrab::auth::AppAuth;
use octocrab::jsonwebtoken::{self, Algorithm, EncodingKey, Header};
use octocrab::models::{AppId, InstallationId};
use octocrab::service::middleware::base_uri::BaseUriLayer;
use octocrab::service::middleware::reqwest_connector::ReqwestConnector;
use octocrab::{AuthState, Octocrab, OctocrabBuilder};
use serde::{Deserialize, Serialize};

use crate::settings::GithubConfig;

/// How far in the past `iat` is set.
pub const JWT_BACKDATE_SECONDS: u64 = 60;

/// How long an App JWT is valid after it is made (GitHub's limit is 10 minutes).
pub const JWT_LIFETIME_SECONDS: u64 = 9 * 60;

/// An installation token is renewed when it has less than this left.
pub const TOKEN_REFRESH_MARGIN: TimeDelta = TimeDelta::minutes(5);

/// Longest wait for a connection to GitHub.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Longest wait for GitHub's answer.
pub const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What went wrong while authenticating.
#[derive(Debug, thiserror::Error)]
pub enum AppAuthError {
    /// `GITHUB_APP_ID` is set but neither `GITHUB_PRIVATE_KEY` nor `GITHUB_PRIVATE_KEY_PATH`.
    #[error(
        "GITHUB_APP_ID is set but no private key: set GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH"
    )]
    MissingPrivateKey,
    /// A private key is set but `GITHUB_APP_ID` is not.
    #[error("a GitHub App private key is set but GITHUB_APP_ID is not")]
    MissingAppId,
    /// The key file could not be read.
    #[error("cannot read the GitHub App private key file {path}")]
    KeyFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The key is not an RSA private key in PEM form.
    #[error("the GitHub App private key is not an RSA private key in PEM form")]
    InvalidKey(#[source] jsonwebtoken::errors::Error),
    /// Signing the JWT failed.
    #[error("cannot sign the GitHub App JWT")]
    Jwt(#[source] jsonwebtoken::errors::Error),
    /// A key was asked for by a number the App's keys do not reach.
    #[error("the GitHub App has {keys} private key(s), so there is no key {number}")]
    NoSuchKey { number: usize, keys: usize },
    /// `GITHUB_API_URL` is not a usable URL.
    #[error("GITHUB_API_URL `{url}` is not a valid URL")]
    InvalidApiUrl {
        url: String,
        #[source]
        source: http::uri::InvalidUri,
    },
    /// The HTTP client could not be built (no TLS roots, …).
    #[error("cannot build the HTTP client for GitHub: {0}")]
    Client(String),
    /// GitHub (or the network) refused or failed a request.
    #[error("GitHub request failed")]
    GitHub(#[source] octocrab::Error),
}

/// The App's id and private keys (one, or several during a key rotation: see
/// [`AppCredentials::from_pem`]).
#[derive(Clone)]
pub struct AppCredentials {
    app_id: u64,
    /// In the order given; the first is preferred.
    keys: Vec<EncodingKey>,
    /// Each key's fingerprint, as GitHub shows it ([`crate::key_fingerprint`]).
    fingerprints: Vec<Option<String>>,
    /// The App's slug (its name in URLs), when known: the `User-Agent` of every request.
    slug: Option<String>,
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

impl AppCredentials {
    /// Credentials from an App id and one or more PEM private keys (PKCS#1, as GitHub hands
    /// them out, or PKCS#8), one after the other: during a key rotation the new key and the
    /// old one are both given, and the App signs with whichever GitHub accepts (the first one
    /// first). Keys pasted into an environment file with `\n` escapes are accepted too.
    pub fn from_pem(app_id: u64, pem: &[u8]) -> Result<Self, AppAuthError> {
        let text = String::from_utf8_lossy(pem);
        let text = if !text.contains('\n') && text.contains("\\n") {
            text.replace("\\n", "\n")
        } else {
            text.into_owned()
        };
        let mut blocks = pem_blocks(&text);
        if blocks.len() <= 1 {
            blocks = vec![text.as_str()];
        }
        let keys = blocks
            .iter()
            .map(|b| EncodingKey::from_rsa_pem(b.as_bytes()).map_err(AppAuthError::InvalidKey))
            .collect::<Result<Vec<_>, _>>()?;
        let fingerprints = blocks
            .iter()
            .map(|b| crate::key_fingerprint::of_private_key(b))
            .collect();
        Ok(AppCredentials {
            app_id,
            keys,
            fingerprints,
            slug: None,
        })
    }

    /// How many private keys were given.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// The fingerprint GitHub shows for key `index` (0-based) in the App's settings
    /// (`SHA256:…`), or `None` when it cannot be read from the key.
    pub fn fingerprint(&self, index: usize) -> Option<&str> {
        self.fingerprints.get(index)?.as_deref()
    }

    /// A fresh App JWT signed with key `index` (0-based, in the order given).
    pub fn jwt_with(&self, index: usize) -> Result<String, AppAuthError> {
        let key = self.keys.get(index).ok_or(AppAuthError::NoSuchKey {
            number: index + 1,
            keys: self.keys.len(),
        })?;
        app_jwt(self.app_id, key, SystemTime::now())
    }

    /// The same credentials, with the App's slug (ignored unless it is a valid slug: lowercase
    /// letters, digits and dashes, as GitHub makes them).
    pub fn with_slug(mut self, slug: Option<&str>) -> Self {
        self.slug = slug
            .map(str::trim)
            .filter(|s| {
                !s.is_empty()
                    && s.len() <= 100
                    && s.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
            .map(str::to_string);
        self
    }

    /// The `User-Agent` GitHub asks for: the App's name (its slug), else the product's.
    pub fn user_agent(&self) -> String {
        self.slug.clone().unwrap_or_else(product_user_agent)
    }

    /// Credentials from the process configuration: `None` when no GitHub App is configured
    /// (GitHub features stay off), an error when the configuration is half there or unreadable.
    /// `GITHUB_PRIVATE_KEY` wins over `GITHUB_PRIVATE_KEY_PATH`.
    pub fn from_config(config: &GithubConfig) -> Result<Option<Self>, AppAuthError> {
        let pem: Option<Vec<u8>> =
            match (&config.github_private_key, &config.github_private_key_path) {
                (Some(text), _) => Some(text.expose().as_bytes().to_vec()),
                (None, Some(path)) => {
                    Some(std::fs::read(path).map_err(|source| AppAuthError::KeyFile {
                        path: path.display().to_string(),
                        source,
                    })?)
                }
                (None, None) => None,
            };
        match (config.github_app_id, pem) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(AppAuthError::MissingPrivateKey),
            (None, Some(_)) => Err(AppAuthError::MissingAppId),
            (Some(app_id), Some(pem)) => Self::from_pem(app_id, &pem)
                .map(|c| c.with_slug(config.github_app_slug.as_deref()))
                .map(Some),
        }
    }

    /// The App's id.
    pub fn app_id(&self) -> u64 {
        self.app_id
    }

    /// A fresh App JWT, signed with the first key.
    pub fn jwt(&self) -> Result<String, AppAuthError> {
        self.jwt_with(0)
    }
}

/// The PEM blocks of `text` (`-----BEGIN …-----` to its `-----END …-----`), in order.
fn pem_blocks(text: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let from = &rest[start..];
        let Some(end) = from.find("-----END ") else {
            break;
        };
        // The END line's closing dashes.
        let after_end = &from[end + "-----END ".len()..];
        let close = after_end
            .find("-----")
            .map_or(from.len(), |c| end + "-----END ".len() + c + 5);
        blocks.push(&from[..close]);
        rest = &from[close..];
    }
    blocks
}

/// What GitHub last said of the App's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// Not asked yet, or GitHub could not be asked (the network, a server error).
    Unknown,
    /// GitHub accepts key `index` (0-based), which signs every App JWT.
    Accepted { index: usize },
    /// GitHub refuses every key given: the App cannot act.
    Refused { reason: String },
}

/// The claims of an App JWT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppJwtClaims {
    /// The App id, as a string.
    pub iss: String,
    /// Issued at (seconds since the epoch), backdated by [`JWT_BACKDATE_SECONDS`].
    pub iat: u64,
    /// Expires at (seconds since the epoch), [`JWT_LIFETIME_SECONDS`] after `now`.
    pub exp: u64,
}

impl AppJwtClaims {
    /// The claims of a JWT made at `now`.
    pub fn at(app_id: u64, now: SystemTime) -> Self {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        AppJwtClaims {
            iss: app_id.to_string(),
            iat: now.saturating_sub(JWT_BACKDATE_SECONDS),
            exp: now + JWT_LIFETIME_SECONDS,
        }
    }
}

/// Signs an App JWT (RS256) for `app_id`, as made at `now`.
pub fn app_jwt(app_id: u64, key: &EncodingKey, now: SystemTime) -> Result<String, AppAuthError> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &AppJwtClaims::at(app_id, now),
        key,
    )
    .map_err(AppAuthError::Jwt)
}

/// The media type GitHub asks clients to accept.
pub const GITHUB_JSON: &str = "application/vnd.github+json";

/// The `User-Agent` of requests made before the App's slug is known (the manifest conversion).
pub fn product_user_agent() -> String {
    concat!("owp-pool/", env!("CARGO_PKG_VERSION")).to_string()
}

/// The GitHub App: an App-authenticated client and one client per installation.
///
/// Cheap to share behind an `Arc`; every method takes `&self`.
pub struct GithubApp {
    credentials: AppCredentials,
    api_url: String,
    /// One App client per key, in the order given.
    apps: Vec<Octocrab>,
    /// The key GitHub accepts, as far as this process knows: the one every JWT is signed with.
    current: AtomicUsize,
    state: Mutex<KeyState>,
    /// One check of the keys at a time (see [`crate::api::check_app_keys`]).
    checking: tokio::sync::Mutex<()>,
    /// Each installation's client, with the key it was made with.
    installations: Mutex<HashMap<u64, (usize, Arc<Octocrab>)>>,
    etags: crate::conditional::EtagCache,
}

impl std::fmt::Debug for GithubApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubApp")
            .field("app_id", &self.credentials.app_id)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl GithubApp {
    /// The App, calling the REST API at `api_url` (`https://api.github.com`, a GitHub Enterprise
    /// Server's `https://HOST/api/v3`, or a fake).
    ///
    /// Must be called inside a Tokio runtime (octocrab starts a background worker).
    pub fn new(credentials: AppCredentials, api_url: &str) -> Result<Self, AppAuthError> {
        let api_url = api_url.trim_end_matches('/').to_string();
        let base_uri: http::Uri =
            api_url
                .parse()
                .map_err(|source| AppAuthError::InvalidApiUrl {
                    url: api_url.clone(),
                    source,
                })?;
        // reqwest carries the headers GitHub asks for: exactly one `User-Agent` (the App's
        // slug) and its media type, each only where a call did not set its own (the raw file
        // contents ask for another). octocrab's own client would add `User-Agent: octocrab`.
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static(GITHUB_JSON),
        );
        let http = reqwest::Client::builder()
            .user_agent(credentials.user_agent())
            .default_headers(headers)
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .build()
            .map_err(|e| AppAuthError::Client(e.to_string()))?;
        // No retry layer: callers own retries (a comment POST retried blindly after a 5xx may
        // post twice, and `Retry-After` must be honoured by a scheduler, not a sleeping request).
        let apps = credentials
            .keys
            .iter()
            .map(|key| {
                OctocrabBuilder::new_empty()
                    .with_service(ReqwestConnector::new(http.clone()))
                    .with_layer(&BaseUriLayer::new(base_uri.clone()))
                    .with_auth(AuthState::App(AppAuth {
                        app_id: AppId(credentials.app_id),
                        key: key.clone(),
                    }))
                    .build()
                    .unwrap_or_else(|never| match never {})
            })
            .collect();
        Ok(GithubApp {
            credentials,
            api_url,
            apps,
            current: AtomicUsize::new(0),
            state: Mutex::new(KeyState::Unknown),
            checking: tokio::sync::Mutex::new(()),
            installations: Mutex::new(HashMap::new()),
            etags: Default::default(),
        })
    }

    /// The App's id.
    pub fn app_id(&self) -> u64 {
        self.credentials.app_id
    }

    /// The `User-Agent` every request of the App sends (see [`AppCredentials::user_agent`]).
    pub fn user_agent(&self) -> String {
        self.credentials.user_agent()
    }

    /// The answers of conditional requests (see [`crate::conditional`]).
    pub fn etags(&self) -> &crate::conditional::EtagCache {
        &self.etags
    }

    /// The REST base URL, without a trailing slash.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// A client authenticated as the App itself (a fresh JWT per request, signed with the key
    /// GitHub accepts), for the `/app/…` endpoints: the App's own description, installations,
    /// webhook deliveries.
    pub fn app_client(&self) -> &Octocrab {
        &self.apps[self.current_key()]
    }

    /// The App client that signs with key `index` (to ask GitHub whether it takes that key).
    pub fn app_client_with(&self, index: usize) -> Option<&Octocrab> {
        self.apps.get(index)
    }

    /// How many private keys the App was given.
    pub fn key_count(&self) -> usize {
        self.apps.len()
    }

    /// The fingerprint GitHub shows for key `index` (see [`AppCredentials::fingerprint`]).
    pub fn key_fingerprint(&self, index: usize) -> &str {
        self.credentials
            .fingerprint(index)
            .unwrap_or("(no fingerprint)")
    }

    /// The key (0-based) every App JWT is signed with now.
    pub fn current_key(&self) -> usize {
        self.current
            .load(Ordering::Relaxed)
            .min(self.apps.len() - 1)
    }

    /// What GitHub last said of the App's keys.
    pub fn key_state(&self) -> KeyState {
        self.lock_state().clone()
    }

    /// Records what GitHub said of the keys; an accepted key signs every JWT from now on (the
    /// installations' clients made with another key are dropped, so their next token is
    /// asked for with it).
    pub fn set_key_state(&self, state: KeyState) {
        if let KeyState::Accepted { index } = state
            && index < self.apps.len()
            && self.current.swap(index, Ordering::Relaxed) != index
        {
            self.lock_installations()
                .retain(|_, (made_with, _)| *made_with == index);
        }
        *self.lock_state() = state;
    }

    /// Held while the keys are checked, so that one check runs at a time.
    pub async fn checking_keys(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.checking.lock().await
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, KeyState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh App JWT signed with the key GitHub accepts, for requests made without octocrab.
    pub fn jwt(&self) -> Result<String, AppAuthError> {
        self.credentials.jwt_with(self.current_key())
    }

    /// The client of installation `id`, holding a token valid for at least
    /// [`TOKEN_REFRESH_MARGIN`] (one is fetched when needed).
    pub async fn installation(&self, id: u64) -> Result<Arc<Octocrab>, AppAuthError> {
        let client = self.cached_client(id)?;
        client
            .installation_token_with_buffer(TOKEN_REFRESH_MARGIN)
            .await
            .map_err(AppAuthError::GitHub)?;
        Ok(client)
    }

    /// A token of installation `id` valid for at least [`TOKEN_REFRESH_MARGIN`], for requests made
    /// without octocrab. Shares the installation client's cache.
    pub async fn installation_token(&self, id: u64) -> Result<String, AppAuthError> {
        use octocrab::secrecy::ExposeSecret;
        let client = self.cached_client(id)?;
        let token = client
            .installation_token_with_buffer(TOKEN_REFRESH_MARGIN)
            .await
            .map_err(AppAuthError::GitHub)?;
        Ok(token.expose_secret().to_string())
    }

    /// Drops installation `id`'s client and token (the App was uninstalled or suspended).
    pub fn forget_installation(&self, id: u64) {
        self.lock_installations().remove(&id);
    }

    /// How many installation clients are cached.
    pub fn cached_installations(&self) -> usize {
        self.lock_installations().len()
    }

    fn cached_client(&self, id: u64) -> Result<Arc<Octocrab>, AppAuthError> {
        let key = self.current_key();
        let mut installations = self.lock_installations();
        if let Some((made_with, client)) = installations.get(&id)
            && *made_with == key
        {
            return Ok(Arc::clone(client));
        }
        let client = Arc::new(
            self.apps[key]
                .installation(InstallationId(id))
                .map_err(AppAuthError::GitHub)?,
        );
        installations.insert(id, (key, Arc::clone(&client)));
        Ok(client)
    }

    fn lock_installations(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, (usize, Arc<Octocrab>)>> {
        // A panic while holding the lock cannot leave the map inconsistent: keep using it.
        self.installations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const TEST_KEY: &str = include_str!("../../../tests/fixtures/github/test-app-key.pem");
    const TEST_PUBLIC_KEY: &str =
        include_str!("../../../tests/fixtures/github/test-app-key.pub.pem");

    fn decode(token: &str) -> AppJwtClaims {
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(TEST_PUBLIC_KEY.as_bytes()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<AppJwtClaims>(token, &key, &validation)
            .unwrap()
            .claims
    }

    #[test]
    fn jwt_claims_follow_githubs_rules() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let creds = AppCredentials::from_pem(4242, TEST_KEY.as_bytes()).unwrap();
        let token = app_jwt(creds.app_id(), &creds.keys[0], now).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        let claims = decode(&token);
        assert_eq!(claims.iss, "4242");
        assert_eq!(claims.iat, 1_800_000_000 - 60);
        assert_eq!(claims.exp, 1_800_000_000 + 540);
        assert!(
            claims.exp - 1_800_000_000 <= 600,
            "GitHub allows at most 10 minutes"
        );
    }

    #[test]
    fn a_key_number_past_the_keys_is_refused_not_replaced() {
        let creds = AppCredentials::from_pem(7, TEST_KEY.as_bytes()).unwrap();
        assert!(creds.jwt_with(0).is_ok());
        let err = creds.jwt_with(1).unwrap_err();
        assert!(
            matches!(err, AppAuthError::NoSuchKey { number: 2, keys: 1 }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the GitHub App has 1 private key(s), so there is no key 2"
        );
    }

    #[test]
    fn fresh_jwt_verifies_with_the_public_key() {
        let creds = AppCredentials::from_pem(7, TEST_KEY.as_bytes()).unwrap();
        let claims = decode(&creds.jwt().unwrap());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(claims.iat <= now && claims.exp > now);
    }

    #[test]
    fn key_with_escaped_newlines_is_accepted() {
        let escaped = TEST_KEY.trim_end().replace('\n', "\\n");
        assert!(AppCredentials::from_pem(1, escaped.as_bytes()).is_ok());
    }

    #[test]
    fn garbage_key_is_refused() {
        let err = AppCredentials::from_pem(1, b"not a key").unwrap_err();
        assert!(matches!(err, AppAuthError::InvalidKey(_)), "{err:?}");
    }

    #[test]
    fn credentials_never_print_the_key() {
        let creds = AppCredentials::from_pem(1, TEST_KEY.as_bytes()).unwrap();
        let shown = format!("{creds:?}");
        assert!(!shown.contains("PRIVATE"), "{shown}");
    }

    fn config(app_id: Option<u64>, key: Option<&str>, path: Option<&str>) -> GithubConfig {
        GithubConfig {
            github_app_id: app_id,
            github_private_key: key.map(crate::domain::secret::Secret::new),
            github_private_key_path: path.map(Into::into),
            ..GithubConfig::default()
        }
    }

    #[test]
    fn from_config_cases() {
        assert!(
            AppCredentials::from_config(&config(None, None, None))
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            AppCredentials::from_config(&config(Some(1), None, None)),
            Err(AppAuthError::MissingPrivateKey)
        ));
        assert!(matches!(
            AppCredentials::from_config(&config(None, Some(TEST_KEY), None)),
            Err(AppAuthError::MissingAppId)
        ));
        let creds = AppCredentials::from_config(&config(Some(9), Some(TEST_KEY), None))
            .unwrap()
            .unwrap();
        assert_eq!(creds.app_id(), 9);
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/github/test-app-key.pem"
        );
        assert!(
            AppCredentials::from_config(&config(Some(9), None, Some(path)))
                .unwrap()
                .is_some()
        );
        assert!(matches!(
            AppCredentials::from_config(&config(Some(9), None, Some("/nonexistent/key.pem"))),
            Err(AppAuthError::KeyFile { .. })
        ));
    }

    #[tokio::test]
    async fn bad_api_url_is_reported() {
        let creds = AppCredentials::from_pem(1, TEST_KEY.as_bytes()).unwrap();
        let err = GithubApp::new(creds, "not a url at all").unwrap_err();
        assert!(matches!(err, AppAuthError::InvalidApiUrl { .. }), "{err:?}");
    }
}
