//! `owp doctor`: checks the configuration `owp serve` would run with here (flags, environment,
//! `.env` and `env.local`) and prints a checklist, with the fix for each problem.
//!
//! Checks: the database opens and takes writes; an admin token is set (or, on a maintainer's
//! machine, their sign-in with GitHub still works); the metrics token (if any) is long and not
//! the admin token; whether public boards are on; the GitHub App's credentials parse and GitHub
//! accepts them (`GET /app` signed with the App JWT of each key given, see [`github_app()`]); the
//! webhook secret is present; the public URL answers `/healthz`. Exit status 1 when a required check
//! fails; warnings and skipped (optional) checks do not fail.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use serde_json::Value;

use crate::config::ServeConfig;
use crate::store::database_url::redact_url;
use crate::store::{Store, Timing};

mod github_app;
mod signin;

use github_app::github_app;
pub use signin::SignIn;
use signin::signed_in;

/// How long one network check may take.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(10);

/// The result of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Works, but worth a look; does not fail the run.
    Warn,
    /// A required check failed: `owp serve` would not work as configured.
    Fail,
    /// Not configured and optional.
    Skip,
}

/// One line of the checklist.
#[derive(Clone, Debug)]
pub struct Check {
    pub name: &'static str,
    pub outcome: Outcome,
    pub detail: String,
    /// Lines printed under the detail (one per App key).
    pub notes: Vec<String>,
    /// What to do about a failure or warning.
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            outcome: Outcome::Ok,
            detail: detail.into(),
            notes: Vec::new(),
            fix: None,
        }
    }
    fn skip(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            outcome: Outcome::Skip,
            detail: detail.into(),
            notes: Vec::new(),
            fix: None,
        }
    }
    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            outcome: Outcome::Fail,
            detail: detail.into(),
            notes: Vec::new(),
            fix: Some(fix.into()),
        }
    }
    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            outcome: Outcome::Warn,
            detail: detail.into(),
            notes: Vec::new(),
            fix: Some(fix.into()),
        }
    }
}

/// `owp doctor`, with the saved sign-in of this machine, if any.
pub async fn run(config: ServeConfig, signin: Option<SignIn>) -> anyhow::Result<()> {
    let checks = check_all(&config, signin.as_ref()).await;
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    print!("{}", render(&checks, color));
    let failed = checks.iter().filter(|c| c.outcome == Outcome::Fail).count();
    if failed > 0 {
        anyhow::bail!(
            "{failed} required check{} failed (see the fixes above)",
            if failed == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

/// Runs every check, in the order they are printed.
pub async fn check_all(config: &ServeConfig, saved: Option<&SignIn>) -> Vec<Check> {
    let mut checks = vec![
        database(config).await,
        match (&config.admin_token, saved) {
            // None set here, but a maintainer signed in with GitHub: `owp admin` uses that.
            (None, Some(saved)) => signed_in(saved).await,
            _ => admin_token(config),
        },
        metrics_token(config),
        public_boards(config),
        download_link(config),
    ];
    let app = github_app(config).await;
    let app_configured = app.iter().any(|c| c.outcome != Outcome::Skip);
    checks.extend(app);
    checks.push(webhook_secret(config, app_configured));
    checks.push(signin(config, app_configured));
    checks.push(public_url(config, app_configured).await);
    checks
}

/// The checklist as text; `color` adds ANSI colours.
pub fn render(checks: &[Check], color: bool) -> String {
    let paint = |style: Style, text: &str| {
        if color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    };
    let green = Style::new().fg_color(Some(AnsiColor::Green.into())).bold();
    let red = Style::new().fg_color(Some(AnsiColor::Red.into())).bold();
    let yellow = Style::new().fg_color(Some(AnsiColor::Yellow.into())).bold();
    let dim = Style::new().dimmed();
    let mut out = String::from("owp doctor: the configuration `owp serve` would use here\n\n");
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in checks {
        let mark = match c.outcome {
            Outcome::Ok => paint(green, "✔"),
            Outcome::Fail => paint(red, "✘"),
            Outcome::Warn => paint(yellow, "!"),
            Outcome::Skip => paint(dim, "–"),
        };
        let _ = writeln!(out, "  {mark} {:<width$}  {}", c.name, c.detail);
        for note in &c.notes {
            let _ = writeln!(out, "    {:<width$}  {note}", "");
        }
        if let Some(fix) = &c.fix {
            let _ = writeln!(out, "    {:<width$}  {} {fix}", "", paint(dim, "fix:"));
        }
    }
    let failed = checks.iter().filter(|c| c.outcome == Outcome::Fail).count();
    let warned = checks.iter().filter(|c| c.outcome == Outcome::Warn).count();
    out.push('\n');
    match (failed, warned) {
        (0, 0) => out.push_str(&paint(
            green,
            "All checks passed. `owp serve` can start here with this configuration.",
        )),
        (0, w) => out.push_str(&format!(
            "No failures; {w} warning{}: `owp serve` can start here with this configuration \
             (the warnings say what to look at before a deployment).",
            plural(w)
        )),
        (f, w) => out.push_str(&paint(
            red,
            &format!("{f} check{} failed, {w} warning{}.", plural(f), plural(w)),
        )),
    }
    out.push('\n');
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

// ---- database ----------------------------------------------------------------------------------

async fn database(config: &ServeConfig) -> Check {
    const NAME: &str = "Database";
    let url = config.database_url();
    let shown = match &config.database_url {
        Some(u) => format!("PostgreSQL {}", redact_url(u)),
        None => format!("SQLite {}", config.db.display()),
    };
    if config.database_url.is_none() && !config.db.exists() {
        return sqlite_not_created_yet(&config.db, &shown);
    }
    let opened = tokio::time::timeout(
        Duration::from_secs(20),
        Store::open(&url, Timing::default()),
    )
    .await;
    let store = match opened {
        Ok(Ok(store)) => store,
        Ok(Err(e)) => {
            return Check::fail(
                NAME,
                format!("{shown}: cannot open it: {e}"),
                database_fix(config),
            );
        }
        Err(_) => {
            return Check::fail(
                NAME,
                format!("{shown}: no answer within 20 s"),
                database_fix(config),
            );
        }
    };
    let written = store.probe_write().await;
    store.close().await;
    match written {
        Ok(()) => Check::ok(
            NAME,
            format!("{shown}: opens, schema up to date, takes writes"),
        ),
        Err(e) => Check::fail(
            NAME,
            format!("{shown}: opens but refuses writes: {e}"),
            database_fix(config),
        ),
    }
}

fn sqlite_not_created_yet(db: &Path, shown: &str) -> Check {
    const NAME: &str = "Database";
    let dir = match db.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Check::fail(
            NAME,
            format!("{shown}: the directory {} does not exist", dir.display()),
            format!(
                "create it (`mkdir -p {}`) or point OWP_DB / --db at a writable place",
                dir.display()
            ),
        );
    }
    match tempfile::NamedTempFile::new_in(&dir) {
        Ok(_) => Check::ok(
            NAME,
            format!(
                "{shown}: not created yet; `owp serve` creates it ({} is writable)",
                dir.display()
            ),
        ),
        Err(e) => Check::fail(
            NAME,
            format!("{shown}: cannot write in {}: {e}", dir.display()),
            format!(
                "make {} writable by the user running owp, or point OWP_DB / --db elsewhere \
                 (in Docker: a volume mounted at /data)",
                dir.display()
            ),
        ),
    }
}

fn database_fix(config: &ServeConfig) -> String {
    match &config.database_url {
        Some(_) => {
            "check OWP_DATABASE_URL (host, port, database name, user and password) and that \
                    the user may create tables and write"
                .into()
        }
        None => format!(
            "make {} and its directory writable by the user running owp, stop any process \
             holding it locked, or point OWP_DB / --db at another file",
            config.db.display()
        ),
    }
}

// ---- download link ------------------------------------------------------------------------------

/// Where the `/join` page sends volunteers for `owp`: `OWP_DOWNLOAD_URL`, else the releases of
/// the repository this `owp` was built from; with neither, the page asks them to ask the operator.
fn download_link(config: &ServeConfig) -> Check {
    const NAME: &str = "Download link";
    match (
        &config.download_url,
        crate::config::download_url(config.download_url.as_deref()),
    ) {
        (Some(url), _) => Check::ok(NAME, format!("/join links {url} (OWP_DOWNLOAD_URL)")),
        (None, Some(url)) => Check::ok(
            NAME,
            format!(
                "/join links {url}, the releases of the repository this owp was built from \
                 (OWP_DOWNLOAD_URL names another)"
            ),
        ),
        (None, None) => Check::skip(
            NAME,
            "not set: /join says to build owp from source, and to ask you where to download \
             it (OWP_DOWNLOAD_URL names the address, e.g. the project's releases page)",
        ),
    }
}

// ---- admin token -------------------------------------------------------------------------------

fn admin_token(config: &ServeConfig) -> Check {
    const NAME: &str = "Admin token";
    match &config.admin_token {
        None => first_run_token(Path::new(crate::config::ENV_LOCAL)),
        Some(t) if crate::config::admin_token_problem(t.expose()).is_some() => Check::fail(
            NAME,
            crate::config::admin_token_problem(t.expose()).unwrap_or_default(),
            "set OWP_ADMIN_TOKEN to a long random secret (e.g. `openssl rand -hex 32`): \
             `owp serve` refuses to start with this one",
        ),
        Some(t) => Check::ok(
            NAME,
            format!(
                "set ({} characters, not shown): {}",
                t.expose().len(),
                crate::config::admin_token_source(t.expose())
            ),
        ),
    }
}

/// No admin token yet: a first `owp serve` here generates one into `env.local`, which works on
/// this machine (a warning, for deployments) unless that file cannot take it.
fn first_run_token(env_local: &Path) -> Check {
    const NAME: &str = "Admin token";
    let shown = std::env::current_dir()
        .map(|d| d.join(env_local))
        .unwrap_or_else(|_| env_local.to_path_buf());
    let set_one = "or set OWP_ADMIN_TOKEN to a long random secret (e.g. `openssl rand -hex 32`)";
    if let Some(mode) = shared_mode(env_local) {
        return Check::fail(
            NAME,
            format!(
                "not set, and {} is readable or writable by other users (mode {mode:o}), so \
                 `owp serve` will not save a generated token there",
                shown.display()
            ),
            format!("run `chmod 600 {}`, {set_one}", env_local.display()),
        );
    }
    let dir = shown.parent().unwrap_or(Path::new("."));
    let writable = if env_local.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(env_local)
            .is_ok()
    } else {
        tempfile::NamedTempFile::new_in(dir).is_ok()
    };
    if !writable {
        return Check::fail(
            NAME,
            format!(
                "not set, and `owp serve` cannot save a generated one to {}",
                shown.display()
            ),
            format!("make {} writable, {set_one}", dir.display()),
        );
    }
    Check::warn(
        NAME,
        format!(
            "not set yet: a first `owp serve` here generates one and saves it to {} \
             (readable only by you), where `owp admin` and `owp doctor` in this directory find it",
            shown.display()
        ),
        "nothing to do on this machine; for a deployment set OWP_ADMIN_TOKEN in its secret \
         store (a container loses env.local when it is replaced)",
    )
}

/// The permission bits of `path` when other users may read or write it (Unix only).
fn shared_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// `OWP_METRICS_TOKEN`: optional; without it Prometheus must scrape with the admin token.
fn metrics_token(config: &ServeConfig) -> Check {
    const NAME: &str = "Metrics token";
    match &config.metrics_token {
        None => Check::skip(
            NAME,
            "OWP_METRICS_TOKEN is not set: GET /metrics answers the admin token only",
        ),
        Some(t) if t.expose().trim().len() < 16 => Check::warn(
            NAME,
            format!("set, but short ({} characters)", t.expose().trim().len()),
            "use at least 32 random characters (e.g. `openssl rand -hex 32`)",
        ),
        Some(t)
            if config
                .admin_token
                .as_ref()
                .is_some_and(|a| a.expose() == t.expose()) =>
        {
            Check::warn(
                NAME,
                "the same as the admin token",
                "give Prometheus a token of its own: it can then read /metrics and nothing else",
            )
        }
        Some(t) => Check::ok(
            NAME,
            format!(
                "set ({} characters, not shown): scrapes /metrics only",
                t.expose().len()
            ),
        ),
    }
}

/// `OWP_PUBLIC_BOARDS`: says what it exposes when on.
fn public_boards(config: &ServeConfig) -> Check {
    const NAME: &str = "Public boards";
    if config.public_boards {
        Check::ok(
            NAME,
            "on: the boards of public repositories are readable without signing in (read-only)",
        )
    } else {
        Check::skip(
            NAME,
            "off: every dashboard page needs the admin session (OWP_PUBLIC_BOARDS=1 opens the \
             boards of public repositories)",
        )
    }
}

/// The doctor's HTTP client (each call bounded by [`NETWORK_TIMEOUT`]), or the failed check
/// `name` when none can be made.
fn client(name: &'static str) -> Result<reqwest::Client, Box<Check>> {
    reqwest::Client::builder()
        .timeout(NETWORK_TIMEOUT)
        .user_agent(concat!("owp-doctor/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Box::new(Check::fail(name, e.to_string(), "report this as a bug")))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let _ = write!(text, ": {s}");
        source = s.source();
    }
    text
}

// ---- webhook secret ----------------------------------------------------------------------------

fn webhook_secret(config: &ServeConfig, app_configured: bool) -> Check {
    const NAME: &str = "Webhook secret";
    let secrets: Vec<&str> = config
        .github
        .github_webhook_secret
        .as_ref()
        .map(|s| {
            s.expose()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    match (secrets.is_empty(), app_configured) {
        (true, false) => Check::skip(NAME, "not set (only needed with a GitHub App)"),
        (true, true) => Check::fail(
            NAME,
            "GITHUB_WEBHOOK_SECRET is not set: every webhook delivery would be refused",
            "set GITHUB_WEBHOOK_SECRET to the secret in the App settings → Webhook",
        ),
        (false, false) => Check::warn(
            NAME,
            "set, but no GitHub App is configured",
            "set GITHUB_APP_ID and GITHUB_PRIVATE_KEY too, or remove GITHUB_WEBHOOK_SECRET",
        ),
        (false, true) if secrets.len() > 1 => Check::ok(
            NAME,
            format!(
                "set ({} secrets accepted while one is rotated)",
                secrets.len()
            ),
        ),
        (false, true) => Check::ok(NAME, "set (not shown)"),
    }
}

// ---- sign-in with GitHub ----------------------------------------------------------------------

/// `GITHUB_CLIENT_ID` and `GITHUB_CLIENT_SECRET`: maintainers sign in with GitHub, or sign-in is
/// off and only the admin token steers the pool.
fn signin(config: &ServeConfig, app_configured: bool) -> Check {
    const NAME: &str = "Sign-in with GitHub";
    let gh = &config.github;
    let secret = gh
        .github_client_secret
        .as_ref()
        .is_some_and(|s| !s.expose().trim().is_empty());
    match (gh.signin_client_id(), secret) {
        (None, false) => Check::skip(
            NAME,
            "off: GITHUB_CLIENT_ID is not set, so only the admin token steers the pool \
             (the App setup page saves the App's client id and secret)",
        ),
        (None, true) => Check::warn(
            NAME,
            "off: GITHUB_CLIENT_SECRET is set but GITHUB_CLIENT_ID is not",
            "set GITHUB_CLIENT_ID to the App's client id (App settings → About → Client ID)",
        ),
        (Some(_), false) => Check::fail(
            NAME,
            "GITHUB_CLIENT_ID is set but GITHUB_CLIENT_SECRET is not: every sign-in would fail",
            "generate a client secret (App settings → Client secrets) and set GITHUB_CLIENT_SECRET",
        ),
        (Some(_), true) if !app_configured => Check::warn(
            NAME,
            "on, but no GitHub App is configured: nobody maintains a repository of the pool",
            "set GITHUB_APP_ID and GITHUB_PRIVATE_KEY too: maintainers are those GitHub gives \
             write access to repositories the App is installed on",
        ),
        (Some(id), true) => Check::ok(
            NAME,
            format!(
                "on: client {id} (secret set, not shown); GitHub at {}",
                gh.web_url()
            ),
        ),
    }
}

// ---- public URL --------------------------------------------------------------------------------

async fn public_url(config: &ServeConfig, app_configured: bool) -> Check {
    const NAME: &str = "Public URL";
    let Some(url) = config
        .public_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    else {
        return if app_configured {
            Check::warn(
                NAME,
                "OWP_PUBLIC_URL is not set: links in GitHub comments and the App setup need it",
                "set OWP_PUBLIC_URL to the address GitHub and people reach this service at, \
                 e.g. https://owp.example.org",
            )
        } else {
            Check::skip(
                NAME,
                "OWP_PUBLIC_URL not set (only needed for GitHub mode and links)",
            )
        };
    };
    let base = url.trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Check::fail(
            NAME,
            format!("OWP_PUBLIC_URL `{url}` is not an http(s) URL"),
            "write it with its scheme, e.g. https://owp.example.org",
        );
    }
    let health = format!("{base}/healthz");
    let answer = async {
        let http = reqwest::Client::builder()
            .timeout(NETWORK_TIMEOUT)
            .build()?;
        let res = http.get(&health).send().await?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        Ok::<_, reqwest::Error>((status, body))
    }
    .await;
    match answer {
        Ok((status, body))
            if status.is_success()
                && body.get("protocol").and_then(Value::as_str) == Some("owp/1") =>
        {
            Check::ok(NAME, format!("{health} answers"))
        }
        Ok((status, _)) => Check::fail(
            NAME,
            format!("{health} answered {status}, not OWP Pool's health check"),
            "make this URL route to `owp serve` (check the proxy or load balancer in front of it)",
        ),
        Err(e) => Check::fail(
            NAME,
            format!("{health} is not reachable: {}", error_chain(&e)),
            "start `owp serve` and make sure this URL reaches it (DNS, TLS, proxy, firewall); \
             GitHub must reach it too, for webhooks",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::secret::Secret;

    fn config(dir: &Path) -> ServeConfig {
        ServeConfig::for_tests(&dir.join("owp.db"), "a-long-enough-admin-token-0123456789")
    }

    #[tokio::test]
    async fn a_plain_setup_passes_and_skips_github() {
        let dir = tempfile::tempdir().unwrap();
        let checks = check_all(&config(dir.path()), None).await;
        let by = |n: &str| checks.iter().find(|c| c.name == n).unwrap().outcome;
        assert_eq!(by("Database"), Outcome::Ok);
        assert_eq!(by("Admin token"), Outcome::Ok);
        assert_eq!(by("GitHub App"), Outcome::Skip);
        assert_eq!(by("Webhook secret"), Outcome::Skip);
        assert_eq!(by("Public URL"), Outcome::Skip);
        assert_eq!(by("Metrics token"), Outcome::Skip);
        assert_eq!(by("Public boards"), Outcome::Skip);
        assert!(
            !dir.path().join("owp.db").exists(),
            "the doctor creates no database"
        );
    }

    #[test]
    fn the_metrics_token_and_public_boards_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path());
        cfg.metrics_token = Some(Secret::new("short"));
        assert_eq!(metrics_token(&cfg).outcome, Outcome::Warn);
        cfg.metrics_token = cfg.admin_token.clone();
        let same = metrics_token(&cfg);
        assert_eq!(same.outcome, Outcome::Warn);
        assert!(same.detail.contains("admin token"), "{same:?}");
        cfg.metrics_token = Some(Secret::new("prometheus-scrape-token-0123456789"));
        let ok = metrics_token(&cfg);
        assert_eq!(ok.outcome, Outcome::Ok);
        assert!(
            !ok.detail.contains("prometheus-scrape"),
            "never shows the token"
        );
        cfg.public_boards = true;
        assert_eq!(public_boards(&cfg).outcome, Outcome::Ok);
    }

    #[tokio::test]
    async fn an_existing_database_is_opened_and_left_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        let store = Store::open(&cfg.database_url(), Timing::default())
            .await
            .unwrap();
        store.close().await;
        let check = database(&cfg).await;
        assert_eq!(check.outcome, Outcome::Ok, "{check:?}");
        let store = Store::open(&cfg.database_url(), Timing::default())
            .await
            .unwrap();
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM settings WHERE name = 'owp-doctor-probe'")
                .fetch_one(store.read_pool())
                .await
                .unwrap();
        assert_eq!(n, 0, "the write probe was rolled back");
        store.close().await;
    }

    #[tokio::test]
    async fn a_missing_directory_fails_with_a_fix() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path());
        cfg.db = dir.path().join("nope/owp.db");
        let check = database(&cfg).await;
        assert_eq!(check.outcome, Outcome::Fail);
        assert!(check.fix.unwrap().contains("mkdir -p"));
    }

    #[test]
    fn admin_token_checks() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path());
        cfg.admin_token = Some(Secret::new("short"));
        assert_eq!(admin_token(&cfg).outcome, Outcome::Fail);
        cfg.admin_token = Some(Secret::new(""));
        assert_eq!(admin_token(&cfg).outcome, Outcome::Fail);
        cfg.admin_token = Some(Secret::new("x".repeat(40)));
        let ok = admin_token(&cfg);
        assert_eq!(ok.outcome, Outcome::Ok);
        assert!(!ok.detail.contains("xxxx"), "the token is never printed");
    }

    #[test]
    fn without_a_token_a_first_run_generates_one() {
        let dir = tempfile::tempdir().unwrap();
        let env_local = dir.path().join("env.local");
        let fresh = first_run_token(&env_local);
        assert_eq!(fresh.outcome, Outcome::Warn, "{fresh:?}");
        assert!(
            fresh
                .detail
                .contains("a first `owp serve` here generates one")
        );
        std::fs::write(&env_local, "GITHUB_APP_ID=1\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&env_local, std::fs::Permissions::from_mode(0o644)).unwrap();
            let shared = first_run_token(&env_local);
            assert_eq!(shared.outcome, Outcome::Fail, "{shared:?}");
            assert!(shared.fix.unwrap().contains("chmod 600"));
        }
    }

    #[tokio::test]
    async fn half_configured_github_fails() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path());
        cfg.github.github_app_id = Some(12);
        let checks = github_app(&cfg).await;
        assert_eq!(checks[0].outcome, Outcome::Fail);
        assert!(
            checks[0]
                .fix
                .as_deref()
                .unwrap()
                .contains("GITHUB_PRIVATE_KEY")
        );
        cfg.github.github_private_key = Some(Secret::new("not a key"));
        let checks = github_app(&cfg).await;
        assert_eq!(checks[0].outcome, Outcome::Fail);
        assert!(checks[0].detail.contains("RSA"), "{:?}", checks[0]);
    }

    #[test]
    fn signin_is_on_or_plainly_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path());
        let check = signin(&cfg, true);
        assert_eq!(check.outcome, Outcome::Skip);
        assert!(check.detail.starts_with("off"), "{check:?}");
        cfg.github.github_client_id = Some("Iv1.abc".into());
        assert_eq!(signin(&cfg, true).outcome, Outcome::Fail);
        cfg.github.github_client_secret = Some(Secret::new("shh-secret"));
        let check = signin(&cfg, true);
        assert_eq!(check.outcome, Outcome::Ok);
        assert!(check.detail.starts_with("on") && !check.detail.contains("shh"));
        assert_eq!(signin(&cfg, false).outcome, Outcome::Warn);
        cfg.github.github_client_id = None;
        assert_eq!(signin(&cfg, true).outcome, Outcome::Warn);
    }

    #[test]
    fn webhook_secret_rules() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path());
        assert_eq!(webhook_secret(&cfg, false).outcome, Outcome::Skip);
        assert_eq!(webhook_secret(&cfg, true).outcome, Outcome::Fail);
        cfg.github.github_webhook_secret = Some(Secret::new("old-secret, new-secret"));
        let ok = webhook_secret(&cfg, true);
        assert_eq!(ok.outcome, Outcome::Ok);
        assert!(ok.detail.contains("2 secrets"));
        assert!(!ok.detail.contains("old-secret"));
        assert_eq!(webhook_secret(&cfg, false).outcome, Outcome::Warn);
    }

    #[test]
    fn render_marks_and_fixes() {
        let checks = vec![
            Check::ok("Database", "fine"),
            Check::fail("Admin token", "missing", "set it"),
            Check::skip("GitHub App", "off"),
        ];
        let text = render(&checks, false);
        assert!(text.contains("✔ Database"));
        assert!(text.contains("✘ Admin token"));
        assert!(text.contains("fix: set it"));
        assert!(text.contains("– GitHub App"));
        assert!(text.contains("1 check failed, 0 warnings."));
        assert!(!text.contains('\u{1b}'), "no colour unless asked");
        assert!(render(&checks, true).contains('\u{1b}'));
    }
}
