//! Section 12's vouch lists over HTTP (feature `vouch`, GitHub mode). Rules 12–14 are set by a
//! repository's `VOUCHED.td` and `.github/owp.yml`, which no REST route writes, so what a runner
//! can check over HTTP alone is the merged list a maintainer reads: `GET
//! /v1/admin/vouched?repo=OWNER/NAME`.

use serde_json::Value;

use crate::{Case, CaseResult, Ctx};
use crate::{case, ensure_that};

pub fn cases() -> Vec<Case> {
    vec![case!(
        "rules.vouch_list_read",
        feature = "vouch",
        vouch_list_read
    )]
}

/// A repository of the pool that no list names yet reads as `200 {repo, entries: []}`; a request
/// without `repo` is `422 invalid_repo`.
async fn vouch_list_read(ctx: Ctx) -> CaseResult {
    let repo = ctx.github_repo("vouch").await?;
    let query: String = url::form_urlencoded::byte_serialize(repo.as_bytes()).collect();
    let what = "GET /v1/admin/vouched?repo=OWNER/NAME";
    let read = ctx
        .admin_get(&format!("/v1/admin/vouched?repo={query}"))
        .await?;
    read.expect(&[200], what)?;
    ensure_that!(
        read.body["repo"] == repo.as_str()
            && read.body["entries"].as_array().is_some_and(Vec::is_empty),
        "{what}: a repository no list names should read {{repo: \"{repo}\", entries: []}}, got {}",
        read.describe()
    );
    ensure_that!(
        read.body
            .get("errors")
            .is_none_or(|e| e.as_array().is_some_and(|l| l.iter().all(Value::is_string))),
        "{what}: `errors` is a list of sentences, got {}",
        read.body["errors"]
    );
    ctx.admin_get("/v1/admin/vouched").await?.expect_problem(
        &[422],
        Some("invalid_repo"),
        "GET /v1/admin/vouched without repo",
    )?;
    Ok(())
}
