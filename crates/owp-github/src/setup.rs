//! Registering the GitHub App from this service, as Probot does: when `owp serve` runs without
//! App credentials, `GET /github/setup` offers to create the App from `app-manifest.yml` on
//! GitHub, for the signed-in person or for an organisation. GitHub sends the person back to
//! `/github/setup/callback` with a one-time code, which is exchanged at
//! `POST /app-manifests/{code}/conversions` (at `GITHUB_API_URL`) for the App's id, private key
//! and webhook secret. On SQLite they are appended to `env.local` (owner-only permissions), with
//! the addresses this run was given on its command line (`OWP_PUBLIC_URL`, `GITHUB_API_URL`,
//! `GITHUB_WEB_URL`) that the file does not hold yet, so that a plain restart from the same
//! directory serves the same addresses; the page says how to install the App and to restart.
//!
//! On PostgreSQL the pool may run as several replicas behind one address, and GitHub may send
//! the person back to another replica than the one that showed the page: the page's key is kept
//! in the database (every replica prints and accepts the same link), the `state` sent to GitHub
//! is signed with that key rather than remembered by one process, and the App's credentials are
//! kept in the database ([`SavedApp`]), where every replica finds them when it starts. The
//! routes are `http::github_setup`; this module holds the flow's state and what it saves.

use std::path::PathBuf;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::domain::secret::Secret;
use crate::settings::{GithubConfig, Serving};
use crate::store::Store;
use crate::store::shared_settings::{GITHUB_APP, SETUP_KEY};

/// Where the setup page is served.
pub const SETUP_PATH: &str = "/github/setup";

/// How long a setup page's `state` is accepted back.
pub const STATE_TTL: Duration = Duration::from_secs(3600);

/// The setup flow's state.
pub struct Setup {
    /// The client of the manifest's conversion, made on its first use: loading the system's
    /// root certificates is work a start without an App's setup never needs.
    http: OnceLock<reqwest::Client>,
    pub api_url: String,
    pub web_url: String,
    pub env_file: PathBuf,
    base_url: RwLock<String>,
    pub public_url_configured: bool,
    /// Settings of this run that a restart must keep: saved beside the credentials.
    pub keep: Vec<(&'static str, String)>,
    /// Printed to the operator at start: only who holds it can start the setup, so nobody else
    /// can make this service adopt an App of theirs. It also signs the `state` sent to GitHub.
    pub key: crate::domain::secret::Secret,
    /// On PostgreSQL: the database, where the key and the App's credentials are kept for every
    /// replica (on SQLite, `None`: the credentials go to `env_file`).
    pub shared: Option<Store>,
}

impl Setup {
    /// The setup flow of this process: on PostgreSQL with the key every replica shares (the
    /// first replica to start keeps its key in the database).
    pub async fn start(config: Serving<'_>, store: &Store) -> anyhow::Result<Setup> {
        let mut setup = Setup::new(config);
        if store.shared_settings().is_shared() {
            let key = store
                .shared_settings()
                .keep(SETUP_KEY, setup.key.expose())
                .await
                .context("cannot keep the GitHub App setup key in the database")?;
            setup.key = Secret::new(key);
            setup.shared = Some(store.clone());
        }
        Ok(setup)
    }

    pub fn new(config: Serving<'_>) -> Setup {
        let api_url = config
            .github
            .github_api_url
            .trim_end_matches('/')
            .to_string();
        Setup {
            http: OnceLock::new(),
            web_url: config.github.web_url(),
            api_url,
            env_file: config
                .github
                .github_env_file
                .clone()
                .unwrap_or_else(|| PathBuf::from("env.local")),
            base_url: RwLock::new(config.base_url()),
            public_url_configured: config.public_url.is_some(),
            keep: settings_to_keep(config),
            key: crate::domain::secret::Secret::new(uuid::Uuid::new_v4().simple().to_string()),
            shared: None,
        }
    }

    /// The HTTP client that converts the manifest's code on GitHub.
    pub fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default()
        })
    }

    /// Keeps the new App's credentials where every replica finds them (the database), unless
    /// an App was kept there first: `Ok(false)` then, and the first one stays.
    pub async fn keep_app(&self, store: &Store, app: &SavedApp) -> anyhow::Result<bool> {
        let value = serde_json::to_string(app)?;
        let kept = store.shared_settings().keep(GITHUB_APP, &value).await?;
        Ok(kept == value)
    }

    /// Whether an App's credentials are kept in the database already (another replica finished
    /// the setup): this process runs without it until restarted.
    pub async fn app_kept(&self) -> bool {
        match &self.shared {
            Some(store) => matches!(store.shared_settings().get(GITHUB_APP).await, Ok(Some(_))),
            None => false,
        }
    }

    /// The address of the setup page, with the key that opens it.
    pub fn url(&self) -> String {
        format!("{}{SETUP_PATH}?key={}", self.base_url(), self.key.expose())
    }

    pub fn key_matches(&self, key: Option<&str>) -> bool {
        key.is_some_and(|k| self.key.matches(k))
    }

    pub fn set_base_url(&self, url: String) {
        if let Ok(mut base) = self.base_url.write() {
            *base = url;
        }
    }

    pub fn base_url(&self) -> String {
        self.base_url.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// A `state` for GitHub's redirect: until when it is good, a nonce, and both signed with
    /// the setup key, so that any replica holding the key accepts it back.
    pub fn new_state(&self) -> String {
        let until = crate::store::now_ms() / 1000 + STATE_TTL.as_secs() as i64;
        let body = format!("{until}.{}", uuid::Uuid::new_v4().simple());
        format!("{body}.{}", self.sign(&body))
    }

    /// Whether `state` is one [`Setup::new_state`] made with this key, less than an hour ago.
    pub fn take_state(&self, state: &str) -> bool {
        let Some((body, mac)) = state.rsplit_once('.') else {
            return false;
        };
        let fresh = body
            .split_once('.')
            .and_then(|(until, _)| until.parse::<i64>().ok())
            .is_some_and(|until| crate::store::now_ms() / 1000 <= until);
        fresh && Secret::new(self.sign(body)).matches(mac)
    }

    fn sign(&self, body: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(self.key.expose().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(body.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The GitHub App's credentials as the setup page keeps them in the database on PostgreSQL, for
/// every replica. They are secrets as `env.local`'s are: the database and its backups hold
/// them, and they are never logged (`Debug` shows the App id only).
#[derive(Clone, Serialize, Deserialize)]
pub struct SavedApp {
    pub app_id: u64,
    pub private_key: String,
    pub webhook_secret: Option<String>,
    pub slug: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for SavedApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedApp")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

/// On PostgreSQL, when the configuration names no App, the App the setup page kept in the
/// database: its settings fill in what the configuration leaves unset (the environment wins).
/// Returns whether an App was taken from the database.
pub async fn use_saved_app(gh: &mut GithubConfig, store: &Store) -> anyhow::Result<bool> {
    let configured = gh.github_app_id.is_some()
        || gh.github_private_key.is_some()
        || gh.github_private_key_path.is_some();
    if configured || !store.shared_settings().is_shared() {
        return Ok(false);
    }
    let Some(value) = store
        .shared_settings()
        .get(GITHUB_APP)
        .await
        .context("cannot read the GitHub App kept in the database")?
    else {
        return Ok(false);
    };
    let app: SavedApp = serde_json::from_str(&value)
        .context("the GitHub App kept in the database cannot be read")?;
    gh.github_app_id = Some(app.app_id);
    gh.github_private_key = Some(Secret::new(app.private_key));
    if gh.github_webhook_secret.is_none() {
        gh.github_webhook_secret = app.webhook_secret.map(Secret::new);
    }
    if gh.github_app_slug.is_none() {
        gh.github_app_slug = app.slug;
    }
    if gh.github_client_id.is_none() && gh.github_client_secret.is_none() {
        gh.github_client_id = app.client_id;
        gh.github_client_secret = app.client_secret.map(Secret::new);
    }
    tracing::info!(
        app_id = app.app_id,
        "GitHub App credentials read from the database"
    );
    Ok(true)
}

/// The addresses this run was given that a restart must keep: the public URL, and GitHub's
/// addresses when they are not github.com's.
fn settings_to_keep(config: Serving<'_>) -> Vec<(&'static str, String)> {
    let gh = config.github;
    let api = gh.github_api_url.trim_end_matches('/');
    let candidates = [
        ("OWP_PUBLIC_URL", config.public_url.map(str::to_string)),
        (
            "GITHUB_API_URL",
            (api != crate::settings::DEFAULT_GITHUB_API_URL).then(|| api.to_string()),
        ),
        ("GITHUB_WEB_URL", gh.github_web_url.clone()),
    ];
    candidates
        .into_iter()
        .filter_map(|(name, value)| {
            let value = value?.trim().to_string();
            // Written single-quoted (no expansion): plain printable ASCII without quotes only.
            let plain = !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'\'' && b != b'\\');
            plain.then_some((name, value))
        })
        .collect()
}

/// [`Setup::keep`]'s settings but for those `existing` (the environment file as it is) already
/// sets.
pub fn still_to_keep<'a>(
    keep: &'a [(&'static str, String)],
    existing: &std::path::Path,
) -> Vec<&'a (&'static str, String)> {
    let set: Vec<String> = dotenvy::from_path_iter(existing)
        .map(|vars| vars.filter_map(Result::ok).map(|(k, _)| k).collect())
        .unwrap_or_default();
    keep.iter()
        .filter(|(name, _)| !set.iter().any(|k| k == name))
        .collect()
}

/// What the manifest asks GitHub for, as the setup page says it: every permission with its
/// access, then every event (read from the manifest itself, so the page cannot say less).
pub fn asks_for(manifest: &serde_json::Value) -> String {
    let permissions: Vec<String> = manifest["default_permissions"]
        .as_object()
        .map(|p| {
            p.iter()
                .map(|(name, access)| format!("{name}: {}", access.as_str().unwrap_or("?")))
                .collect()
        })
        .unwrap_or_default();
    let events: Vec<&str> = manifest["default_events"]
        .as_array()
        .map(|e| e.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    format!(
        "permissions {}; events {}",
        permissions.join(", "),
        events.join(", ")
    )
}

/// Appends the credentials to the environment file, readable only by its owner.
pub fn save_credentials(path: &std::path::Path, lines: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    writeln!(file)?;
    file.write_all(lines.as_bytes())?;
    file.sync_all()
}

/// Escapes text for HTML (element content and quoted attributes).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `GET /github/help`: how the App is used.
pub const HELP_PAGE: &str = "<!doctype html><html><head><meta charset=\"utf-8\">\
<title>OWP Pool on GitHub</title><style>body{font-family:system-ui,sans-serif;max-width:44rem;\
margin:2rem auto;line-height:1.5}code{background:#f3f3f3;padding:0 .2rem}</style></head><body>\
<h1>OWP Pool on GitHub</h1>\
<p>Maintainers put an issue into the pool with the <code>pool:ready</code> label. Labels fill in \
the task: <code>estimate:N</code>, <code>priority:low|normal|high|critical</code>, \
<code>skills:NAME</code> (repeatable, or <code>skills:a,b</code>), <code>area:NAME</code>, \
<code>tier:N</code>. The App keeps one status comment on the issue up to date.</p>\
<h2>Commands</h2><p>Comment one command per line (commands in quotes or code blocks are ignored):</p>\
<ul><li><code>/owp claim</code> — take the issue. Every rule of the pool applies: the review \
budget, area locks, the task's tier, how many issues one person may hold.</li>\
<li><code>/owp release</code> — give it back.</li>\
<li><code>/owp renew</code> — you are still on it (any comment of yours counts too).</li>\
<li><code>/owp status</code> — refresh the status comment.</li>\
<li><code>/owp block REASON</code>, <code>/owp unblock</code> — maintainers (write access or \
above) take an issue out of the queue and put it back.</li>\
<li><code>/owp link CODE</code> — link your GitHub account to a registered worker, with the code \
from <code>POST /v1/workers/link-code</code> (or run <code>owp worker link</code>, which proves it \
with GitHub's device page instead). A worker works this repository's issues only once linked.</li>\
<li><code>/owp opt-in</code>, <code>/owp opt-out</code> — count your merged pull requests toward \
trust here and list you on the leaderboard, or stop.</li>\
<li><code>/owp withdraw</code> — take back your plan for the issue.</li>\
<li><code>/owp approve @LOGIN</code>, <code>/owp decline @LOGIN [REASON]</code> — maintainers \
approve one person's plan (they then hold the issue) or decline it.</li>\
<li><code>/owp vouch @LOGIN</code>, <code>/owp unvouch @LOGIN</code>, \
<code>/owp denounce @LOGIN [REASON]</code> — maintainers keep the repository's vouch list \
beside <code>VOUCHED.td</code>: a vouched person counts as trusted here, a denounced one cannot \
claim or propose.</li>\
<li><code>/owp away [DAYS]</code>, <code>/owp back</code> — a reviewer takes no new reviews for \
DAYS days (1–365), or until back.</li>\
<li><code>/owp review @LOGIN</code> — maintainers: another reviewer reviews this issue's pull \
request.</li></ul>\
<h2>Plans first</h2><p>A repository with <code>claim: {approval: plan}</code> in \
<code>.github/owp.yml</code> asks for a plan before anyone holds an issue: write it on the lines \
after <code>/owp claim</code>, in the same comment (at most 4,000 characters). The status comment \
lists the plans for maintainers; one approved, its author holds the issue, and everyone who \
proposed is told.</p>\
<h2>Claims</h2><p>A claim lasts 7 days after your last activity on the issue (a repository can \
change this in <code>.github/owp.yml</code>). Half-way, you get a reminder; at the end, the issue \
is free again. A pull request whose description says <code>fixes #N</code> (or closes, resolves, \
…) moves the issue to review; merged, it is done; closed without merging, it returns to the \
pool.</p><h2>Review budget</h2><p>Each repository has a budget of review slots (3 by default): \
open pull requests plus claims in progress. When it is full, new claims wait until a pull \
request is merged or closed.</p></body></html>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_page_names_every_command() {
        for word in crate::commands::COMMAND_WORDS {
            assert!(
                HELP_PAGE.contains(&format!("<code>/owp {word}")),
                "/github/help does not name `/owp {word}`"
            );
        }
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[cfg(unix)]
    #[test]
    fn credentials_are_saved_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env.local");
        std::fs::write(&path, "OWP_ADMIN_TOKEN=x\n").unwrap();
        save_credentials(&path, "GITHUB_APP_ID=1\n").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("OWP_ADMIN_TOKEN=x\n") && text.ends_with("GITHUB_APP_ID=1\n"));
    }
}
