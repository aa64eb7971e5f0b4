//! The GitHub App manifest (`app-manifest.yml` at the repository root) and what GitHub hands back
//! for it.
//!
//! Registering the App takes three steps, as with Probot: the person is sent to GitHub with the
//! manifest ([`manifest_for`], [`creation_url`]); GitHub redirects back with a one-time code; the
//! code is exchanged at `POST /app-manifests/{code}/conversions` ([`convert`]) for the App's id,
//! private key and webhook secret, which are saved ([`ManifestConversion::env_file_lines`]).

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

/// The manifest as shipped.
pub const MANIFEST_YAML: &str = include_str!("../../../app-manifest.yml");

/// Where GitHub sends webhooks, below the public URL.
pub const WEBHOOK_PATH: &str = "/github/webhook";

/// Where GitHub redirects after the App was created, below the public URL.
pub const SETUP_CALLBACK_PATH: &str = "/github/setup/callback";

/// Where GitHub sends a maintainer back after signing in, below the public URL.
pub const SIGNIN_CALLBACK_PATH: &str = "/auth/github/callback";

/// What can go wrong while registering the App.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The code in GitHub's redirect has characters a code never has.
    #[error("the code from GitHub's redirect is not valid")]
    InvalidCode,
    /// GitHub could not be reached.
    #[error("could not reach GitHub to finish creating the App")]
    Network(#[source] reqwest::Error),
    /// GitHub refused the code (unknown, already used, or older than one hour).
    #[error("GitHub refused the code ({status}); start the setup again")]
    Refused { status: u16 },
    /// GitHub's answer could not be read.
    #[error("GitHub's answer to the manifest conversion could not be read")]
    BadResponse(#[source] reqwest::Error),
}

/// The manifest to send to GitHub for a service reachable at `public_url`, as JSON.
pub fn manifest_for(public_url: &str) -> Value {
    let base = public_url.trim_end_matches('/');
    let mut manifest: Value =
        serde_yaml_ng::from_str(MANIFEST_YAML).expect("app-manifest.yml is valid YAML");
    manifest["url"] = Value::String(format!("{base}/"));
    manifest["hook_attributes"]["url"] = Value::String(format!("{base}{WEBHOOK_PATH}"));
    manifest["redirect_url"] = Value::String(format!("{base}{SETUP_CALLBACK_PATH}"));
    manifest["callback_urls"] = serde_json::json!([format!("{base}{SIGNIN_CALLBACK_PATH}")]);
    manifest
}

/// The GitHub page that creates an App from a posted manifest: for the signed-in person, or for
/// `organization`. `web_url` is `https://github.com` (or a GitHub Enterprise Server's address);
/// `state` comes back with the redirect and must be checked there.
pub fn creation_url(web_url: &str, organization: Option<&str>, state: &str) -> String {
    let web = web_url.trim_end_matches('/');
    match organization {
        Some(org) => format!("{web}/organizations/{org}/settings/apps/new?state={state}"),
        None => format!("{web}/settings/apps/new?state={state}"),
    }
}

/// What GitHub returns for a manifest code: the new App and its secrets (which `Debug` never
/// shows).
#[derive(Clone, Deserialize)]
pub struct ManifestConversion {
    pub id: u64,
    /// Optional in GitHub's description of the answer: nothing depends on it.
    #[serde(default)]
    pub slug: Option<String>,
    pub name: String,
    pub html_url: String,
    pem: String,
    webhook_secret: Option<String>,
    pub client_id: Option<String>,
    /// The App's OAuth client secret: maintainers sign in with GitHub through it.
    #[serde(default)]
    client_secret: Option<String>,
}

impl fmt::Debug for ManifestConversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManifestConversion")
            .field("id", &self.id)
            .field("slug", &self.slug)
            .field("html_url", &self.html_url)
            .finish_non_exhaustive()
    }
}

impl ManifestConversion {
    /// The App's private key (PEM).
    pub fn private_key_pem(&self) -> &str {
        &self.pem
    }

    /// The webhook secret GitHub generated, if it sent one.
    pub fn webhook_secret(&self) -> Option<&str> {
        self.webhook_secret.as_deref()
    }

    /// The page where the App is installed on accounts and repositories.
    pub fn install_url(&self) -> String {
        format!("{}/installations/new", self.html_url.trim_end_matches('/'))
    }

    /// What the database keeps of the new App, so that every replica of a pool on PostgreSQL
    /// uses it (see [`crate::setup::SavedApp`]).
    pub fn saved_app(&self) -> crate::setup::SavedApp {
        crate::setup::SavedApp {
            app_id: self.id,
            private_key: self.pem.clone(),
            webhook_secret: self.webhook_secret.clone(),
            slug: self.slug.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
        }
    }

    /// `GITHUB_APP_ID`, `GITHUB_PRIVATE_KEY`, `GITHUB_WEBHOOK_SECRET`, `GITHUB_APP_SLUG` and the
    /// OAuth client (`GITHUB_CLIENT_ID`, `GITHUB_CLIENT_SECRET`) as lines of an environment file (the key on one line, with `\n` escapes inside double quotes).
    pub fn env_file_lines(&self) -> String {
        let key = self.pem.trim_end().replace('\n', "\\n");
        let mut lines = format!(
            "GITHUB_APP_ID={}\nGITHUB_PRIVATE_KEY=\"{key}\\n\"\n",
            self.id
        );
        if let Some(secret) = self.webhook_secret() {
            lines.push_str(&format!("GITHUB_WEBHOOK_SECRET={secret}\n"));
        }
        let slug = self.slug.as_deref().filter(|s| {
            s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
        if let Some(slug) = slug.filter(|s| !s.is_empty()) {
            lines.push_str(&format!("GITHUB_APP_SLUG={slug}\n"));
        }
        // Sign-in with GitHub needs both; GitHub's ids and secrets are plain ASCII words.
        let word = |s: &&str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        };
        if let (Some(id), Some(secret)) = (
            self.client_id.as_deref().filter(word),
            self.client_secret.as_deref().filter(word),
        ) {
            lines.push_str(&format!(
                "GITHUB_CLIENT_ID={id}\nGITHUB_CLIENT_SECRET={secret}\n"
            ));
        }
        lines
    }
}

/// Exchanges the code from GitHub's redirect for the App's credentials (no authentication is
/// needed; the code is single-use and expires after an hour). `api_url` is `GITHUB_API_URL`.
pub async fn convert(
    http: &reqwest::Client,
    api_url: &str,
    code: &str,
) -> Result<ManifestConversion, ManifestError> {
    let well_formed = !code.is_empty()
        && code.len() <= 200
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !well_formed {
        return Err(ManifestError::InvalidCode);
    }
    let url = format!(
        "{}/app-manifests/{code}/conversions",
        api_url.trim_end_matches('/')
    );
    let response = http
        .post(url)
        .header("accept", "application/vnd.github+json")
        .header("user-agent", crate::app_auth::product_user_agent())
        .send()
        .await
        .map_err(ManifestError::Network)?;
    if !response.status().is_success() {
        return Err(ManifestError::Refused {
            status: response.status().as_u16(),
        });
    }
    response.json().await.map_err(ManifestError::BadResponse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn manifest_asks_for_least_privilege_and_our_events() {
        let m = manifest_for("https://pool.example.net/");
        assert_eq!(
            m["default_permissions"],
            json!({
                "issues": "write",
                "pull_requests": "read",
                "contents": "read",
                "metadata": "read",
                "checks": "read",
                "statuses": "read",
            })
        );
        let handled: Vec<&str> = crate::webhook::subscribed_events().collect();
        assert_eq!(m["default_events"], json!(handled));
        assert_eq!(m["public"], json!(false));
        assert_eq!(m["hook_attributes"]["active"], json!(true));
    }

    #[test]
    fn manifest_points_at_this_service() {
        let m = manifest_for("https://pool.example.net/");
        assert_eq!(m["url"], "https://pool.example.net/");
        assert_eq!(
            m["hook_attributes"]["url"],
            "https://pool.example.net/github/webhook"
        );
        assert_eq!(
            m["redirect_url"],
            "https://pool.example.net/github/setup/callback"
        );
        assert_eq!(
            m["callback_urls"],
            json!(["https://pool.example.net/auth/github/callback"])
        );
    }

    #[test]
    fn creation_urls() {
        assert_eq!(
            creation_url("https://github.com", None, "s1"),
            "https://github.com/settings/apps/new?state=s1"
        );
        assert_eq!(
            creation_url("https://github.com/", Some("octo-org"), "s1"),
            "https://github.com/organizations/octo-org/settings/apps/new?state=s1"
        );
    }

    fn conversion() -> ManifestConversion {
        let pem = include_str!("../../../tests/fixtures/github/test-app-key.pem");
        serde_json::from_value(json!({
            "id": 4242,
            "slug": "owp-pool",
            "name": "OWP Pool",
            "html_url": "https://github.com/apps/owp-pool",
            "pem": pem,
            "webhook_secret": "whsec",
            "client_id": "Iv1.x",
            "client_secret": "0123abcd",
            "owner": {"login": "octo-org"},
        }))
        .unwrap()
    }

    #[test]
    fn a_conversion_without_slug_is_read() {
        let pem = include_str!("../../../tests/fixtures/github/test-app-key.pem");
        let c: ManifestConversion = serde_json::from_value(json!({
            "id": 4242,
            "name": "OWP Pool",
            "html_url": "https://github.com/apps/owp-pool",
            "pem": pem,
            "webhook_secret": "whsec",
        }))
        .unwrap();
        assert_eq!(c.slug, None);
        assert!(c.env_file_lines().starts_with("GITHUB_APP_ID=4242\n"));
    }

    #[test]
    fn env_file_lines_round_trip_through_dotenv() {
        let c = conversion();
        let lines = c.env_file_lines();
        assert_eq!(lines.lines().count(), 6, "{lines}");
        let vars: Vec<(String, String)> = dotenvy::from_read_iter(lines.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        let get = |k: &str| vars.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("GITHUB_APP_ID"), "4242");
        assert_eq!(get("GITHUB_WEBHOOK_SECRET"), "whsec");
        assert_eq!(get("GITHUB_APP_SLUG"), "owp-pool");
        assert_eq!(get("GITHUB_CLIENT_ID"), "Iv1.x");
        assert_eq!(get("GITHUB_CLIENT_SECRET"), "0123abcd");
        let key = get("GITHUB_PRIVATE_KEY");
        assert_eq!(key.trim_end(), c.private_key_pem().trim_end());
        assert!(crate::app_auth::AppCredentials::from_pem(4242, key.as_bytes()).is_ok());
    }

    #[test]
    fn conversion_never_prints_secrets() {
        let shown = format!("{:?}", conversion());
        assert!(
            !shown.contains("PRIVATE") && !shown.contains("whsec") && !shown.contains("0123abcd"),
            "{shown}"
        );
        assert_eq!(
            conversion().install_url(),
            "https://github.com/apps/owp-pool/installations/new"
        );
    }

    #[tokio::test]
    async fn malformed_codes_are_refused_before_any_request() {
        let http = reqwest::Client::new();
        for code in ["", "a/b", "../x", "a b"] {
            assert!(matches!(
                convert(&http, "http://127.0.0.1:9", code).await,
                Err(ManifestError::InvalidCode)
            ));
        }
    }
}
