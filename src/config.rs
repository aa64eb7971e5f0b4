//! Process configuration: every flag of `owp serve` has an environment variable.
//!
//! For the operator's commands (`serve`, `admin`, `doctor`, `leaderboard`), `.env` and `env.local`
//! in the working directory are read first; the real environment wins.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

/// The commands that read `.env` and `env.local`: those of the person who runs the service. Those
/// files hold the admin token and the GitHub App's key; a worker, `owp mcp` or `owp conformance`
/// run in the same folder must not pick them up (a worker would hand them to the agent and to the
/// pool's commands, `conformance` would send the admin token to any server it checks).
pub const READS_ENV_FILES: [&str; 4] = ["serve", "admin", "doctor", "leaderboard"];

/// Whether the command named by the first argument reads the environment files.
pub fn reads_env_files(command: Option<&OsStr>) -> bool {
    command
        .and_then(OsStr::to_str)
        .is_some_and(|c| READS_ENV_FILES.contains(&c))
}

/// Reads `.env` and `env.local` from the working directory, without overriding variables that are
/// already set in the real environment, when `command` (the first argument) is one of
/// [`READS_ENV_FILES`].
pub fn load_env_files(command: Option<&OsStr>) {
    if !reads_env_files(command) {
        return;
    }
    let token_before = std::env::var_os("OWP_ADMIN_TOKEN").is_some();
    for name in ["env.local", ".env"] {
        // `dotenvy` never overrides variables that are already set, so the real environment wins,
        // and `env.local` wins over `.env`.
        let _ = dotenvy::from_filename(name);
    }
    if !token_before && std::env::var_os("OWP_ADMIN_TOKEN").is_some() {
        ADMIN_TOKEN_FROM_ENV_FILE.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Set when `OWP_ADMIN_TOKEN` came from `env.local` or `.env` rather than the real environment.
static ADMIN_TOKEN_FROM_ENV_FILE: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Whether this process's `OWP_ADMIN_TOKEN` was read from `env.local` or `.env` of the working
/// directory: that token belongs to the service run from there, and the clients send it only to a
/// server on this machine or to the `OWP_PUBLIC_URL` the same files name.
pub fn admin_token_from_env_file() -> bool {
    ADMIN_TOKEN_FROM_ENV_FILE.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether `url` names a server on this machine (`localhost` or a loopback address).
pub fn on_this_machine(url: &str) -> bool {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The file in the working directory where a first `owp serve` saves the admin token it
/// generated (and the GitHub App setup page the App's credentials).
pub const ENV_LOCAL: &str = "env.local";

/// Where the admin token of this process came from (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// Generated just now by `owp serve` and saved to this file.
    Generated(PathBuf),
    /// Read from this env file of the working directory (`env.local` or `.env`).
    File(PathBuf),
    /// `OWP_ADMIN_TOKEN` in the environment, or `--admin-token`.
    Environment,
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Generated(path) => write!(
                f,
                "generated just now and saved to {} (readable only by you)",
                shown_path(path)
            ),
            TokenSource::File(path) => write!(f, "OWP_ADMIN_TOKEN in {}", shown_path(path)),
            TokenSource::Environment => {
                f.write_str("OWP_ADMIN_TOKEN in the environment (or --admin-token)")
            }
        }
    }
}

/// `./env.local` as a person finds it: absolute, so it is clear which directory is meant.
fn shown_path(path: &Path) -> String {
    std::env::current_dir()
        .map(|dir| dir.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// Which env file of the working directory holds `token` as `OWP_ADMIN_TOKEN` (the first of
/// `env.local` and `.env`, as [`load_env_files`] reads them), else the environment.
pub fn admin_token_source(token: &str) -> TokenSource {
    for name in [ENV_LOCAL, ".env"] {
        let Ok(entries) = dotenvy::from_filename_iter(name) else {
            continue;
        };
        let holds = entries
            .flatten()
            .any(|(key, value)| key == "OWP_ADMIN_TOKEN" && value == token);
        if holds {
            return TokenSource::File(PathBuf::from(name));
        }
    }
    TokenSource::Environment
}

/// A secret value that never prints. Cloning it (the HTTP state, once per request) copies no text.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(std::sync::Arc<str>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into().into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this secret: the one comparison of a presented secret with a
    /// configured one (the admin token wherever it is accepted, the metrics token, the setup
    /// key). Constant time over digests, so neither the content nor the lengths leak; an empty
    /// secret never matches.
    pub fn matches(&self, presented: &str) -> bool {
        use sha2::{Digest, Sha256};
        use subtle::ConstantTimeEq;
        if self.0.is_empty() {
            return false;
        }
        let expected = Sha256::digest(self.0.as_bytes());
        let sent = Sha256::digest(presented.as_bytes());
        expected.ct_eq(&sent).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.into()))
    }
}

/// Connections a PostgreSQL store keeps at most unless told otherwise (`OWP_DATABASE_POOL`).
pub const DEFAULT_PG_POOL: u32 = 16;

/// Removes the password from a database URL before it is printed.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, _password)) = userinfo.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_string()
}

/// The shortest admin token `owp serve` accepts (characters, surrounding blanks not counted).
pub const MIN_ADMIN_TOKEN_CHARS: usize = 16;
/// The longest lease (`OWP_LEASE_TTL_SECONDS`, comment-claim TTLs): one week.
pub const MAX_LEASE_TTL_SECONDS: u64 = 7 * 24 * 3600;
/// The longest accept and heartbeat TTLs: one day.
pub const MAX_SHORT_TTL_SECONDS: u64 = 24 * 3600;

/// Why an admin token cannot be used (`None` when it can): an empty or short token would let
/// anyone who guesses it act as admin.
pub fn admin_token_problem(token: &str) -> Option<String> {
    let n = token.trim().chars().count();
    if n == 0 {
        Some(format!(
            "OWP_ADMIN_TOKEN is empty: set it to at least {MIN_ADMIN_TOKEN_CHARS} random characters \
             (e.g. `openssl rand -hex 32`), or unset it to have one generated"
        ))
    } else if n < MIN_ADMIN_TOKEN_CHARS {
        Some(format!(
            "OWP_ADMIN_TOKEN is too short ({n} characters): use at least \
             {MIN_ADMIN_TOKEN_CHARS} random characters (e.g. `openssl rand -hex 32`)"
        ))
    } else {
        None
    }
}

/// An `http` or `https` URL that a page may link to.
fn web_address(text: &str) -> Result<String, String> {
    let text = text.trim();
    match url::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(text.into()),
        _ => Err("give an http:// or https:// address".into()),
    }
}

/// The repository this `owp` was built from, when the build knew it (see `build.rs`: the
/// `OWP_SOURCE_REPOSITORY` of the build, else Cargo's `repository`, else the repository GitHub
/// Actions built): an `http(s)` address, without a trailing `/`.
pub fn built_from() -> Option<String> {
    web_address(env!("OWP_SOURCE_REPOSITORY"))
        .ok()
        .map(|u| u.trim_end_matches('/').to_string())
}

/// Where volunteers download `owp`, as the `/join` page links it: `OWP_DOWNLOAD_URL`, else the
/// latest release of the repository this `owp` was built from ([`built_from`]).
pub fn download_url(named: Option<&str>) -> Option<String> {
    named
        .map(str::to_string)
        .or_else(|| built_from().map(|repo| format!("{repo}/releases/latest")))
}

/// GitHub's web address for `api.github.com`.
pub const DEFAULT_GITHUB_WEB_URL: &str = "https://github.com";
/// GitHub's REST base URL unless `GITHUB_API_URL` says otherwise.
pub const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com";
/// The port `owp serve` listens on unless `OWP_PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 8787;

/// GitHub's web address for a REST base URL: `https://github.com` for `api.github.com`, the
/// server itself for GitHub Enterprise Server (`https://HOST/api/v3`), otherwise the URL as is.
pub fn github_web_url_for(api_url: &str) -> String {
    let api = api_url.trim_end_matches('/');
    if api == DEFAULT_GITHUB_API_URL {
        return DEFAULT_GITHUB_WEB_URL.into();
    }
    api.strip_suffix("/api/v3").unwrap_or(api).to_string()
}

/// Configuration of `owp serve`.
#[derive(clap::Args, Clone, Debug)]
pub struct ServeConfig {
    /// Embedded SQLite database file (created with its schema if missing).
    #[arg(long, env = "OWP_DB", default_value = "./owp.db")]
    pub db: PathBuf,
    /// PostgreSQL URL (`postgres://…`); selects PostgreSQL instead of the embedded SQLite file.
    #[arg(long, env = "OWP_DATABASE_URL")]
    pub database_url: Option<String>,
    /// PostgreSQL: the most connections this process keeps open. Replicas add theirs up: keep
    /// replicas × pool within the server's `max_connections` and near a few per database core.
    #[arg(long, env = "OWP_DATABASE_POOL", default_value_t = DEFAULT_PG_POOL,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_pool: u32,
    /// Address to listen on.
    #[arg(long, env = "OWP_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free port).
    #[arg(long, env = "OWP_PORT", default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Admin secret, sent by admins in the `X-Admin-Token` header. When unset, a random token is
    /// generated on first run and saved to `env.local` (owner-only permissions).
    #[arg(long, env = "OWP_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,
    /// How long an acknowledged lease lives without a renew or heartbeat.
    #[arg(long, env = "OWP_LEASE_TTL_SECONDS", default_value_t = 1800,
          value_parser = clap::value_parser!(u64).range(1..=MAX_LEASE_TTL_SECONDS))]
    pub lease_ttl_seconds: u64,
    /// How long a new lease waits for `ack` before it is requeued.
    #[arg(long, env = "OWP_ACCEPT_TTL_SECONDS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..=MAX_SHORT_TTL_SECONDS))]
    pub accept_ttl_seconds: u64,
    /// A worker is online while its last heartbeat is younger than this.
    #[arg(long, env = "OWP_HEARTBEAT_TTL_SECONDS", default_value_t = 90,
          value_parser = clap::value_parser!(u64).range(1..=MAX_SHORT_TTL_SECONDS))]
    pub heartbeat_ttl_seconds: u64,
    /// After this many expired or abandoned leases a task is moved to `blocked`.
    #[arg(long, env = "OWP_MAX_ATTEMPTS", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub max_attempts: u32,
    /// Who may register workers: `open` (anyone) or `admin` (only with the admin token).
    #[arg(long, env = "OWP_REGISTRATION", default_value = "open")]
    pub registration: RegistrationPolicy,
    /// Log format: `text` or `json` (every line one JSON object, the start-up lines too).
    #[arg(long, env = "OWP_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    /// Which log lines are written: a `tracing` filter, e.g. `info,owp=debug` [default:
    /// info,sqlx=warn,tower_http=warn]
    #[arg(long = "log", env = "OWP_LOG", value_name = "FILTER")]
    pub log_filter: Option<String>,
    /// Public base URL of this service (used in links and the GitHub App setup flow).
    #[arg(long, env = "OWP_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Where volunteers download `owp`, linked from the pool's `/join` page (e.g. the project's
    /// `https://github.com/OWNER/REPO/releases/latest`); an `http` or `https` URL. Unset, the
    /// page links the latest release of the repository this `owp` was built from, when known.
    #[arg(long, env = "OWP_DOWNLOAD_URL", value_parser = web_address)]
    pub download_url: Option<String>,
    /// Let anyone read the dashboard's boards of public repositories without signing in
    /// (read-only: review budgets, tasks and events of public repositories only). Private
    /// repositories, workers and every write still need the admin session.
    #[arg(long, env = "OWP_PUBLIC_BOARDS", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub public_boards: bool,
    /// A token that may only scrape `GET /metrics` (as `Authorization: Bearer …`), so Prometheus
    /// need not hold the admin token. The admin token is accepted there too.
    #[arg(long, env = "OWP_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<Secret>,
    #[command(flatten)]
    pub limits: LimitsConfig,
    #[command(flatten)]
    pub github: GithubConfig,
}

/// Bounds on what one client address, one connection and the webhook may take (the spec's
/// "Rate limits and connections"). A rate of 0 turns that limit off.
#[derive(clap::Args, Clone, Debug)]
pub struct LimitsConfig {
    /// Worker registrations per minute from one client address, whatever credential comes with
    /// them, the admin token's included (a registration is a registration, whoever sends it).
    /// A burst of this many is let through at once.
    #[arg(long, env = "OWP_RATE_REGISTRATIONS_PER_MINUTE", default_value_t = 120)]
    pub rate_registrations_per_minute: u32,
    /// Requests per minute from one client address to the routes that need no credentials
    /// (`/healthz`, `/v1/meta`, `/v1/openapi.json`, `/v1/leaderboard`, the dashboard's pages,
    /// public boards, unknown paths), whatever credential comes with them.
    #[arg(long, env = "OWP_RATE_ANONYMOUS_PER_MINUTE", default_value_t = 600)]
    pub rate_anonymous_per_minute: u32,
    /// Requests per minute from one client address to the routes of signing in with GitHub
    /// (`/auth/github…`, `/v1/auth/device…`): each may cost a call to GitHub.
    #[arg(long, env = "OWP_RATE_SIGNIN_PER_MINUTE", default_value_t = 30)]
    pub rate_signin_per_minute: u32,
    /// Wrong credentials per minute from one client address (a wrong `X-Admin-Token`, worker
    /// token or dashboard sign-in) before that address must wait to present any credential.
    #[arg(long, env = "OWP_RATE_AUTH_FAILURES_PER_MINUTE", default_value_t = 10)]
    pub rate_auth_failures_per_minute: u32,
    /// Previews (`GET /v1/work/preview`) per minute for one worker.
    #[arg(long, env = "OWP_RATE_PREVIEWS_PER_MINUTE", default_value_t = 30)]
    pub rate_previews_per_minute: u32,
    /// Previews per minute from one client address, whichever of its workers asks (an address
    /// that registers many workers gets no more previews for it).
    #[arg(
        long,
        env = "OWP_RATE_PREVIEWS_PER_ADDRESS_PER_MINUTE",
        default_value_t = 60
    )]
    pub rate_previews_per_address_per_minute: u32,
    /// Requests per minute of one maintainer signed in with GitHub (a dashboard session or an
    /// `owpm_…` token), counted per person whatever address they come from, on the routes that
    /// need a credential (the others keep their per-address limits).
    #[arg(long, env = "OWP_RATE_MAINTAINER_PER_MINUTE", default_value_t = 600)]
    pub rate_maintainer_per_minute: u32,
    /// Behind a reverse proxy: the request header that carries the client's address (e.g.
    /// `X-Forwarded-For` or `X-Real-IP`); its last address is used. Only set it when a proxy
    /// you run sets or appends that header on every request, or clients can choose their own key.
    #[arg(long, env = "OWP_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,
    /// A connection is closed when it sends no complete request head for this long: idle
    /// keep-alive connections and slow senders alike.
    #[arg(long, env = "OWP_IDLE_TIMEOUT_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout_seconds: u64,
    /// The most connections served at once; past it new connections are closed at once.
    #[arg(long, env = "OWP_MAX_CONNECTIONS", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Webhook bodies of GitHub's largest size (25 MB) read at once; smaller ones take room by
    /// their length. A delivery that finds no room within 2 s is answered 503 with `Retry-After`
    /// (and redelivered later).
    #[arg(long, env = "OWP_WEBHOOK_CONCURRENCY", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub webhook_concurrency: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            rate_registrations_per_minute: 120,
            rate_anonymous_per_minute: 600,
            rate_signin_per_minute: 30,
            rate_auth_failures_per_minute: 10,
            rate_previews_per_minute: 30,
            rate_previews_per_address_per_minute: 60,
            rate_maintainer_per_minute: 600,
            client_ip_header: None,
            idle_timeout_seconds: 60,
            max_connections: 4096,
            webhook_concurrency: 4,
        }
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistrationPolicy {
    Open,
    Admin,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
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
    /// The App's private key as PEM text.
    #[arg(long, env = "GITHUB_PRIVATE_KEY", hide_env_values = true)]
    pub github_private_key: Option<Secret>,
    /// A file holding the App's private key (PEM).
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
    /// from GITHUB_API_URL: https://github.com for api.github.com, https://HOST for a GitHub
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
    /// For tests.
    #[arg(long, env = "OWP_GITHUB_LIMIT_WAIT_MS", hide = true,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub github_limit_wait_ms: Option<u64>,
    /// Pages (of 100) read at most from a listing of installations or repositories (default 50).
    /// For tests.
    #[arg(long, env = "OWP_GITHUB_MAX_PAGES", hide = true,
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub github_max_pages: Option<u64>,
    /// How long what GitHub said about a person's access to a repository is trusted, in
    /// milliseconds (default five minutes, the most the contract allows), for sign-in and the
    /// App's maintainer commands alike. For tests.
    #[arg(long, env = "OWP_SIGNIN_PERMISSION_MAX_AGE_MS", hide = true,
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
    /// Webhook deliveries this process applies at once (default 32). Deliveries about different
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
    /// a process that dies mid-write leaves the row to another after this. For tests.
    #[arg(long, env = "OWP_GITHUB_OUTBOX_CLAIM_MS", hide = true,
          value_parser = clap::value_parser!(u32).range(500..=600_000))]
    pub github_outbox_claim_ms: Option<u32>,
    /// The length of the pacing's minute and hour, in milliseconds (shortened by tests only).
    #[arg(long, env = "OWP_GITHUB_WRITE_WINDOWS_MS", hide = true, num_args = 2,
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

impl ServeConfig {
    /// A configuration for tests and tools: SQLite at `db`, a free port, the given admin token.
    pub fn for_tests(db: &Path, admin_token: &str) -> Self {
        ServeConfig {
            db: db.to_path_buf(),
            database_url: None,
            database_pool: DEFAULT_PG_POOL,
            host: "127.0.0.1".into(),
            port: 0,
            admin_token: Some(Secret::new(admin_token)),
            lease_ttl_seconds: 1800,
            accept_ttl_seconds: 120,
            heartbeat_ttl_seconds: 90,
            max_attempts: 5,
            registration: RegistrationPolicy::Open,
            log_format: LogFormat::Text,
            log_filter: None,
            public_url: None,
            public_boards: false,
            download_url: None,
            metrics_token: None,
            limits: LimitsConfig::default(),
            github: GithubConfig {
                github_api_url: DEFAULT_GITHUB_API_URL.into(),
                // Stories write a few comments each; pacing is tested on purpose.
                github_write_spacing_ms: Some(0),
                // Stories look at each status as it is; the window is tested on purpose.
                github_status_window_ms: Some(0),
                ..Default::default()
            },
        }
    }

    /// The database URL: PostgreSQL when given, else the SQLite file.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.db.display()),
        }
    }
}

/// A server URL (`postgres://user@host:port/db?options`) with its database replaced by `name`,
/// the query string kept: how the benchmark and the tests point at a scratch database of theirs.
pub fn url_with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((u, q)) => (u, format!("?{q}")),
        None => (url, String::new()),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let root = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    format!("{root}/{name}{query}")
}

/// `owp serve`'s flags parsed from `args` alone (and the environment, as on a command line).
#[cfg(test)]
pub(crate) fn parse_serve(args: &[&str]) -> Result<ServeConfig, clap::Error> {
    use clap::Parser;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeConfig,
    }
    Cli::try_parse_from(std::iter::once("owp").chain(args.iter().copied())).map(|c| c.serve)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole_and_an_empty_one_never_matches() {
        let s = Secret::new("abc");
        assert!(s.matches("abc"));
        assert!(!s.matches("abd"));
        assert!(!s.matches("abcd"));
        assert!(!Secret::new("").matches(""));
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://owp:hunter2@db:5432/owp"),
            "postgres://owp:***@db:5432/owp"
        );
        assert_eq!(redact_url("postgres://db/owp"), "postgres://db/owp");
    }

    #[test]
    fn only_the_operators_commands_read_the_env_files() {
        for command in ["serve", "admin", "doctor", "leaderboard"] {
            assert!(reads_env_files(Some(OsStr::new(command))), "{command}");
        }
        for command in ["worker", "mcp", "conformance", "demo", "bench"] {
            assert!(!reads_env_files(Some(OsStr::new(command))), "{command}");
        }
        assert!(!reads_env_files(None));
    }

    #[test]
    fn scratch_database_urls_keep_the_query() {
        assert_eq!(
            url_with_database(
                "postgres://u@h:5432/postgres?sslmode=disable",
                "owp_bench_x"
            ),
            "postgres://u@h:5432/owp_bench_x?sslmode=disable"
        );
        assert_eq!(url_with_database("postgres://h", "db"), "postgres://h/db");
    }

    #[test]
    fn public_boards_is_a_flag() {
        let parse = |args: &[&str]| parse_serve(args).map(|c| c.public_boards);
        // The environment may hold OWP_PUBLIC_BOARDS; this only looks at the flag's own parsing.
        if std::env::var_os("OWP_PUBLIC_BOARDS").is_none() {
            assert!(!parse(&[]).unwrap(), "off by default");
        }
        assert!(parse(&["--public-boards"]).unwrap());
        assert!(
            parse(&["--public-boards", "--metrics-token", "m"]).is_ok(),
            "the metrics token is a flag with a value"
        );
    }

    #[test]
    fn the_database_pool_is_bounded() {
        let parse = |args: &[&str]| parse_serve(args).map(|c| c.database_pool);
        assert_eq!(parse(&["--database-pool", "8"]).unwrap(), 8);
        assert!(parse(&["--database-pool", "0"]).is_err());
        assert!(parse(&["--database-pool", "many"]).is_err());
    }

    #[test]
    fn limits_default_as_documented() {
        let c = parse_serve(&[]).unwrap().limits;
        let d = LimitsConfig::default();
        // The environment may set them; compare only what it leaves alone.
        if std::env::var_os("OWP_RATE_REGISTRATIONS_PER_MINUTE").is_none() {
            assert_eq!(
                c.rate_registrations_per_minute,
                d.rate_registrations_per_minute
            );
            assert!(d.rate_registrations_per_minute >= 100);
        }
        if std::env::var_os("OWP_MAX_CONNECTIONS").is_none() {
            assert_eq!(c.max_connections, d.max_connections);
        }
        let c = parse_serve(&[
            "--client-ip-header",
            "X-Real-IP",
            "--idle-timeout-seconds",
            "5",
        ])
        .unwrap()
        .limits;
        assert_eq!(c.client_ip_header.as_deref(), Some("X-Real-IP"));
        assert_eq!(c.idle_timeout_seconds, 5);
        assert!(parse_serve(&["--idle-timeout-seconds", "0"]).is_err());
        assert!(parse_serve(&["--webhook-concurrency", "0"]).is_err());
    }

    #[test]
    fn ttls_are_bounded() {
        let parse = |args: &[&str]| parse_serve(args).map(|c| c.lease_ttl_seconds);
        assert_eq!(parse(&["--lease-ttl-seconds", "604800"]).unwrap(), 604_800);
        assert!(parse(&["--lease-ttl-seconds", "604801"]).is_err());
        assert!(parse(&["--lease-ttl-seconds", "0"]).is_err());
        assert!(parse(&["--lease-ttl-seconds", "18446744073709551615"]).is_err());
        assert!(parse_serve(&["--accept-ttl-seconds", "86401"]).is_err());
        assert!(parse_serve(&["--heartbeat-ttl-seconds", "999999999999"]).is_err());
    }

    #[test]
    fn admin_tokens_are_long() {
        assert!(admin_token_problem("").unwrap().contains("empty"));
        assert!(admin_token_problem("   ").unwrap().contains("empty"));
        assert!(
            admin_token_problem("fifteen-chars-x")
                .unwrap()
                .contains("too short")
        );
        assert!(admin_token_problem("sixteen-chars-xx").is_none());
    }

    #[test]
    fn signin_is_off_without_a_client_id() {
        let parse = |args: &[&str]| parse_serve(args).unwrap().github;
        if std::env::var_os("GITHUB_CLIENT_ID").is_none() {
            assert_eq!(parse(&[]).signin_client_id(), None);
        }
        assert_eq!(
            parse(&["--github-client-id", "  "]).signin_client_id(),
            None
        );
        let c = parse(&[
            "--github-client-id",
            "Iv1.abc",
            "--github-client-secret",
            "s",
        ]);
        assert_eq!(c.signin_client_id(), Some("Iv1.abc"));
        assert!(!format!("{c:?}").contains("github_client_secret: Some(s"));
        if std::env::var_os("GITHUB_WEB_URL").is_none()
            && std::env::var_os("GITHUB_API_URL").is_none()
        {
            assert_eq!(parse(&[]).web_url(), "https://github.com");
            // A GitHub Enterprise Server's API names its web address: sign-in goes there too.
            let ghes = parse(&["--github-api-url", "https://ghe.example.com/api/v3/"]);
            assert_eq!(ghes.web_url(), "https://ghe.example.com");
            let both = parse(&[
                "--github-api-url",
                "https://ghe.example.com/api/v3",
                "--github-web-url",
                "https://web.example.com/",
            ]);
            assert_eq!(both.web_url(), "https://web.example.com");
        }
        assert_eq!(
            github_web_url_for("http://127.0.0.1:9000"),
            "http://127.0.0.1:9000"
        );
    }

    #[test]
    fn secret_does_not_print() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
