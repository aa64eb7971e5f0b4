//! Discovery: `GET /v1/meta` tells a client, without credentials, which protocol versions and
//! optional parts this server implements and the TTLs it runs with.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;

/// The protocol versions this server speaks.
pub const VERSIONS: [&str; 6] = ["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"];

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Meta {
    /// Always `owp/1`.
    pub protocol: String,
    /// The versions of the protocol this server implements.
    pub versions: Vec<String>,
    /// The optional parts this server implements, as configured: `long_poll`, `sse`, `github`,
    /// `dependencies`, `requires`, `reputation`, `leaderboard`, `mcp`, `paths`, `preview`,
    /// `disclosure`, `signin`, `evidence`, `proposals`, `persons` (every rule about people reads a
    /// proven GitHub account), and in GitHub mode `reviewers` and `vouch`.
    pub features: Vec<String>,
    pub heartbeat_ttl_seconds: i64,
    pub lease_ttl_seconds: i64,
    pub accept_ttl_seconds: i64,
    /// The implementation answering.
    pub server: ServerInfo,
}

/// Which implementation answers, and its version.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ServerInfo {
    /// `owp-pool`.
    pub name: String,
    /// This build's version (`owp --version`).
    pub version: String,
}

/// The optional parts of the protocol this build implements; `github` only while the GitHub App
/// runs, `signin` only while maintainers can sign in with GitHub (`GITHUB_CLIENT_ID`).
pub fn features(github: bool, signin: bool) -> Vec<String> {
    let mut features = vec!["long_poll", "sse"];
    if github {
        // Reviewers with room (rule 13) and vouch lists (rule 12) are read from the App's
        // repositories.
        features.extend(["github", "reviewers", "vouch"]);
    }
    if signin {
        features.push("signin");
    }
    features.extend([
        "dependencies",
        "requires",
        "reputation",
        "leaderboard",
        "mcp",
        "paths",
        "preview",
        "disclosure",
        "evidence",
        "proposals",
        "persons",
    ]);
    features.into_iter().map(String::from).collect()
}

/// What this server implements: protocol versions, optional features and TTLs.
#[utoipa::path(get, path = "/v1/meta", tag = "health", security(()),
    responses((status = 200, body = Meta)))]
pub async fn meta(State(state): State<AppState>) -> Json<Meta> {
    let t = &state.store.timing;
    Json(Meta {
        protocol: "owp/1".into(),
        versions: VERSIONS.iter().map(|v| v.to_string()).collect(),
        features: features(state.github.is_some(), state.signin.is_some()),
        heartbeat_ttl_seconds: t.heartbeat_ttl_ms / 1000,
        lease_ttl_seconds: t.lease_ttl_ms / 1000,
        accept_ttl_seconds: t.accept_ttl_ms / 1000,
        server: ServerInfo {
            name: "owp-pool".into(),
            version: crate::VERSION.into(),
        },
    })
}
