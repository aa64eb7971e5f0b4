//! The App's settings: `owp serve`'s GitHub flags (each with its environment variable), and what
//! else the App reads of the service's configuration ([`Serving`]).

use std::path::PathBuf;

use crate::domain::limits::MAX_LEASE_TTL_SECONDS;
use crate::domain::secret::Secret;

/// GitHub's web address for `api.github.com`.
pub const DEFAULT_GITHUB_WEB_URL: &str = "https://github.com";
/// GitHub's REST base URL unless `GITHUB_API_URL` says otherwise.
pub const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com";
/// GitHub's web address for a REST base URL: `https://github.com` for `api.github.com`, the
/// server itself for GitHub Enterprise Server (`https://HOST/api/v3`), otherwise the URL as is.
pub fn github_web_url_for(api_url: &str) -> String {
    let api = api_url.trim_end_matches('/');
    if api == DEFAULT_GITHUB_API_URL {
        return DEFAULT_GITHUB_WEB_URL.into();
    }
    api.strip_suffix("/api/v3").unwrap_or(api).to_string()
}

/// GitHub App credentials. When unset, GitHub features are off and the rest works.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct GithubConfig {
    /// The GitHub App's id (the App setup page saves it): with its private key, GitHub mode is on.
    #[arg(long, env = "GITHUB_APP_ID")]
    pub github_app_id: Option<u64>,
    /// The App's slug (its name in URLs; the App setup page saves it): the `User-Agent` of
    /// every request to GitHub, as GitHub asks. Without it the product's name is sent.
    #[arg(long, env = "GITHUB_APP_SLUG")]
    pub github_app_slug: Option<String>,
    /// The App's private key as PEM text; during a key rotation, several PEM keys one after
    /// the other (new first): the App signs with the first one GitHub accepts.
    #[arg(long, env = "GITHUB_PRIVATE_KEY", hide_env_values = true)]
    pub github_private_key: Option<Secret>,
    /// A file holding the App's private key (PEM; several one after the other while rotating).
    #[arg(long, env = "GITHUB_PRIVATE_KEY_PATH")]
    pub github_private_key_path: Option<PathBuf>,
    /// Webhook secret; several may be given comma-separated while a secret is rotated.
    #[arg(long, env = "GITHUB_WEBHOOK_SECRET", hide_env_values = true)]
    pub github_webhook_secret: Option<Secret>,
    /// REST base URL (GitHub Enterprise Server, tests).
    #[arg(long, env = "GITHUB_API_URL", default_value = DEFAULT_GITHUB_API_URL)]
    pub github_api_url: String,
    /// The App's OAuth client id (the App setup page saves it): maintainers sign in with GitHub.
    /// Without it, sign-in is off and only the admin token steers the pool.
    #[arg(long, env = "GITHUB_CLIENT_ID")]
    pub github_client_id: Option<String>,
    /// The App's OAuth client secret (the App setup page saves it).
    #[arg(long, env = "GITHUB_CLIENT_SECRET", hide_env_values = true)]
    pub github_client_secret: Option<Secret>,
    /// GitHub's web address, the base of `/login/oauth/…` and `/login/device/…` [default: taken
    /// from GITHUB_API_URL: <https://github.com> for api.github.com, https://HOST for a GitHub
    /// Enterprise Server at https://HOST/api/v3].
    #[arg(long, env = "GITHUB_WEB_URL")]
    pub github_web_url: Option<String>,
    /// When the App reconciles with GitHub (6-field cron, seconds first; default every 15 minutes).
    #[arg(long, env = "OWP_GITHUB_RECONCILE_CRON")]
    pub github_reconcile_cron: Option<String>,
    /// When the App looks for failed webhook deliveries to redeliver (6-field cron; default every 5 minutes).
    #[arg(long, env = "OWP_GITHUB_REDELIVER_CRON")]
    pub github_redeliver_cron: Option<String>,
    /// Overrides every repository's comment-claim TTL, in seconds (demos and tests).
    #[arg(long, env = "OWP_GITHUB_CLAIM_TTL_SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=MAX_LEASE_TTL_SECONDS))]
    pub github_claim_ttl_seconds: Option<u64>,
    /// The first pause, in milliseconds, after a secondary rate limit GitHub names without
    /// `Retry-After` (default one minute, as GitHub asks; it doubles while the limit repeats).
    /// Lower it only against a GitHub of your own (tests).
    #[arg(long, env = "OWP_GITHUB_LIMIT_WAIT_MS",
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub github_limit_wait_ms: Option<u64>,
    /// Pages (of 100) read at most from a listing of installations or repositories (default 50):
    /// raise it for an installation with more than 5,000 repositories.
    #[arg(long, env = "OWP_GITHUB_MAX_PAGES",
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub github_max_pages: Option<u64>,
    /// How long what GitHub said about a person's access to a repository is trusted, in
    /// milliseconds (default five minutes, the most the contract allows), for sign-in and the
    /// App's maintainer commands alike; lower is fresher and costs more of GitHub's rate limit.
    #[arg(long, env = "OWP_SIGNIN_PERMISSION_MAX_AGE_MS",
          value_parser = clap::value_parser!(u64).range(0..=300_000))]
    pub github_permission_max_age_ms: Option<u64>,
    /// Where the App setup page saves the new App's credentials (default `env.local`).
    #[arg(long, env = "OWP_GITHUB_ENV_FILE")]
    pub github_env_file: Option<PathBuf>,
    /// Comments, edits and reactions per installation and minute, across replicas (default 80,
    /// GitHub's limit).
    #[arg(long, env = "OWP_GITHUB_WRITES_PER_MINUTE",
          value_parser = clap::value_parser!(u32).range(1..=80))]
    pub github_writes_per_minute: Option<u32>,
    /// … and per hour (default 500, GitHub's limit).
    #[arg(long, env = "OWP_GITHUB_WRITES_PER_HOUR",
          value_parser = clap::value_parser!(u32).range(1..=500))]
    pub github_writes_per_hour: Option<u32>,
    /// The least time between two of them, in milliseconds (default 1000: GitHub asks for
    /// serial writes about a second apart).
    #[arg(long, env = "OWP_GITHUB_WRITE_SPACING_MS",
          value_parser = clap::value_parser!(u32).range(0..=60_000))]
    pub github_write_spacing_ms: Option<u32>,
    /// Webhook deliveries this process applies at once (default 64). Deliveries about different
    /// repositories are applied side by side; those about one repository, one after another.
    #[arg(long, env = "OWP_GITHUB_APPLIERS",
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub github_appliers: Option<u32>,
    /// How long a change of a task waits before its status comment is written, in milliseconds
    /// (default 3000): the changes within it make one edit. Replies to commands do not wait.
    #[arg(long, env = "OWP_GITHUB_STATUS_WINDOW_MS",
          value_parser = clap::value_parser!(u32).range(0..=60_000))]
    pub github_status_window_ms: Option<u32>,
    /// Installations whose comments, edits and reactions this process writes at once (default
    /// 200; each installation's own writes still go one at a time).
    #[arg(long, env = "OWP_GITHUB_OUTBOX_CONCURRENCY",
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub github_outbox_concurrency: Option<u32>,
    /// How long a process holds an outbox row it is sending, in milliseconds (default 60000);
    /// a process that dies mid-write leaves the row to another after this.
    #[arg(long, env = "OWP_GITHUB_OUTBOX_CLAIM_MS",
          value_parser = clap::value_parser!(u32).range(500..=600_000))]
    pub github_outbox_claim_ms: Option<u32>,
    /// The length of the pacing's minute and hour, in milliseconds, as `MINUTE,HOUR` (default
    /// 60000,3600000, GitHub's; shortened only against a GitHub of your own, in tests).
    #[arg(long, env = "OWP_GITHUB_WRITE_WINDOWS_MS", num_args = 2,
          value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..))]
    pub github_write_windows_ms: Option<Vec<u32>>,
}

impl GithubConfig {
    /// GitHub's web address: `GITHUB_WEB_URL` when set, else the one of `GITHUB_API_URL`'s server.
    pub fn web_url(&self) -> String {
        match self.github_web_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => url.trim_end_matches('/').to_string(),
            _ => github_web_url_for(&self.github_api_url),
        }
    }

    /// The OAuth client id when sign-in with GitHub is on (set and not blank).
    pub fn signin_client_id(&self) -> Option<&str> {
        self.github_client_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
    }
}

/// What the App reads of `owp serve`'s configuration besides its own flags.
#[derive(Clone, Copy, Debug)]
pub struct Serving<'a> {
    /// The App's flags.
    pub github: &'a GithubConfig,
    /// `OWP_PUBLIC_URL`, when the operator set it.
    pub public_url: Option<&'a str>,
    /// The address the service listens on (`http://HOST:PORT`), for links while no public URL is
    /// set (the port is known only once bound: see [`crate::GithubParts::set_local_addr`]).
    pub listen_url: &'a str,
    /// How many webhook deliveries' bodies are read at once.
    pub webhook_concurrency: u32,
}

impl Serving<'_> {
    /// The address links to this service start with: the public URL, else the listening one.
    pub fn base_url(&self) -> String {
        self.public_url
            .unwrap_or(self.listen_url)
            .trim_end_matches('/')
            .to_string()
    }
}
