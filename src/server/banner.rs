//! What `owp serve` prints once it listens: where the API and the dashboard are, where the admin
//! token is, and the next command to try.
//!
//! The token itself is never printed, not even one just generated: the service's output often
//! ends up in a log file or a journal that others can read, while `env.local` is readable only by
//! its owner. The block names the file and the command that shows the token instead.

use std::fmt::Write as _;
use std::net::SocketAddr;

use super::reachable;
use crate::config::TokenSource;

/// The server `owp admin` and `owp worker` talk to when given no `--server`.
const DEFAULT_CLIENT_SERVER: &str = "http://127.0.0.1:8787";

/// What the start-up block says of GitHub: whether the App runs, and whether maintainers can
/// sign in with GitHub.
#[derive(Clone, Copy, Debug, Default)]
pub struct GithubMode {
    pub app: bool,
    pub signin: bool,
}

/// The start-up block for a service listening on `addr`.
pub fn banner(
    addr: SocketAddr,
    public_url: Option<&str>,
    token: &TokenSource,
    github: GithubMode,
) -> String {
    let local = format!("http://{}", reachable(addr));
    let base = public_url
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| local.clone());
    let mut out = String::from("\nOWP Pool is running.\n");
    let _ = writeln!(
        out,
        "  API          {base}  (OWP v1; its OpenAPI document: {base}/v1/openapi.json)"
    );
    let _ = writeln!(
        out,
        "  Dashboard    {base}/  (sign in with the admin token)"
    );
    let _ = writeln!(out, "  Admin token  {token}");
    if let TokenSource::Generated(path) | TokenSource::File(path) = token {
        let _ = writeln!(
            out,
            "               `{} {}` shows it; it is not printed here, as this output may be kept in logs",
            if cfg!(windows) { "type" } else { "cat" },
            path.display()
        );
    }
    let server = if local == DEFAULT_CLIENT_SERVER {
        String::new()
    } else {
        format!(" --server {local}")
    };
    let here = match token {
        TokenSource::Environment | TokenSource::Database => "with the same OWP_ADMIN_TOKEN",
        _ => "from this directory, so it finds the token",
    };
    if github.app {
        let signin = if github.signin {
            format!("sign-in with GitHub on (callback {base}/auth/github/callback)")
        } else {
            "sign-in with GitHub off (set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET)".to_string()
        };
        let _ = writeln!(
            out,
            "  GitHub App   on: webhook {base}/github/webhook; {signin}"
        );
        if public_url.is_none() {
            let _ = writeln!(
                out,
                "  Warning      OWP_PUBLIC_URL is not set: the webhook, sign-in and the links in \
                 comments name {local}, which GitHub and people elsewhere cannot open; set it to \
                 the address they reach (and restart)"
            );
        }
        let _ = writeln!(
            out,
            "  Next         label an issue `pool:ready` in a repository the App is installed on; \
             `owp admin state{server}` shows it   ({here})"
        );
    } else {
        let _ = writeln!(
            out,
            "  Next         owp admin init-repo demo --max-open-prs 2{server}   ({here})"
        );
    }
    out.push('\n');
    out
}

/// The start-up block as one log line of fields (`OWP_LOG_FORMAT=json`): what it names, and no
/// more (the admin token's place, never the token).
pub fn log(addr: SocketAddr, public_url: Option<&str>, token: &TokenSource, github: GithubMode) {
    let local = format!("http://{}", reachable(addr));
    let base = public_url
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| local.clone());
    tracing::info!(
        api = %base,
        openapi = %format!("{base}/v1/openapi.json"),
        dashboard = %format!("{base}/"),
        admin_token = %token,
        github_app = github.app,
        github_signin = github.signin,
        public_url_set = public_url.is_some(),
        "OWP Pool is running"
    );
    if github.app && public_url.is_none() {
        tracing::warn!(
            "OWP_PUBLIC_URL is not set: the webhook, sign-in and the links in comments name \
             {local}, which GitHub and people elsewhere cannot open; set it to the address they \
             reach (and restart)"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn the_default_port_needs_no_server_flag_and_others_do() {
        let generated = TokenSource::Generated(PathBuf::from("env.local"));
        let off = GithubMode::default();
        let text = banner("0.0.0.0:8787".parse().unwrap(), None, &generated, off);
        assert!(
            text.contains("Dashboard    http://127.0.0.1:8787/"),
            "{text}"
        );
        assert!(
            text.contains("--max-open-prs 2   (from this directory"),
            "{text}"
        );
        assert!(text.contains("generated just now"), "{text}");
        let text = banner(
            "127.0.0.1:9000".parse().unwrap(),
            None,
            &TokenSource::Environment,
            off,
        );
        assert!(text.contains("--server http://127.0.0.1:9000"), "{text}");
        assert!(!text.contains("shows it"), "{text}");
        let text = banner(
            "127.0.0.1:9000".parse().unwrap(),
            Some("https://pool.example.org/"),
            &TokenSource::Environment,
            off,
        );
        assert!(
            text.contains("Dashboard    https://pool.example.org/ "),
            "{text}"
        );
    }

    #[test]
    fn github_mode_names_the_webhook_sign_in_and_a_missing_public_url() {
        let app = GithubMode {
            app: true,
            signin: true,
        };
        let text = banner(
            "127.0.0.1:8787".parse().unwrap(),
            Some("https://pool.example.org"),
            &TokenSource::Environment,
            app,
        );
        assert!(
            text.contains("webhook https://pool.example.org/github/webhook"),
            "{text}"
        );
        assert!(text.contains("sign-in with GitHub on"), "{text}");
        assert!(!text.contains("init-repo demo"), "{text}");
        assert!(!text.contains("OWP_PUBLIC_URL is not set"), "{text}");
        let text = banner(
            "127.0.0.1:9000".parse().unwrap(),
            None,
            &TokenSource::Environment,
            GithubMode {
                signin: false,
                ..app
            },
        );
        assert!(text.contains("OWP_PUBLIC_URL is not set"), "{text}");
        assert!(text.contains("sign-in with GitHub off"), "{text}");
        assert!(
            text.contains("`owp admin state --server http://127.0.0.1:9000`"),
            "{text}"
        );
    }
}
