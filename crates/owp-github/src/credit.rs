//! Who a merged pull request credits.
//!
//! Credit, reputation and promotion go to the person who wrote the merged pull request: the
//! task's holder when they authored it, otherwise the author (through their linked worker or
//! their implicit worker, when they have one); the author is the account GitHub names, by its
//! id, never a login. A holder who did not write the merged pull request gets nothing for it,
//! and their claim ends with the merge — so claiming issues and waiting for a maintainer to fix
//! them earns no credit. A pull request whose author the repository's vouch list denounces
//! credits nobody (rule 12).

use serde_json::{Value, json};

use crate::events::PullRequest;
use crate::store::leases::CreditTo;
use crate::store::rows::TaskRow;
use crate::store::{StoreError, WriteTx};

/// Whom a merge of `pr` on `task` is recorded for, and the `credit` object its artifact carries
/// (`pr_url`, `pr_author`, `worker_id`, `name`, `github_login`).
pub async fn for_merge(
    tx: &mut WriteTx,
    task: &TaskRow,
    pr: &PullRequest,
) -> Result<(CreditTo, Value), StoreError> {
    let author = pr.author.login.as_str();
    let author_id = i64::try_from(pr.author.id).unwrap_or(i64::MAX);
    // A denounced author's pull request merged anyway (rule 12): the merge is the maintainer's,
    // and nobody is credited for it.
    if tx.vouch().denounces(&task.repo, author_id, author).await? {
        let credit = json!({
            "pr_url": pr.html_url,
            "pr_author": author,
            "worker_id": null,
            "name": null,
            "github_login": null,
        });
        return Ok((CreditTo::Author(None), credit));
    }
    let holder = match &task.worker_id {
        Some(holder) if tx.person_links().account_of_worker(holder).await? == Some(author_id) => {
            Some(holder.clone())
        }
        _ => None,
    };
    let (to, worker_id) = match holder {
        Some(holder) => (CreditTo::Holder, Some(holder)),
        None => {
            let worker = worker_of_account(tx, author_id).await?;
            (CreditTo::Author(worker.clone()), worker)
        }
    };
    let mut credit = json!({
        "pr_url": pr.html_url,
        "pr_author": author,
        "worker_id": null,
        "name": null,
        "github_login": author,
    });
    if let Some(worker_id) = worker_id {
        let worker = tx.workers().get(&worker_id).await?;
        credit["worker_id"] = json!(worker_id);
        credit["name"] = json!(worker.name);
    }
    Ok((to, credit))
}

/// The worker the GitHub account `account_id` acts as, if it has one: its linked worker, else
/// its implicit worker (made when it first claimed or opted in by comment).
async fn worker_of_account(
    tx: &mut WriteTx,
    account_id: i64,
) -> Result<Option<String>, StoreError> {
    if let Some(linked) = tx.person_links().linked_worker(account_id).await? {
        return Ok(Some(linked));
    }
    tx.workers().implicit_of(account_id).await
}
