//! GitHub's sign-in side for the fake: the App's OAuth client (client id, secret, callback URLs),
//! who is signed in to GitHub in the browser, authorization codes (PKCE, single use, 10 minutes),
//! device codes (15 minutes, a polling interval, 50 browser submissions an hour), and the user
//! access tokens (`ghu_…`) `GET /user` accepts — all on a clock tests can move
//! ([`FakeGithub::advance_clock`]).
//!
//! The routes live in `http/oauth.rs`, on the fake's web origin ([`FakeGithub::web_url`]), which
//! is not its API origin, as `github.com` is not `api.github.com`.
//!
//! A server under test is configured with `GITHUB_API_URL` = [`FakeGithub::url`],
//! `GITHUB_WEB_URL` = [`FakeGithub::web_url`], `GITHUB_CLIENT_ID` = [`TEST_CLIENT_ID`] and
//! `GITHUB_CLIENT_SECRET` = [`TEST_CLIENT_SECRET`]; the test registers the server's callback with
//! `fake.set_callback_urls(&[&format!("{public_url}/auth/github/callback")])`, picks the person at
//! the browser with `fake.sign_in_browser("alice")`, and either follows the server's redirect in a
//! real browser or hands its `Location` to [`FakeGithub::visit_authorize`]. For the device flow,
//! `fake.approve_device(&user_code, "alice")` plays the person at `/login/device`, and
//! `fake.advance_clock(TimeDelta::seconds(5))` lets the next poll through.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng as _;

use super::FakeGithub;

/// The test App's OAuth client id (the manifest conversion and `GET /app` give the same).
pub const TEST_CLIENT_ID: &str = "Iv1.testclient";
/// The test App's OAuth client secret (the manifest conversion gives the same).
pub const TEST_CLIENT_SECRET: &str = "test-client-secret";
/// An authorization code works once, for this long.
pub const CODE_LIFETIME: TimeDelta = TimeDelta::minutes(10);
/// A device code and its user code work for this long (`expires_in`: 900 s).
pub const DEVICE_CODE_SECONDS: i64 = 900;
/// The device flow's first polling interval (`interval`); each `slow_down` adds 5 s.
pub const DEVICE_INTERVAL_SECONDS: i64 = 5;
/// GitHub's limit: this many user-code submissions in the browser per application and hour.
pub const DEVICE_SUBMISSIONS_PER_HOUR: usize = 50;
/// An expiring user access token lives 8 hours (`expires_in`).
pub const USER_TOKEN_SECONDS: i64 = 28_800;
/// Its refresh token lives about 6 months (`refresh_token_expires_in`).
pub const REFRESH_TOKEN_SECONDS: i64 = 15_811_200;

/// An authorization code the browser was sent back with.
#[derive(Debug, Clone)]
pub struct AuthCode {
    pub login: String,
    /// The `redirect_uri` the authorize request named, if it named one.
    pub redirect_uri: Option<String>,
    /// The PKCE `code_challenge` (S256) the authorize request carried, if any.
    pub challenge: Option<String>,
    pub issued_at: DateTime<Utc>,
    pub used: bool,
}

/// Where a device code stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceState {
    Pending,
    Approved(String),
    Denied,
    /// A token was handed out for it: the device code works no more.
    Redeemed,
}

#[derive(Debug, Clone)]
pub struct DeviceGrant {
    pub device_code: String,
    pub user_code: String,
    pub issued_at: DateTime<Utc>,
    /// The current minimum polling interval, in seconds.
    pub interval: i64,
    pub last_poll: Option<DateTime<Utc>>,
    pub state: DeviceState,
}

impl DeviceGrant {
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.issued_at + TimeDelta::seconds(DEVICE_CODE_SECONDS)
    }
}

#[derive(Debug, Clone)]
pub struct UserToken {
    pub login: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

/// Why [`FakeGithub::approve_device`] or [`FakeGithub::deny_device`] did not take a user code,
/// as GitHub's device page would say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceError {
    /// No such user code (or one already approved, denied or used).
    UnknownCode,
    /// The user code is older than 15 minutes.
    Expired,
    /// More than [`DEVICE_SUBMISSIONS_PER_HOUR`] submissions for this App within the hour.
    RateLimited,
}

/// The App's OAuth side of GitHub.
#[derive(Debug)]
pub struct OAuthState {
    pub client_id: String,
    pub client_secret: String,
    /// The App's "Callback URL"s: a `redirect_uri` must be one of them exactly, or fall under one
    /// whose wildcard matching is on ([`OAuthState::registered`]).
    pub callback_urls: Vec<String>,
    /// The callback URLs with wildcard matching on (off for Apps created since August 2026).
    pub wildcard_callbacks: Vec<String>,
    pub device_flow: bool,
    /// The first polling interval of new device codes, in seconds.
    pub device_interval: i64,
    /// Whether user access tokens expire (GitHub's default for Apps: they do, after 8 hours).
    pub expiring_tokens: bool,
    /// Who is signed in to GitHub in the test's browser (a `dotcom_user` cookie overrides it).
    pub browser_user: Option<String>,
    /// Whether that person clicks "Authorize" (else "Cancel").
    pub approves: bool,
    pub codes: HashMap<String, AuthCode>,
    pub devices: Vec<DeviceGrant>,
    /// When each user code was submitted in the browser (for the hourly limit).
    pub submissions: Vec<DateTime<Utc>>,
    pub user_tokens: HashMap<String, UserToken>,
    /// Refresh token → (login, expiry).
    pub refresh_tokens: HashMap<String, (String, DateTime<Utc>)>,
    /// How far the fake's clock is ahead of the real one.
    pub clock_offset: TimeDelta,
}

impl Default for OAuthState {
    fn default() -> Self {
        OAuthState {
            client_id: TEST_CLIENT_ID.into(),
            client_secret: TEST_CLIENT_SECRET.into(),
            callback_urls: Vec::new(),
            wildcard_callbacks: Vec::new(),
            device_flow: true,
            device_interval: DEVICE_INTERVAL_SECONDS,
            expiring_tokens: true,
            browser_user: None,
            approves: true,
            codes: HashMap::new(),
            devices: Vec::new(),
            submissions: Vec::new(),
            user_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            clock_offset: TimeDelta::zero(),
        }
    }
}

/// `len` random characters from `alphabet`.
pub fn random(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

const HEX: &[u8] = b"0123456789abcdef";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// User codes use letters that cannot be mistaken for one another (RFC 8628's base-20 set).
const USER_CODE: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

impl OAuthState {
    /// The fake's clock: the real time plus what tests moved it by.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    /// Whether `redirect_uri` is one the App registered: one of its callback URLs exactly, or,
    /// for a callback with wildcard matching on, the same scheme and port, the same host or a
    /// subdomain of it, the same path or a subdirectory of it, and no query.
    pub fn registered(&self, redirect_uri: &str) -> bool {
        if self.callback_urls.iter().any(|c| c == redirect_uri) {
            return true;
        }
        let Ok(wanted) = url::Url::parse(redirect_uri) else {
            return false;
        };
        self.wildcard_callbacks.iter().any(|callback| {
            let Ok(callback) = url::Url::parse(callback) else {
                return false;
            };
            let (Some(host), Some(wanted_host)) = (callback.host_str(), wanted.host_str()) else {
                return false;
            };
            let path = callback.path().trim_end_matches('/');
            wanted.scheme() == callback.scheme()
                && wanted.port_or_known_default() == callback.port_or_known_default()
                && (wanted_host == host || wanted_host.ends_with(&format!(".{host}")))
                && (wanted.path() == callback.path()
                    || wanted.path().starts_with(&format!("{path}/")))
                && wanted.query().is_none()
                && wanted.fragment().is_none()
        })
    }

    /// A new authorization code (20 hexadecimal characters, as GitHub's).
    pub fn new_code(&mut self, code: AuthCode) -> String {
        let value = random(HEX, 20);
        self.codes.insert(value.clone(), code);
        value
    }

    /// A new device grant; returns it.
    pub fn new_device(&mut self) -> DeviceGrant {
        let grant = DeviceGrant {
            device_code: random(HEX, 40),
            user_code: format!("{}-{}", random(USER_CODE, 4), random(USER_CODE, 4)),
            issued_at: self.now(),
            interval: self.device_interval,
            last_poll: None,
            state: DeviceState::Pending,
        };
        self.devices.push(grant.clone());
        grant
    }

    /// Issues a user access token for `login`: the fields of GitHub's answer.
    pub fn issue_user_token(&mut self, login: &str) -> Vec<(&'static str, serde_json::Value)> {
        use serde_json::json;
        let token = format!("ghu_{}", random(ALNUM, 36));
        let now = self.now();
        let expires_at = self
            .expiring_tokens
            .then(|| now + TimeDelta::seconds(USER_TOKEN_SECONDS));
        self.user_tokens.insert(
            token.clone(),
            UserToken {
                login: login.to_string(),
                expires_at,
                revoked: false,
            },
        );
        let mut fields = vec![("access_token", json!(token))];
        if self.expiring_tokens {
            let refresh = format!("ghr_{}", random(ALNUM, 76));
            self.refresh_tokens.insert(
                refresh.clone(),
                (
                    login.to_string(),
                    now + TimeDelta::seconds(REFRESH_TOKEN_SECONDS),
                ),
            );
            fields.push(("expires_in", json!(USER_TOKEN_SECONDS)));
            fields.push(("refresh_token", json!(refresh)));
            fields.push(("refresh_token_expires_in", json!(REFRESH_TOKEN_SECONDS)));
        }
        fields.push(("token_type", json!("bearer")));
        fields.push(("scope", json!("")));
        fields
    }

    /// The person a user access token stands for, or why it is refused.
    pub fn user_of(&self, token: &str) -> Result<String, String> {
        let Some(t) = self.user_tokens.get(token) else {
            return Err("unknown user access token".into());
        };
        if t.revoked {
            return Err("user access token revoked".into());
        }
        match t.expires_at {
            Some(at) if at <= self.now() => Err("user access token expired".into()),
            _ => Ok(t.login.clone()),
        }
    }

    /// Every user access token and refresh token of `login` stops working.
    pub fn revoke_login(&mut self, login: &str) {
        for token in self.user_tokens.values_mut() {
            if token.login.eq_ignore_ascii_case(login) {
                token.revoked = true;
            }
        }
        self.refresh_tokens
            .retain(|_, (who, _)| !who.eq_ignore_ascii_case(login));
    }

    /// A user code submitted in the browser: counted against the hourly limit, then checked.
    fn submit(&mut self, user_code: &str) -> Result<&mut DeviceGrant, DeviceError> {
        let now = self.now();
        self.submissions
            .retain(|at| now.signed_duration_since(*at) < TimeDelta::hours(1));
        if self.submissions.len() >= DEVICE_SUBMISSIONS_PER_HOUR {
            return Err(DeviceError::RateLimited);
        }
        self.submissions.push(now);
        let grant = self
            .devices
            .iter_mut()
            .find(|d| d.user_code.eq_ignore_ascii_case(user_code.trim()))
            .filter(|d| d.state == DeviceState::Pending)
            .ok_or(DeviceError::UnknownCode)?;
        if grant.expired(now) {
            return Err(DeviceError::Expired);
        }
        Ok(grant)
    }
}

/// The hooks tests use to play the person at the browser and to set up the App's OAuth client.
impl FakeGithub {
    /// The fake's web origin (`GITHUB_WEB_URL`): `/login/oauth/…` and `/login/device/…` live
    /// there, and only there (the API origin, [`FakeGithub::url`], answers them 404).
    pub fn web_url(&self) -> &str {
        &self.shared.web
    }

    /// The App's OAuth client id (`GITHUB_CLIENT_ID`).
    pub fn client_id(&self) -> String {
        self.model().oauth.client_id.clone()
    }

    /// The App's OAuth client secret (`GITHUB_CLIENT_SECRET`).
    pub fn client_secret(&self) -> String {
        self.model().oauth.client_secret.clone()
    }

    /// Gives the App other OAuth client credentials (a rotated secret, say).
    pub fn set_client(&self, client_id: &str, client_secret: &str) {
        let mut m = self.model();
        m.oauth.client_id = client_id.into();
        m.oauth.client_secret = client_secret.into();
    }

    /// The App's callback URLs (GitHub allows up to 10; the first is the default).
    /// Wildcard matching stays off for them, as for an App registered today.
    pub fn set_callback_urls(&self, urls: &[&str]) {
        assert!(urls.len() <= 10, "GitHub allows at most 10 callback URLs");
        let mut m = self.model();
        m.oauth.callback_urls = urls.iter().map(|u| u.to_string()).collect();
        m.oauth.wildcard_callbacks.clear();
    }

    /// Turns wildcard matching on or off for one callback URL (on for Apps registered before
    /// August 2026): then any subdomain or subdirectory of it is accepted as a `redirect_uri`.
    pub fn set_callback_wildcard(&self, callback_url: &str, enabled: bool) {
        let mut m = self.model();
        assert!(
            m.oauth.callback_urls.iter().any(|c| c == callback_url),
            "not a callback URL of the App: {callback_url}"
        );
        m.oauth.wildcard_callbacks.retain(|c| c != callback_url);
        if enabled {
            m.oauth.wildcard_callbacks.push(callback_url.to_string());
        }
    }

    /// `login` is signed in to GitHub in the browser from now on (and authorizes the App when
    /// asked, unless [`FakeGithub::set_browser_approves`] says otherwise). A request carrying a
    /// `dotcom_user=LOGIN` cookie is that person instead.
    pub fn sign_in_browser(&self, login: &str) {
        let mut m = self.model();
        m.user_id(login);
        m.oauth.browser_user = Some(login.to_string());
    }

    /// The browser opens `authorize_url` (a `{web_url}/login/oauth/authorize?…` address, as the
    /// App under test redirects to it) and comes back: `Ok` with the callback address GitHub
    /// redirects to (carrying `code` and `state`, or `error`), `Err` with the status of the page
    /// GitHub shows instead (an error page, or the sign-in page when nobody is signed in).
    pub async fn visit_authorize(&self, authorize_url: &str) -> Result<String, u16> {
        assert!(
            authorize_url.starts_with(&format!("{}/login/oauth/authorize", self.web_url())),
            "not the fake's authorize page: {authorize_url}"
        );
        let answer = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(authorize_url)
            .send()
            .await
            .expect("the fake answers");
        match answer.headers().get(reqwest::header::LOCATION) {
            Some(location) if answer.status() == 302 => {
                Ok(location.to_str().expect("ASCII").to_string())
            }
            _ => Err(answer.status().as_u16()),
        }
    }

    /// Nobody is signed in to GitHub in the browser: the authorize page asks to sign in.
    pub fn sign_out_browser(&self) {
        self.model().oauth.browser_user = None;
    }

    /// The device flow's first polling interval in seconds (GitHub's: 5), so that a test running
    /// a real client in real time need not wait 5 s between polls.
    pub fn set_device_interval(&self, seconds: i64) {
        self.model().oauth.device_interval = seconds;
    }

    /// Whether the person at the browser clicks "Authorize" (true) or "Cancel" (false).
    pub fn set_browser_approves(&self, approves: bool) {
        self.model().oauth.approves = approves;
    }

    /// The App's "Enable Device Flow" setting (on by default here).
    pub fn set_device_flow(&self, enabled: bool) {
        self.model().oauth.device_flow = enabled;
    }

    /// The App's "User-to-server token expiration" setting (on by default, as GitHub's): off,
    /// answers carry no `expires_in` or `refresh_token` and tokens do not expire.
    pub fn set_expiring_user_tokens(&self, enabled: bool) {
        self.model().oauth.expiring_tokens = enabled;
    }

    /// `login` enters `user_code` at `/login/device` and authorizes the App.
    pub fn approve_device(&self, user_code: &str, login: &str) -> Result<(), DeviceError> {
        let mut m = self.model();
        m.user_id(login);
        let grant = m.oauth.submit(user_code)?;
        grant.state = DeviceState::Approved(login.to_string());
        Ok(())
    }

    /// The person enters `user_code` and clicks "Cancel".
    pub fn deny_device(&self, user_code: &str) -> Result<(), DeviceError> {
        let mut m = self.model();
        m.oauth.submit(user_code)?.state = DeviceState::Denied;
        Ok(())
    }

    /// The user codes handed out so far, oldest first.
    pub fn user_codes(&self) -> Vec<String> {
        let m = self.model();
        m.oauth
            .devices
            .iter()
            .map(|d| d.user_code.clone())
            .collect()
    }

    /// A user access token for `login`, as if they had signed in (for tests of `GET /user`).
    pub fn issue_user_token(&self, login: &str) -> String {
        let mut m = self.model();
        m.user_id(login);
        let fields = m.oauth.issue_user_token(login);
        fields[0].1.as_str().expect("access_token").to_string()
    }

    /// The user access tokens handed out to `login` so far (to look for them where they must
    /// not be).
    pub fn user_tokens_of(&self, login: &str) -> Vec<String> {
        let m = self.model();
        m.oauth
            .user_tokens
            .iter()
            .filter(|(_, t)| t.login.eq_ignore_ascii_case(login))
            .map(|(token, _)| token.clone())
            .collect()
    }

    /// How many user access tokens were handed out so far (revoked ones included).
    pub fn issued_user_tokens(&self) -> usize {
        self.model().oauth.user_tokens.len()
    }

    /// `login` revokes the App's authorization: their user access tokens stop working (401).
    pub fn revoke_user_tokens(&self, login: &str) {
        self.model().oauth.revoke_login(login);
    }

    /// Moves the fake's clock forward (codes, device codes and user tokens expire by it).
    pub fn advance_clock(&self, by: TimeDelta) {
        self.model().oauth.clock_offset += by;
    }
}
