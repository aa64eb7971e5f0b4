//! `owp worker link`, and the same proof `owp worker register` and `owp worker join` run after
//! registering: the worker proves its person with GitHub's device flow through the pool (the
//! contract's section 14). The person opens GitHub's device page, enters the code, and the pool
//! keeps their account id (never their GitHub token). In a pool whose App has no OAuth client,
//! `owp worker link` prints a one-time `/owp link CODE` to comment instead.
//!
//! The page to open comes from the pool, so it is checked before it is shown: only GitHub's
//! device page on the GitHub configured here (`GITHUB_WEB_URL`, by default `https://github.com`)
//! is ever printed, and only a plain code, so that a hostile server cannot send the person to a
//! site of its choosing.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{anyhow, bail};
use serde_json::Value;

use crate::cli::client::present::clock;
use crate::cli::client::{OwpClient, WorkerLinked, say, say_err};
use crate::github::settings::DEFAULT_GITHUB_WEB_URL;

use super::{CommonArgs, Session, WorkerConfig, profile_flag};

/// The longest a person has to approve, whatever the server says.
const MAX_WAIT: Duration = Duration::from_secs(30 * 60);
/// The longest wait between two polls, however often the server says to slow down.
const MAX_INTERVAL: u64 = 120;

#[derive(clap::Args, Debug, Clone)]
pub struct LinkArgs {
    /// Print a one-time `/owp link CODE` to comment on GitHub instead of opening GitHub's device
    /// page (what this command does by itself when the pool's App has no OAuth client).
    #[arg(long)]
    pub code: bool,
    /// GitHub's web address: the device page shown must be on it.
    #[arg(long, env = "GITHUB_WEB_URL", default_value = DEFAULT_GITHUB_WEB_URL, value_name = "URL")]
    pub github_web_url: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Whether `owp worker register` and `join` prove the volunteer's GitHub account after
/// registering (in a pool whose GitHub App has an OAuth client).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LinkChoice {
    /// Prove your GitHub account right after registering even when not at a terminal (by default
    /// only at a terminal; elsewhere a line says to run `owp worker link`).
    #[arg(long, conflicts_with = "no_link")]
    pub link: bool,
    /// Do not prove your GitHub account now (`owp worker link` does it later).
    #[arg(long)]
    pub no_link: bool,
    /// GitHub's web address: the device page shown must be on it.
    #[arg(long, env = "GITHUB_WEB_URL", default_value = DEFAULT_GITHUB_WEB_URL, value_name = "URL")]
    pub github_web_url: String,
}

/// GitHub's device page at `uri`, as sent by the pool, when it is on the GitHub at `web`: the
/// same scheme, host and port, no credentials, under `/login/device`. `web` must be https (plain
/// http only for a GitHub on this machine).
pub fn device_page(uri: &str, web: &str) -> Result<String, String> {
    let web =
        url::Url::parse(web.trim()).map_err(|_| format!("GITHUB_WEB_URL {web:?} is not a URL"))?;
    let local = matches!(web.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if !(web.scheme() == "https" || (web.scheme() == "http" && local)) {
        return Err(format!("GITHUB_WEB_URL {web} is not an https address"));
    }
    let refused = || {
        format!("the server sent a device page that is not GitHub's ({web}login/device); not shown")
    };
    let page = url::Url::parse(uri.trim()).map_err(|_| refused())?;
    let same = page.scheme() == web.scheme()
        && page.host_str() == web.host_str()
        && page.port_or_known_default() == web.port_or_known_default()
        && page.username().is_empty()
        && page.password().is_none()
        && page.path().starts_with("/login/device");
    if !same {
        return Err(refused());
    }
    Ok(page.to_string())
}

/// The code the person enters, when it looks like one of GitHub's (`WDJB-MJHT`).
pub fn user_code(code: &str) -> Result<&str, String> {
    let code = code.trim();
    let plain = !code.is_empty()
        && code.len() <= 16
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if plain {
        Ok(code)
    } else {
        Err("the server sent a code that is not GitHub's; not shown".into())
    }
}

/// Which worker of which pool a proof links, as the instructions name them.
pub(super) struct Linking<'a> {
    pub worker_id: &'a str,
    pub name: &'a str,
    pub server: &'a str,
}

impl<'a> Linking<'a> {
    pub(super) fn of(config: &'a WorkerConfig) -> Self {
        Linking {
            worker_id: &config.worker_id,
            name: &config.name,
            server: &config.server,
        }
    }
}

/// How a proof ended.
pub(super) enum Proof {
    Linked(WorkerLinked),
    /// The pool has no GitHub App with an OAuth client: nothing to prove this way.
    NotOffered,
}

/// Runs the device flow through the pool: prints where to enter which code (to stderr when
/// `quiet`, so that standard output stays machine-readable), then polls at the pool's interval
/// until the person approved, declined, or the code expired.
pub(super) async fn prove(
    client: &OwpClient,
    web: &str,
    quiet: bool,
    linking: &Linking<'_>,
) -> anyhow::Result<Proof> {
    let start = match client.link_device_start().await {
        Ok(start) => start,
        Err(e) if e.status() == Some(404) => return Ok(Proof::NotOffered),
        Err(e) => return Err(e.into()),
    };
    let page = device_page(&start.verification_uri, web).map_err(|e| anyhow!(e))?;
    let code = user_code(&start.user_code).map_err(|e| anyhow!(e))?;
    let tell = |line: String| {
        if quiet {
            say_err!("{line}");
        } else {
            say!("{line}");
        }
    };
    tell(format!(
        "Open {page} and enter {code} to link worker {} ({}) of the pool at {}",
        linking.worker_id, linking.name, linking.server
    ));
    tell("Waiting for GitHub… (sign in there as the account this worker works for)".into());
    let deadline =
        tokio::time::Instant::now() + Duration::from_secs(start.expires_in).min(MAX_WAIT);
    let mut interval = start.interval.clamp(1, 60);
    loop {
        tokio::time::sleep(Duration::from_secs(interval)).await;
        if tokio::time::Instant::now() > deadline {
            bail!("the code expired before it was approved on GitHub");
        }
        match client.link_device_poll(&start.device_code).await {
            Ok(linked) => return Ok(Proof::Linked(linked)),
            Err(e) if e.status() == Some(428) || e.is_transport() => {}
            Err(e) if e.status() == Some(429) => interval = (interval + 5).min(MAX_INTERVAL),
            Err(e) => return Err(e.into()),
        }
    }
}

/// `owp worker link`.
pub(super) async fn link(args: LinkArgs) -> anyhow::Result<()> {
    let session = Session::load(&args.common)?;
    if !args.code {
        let linking = Linking::of(&session.config);
        match prove(
            &session.client,
            &args.github_web_url,
            session.json,
            &linking,
        )
        .await?
        {
            Proof::Linked(linked) => {
                if session.json {
                    say!("{}", serde_json::to_string_pretty(&linked)?);
                } else {
                    say!("{}", linked.said());
                }
                return Ok(());
            }
            Proof::NotOffered => say_err!(
                "this pool does not prove GitHub accounts with GitHub's device page; link by comment instead"
            ),
        }
    }
    link_code(&session).await
}

/// A one-time code that proves, once commented on GitHub, that the commenter's account owns this
/// worker.
async fn link_code(session: &Session) -> anyhow::Result<()> {
    let body = match session.client.link_code().await {
        Ok(body) => body,
        Err(e) if e.status() == Some(404) => {
            bail!("this server has no GitHub App configured, so there is nothing to link")
        }
        Err(e) => return Err(e.into()),
    };
    if session.json {
        say!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(());
    }
    let comment = body
        .get("comment")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let expires = body
        .get("expires_at")
        .and_then(Value::as_str)
        .unwrap_or_default();
    say!(
        "Comment this on any issue of a repository that uses the OWP Pool GitHub App, signed in \
         as the GitHub account to link to {}:\n\n    {comment}\n\nThe code works once, until {}.",
        session.config.name,
        clock(expires)
    );
    Ok(())
}

/// Whether a person is at the terminal to enter a code (and machine-readable output was not
/// asked for).
pub(super) fn at_terminal(json: bool) -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal() && !json
}

/// After `register` or `join`: proves the volunteer's GitHub account when the pool offers it,
/// when `interactive` (a person at a terminal) or with `--link`; otherwise one line says how to
/// do it later, so that a script never waits for a person. A proof that does not finish leaves
/// the registration as it is (it fails the command only when `--link` asked for it).
pub(super) async fn prove_after_registering(
    config: &WorkerConfig,
    common: &CommonArgs,
    choice: &LinkChoice,
    interactive: bool,
) -> anyhow::Result<()> {
    if choice.no_link {
        return Ok(());
    }
    let client = OwpClient::new(&config.server)?.with_worker_token(Some(config.token.clone()));
    let later = format!("owp worker link{}", profile_flag(common));
    if !choice.link && !interactive {
        if offers_proof(&client).await {
            say_err!(
                "not linked to a GitHub account yet: run `{later}` to prove yours (GitHub tasks are \
                 worked only by proven people)"
            );
        }
        return Ok(());
    }
    match prove(
        &client,
        &choice.github_web_url,
        common.json,
        &Linking::of(config),
    )
    .await
    {
        Ok(Proof::Linked(linked)) if common.json => {
            say_err!("{}", linked.said());
            Ok(())
        }
        Ok(Proof::Linked(linked)) => {
            say!("{}", linked.said());
            Ok(())
        }
        Ok(Proof::NotOffered) => Ok(()),
        Err(e) if !choice.link => {
            say_err!("not linked to a GitHub account: {e}; run `{later}` to try again");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Whether the pool proves GitHub accounts with the device flow: it runs the GitHub App and
/// signs people in with GitHub (`github` and `signin` in `GET /v1/meta`).
async fn offers_proof(client: &OwpClient) -> bool {
    let Ok(meta) = client.meta().await else {
        return false;
    };
    let features: Vec<&str> = meta["features"]
        .as_array()
        .map(|f| f.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    features.contains(&"github") && features.contains(&"signin")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_githubs_device_page_is_shown() {
        let gh = "https://github.com";
        assert_eq!(
            device_page("https://github.com/login/device", gh).unwrap(),
            "https://github.com/login/device"
        );
        for hostile in [
            "https://evil.example/login/device",
            "http://github.com/login/device",
            "https://github.com.evil.example/login/device",
            "https://github.com@evil.example/login/device",
            "https://user@github.com/login/device",
            "https://github.com:8443/login/device",
            "https://github.com/evil",
            "javascript:alert(1)",
            "not a url",
        ] {
            assert!(device_page(hostile, gh).is_err(), "{hostile}");
        }
        let ghes = "https://ghe.example.com";
        assert!(device_page("https://ghe.example.com/login/device", ghes).is_ok());
        assert!(device_page("https://github.com/login/device", ghes).is_err());
        let local = "http://127.0.0.1:9000";
        assert!(device_page("http://127.0.0.1:9000/login/device", local).is_ok());
        assert!(device_page("http://127.0.0.1:9001/login/device", local).is_err());
        assert!(
            device_page("http://evil.example/login/device", "http://evil.example").is_err(),
            "plain http only for a GitHub on this machine"
        );
    }

    #[test]
    fn only_a_plain_code_is_shown() {
        assert_eq!(user_code(" WDJB-MJHT ").unwrap(), "WDJB-MJHT");
        assert!(user_code("\u{1b}]8;;https://evil.example\u{7}X").is_err());
        assert!(user_code("").is_err());
        assert!(user_code(&"A".repeat(17)).is_err());
    }
}
