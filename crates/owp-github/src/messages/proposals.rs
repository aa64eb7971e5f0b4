//! What the App writes about plans first (rule 11): the replies to a `/owp claim` that makes a
//! proposal, to `/owp approve`, `/owp decline` and `/owp withdraw`, the one reply that tells
//! proposers how their proposals ended, and the status comment's list of open proposals.
//!
//! A login someone typed in a command is quoted as code (never a mention); the proposers told of
//! an end are mentioned, as every reply addresses its reader. A plan is the proposer's own words:
//! it is shown in a fence longer than any run of backticks inside it (so that it cannot close
//! the fence and render), with `@` defused, and never as markdown.

use std::fmt::Write as _;

use super::{ClaimRefusal, neutralize, neutralize_code, refusal_reason};
use crate::commands::COMMAND_PREFIX;
use crate::domain::person;
use crate::domain::proposals::{APPROVED_ACCEPT_MS, MAX_PLAN_CHARS, ProposalState, Scorecard};
use crate::store::HOUR_MS;
use crate::store::proposals::EndedProposal;

/// At most this many proposals are listed in a status comment.
pub const MAX_SHOWN_PROPOSALS: usize = 5;

/// The list of proposals in a status comment stops growing past this many characters (a
/// comment holds 65,536): the rest are counted, not shown.
pub const MAX_PROPOSALS_CHARS: usize = 30_000;

/// `4,000` for the texts.
fn plan_limit() -> String {
    let n = MAX_PLAN_CHARS;
    format!("{},{:03}", n / 1000, n % 1000)
}

/// A `/owp claim` made a proposal.
pub fn proposed(login: &str, days: i64) -> String {
    format!(
        "@{login}, thank you — your plan is in. This repository takes a plan first: a maintainer \
         reads the plans and approves one, and its author then holds the issue. You will be told \
         here either way. Your plan stays open for {days} days; `{COMMAND_PREFIX} withdraw` takes \
         it back."
    )
}

/// A `/owp claim` without a plan, where a plan comes first.
pub fn plan_missing(login: &str) -> String {
    format!(
        "@{login}, this repository takes a plan first: write your plan on the lines after \
         `{COMMAND_PREFIX} claim`, in the same comment, for example\n\n\
         ```text\n{COMMAND_PREFIX} claim\nI will add a `--json` flag to the status command, with \
         a test for each field.\n```\n\n\
         A maintainer approves one plan, and its author then holds the issue. A plan is at most \
         {} characters.",
        plan_limit()
    )
}

/// A plan longer than [`MAX_PLAN_CHARS`]: nothing was stored.
pub fn plan_too_long(login: &str, chars: usize) -> String {
    format!(
        "@{login}, your plan is {chars} characters long, and a plan is at most {} — so nothing \
         was stored. Shorten it and comment `{COMMAND_PREFIX} claim` with it again.",
        plan_limit()
    )
}

/// A proposal past the limits (`too_many_proposals`).
pub fn too_many_proposals(login: &str) -> String {
    format!(
        "@{login}, I can't take your plan right now: an issue has at most {} open plans, and a \
         person at most {} across the pool — so nothing was stored. Try again when one of them \
         ends (`{COMMAND_PREFIX} withdraw` on an issue takes back your plan there).",
        crate::domain::proposals::MAX_OPEN_PER_TASK,
        crate::domain::proposals::MAX_OPEN_PER_PROPOSER
    )
}

/// `/owp approve` or `/owp decline` naming a login without an open plan for the issue.
pub fn no_open_proposal(login: &str, named: &str) -> String {
    format!(
        "@{login}, `{}` has no open plan for this issue, so I did nothing.",
        neutralize_code(named)
    )
}

/// `/owp withdraw` by someone without an open plan for the issue.
pub fn nothing_to_withdraw(login: &str) -> String {
    format!("@{login}, you have no open plan for this issue, so there is nothing to withdraw.")
}

/// `/owp approve` refused by other rules of the claim: each is named, the plan stays open.
/// `refusals` are (rule number, code, the refusal in words).
pub fn approve_refused(login: &str, named: &str, refusals: &[(u8, &str, ClaimRefusal)]) -> String {
    let mut text = format!(
        "@{login}, I can't approve the plan of `{}` right now, so it stays open. Approving it \
         gives them the issue, and the claim is refused by:",
        neutralize_code(named)
    );
    for (rule, code, refusal) in refusals {
        let _ = write!(
            text,
            "\n- rule {rule} (`{code}`): {}",
            refusal_reason(refusal)
        );
    }
    text
}

/// An approved plan, as its proposer is told: a person holds the issue at once; a worker's plan
/// is a lease its worker must claim and acknowledge within the accept window, or the issue goes
/// back to the pool (a worker linked to no login is named, so that the issue says who holds it).
fn approved(login: Option<&str>, worker: Option<&str>) -> Option<String> {
    let Some(name) = worker else {
        return Some(format!(
            "{}, your plan is approved: you hold this issue now. Open a pull request that \
             fixes it; `{COMMAND_PREFIX} release` gives it back if you can't go on.",
            person::mention(login?)
        ));
    };
    let held = match login {
        Some(login) => format!(
            "{}, your plan is approved: this issue is held for your worker `{}`.",
            person::mention(login),
            neutralize_code(name)
        ),
        None => format!(
            "The plan of the worker `{}` is approved: this issue is held for it.",
            neutralize_code(name)
        ),
    };
    Some(format!(
        "{held} It must claim and acknowledge it within {} hours (`owp worker run` does both; an \
         MCP tool calls `owp_claim`, which returns it first, then `owp_ack`), or the issue goes \
         back to the pool. Then it opens a pull request that fixes it.",
        APPROVED_ACCEPT_MS / HOUR_MS
    ))
}

/// The one reply that tells proposers how their proposals ended (a worker without a login learns
/// of any end but its approval over the API only). `None` when nobody here is to be told.
pub fn proposals_ended(ends: &[EndedProposal]) -> Option<String> {
    let logins = |state: ProposalState| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in ends.iter().filter(|e| e.state == state) {
            if let Some(login) = &e.login
                && !out.iter().any(|o| o.eq_ignore_ascii_case(login))
            {
                out.push(login.clone());
            }
        }
        out
    };
    let mention = |logins: &[String]| {
        logins
            .iter()
            .map(|l| person::mention(l))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut paragraphs: Vec<String> = Vec::new();
    for e in ends.iter().filter(|e| e.state == ProposalState::Approved) {
        if let Some(text) = approved(e.login.as_deref(), e.worker.as_deref()) {
            paragraphs.push(text);
        }
    }
    let not_chosen = logins(ProposalState::NotChosen);
    if !not_chosen.is_empty() {
        paragraphs.push(format!(
            "{}, thank you for your {} — a maintainer chose another one for this issue, so {} \
             closed.",
            mention(&not_chosen),
            if not_chosen.len() == 1 {
                "plan"
            } else {
                "plans"
            },
            if not_chosen.len() == 1 {
                "yours is"
            } else {
                "yours are"
            }
        ));
    }
    for e in ends.iter().filter(|e| e.state == ProposalState::Declined) {
        let Some(login) = &e.login else { continue };
        let reason = e
            .reason
            .as_deref()
            .map(|r| format!(": {}", neutralize(r)))
            .unwrap_or_default();
        paragraphs.push(format!(
            "{}, a maintainer declined your plan for this issue{reason}.",
            person::mention(login)
        ));
    }
    let expired = logins(ProposalState::Expired);
    if !expired.is_empty() {
        paragraphs.push(format!(
            "{}, your plan for this issue ended without an answer: it stayed open as long as \
             this repository keeps plans, or the issue was taken or left the pool.",
            mention(&expired)
        ));
    }
    (!paragraphs.is_empty()).then(|| paragraphs.join("\n\n"))
}

// ------------------------------------------------------------------------------------------------
// The status comment's list
// ------------------------------------------------------------------------------------------------

/// An open proposal as the status comment lists it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShownProposal {
    /// The proposer's GitHub login, when there is one.
    pub login: Option<String>,
    /// The worker's name, for a worker without a login.
    pub worker: String,
    pub plan: String,
    pub scorecard: Option<Scorecard>,
}

/// A fence of backticks longer than any run of backticks in `text` (at least three).
pub fn fence_for(text: &str) -> String {
    "`".repeat((person::longest_backtick_run(text) + 1).max(3))
}

/// A plan as a fenced block: the proposer's words, rendered as they are, pinging nobody and
/// unable to leave the fence.
pub fn fenced_plan(plan: &str) -> String {
    let safe = plan
        .replace('\r', "")
        .replace('@', "@\u{200B}")
        // An HTML comment opening could pass for one of the App's markers.
        .replace("<!--", "<!- -");
    let fence = fence_for(&safe);
    format!("{fence}text\n{}\n{fence}", safe.trim_end())
}

fn scorecard_line(card: &Scorecard) -> String {
    let rate = card
        .acceptance_rate_here
        .map_or_else(|| "none yet".to_string(), |r| format!("{:.0}%", r * 100.0));
    let age = card
        .account_age_days
        .map_or_else(|| "unknown".to_string(), |d| format!("{d} days"));
    let tools = if card.tools.is_empty() {
        "none disclosed".to_string()
    } else {
        card.tools
            .iter()
            .map(|t| format!("`{}`", neutralize_code(t)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "merged here {} / in the pool {} · accepted here: {rate} · account age: {age} · \
         vouched: {} · holds now: {} · tools: {tools}",
        card.merged_here,
        card.merged_pool,
        if card.vouched { "yes" } else { "no" },
        card.open_holds
    )
}

/// The status comment's section of open proposals (empty when there is none).
pub fn proposals_section(shown: &[ShownProposal]) -> String {
    if shown.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\n**Plans proposed** ({}) — for maintainers: `{COMMAND_PREFIX} approve @LOGIN` gives the \
         issue to its author and closes the others, `{COMMAND_PREFIX} decline @LOGIN [reason]` \
         closes one. Each plan is quoted as its author wrote it.\n",
        shown.len()
    );
    let mut listed = 0;
    let mut chars = out.chars().count();
    for (i, p) in shown.iter().enumerate() {
        let who = match &p.login {
            Some(login) => format!("`{}`", neutralize_code(login)),
            None => format!("worker `{}`", neutralize_code(&p.worker)),
        };
        let card = p
            .scorecard
            .as_ref()
            .map(|c| format!(" — {}", scorecard_line(c)))
            .unwrap_or_default();
        let entry = format!("\n{}. {who}{card}\n\n{}\n", i + 1, fenced_plan(&p.plan));
        let entry_chars = entry.chars().count();
        if listed >= MAX_SHOWN_PROPOSALS || chars + entry_chars > MAX_PROPOSALS_CHARS {
            break;
        }
        chars += entry_chars;
        out.push_str(&entry);
        listed += 1;
    }
    let rest = shown.len() - listed;
    if rest > 0 {
        let _ = write!(
            out,
            "\n_…and {rest} more {}, listed on the dashboard and by \
             `GET /v1/tasks/{{id}}/proposals`._\n",
            if rest == 1 { "plan" } else { "plans" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(merged: i64, rate: Option<f64>) -> Scorecard {
        Scorecard {
            merged_here: merged,
            merged_pool: merged + 3,
            acceptance_rate_here: rate,
            account_age_days: Some(412),
            vouched: merged > 0,
            open_holds: 1,
            tools: vec!["claude".into(), "none".into()],
        }
    }

    #[test]
    fn status_comment_with_proposals() {
        let mut view = super::super::tests::view(crate::domain::TaskStatus::Ready);
        view.plan_first = true;
        view.proposals = vec![
            ShownProposal {
                login: Some("alice".into()),
                worker: String::new(),
                plan: "Ask @bob, then:\n```\n**not bold** <!-- hidden -->\n```\nand close #1."
                    .into(),
                scorecard: Some(card(2, Some(2.0 / 3.0))),
            },
            ShownProposal {
                login: None,
                worker: "build-bot `7`".into(),
                plan: "Bisect, then fix.".into(),
                scorecard: Some(card(0, None)),
            },
        ];
        insta::assert_snapshot!(crate::messages::status_comment(&view));
    }

    #[test]
    fn a_long_list_shows_the_first_and_counts_the_rest() {
        let long = ShownProposal {
            login: Some("alice".into()),
            worker: String::new(),
            plan: "@".repeat(MAX_PLAN_CHARS),
            scorecard: None,
        };
        let section = proposals_section(&vec![long; 6]);
        let chars = section.chars().count();
        assert!(chars <= MAX_PROPOSALS_CHARS + 200, "{chars}");
        assert!(section.contains("**Plans proposed** (6)"));
        assert!(section.contains("_…and 3 more plans"), "{section}");
        let few = ShownProposal {
            plan: "short".into(),
            ..Default::default()
        };
        let section = proposals_section(&vec![few; 7]);
        assert!(section.contains("5. worker"), "{section}");
        assert!(section.contains("_…and 2 more plans"), "{section}");
    }

    #[test]
    fn every_proposal_reply() {
        use crate::domain::proposals::ProposalState as S;
        let end = |login: &str, state, reason: Option<&str>| EndedProposal {
            login: Some(login.into()),
            state,
            reason: reason.map(str::to_string),
            worker: None,
        };
        let ends = [
            end("alice", S::Approved, None),
            end("bob", S::NotChosen, None),
            end("carol", S::NotChosen, None),
            end("dave", S::Declined, Some("see @erin's *idea*")),
            end("erin", S::Expired, None),
            EndedProposal {
                login: None,
                state: S::NotChosen,
                reason: None,
                worker: None,
            },
        ];
        let by_worker = EndedProposal {
            worker: Some("frank's `laptop`".into()),
            ..end("frank", S::Approved, None)
        };
        let refused = [(
            6,
            "review_budget_full",
            ClaimRefusal::ReviewBudgetFull(super::super::Budget {
                open_prs: 1,
                active_leases: 0,
                max_open_prs: 1,
                full: true,
            }),
        )];
        let all = [
            proposed("alice", 7),
            plan_missing("alice"),
            plan_too_long("alice", 4_321),
            too_many_proposals("alice"),
            no_open_proposal("maint", "@bob`"),
            nothing_to_withdraw("bob"),
            approve_refused("maint", "alice", &refused),
            proposals_ended(&ends).unwrap(),
            proposals_ended(&[by_worker]).unwrap(),
            proposals_ended(&[EndedProposal {
                login: None,
                state: S::Approved,
                reason: None,
                worker: Some("w-one".into()),
            }])
            .unwrap(),
        ];
        assert_eq!(proposals_ended(&ends[5..]), None);
        insta::assert_snapshot!(all.join("\n\n----\n\n"));
    }

    #[test]
    fn a_fence_is_longer_than_any_backtick_run_inside() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ``` b"), "````");
        assert_eq!(fence_for("`````"), "``````");
        let fenced = fenced_plan("```\n@alice see #3\n```");
        assert!(fenced.starts_with("````text\n"), "{fenced}");
        assert!(fenced.ends_with("\n````"), "{fenced}");
        assert!(!fenced.contains("@alice"), "{fenced}");
    }
}
