//! The App's OAuth calls to GitHub, as GitHub documents them for GitHub Apps: the web flow's code
//! exchange (with PKCE), the device flow (`POST /login/device/code`, then the device grant) at
//! `GITHUB_WEB_URL`, and, with the person's token at `GITHUB_API_URL`, `GET /user` (who they are)
//! and `GET /user/installations` with each installation's repositories (what GitHub grants them
//! there). The person's token is used for those calls during sign-in and then dropped; nothing
//! here logs a code or a token.

use std::time::Duration;

use serde::Deserialize;

use crate::domain::secret::Secret;
use crate::raw_calls::RepoPermission;

/// How long one call to GitHub may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a call did not give what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// GitHub answered with an OAuth error code (`bad_verification_code`,
    /// `authorization_pending`, `slow_down`, `expired_token`, `access_denied`, …).
    #[error("GitHub refused: {code}")]
    Refused {
        code: String,
        /// `slow_down`: the new least interval between polls, in seconds.
        interval: Option<u64>,
    },
    /// GitHub could not be reached, or its answer could not be read.
    #[error("GitHub is not answering properly: {0}")]
    Unavailable(String),
}

/// The App's OAuth client and where GitHub is.
pub struct OAuthClient {
    http: reqwest::Client,
    pub client_id: String,
    client_secret: Secret,
    web_url: String,
    api_url: String,
}

/// What `POST /login/device/code` returns.
#[derive(Clone, Debug, Deserialize)]
pub struct DeviceCode {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub expires_in: u64,
    pub interval: u64,
}

/// The person GitHub says a token belongs to.
#[derive(Clone, Debug, Deserialize)]
pub struct GithubUser {
    pub login: String,
    pub id: i64,
}

/// Items per page of the listings read with the person's token (GitHub's most).
pub const PER_PAGE: usize = 100;

/// A listing read with the person's token, and whether it was cut at the page limit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listed<T> {
    pub items: Vec<T>,
    /// Pages read (requests made).
    pub pages: usize,
    /// More pages were left unread.
    pub cut: bool,
}

#[derive(Deserialize)]
struct InstallationsPage {
    installations: Vec<IdOnly>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: i64,
}

#[derive(Deserialize)]
struct ReposPage {
    repositories: Vec<ListedRepo>,
}

#[derive(Deserialize)]
struct ListedRepo {
    full_name: String,
    #[serde(default)]
    permissions: Option<ListedPermissions>,
}

/// GitHub's `permissions` of a repository listed to a person.
#[derive(Deserialize)]
struct ListedPermissions {
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    maintain: bool,
    #[serde(default)]
    push: bool,
    #[serde(default)]
    triage: bool,
    #[serde(default)]
    pull: bool,
}

impl ListedPermissions {
    fn strongest(&self) -> RepoPermission {
        if self.admin {
            RepoPermission::Admin
        } else if self.maintain {
            RepoPermission::Maintain
        } else if self.push {
            RepoPermission::Write
        } else if self.triage {
            RepoPermission::Triage
        } else if self.pull {
            RepoPermission::Read
        } else {
            RepoPermission::None
        }
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
    interval: Option<u64>,
}

impl OAuthClient {
    pub fn new(
        client_id: &str,
        client_secret: Secret,
        web_url: &str,
        api_url: &str,
    ) -> Result<OAuthClient, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent(crate::app_auth::product_user_agent())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(CALL_TIMEOUT)
            .build()?;
        Ok(OAuthClient {
            http,
            client_id: client_id.to_string(),
            client_secret,
            web_url: web_url.trim_end_matches('/').to_string(),
            api_url: api_url.trim_end_matches('/').to_string(),
        })
    }

    /// GitHub's page where a person authorizes the App (`/login/oauth/authorize`).
    pub fn authorize_url(&self, redirect_uri: &str, state: &str, challenge: &str) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        format!("{}/login/oauth/authorize?{query}", self.web_url)
    }

    async fn post_form<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        pairs: &[(&str, &str)],
    ) -> Result<T, OAuthError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let res = self
            .http
            .post(format!("{}{path}", self.web_url))
            .header("Accept", "application/json")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| OAuthError::Unavailable(e.without_url().to_string()))?;
        let status = res.status();
        let text = res
            .text()
            .await
            .map_err(|e| OAuthError::Unavailable(e.without_url().to_string()))?;
        if let Ok(TokenAnswer {
            error: Some(code),
            interval,
            ..
        }) = serde_json::from_str::<TokenAnswer>(&text)
        {
            return Err(OAuthError::Refused {
                code: short_code(&code),
                interval,
            });
        }
        if !status.is_success() {
            return Err(OAuthError::Unavailable(format!("{path} answered {status}")));
        }
        serde_json::from_str(&text)
            .map_err(|_| OAuthError::Unavailable(format!("unreadable answer from {path}")))
    }

    /// Exchanges a web sign-in's code (with its PKCE verifier) for the person's token.
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<Secret, OAuthError> {
        let answer: TokenAnswer = self
            .post_form(
                "/login/oauth/access_token",
                &[
                    ("client_id", &self.client_id),
                    ("client_secret", self.client_secret.expose()),
                    ("code", code),
                    ("redirect_uri", redirect_uri),
                    ("code_verifier", verifier),
                ],
            )
            .await?;
        token_of(answer)
    }

    /// Starts a device flow.
    pub async fn device_code(&self) -> Result<DeviceCode, OAuthError> {
        self.post_form("/login/device/code", &[("client_id", &self.client_id)])
            .await
    }

    /// Polls a device flow once: the person's token once they approved.
    pub async fn device_token(&self, device_code: &str) -> Result<Secret, OAuthError> {
        let answer: TokenAnswer = self
            .post_form(
                "/login/oauth/access_token",
                &[
                    ("client_id", &self.client_id),
                    ("device_code", device_code),
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ],
            )
            .await?;
        token_of(answer)
    }

    /// `GET {path}?per_page=100&page=N` with the person's token, pages 1 to `max_pages`, until a
    /// page is not full.
    async fn user_pages<P: serde::de::DeserializeOwned, T>(
        &self,
        token: &Secret,
        path: &str,
        max_pages: usize,
        items_of: impl Fn(P) -> Vec<T>,
    ) -> Result<Listed<T>, OAuthError> {
        let mut listed = Listed {
            items: Vec::new(),
            pages: 0,
            cut: false,
        };
        for page in 1..=max_pages.max(1) {
            let query = format!("?per_page={PER_PAGE}&page={page}");
            let items = items_of(self.user_get::<P>(token, path, &query).await?);
            let full = items.len() >= PER_PAGE;
            listed.pages = page;
            listed.items.extend(items);
            if !full {
                return Ok(listed);
            }
        }
        listed.cut = true;
        Ok(listed)
    }

    /// `GET /user/installations`: the App's installations the person can see, by id.
    pub async fn user_installations(
        &self,
        token: &Secret,
        max_pages: usize,
    ) -> Result<Listed<i64>, OAuthError> {
        self.user_pages(
            token,
            "/user/installations",
            max_pages,
            |p: InstallationsPage| p.installations.into_iter().map(|i| i.id).collect(),
        )
        .await
    }

    /// `GET /user/installations/{id}/repositories`: that installation's repositories the person
    /// can see, with the strongest permission GitHub grants them on each.
    pub async fn user_installation_repos(
        &self,
        token: &Secret,
        installation: i64,
        max_pages: usize,
    ) -> Result<Listed<(String, RepoPermission)>, OAuthError> {
        let path = format!("/user/installations/{installation}/repositories");
        self.user_pages(token, &path, max_pages, |p: ReposPage| {
            p.repositories
                .into_iter()
                .map(|r| {
                    let permission = r
                        .permissions
                        .as_ref()
                        .map_or(RepoPermission::None, ListedPermissions::strongest);
                    (r.full_name, permission)
                })
                .collect()
        })
        .await
    }

    /// `GET /user` with the person's token: who they are.
    pub async fn user(&self, token: &Secret) -> Result<GithubUser, OAuthError> {
        self.user_get(token, "/user", "").await
    }

    /// `GET {path}{query}` at the REST API with the person's token, read as `T`; anything but a
    /// readable success is [`OAuthError::Unavailable`], naming the path.
    async fn user_get<T: serde::de::DeserializeOwned>(
        &self,
        token: &Secret,
        path: &str,
        query: &str,
    ) -> Result<T, OAuthError> {
        let res = self
            .http
            .get(format!("{}{path}{query}", self.api_url))
            .bearer_auth(token.expose())
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .send()
            .await
            .map_err(|e| OAuthError::Unavailable(e.without_url().to_string()))?;
        let status = res.status();
        if !status.is_success() {
            return Err(OAuthError::Unavailable(format!("{path} answered {status}")));
        }
        res.json::<T>()
            .await
            .map_err(|_| OAuthError::Unavailable(format!("unreadable answer from {path}")))
    }
}

fn token_of(answer: TokenAnswer) -> Result<Secret, OAuthError> {
    match answer.access_token.filter(|t| !t.is_empty()) {
        Some(token) => Ok(Secret::new(token)),
        None => Err(OAuthError::Unavailable(
            "no access token in the answer".into(),
        )),
    }
}

/// An OAuth error code as GitHub sends it, kept short and plain (it is shown to clients).
fn short_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(40)
        .collect()
}

/// PKCE: the `code_challenge` of a verifier (`S256`: base64url of its SHA-256, unpadded).
pub fn code_challenge(verifier: &str) -> String {
    use sha2::{Digest, Sha256};
    base64url(&Sha256::digest(verifier.as_bytes()))
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
    }

    #[test]
    fn the_authorize_url_carries_the_flow() {
        let c = OAuthClient::new(
            "Iv1.x",
            Secret::new("s"),
            "https://github.com/",
            "https://api.github.com",
        )
        .unwrap();
        let url = c.authorize_url("https://pool.example/auth/github/callback", "st", "ch");
        assert!(url.starts_with("https://github.com/login/oauth/authorize?client_id=Iv1.x&"));
        assert!(url.contains("redirect_uri=https%3A%2F%2Fpool.example%2Fauth%2Fgithub%2Fcallback"));
        assert!(url.contains("&state=st&code_challenge=ch&code_challenge_method=S256"));
        assert!(!url.contains("client_secret"));
    }
}
