//! The GitHub App's checks: its id and private keys parse, and GitHub takes them. Each key given
//! (several while one is rotated) is asked about on its own, `GET /app` signed with it, and
//! shown by its position and the fingerprint GitHub lists beside it in the App's settings, never
//! by the key itself. The check fails only when GitHub takes none of them: the App signs with the
//! first one it takes.

use serde_json::Value;

use super::{Check, client, error_chain};
use crate::config::ServeConfig;
use crate::github::app_auth::{AppAuthError, AppCredentials};

const KEY: &str = "GitHub App key";
const GITHUB: &str = "GitHub accepts App";

pub(super) async fn github_app(config: &ServeConfig) -> Vec<Check> {
    let creds = match AppCredentials::from_config(&config.github) {
        Ok(None) => {
            return vec![Check::skip(
                "GitHub App",
                "not configured: GitHub features are off (the API, dashboard and CLI work without it)",
            )];
        }
        Ok(Some(creds)) => creds,
        Err(e) => {
            let fix = match &e {
                AppAuthError::MissingPrivateKey => {
                    "set GITHUB_PRIVATE_KEY (the PEM text) or GITHUB_PRIVATE_KEY_PATH (a file); \
                     GitHub offers the key under App settings → Private keys"
                }
                AppAuthError::MissingAppId => {
                    "set GITHUB_APP_ID to the App's numeric id (App settings → About → App ID)"
                }
                AppAuthError::KeyFile { .. } => {
                    "make GITHUB_PRIVATE_KEY_PATH name a readable file holding the App's key"
                }
                _ => {
                    "use the .pem file GitHub generated for this App (it starts with \
                     `-----BEGIN RSA PRIVATE KEY-----`); in an env file keep its line breaks or write them as \\n"
                }
            };
            return vec![Check::fail(KEY, error_chain(&e), fix)];
        }
    };
    let parsed = match creds.key_count() {
        1 => "the private key parses (RSA, PEM)".to_string(),
        n => {
            format!("{n} private keys parse (RSA, PEM); the App signs with the first GitHub takes")
        }
    };
    vec![
        Check::ok(KEY, format!("App id {}; {parsed}", creds.app_id())),
        github_accepts(&creds, &config.github.github_api_url).await,
    ]
}

/// What GitHub answered to `GET /app` signed with one key.
enum Answer {
    /// The App's description.
    Accepted(Value),
    /// 401 or 403: GitHub does not take this key (or the id, or the clock is off).
    Refused(String),
    /// Another status.
    Failed(String),
    /// No answer: the network, the URL.
    Unreachable(String),
}

/// `GET /app` with an App JWT: GitHub answers with the App when the id and key belong together.
async fn ask(http: &reqwest::Client, api: &str, jwt: Result<String, AppAuthError>) -> Answer {
    let jwt = match jwt {
        Ok(j) => j,
        Err(e) => return Answer::Failed(format!("cannot sign the App JWT: {}", error_chain(&e))),
    };
    let res = http
        .get(format!("{api}/app"))
        .bearer_auth(jwt)
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .send()
        .await;
    let res = match res {
        Ok(r) => r,
        Err(e) => return Answer::Unreachable(format!("cannot reach {api}: {}", error_chain(&e))),
    };
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    let message = body.get("message").and_then(Value::as_str).unwrap_or("");
    let said = format!("{status}{}", suffix(message));
    match status.as_u16() {
        401 | 403 => Answer::Refused(said),
        _ if status.is_success() => Answer::Accepted(body),
        _ => Answer::Failed(format!("GET {api}/app answered {said}")),
    }
}

/// Asks GitHub about each key; one check, with a line per key when there are several.
async fn github_accepts(creds: &AppCredentials, api_url: &str) -> Check {
    let api = api_url.trim_end_matches('/');
    let http = match client(GITHUB) {
        Ok(c) => c,
        Err(check) => return *check,
    };
    let count = creds.key_count();
    let mut answers = Vec::with_capacity(count);
    for index in 0..count {
        answers.push(ask(&http, api, creds.jwt_with(index)).await);
    }
    let name = |index: usize| {
        let fingerprint = creds.fingerprint(index).unwrap_or("no fingerprint");
        if count == 1 {
            format!("the key ({fingerprint})")
        } else {
            format!("key {} of {count} ({fingerprint})", index + 1)
        }
    };
    let notes: Vec<String> = if count == 1 {
        Vec::new()
    } else {
        answers
            .iter()
            .enumerate()
            .map(|(index, answer)| match answer {
                Answer::Accepted(_) => format!("{}: accepted", name(index)),
                Answer::Refused(said) => format!("{}: refused ({said})", name(index)),
                Answer::Failed(why) | Answer::Unreachable(why) => {
                    format!("{}: not known ({why})", name(index))
                }
            })
            .collect()
    };
    let refused: Vec<usize> = (0..count)
        .filter(|i| matches!(answers[*i], Answer::Refused(_)))
        .collect();
    let mut check = match answers.iter().enumerate().find_map(|(i, a)| match a {
        Answer::Accepted(body) => Some((i, body)),
        _ => None,
    }) {
        Some((index, body)) => accepted(creds, api, (index, body), &refused, &name),
        None => none_accepted(&answers, &name),
    };
    check.notes = notes;
    check
}

/// GitHub takes key `index` (answering `body`); `refused` names the keys it does not take.
fn accepted(
    creds: &AppCredentials,
    api: &str,
    (index, body): (usize, &Value),
    refused: &[usize],
    name: &dyn Fn(usize) -> String,
) -> Check {
    let id = body.get("id").and_then(Value::as_u64);
    if id.is_some_and(|id| id != creds.app_id()) {
        return Check::fail(
            GITHUB,
            format!(
                "GitHub answered for App id {} while GITHUB_APP_ID is {}",
                id.unwrap_or_default(),
                creds.app_id()
            ),
            "set GITHUB_APP_ID to the id of the App this key belongs to",
        );
    }
    let label = body
        .get("name")
        .and_then(Value::as_str)
        .or_else(|| body.get("slug").and_then(Value::as_str))
        .unwrap_or("the App");
    let count = creds.key_count();
    let with = if count == 1 {
        format!("with {}", name(index))
    } else {
        format!(
            "with key {} of {count}, which the App signs with",
            index + 1
        )
    };
    if !refused.is_empty() {
        let names: Vec<String> = refused.iter().map(|i| name(*i)).collect();
        let them = if refused.len() == 1 { "it" } else { "them" };
        return Check::warn(
            GITHUB,
            format!(
                "GitHub accepts “{label}” {with}, and refuses {}",
                names.join(" and ")
            ),
            format!(
                "GitHub no longer has {}: remove {them} from GITHUB_PRIVATE_KEY (or the file of \
                 GITHUB_PRIVATE_KEY_PATH) and restart; App settings → Private keys lists the \
                 fingerprints of the keys GitHub has",
                names.join(" and ")
            ),
        );
    }
    let missing: Vec<&str> = match body.get("events").and_then(Value::as_array) {
        Some(events) => crate::github::webhook::subscribed_events()
            .filter(|want| !events.iter().any(|e| e.as_str() == Some(want)))
            .collect(),
        None => Vec::new(),
    };
    if !missing.is_empty() {
        return Check::warn(
            GITHUB,
            format!(
                "GitHub accepts “{label}”, but it does not subscribe to: {}",
                missing.join(", ")
            ),
            "in the App settings → Permissions & events, give Checks and Commit statuses read \
             access, then subscribe to Issues, Issue comment, Pull request, Check suite, Check \
             run, Status, Repository, Issue dependencies and Push",
        );
    }
    Check::ok(
        GITHUB,
        format!("GitHub accepts “{label}” {with} (GET {api}/app)"),
    )
}

/// GitHub takes none of the keys: why, with the fix.
fn none_accepted(answers: &[Answer], name: &dyn Fn(usize) -> String) -> Check {
    let count = answers.len();
    if let Some(why) = answers.iter().find_map(|a| match a {
        Answer::Unreachable(why) => Some(why),
        _ => None,
    }) {
        return Check::fail(
            GITHUB,
            why.clone(),
            "check GITHUB_API_URL (https://api.github.com, or https://HOST/api/v3 for GitHub \
             Enterprise Server) and this machine's network and proxy settings",
        );
    }
    if let Some(why) = answers.iter().find_map(|a| match a {
        Answer::Failed(why) => Some(why),
        _ => None,
    }) {
        return Check::fail(
            GITHUB,
            why.clone(),
            "check GITHUB_API_URL and GITHUB_APP_ID",
        );
    }
    let said = match answers.first() {
        Some(Answer::Refused(said)) => said.as_str(),
        _ => "",
    };
    if count == 1 {
        return Check::fail(
            GITHUB,
            format!(
                "GitHub refused the App JWT signed with {} ({said})",
                name(0)
            ),
            "check that GITHUB_APP_ID is this App's id and the key is one of its private keys \
             (App settings → Private keys lists the fingerprints of those GitHub has; a deleted \
             key stops working), and that this machine's clock is right",
        );
    }
    Check::fail(
        GITHUB,
        format!("GitHub refused the App JWT signed with each of the {count} keys ({said})"),
        format!(
            "none of the {count} keys in GITHUB_PRIVATE_KEY is one of this App's: compare their \
             fingerprints (above) with those under App settings → Private keys, generate a new \
             key there if none matches and put it in GITHUB_PRIVATE_KEY (or the file of \
             GITHUB_PRIVATE_KEY_PATH); check too that GITHUB_APP_ID is this App's id and that \
             this machine's clock is right"
        ),
    )
}

fn suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}
