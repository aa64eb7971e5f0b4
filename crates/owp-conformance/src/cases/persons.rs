//! Section 19's persons over HTTP (feature `persons`, v1.5): a `github_login` typed at
//! registration proves nothing, so a worker that typed one reads it back marked unverified. What
//! makes a person proven (a link by comment, GitHub's device flow) needs GitHub, which a runner
//! cannot drive over HTTP alone.

use serde_json::json;

use crate::{Case, CaseResult, Ctx};
use crate::{case, ensure_that};

pub fn cases() -> Vec<Case> {
    vec![case!(
        "persons.typed_login_unverified",
        feature = "persons",
        typed_login_unverified
    )]
}

/// A worker registered with `github_login` reads itself (`GET /v1/workers/me`) with
/// `github_verified: false`, and the typed login, if shown, unchanged.
async fn typed_login_unverified(ctx: Ctx) -> CaseResult {
    let skill = ctx.skill();
    let login = "octocat";
    let worker = ctx
        .worker(&[&skill], json!({"github_login": login}))
        .await?;
    let what = "GET /v1/workers/me of a worker registered with a github_login";
    let me = ctx.worker_get(&worker, "/v1/workers/me").await?;
    me.expect(&[200], what)?;
    let shown = &me.body["worker"];
    ensure_that!(
        shown["github_verified"] == false,
        "{what}: a typed login proves nothing, so `github_verified` should be false, got {}",
        me.describe()
    );
    ensure_that!(
        shown["github_login"].is_null() || shown["github_login"] == login,
        "{what}: `github_login` should be absent or the login typed, got {}",
        me.describe()
    );
    Ok(())
}
