//! `owp login URL` and `owp logout`: a maintainer signs in with GitHub (the device flow) and the
//! CLI keeps the maintainer token (`owpm_…`) in `maintainer.json` beside the worker profiles
//! (readable only by its owner where the system allows), so that `owp admin …` works without the
//! admin token, limited to the repositories the person maintains.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::server_url;
use super::worker::profile::{config_dir, save_json};

/// The file the maintainer token is kept in, in the CLI's config folder.
pub const MAINTAINER_FILE: &str = "maintainer.json";
/// The longest a person has to approve the sign-in, whatever the server says.
const MAX_WAIT: Duration = Duration::from_secs(30 * 60);

#[derive(clap::Args, Debug, Clone)]
pub struct LoginArgs {
    /// The OWP server to sign in to (its base URL).
    pub server: String,
    /// Where the token is saved [default: $XDG_CONFIG_HOME/owp or ~/.config/owp].
    #[arg(long, env = "OWP_CONFIG_DIR")]
    pub config_dir: Option<PathBuf>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct LogoutArgs {
    /// Where the token was saved [default: $XDG_CONFIG_HOME/owp or ~/.config/owp].
    #[arg(long, env = "OWP_CONFIG_DIR")]
    pub config_dir: Option<PathBuf>,
}

/// A saved sign-in.
#[derive(Clone, Serialize, Deserialize)]
pub struct SavedLogin {
    pub server: String,
    pub login: String,
    pub token: String,
    pub expires_at: String,
}

impl std::fmt::Debug for SavedLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedLogin")
            .field("server", &self.server)
            .field("login", &self.login)
            .field("token", &"***")
            .finish_non_exhaustive()
    }
}

/// The folder of the CLI's saved credentials.
fn folder(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE"));
    config_dir(explicit, std::env::var_os("XDG_CONFIG_HOME"), home)
        .ok_or_else(|| anyhow!("cannot tell where to save the sign-in: set OWP_CONFIG_DIR or HOME"))
}

/// The saved sign-in, if any (for `owp admin …` without an admin token).
pub fn saved(explicit: Option<&Path>) -> Option<SavedLogin> {
    let path = folder(explicit).ok()?.join(MAINTAINER_FILE);
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// The saved maintainer token when it was made by `server`.
pub fn token_for(server: &str) -> Option<String> {
    let explicit = std::env::var_os("OWP_CONFIG_DIR").map(PathBuf::from);
    let saved = saved(explicit.as_deref())?;
    let base = |u: &str| server_url::parse(u).ok().map(|s| s.base);
    (base(&saved.server)? == base(server)?).then_some(saved.token)
}

/// The sign-in saved on this machine (`OWP_CONFIG_DIR`, else the default folder), as `owp
/// doctor` checks it.
pub fn for_doctor() -> Option<crate::doctor::SignIn> {
    let explicit = std::env::var_os("OWP_CONFIG_DIR").map(PathBuf::from);
    let saved = saved(explicit.as_deref())?;
    Some(crate::doctor::SignIn {
        server: saved.server,
        login: saved.login,
        token: saved.token,
        expires_at: saved.expires_at,
    })
}

/// `owp login URL`.
pub async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let base = server_url::parse(&args.server)
        .map_err(|e| anyhow!("{e}"))?
        .base;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let start = http
        .post(format!("{base}/v1/auth/device"))
        .send()
        .await
        .with_context(|| format!("cannot reach {base}"))?;
    match start.status().as_u16() {
        200 => {}
        404 => {
            bail!("{base} does not offer sign-in with GitHub (GITHUB_CLIENT_ID is not set there)")
        }
        status => bail!(
            "{base} could not start a sign-in ({status}): {}",
            problem(start).await
        ),
    }
    let start: Value = start.json().await.context("unreadable answer")?;
    let device_code = start["device_code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut interval = start["interval"].as_u64().unwrap_or(5).clamp(1, 60);
    println!(
        "Open {} and enter the code {}",
        start["verification_uri"]
            .as_str()
            .unwrap_or("https://github.com/login/device"),
        start["user_code"].as_str().unwrap_or("?")
    );
    println!("Waiting for GitHub…");
    let deadline = tokio::time::Instant::now()
        + Duration::from_secs(start["expires_in"].as_u64().unwrap_or(900)).min(MAX_WAIT);
    loop {
        tokio::time::sleep(Duration::from_secs(interval)).await;
        if tokio::time::Instant::now() > deadline {
            bail!("the code expired before it was approved: run `owp login {base}` again");
        }
        let res = http
            .post(format!("{base}/v1/auth/device/token"))
            .json(&json!({ "device_code": device_code }))
            .send()
            .await;
        let res = match res {
            Ok(res) => res,
            Err(_) => continue,
        };
        match res.status().as_u16() {
            201 => {
                let body: Value = res.json().await.context("unreadable answer")?;
                let saved = SavedLogin {
                    server: base.clone(),
                    login: body["login"].as_str().unwrap_or_default().to_string(),
                    token: body["token"].as_str().unwrap_or_default().to_string(),
                    expires_at: body["expires_at"].as_str().unwrap_or_default().to_string(),
                };
                let path = folder(args.config_dir.as_deref())?.join(MAINTAINER_FILE);
                save_json(&path, &saved)?;
                println!(
                    "Signed in to {base} as {} until {}; `owp admin …` now works with this sign-in \
                     (saved in {}).",
                    saved.login,
                    saved.expires_at,
                    path.display()
                );
                return Ok(());
            }
            428 => {}
            429 => {
                // slow_down: GitHub (or the server) asks for more time between polls.
                let asked = res
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                interval = asked.unwrap_or(interval + 5).clamp(interval, 120);
            }
            status => bail!("the sign-in ended ({status}): {}", problem(res).await),
        }
    }
}

/// `owp logout`: the token ends on the server and leaves this machine.
pub async fn logout(args: LogoutArgs) -> anyhow::Result<()> {
    let path = folder(args.config_dir.as_deref())?.join(MAINTAINER_FILE);
    let Some(saved) = saved(args.config_dir.as_deref()) else {
        println!("Not signed in.");
        return Ok(());
    };
    let ended = reqwest::Client::new()
        .post(format!("{}/v1/auth/logout", saved.server))
        .bearer_auth(&saved.token)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map(|r| r.status().is_success() || r.status() == 401);
    std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    match ended {
        Ok(true) => println!("Signed out of {} ({}).", saved.server, saved.login),
        _ => println!(
            "Removed the sign-in from this machine; {} could not be told (the token ends by itself on {}).",
            saved.server, saved.expires_at
        ),
    }
    Ok(())
}

/// A problem's detail, or the status.
async fn problem(res: reqwest::Response) -> String {
    let status = res.status();
    res.json::<Value>()
        .await
        .ok()
        .and_then(|v| v["detail"].as_str().map(str::to_string))
        .unwrap_or_else(|| status.to_string())
}
