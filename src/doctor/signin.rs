//! The admin check on a maintainer's machine: no admin token there, but their sign-in with
//! GitHub (`owp login`), which `owp admin` uses, checked against its server.

use serde_json::Value;

use super::{Check, client, error_chain};

/// A maintainer's saved sign-in with GitHub (`owp login`), which `owp admin` uses where no
/// admin token is set. Not `Debug`: it holds the token.
pub struct SignIn {
    /// The server signed in to (its base URL).
    pub server: String,
    pub login: String,
    pub token: String,
    pub expires_at: String,
}

/// No admin token here, but a maintainer's sign-in with GitHub (`owp login`): `owp admin` uses
/// it. Fine while its server still takes it (`GET /v1/me` answers for a maintainer); a warning,
/// with the way back, when the server refuses it or cannot be reached.
pub(super) async fn signed_in(signin: &SignIn) -> Check {
    const NAME: &str = "Admin token";
    let who = format!("signed in to {} as {}", signin.server, signin.login);
    let again = format!("run `owp login {}` again", signin.server);
    let http = match client(NAME) {
        Ok(c) => c,
        Err(check) => return *check,
    };
    let res = http
        .get(format!("{}/v1/me", signin.server.trim_end_matches('/')))
        .bearer_auth(&signin.token)
        .send()
        .await;
    let res = match res {
        Ok(r) => r,
        Err(e) => {
            return Check::warn(
                NAME,
                format!(
                    "not set here; {who} with GitHub, but the server cannot be reached to check \
                     it: {}",
                    error_chain(&e)
                ),
                "check that the server runs at that address; `owp admin` uses the sign-in once \
                 it answers",
            );
        }
    };
    let status = res.status();
    let me: Value = res.json().await.unwrap_or(Value::Null);
    if status.is_success() && me["kind"] == "maintainer" {
        let repos = me["repos"].as_array().map_or(0, Vec::len);
        return Check::ok(
            NAME,
            format!(
                "not needed here: {who} with GitHub (`owp login`, until {}); `owp admin` uses \
                 it for the {repos} repositor{} {} maintains",
                signin.expires_at,
                if repos == 1 { "y" } else { "ies" },
                signin.login
            ),
        );
    }
    let why = if status.as_u16() == 401 {
        "the server no longer takes it (it expired, or was signed out)".to_string()
    } else {
        format!("the server answered {status} to `GET /v1/me`")
    };
    Check::warn(
        NAME,
        format!("not set here; {who} with GitHub, but {why}"),
        again,
    )
}
