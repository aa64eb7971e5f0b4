//! `owp admin proposals`: the plans proposed for a task (contract section 12, rule 11), and a
//! maintainer's answer to one; `owp admin task` lists them too. Proposers are shown by their
//! GitHub login when they have one, else by their worker's name.

use std::collections::HashMap;

use crate::cli::client::{OwpClient, Proposal, ProposalState, say};
use crate::cli::present::clip;

use super::{AdminArgs, keys, print_json};

/// The most lines of each plan shown (a plan is at most 4,000 characters).
const PLAN_LINES: usize = 40;

#[derive(clap::Subcommand, Debug, Clone)]
pub enum ProposalsCommand {
    /// List the plans proposed for a task, oldest first.
    List {
        /// Task id, or its key.
        task_id: String,
        /// The repo of the task's key (needed when several repos have a task with that key).
        #[arg(long)]
        repo: Option<String>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Approve a plan: the task goes to its proposer, and the task's other plans end.
    Approve {
        /// The proposal id (`p_…`, from `owp admin proposals list`).
        proposal_id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Decline a plan.
    Decline {
        /// The proposal id (`p_…`, from `owp admin proposals list`).
        proposal_id: String,
        /// Why, for the proposer.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

pub(super) async fn run(command: ProposalsCommand) -> anyhow::Result<()> {
    match command {
        ProposalsCommand::List {
            task_id,
            repo,
            admin,
        } => {
            let client = admin.client()?;
            let task_id = keys::task_id(&client, &task_id, repo.as_deref()).await?;
            let proposals = client.task_proposals(&task_id).await?;
            if admin.json {
                return print_json(&proposals);
            }
            for line in lines(&client, &proposals).await {
                say!("{line}");
            }
            Ok(())
        }
        ProposalsCommand::Approve { proposal_id, admin } => {
            answer(&admin, &proposal_id, true, None).await
        }
        ProposalsCommand::Decline {
            proposal_id,
            reason,
            admin,
        } => answer(&admin, &proposal_id, false, reason.as_deref()).await,
    }
}

async fn answer(
    admin: &AdminArgs,
    proposal_id: &str,
    approve: bool,
    reason: Option<&str>,
) -> anyhow::Result<()> {
    let client = admin.client()?;
    let answered = client.answer_proposal(proposal_id, approve, reason).await?;
    if admin.json {
        return print_json(&answered);
    }
    let task = answered["proposal"]["task_id"].as_str().unwrap_or_default();
    if approve {
        match answered["lease"]["lease_id"].as_str() {
            Some(lease) => say!(
                "proposal {proposal_id} approved: task {task} is offered to its proposer (lease \
                 {lease}), who claims and acknowledges it within 24 hours; the task's other \
                 plans ended"
            ),
            // A plan proposed by comment: its author holds the issue at once.
            None => say!(
                "proposal {proposal_id} approved: its author holds task {task} as a comment \
                 claim on the issue; the task's other plans ended"
            ),
        }
    } else {
        say!("proposal {proposal_id} declined");
    }
    Ok(())
}

/// The proposals in lines a person reads: one head line each (id, state, proposer, when), then
/// the plan, indented. "no plan proposed" when there is none.
pub(super) async fn lines(client: &OwpClient, proposals: &[Proposal]) -> Vec<String> {
    if proposals.is_empty() {
        return vec!["no plan proposed".to_string()];
    }
    let names = worker_names(client, proposals).await;
    let mut out = vec![format!("plans proposed ({}):", proposals.len())];
    for p in proposals {
        out.push(format!(
            "{} {} · by {} · proposed {}{}",
            p.proposal_id,
            state_name(p.state),
            proposer(p, &names),
            p.created_at,
            if p.state == ProposalState::Open {
                format!(" · expires {}", p.expires_at)
            } else {
                String::new()
            }
        ));
        for line in p.plan.lines().take(PLAN_LINES) {
            out.push(format!("    {}", clip(line, 200)));
        }
    }
    out
}

fn state_name(state: ProposalState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// `@login` when the proposer has a GitHub login; else its worker's name (and id).
fn proposer(p: &Proposal, names: &HashMap<String, String>) -> String {
    match (&p.login, names.get(&p.worker_id)) {
        (Some(login), _) => format!("@{login}"),
        (None, Some(name)) => format!("{} (worker {})", clip(name, 60), p.worker_id),
        (None, None) => format!("worker {}", p.worker_id),
    }
}

/// The names of the proposers' workers that have no login, from the pool's state.
async fn worker_names(client: &OwpClient, proposals: &[Proposal]) -> HashMap<String, String> {
    if proposals.iter().all(|p| p.login.is_some()) {
        return HashMap::new();
    }
    match client.admin_state(None).await {
        Ok(state) => state
            .workers
            .into_iter()
            .map(|w| (w.worker_id, w.name))
            .collect(),
        Err(_) => HashMap::new(),
    }
}
