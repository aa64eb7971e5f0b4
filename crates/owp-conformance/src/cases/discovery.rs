//! Section 0 (health) and section 8 (discovery: `GET /v1/meta`).

use serde_json::Value;

use crate::client::Auth;
use crate::{Case, CaseResult, Ctx};
use crate::{case, ensure_that};

pub fn cases() -> Vec<Case> {
    vec![
        case!("health.healthz", healthz),
        case!("discovery.meta", meta),
    ]
}

/// `GET /healthz` answers 200.
async fn healthz(ctx: Ctx) -> CaseResult {
    let reply = ctx
        .send(reqwest::Method::GET, "/healthz", Auth::None, None, &[])
        .await?;
    reply.expect(&[200], "GET /healthz")?;
    Ok(())
}

/// `GET /v1/meta` without credentials: `protocol` `owp/1`, `versions` with `1.2`, a `features`
/// list of strings, and the three TTLs as whole seconds that agree with a registration's.
async fn meta(ctx: Ctx) -> CaseResult {
    let reply = ctx
        .send(reqwest::Method::GET, "/v1/meta", Auth::None, None, &[])
        .await?;
    reply.expect(&[200], "GET /v1/meta without credentials")?;
    let meta = &reply.body;
    ensure_that!(
        meta["protocol"] == "owp/1",
        "/v1/meta: expected protocol \"owp/1\", got {}",
        meta["protocol"]
    );
    let versions: Vec<&str> = meta["versions"]
        .as_array()
        .map(|v| v.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for v in ["1.0", "1.1", "1.2"] {
        ensure_that!(
            versions.contains(&v),
            "/v1/meta: expected versions to hold \"{v}\", got {}",
            meta["versions"]
        );
    }
    ensure_that!(
        meta["features"]
            .as_array()
            .is_some_and(|f| f.iter().all(Value::is_string)),
        "/v1/meta: expected `features` to be an array of strings, got {}",
        meta["features"]
    );
    let skill = ctx.skill();
    let worker = ctx.worker(&[&skill], serde_json::json!({})).await?;
    for ttl in [
        "heartbeat_ttl_seconds",
        "lease_ttl_seconds",
        "accept_ttl_seconds",
    ] {
        ensure_that!(
            meta[ttl].as_u64().is_some_and(|s| s >= 1),
            "/v1/meta: expected `{ttl}` to be a whole number of seconds ≥ 1, got {}",
            meta[ttl]
        );
        ensure_that!(
            worker.registered[ttl] == meta[ttl],
            "`{ttl}`: /v1/meta says {}, a registration says {}",
            meta[ttl],
            worker.registered[ttl]
        );
    }
    Ok(())
}
