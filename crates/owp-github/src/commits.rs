//! Verified commits (contract sections 12 and 14): whether GitHub verified the signature of every
//! commit of a pull request that acts on a task whose holder the repository asks for them, as
//! the task shows it (`artifact.commits`). What GitHub did not answer is shown as not known
//! (`verified: null`), never as "nobody asked", and reconciliation asks again.

use octocrab::Octocrab;
use serde_json::{Value, json};

use crate::api::{self, CallError};
use crate::domain::TaskStatus;
use crate::repo_config::ClaimConfig;
use crate::service::Github;
use crate::store::StoreError;
use crate::store::rows::TaskRow;

/// Pull requests whose commits one reconciliation of a repository asks again at most.
const ASKED_AGAIN_PER_RUN: usize = 20;

/// Whether the repository (its `claim` settings) asks `task`'s holder for verified commits
/// (`claim.verified_commits`, or `verified_commits_below_trust` above the holder's trust there;
/// a person without a worker has trust 0).
pub(crate) async fn asked_of(
    github: &Github,
    claim: &ClaimConfig,
    task: &TaskRow,
) -> Result<bool, StoreError> {
    if !claim.asks_for_verified_commits() {
        return Ok(false);
    }
    let trust = match &task.worker_id {
        Some(worker) => {
            let (progress, _) = github
                .store
                .reputations()
                .trust_progress(worker, task.repo_id)
                .await?;
            progress.effective()
        }
        None => 0,
    };
    Ok(claim.verified_commits_for(|| trust))
}

/// The SHAs of pull request `number`'s commits that GitHub did not verify (empty when it verified
/// every one). At most 250 commits are listed by GitHub, 100 a page.
pub(crate) async fn unverified(
    client: &Octocrab,
    repo: &str,
    number: i64,
) -> Result<Vec<String>, CallError> {
    let mut unverified = Vec::new();
    for page in 1..=api::PULL_COMMITS_PAGES {
        let (commits, more) = api::pull_commits_page(client, repo, number, page).await?;
        unverified.extend(
            commits
                .into_iter()
                .filter(|(_, verified)| !verified)
                .map(|(sha, _)| sha),
        );
        if !more {
            break;
        }
    }
    Ok(unverified)
}

/// What a task shows of its pull request's commits (`artifact.commits`): `verified`, the first
/// ten unverified SHAs and their count; `verified: null` when GitHub did not answer (`None`).
pub(crate) fn shown(read: Option<&[String]>) -> Value {
    match read {
        Some(unverified) => json!({
            "verified": unverified.is_empty(),
            "unverified": unverified.iter().take(10).collect::<Vec<_>>(),
            "unverified_count": unverified.len(),
        }),
        None => json!({"verified": null, "unverified": [], "unverified_count": 0}),
    }
}

/// Whether a task in `pr_opened` waits on GitHub's answer about its commits: it shows them as not
/// known, or shows nothing of them while the repository asks its holder for them.
fn not_known(task: &TaskRow, asked: bool) -> bool {
    if task.status != TaskStatus::PrOpened {
        return false;
    }
    match task.artifact.as_ref().and_then(|a| a.get("commits")) {
        Some(commits) => commits.get("verified").is_none_or(Value::is_null),
        None => asked,
    }
}

/// Reconciliation's second asking: the tasks of `repo` whose acting, open pull request's commits
/// GitHub has not answered for are asked again (a bounded number per run), and what GitHub now
/// answers is returned for each such task, to be shown in the run's transaction. What GitHub
/// still does not answer stays not known, and the next run asks again.
pub(crate) async fn asked_again(
    github: &Github,
    client: &Octocrab,
    repo: &str,
) -> Result<Vec<(String, Value)>, StoreError> {
    let claim = github.settings(repo).await?.config.claim;
    if !claim.asks_for_verified_commits() {
        return Ok(Vec::new());
    }
    let mut answers = Vec::new();
    for link in github.store.pulls().open_links_of_repo(repo).await? {
        if answers.len() >= ASKED_AGAIN_PER_RUN {
            break;
        }
        if !link.acting || link.repo != repo {
            continue;
        }
        let Some(task) = github.store.tasks().get(&link.task_id).await? else {
            continue;
        };
        if !not_known(&task, asked_of(github, &claim, &task).await?) {
            continue;
        }
        match unverified(client, repo, link.pr_number).await {
            Ok(list) => answers.push((task.id.clone(), shown(Some(&list)))),
            Err(error) => {
                tracing::warn!(%error, pr = link.pr_number, "cannot read a pull request's commits again; its task shows them as not known");
            }
        }
    }
    Ok(answers)
}
