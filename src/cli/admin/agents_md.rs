//! `owp admin agents-md REPO`: a block for the repository's `AGENTS.md` (contract section 12,
//! "Policy an agent can read") that tells AI coding tools to take the repository's issues only
//! through the pool: claim first, how, and what the pool asks of the work.

use std::fmt::Write as _;

use crate::cli::client::RepoPolicy;
use crate::domain::disclosure::DisclosurePolicy;
use crate::domain::proposals::Approval;

/// Where the block starts and ends, so that a maintainer (or a later run) can find and replace it.
pub const BEGIN: &str = "<!-- owp:agents begin -->";
pub const END: &str = "<!-- owp:agents end -->";

/// What the block is written from: the repository's policy and the pool's address.
pub struct Source<'a> {
    pub policy: &'a RepoPolicy,
    /// The pool's public address, as a volunteer would join it.
    pub server: &'a str,
    /// The pool runs the GitHub App (issues are claimed with `/owp claim`).
    pub github: bool,
}

/// The Markdown block, between [`BEGIN`] and [`END`].
pub fn render(source: &Source) -> String {
    let policy = source.policy;
    let repo = &policy.repo;
    let server = source.server.trim_end_matches('/');
    let mut out = String::new();
    let _ = writeln!(out, "{BEGIN}");
    let _ = writeln!(out, "## Working on this repository's issues (OWP Pool)");
    out.push('\n');
    let _ = writeln!(
        out,
        "Issues of `{repo}` are scheduled by the OWP Pool at <{server}>. An AI coding tool, or a \
         person using one, takes an issue only through the pool: **claim it first**, and work \
         only on what you hold. Do not open a pull request for an issue you have not claimed; \
         the pool keeps each issue to one contributor at a time and the maintainers' review \
         budget to {} open pull request(s).",
        policy.max_open_prs
    );
    let plans = policy.approval == Approval::Plan;
    if plans {
        out.push('\n');
        let _ = writeln!(
            out,
            "This repository takes **a plan first**{}: before any code is written, propose what \
             you mean to do (what you would change, where, and how you would test it, at most \
             4,000 characters), and start only once a maintainer approves it; the approval is \
             your claim. A plan stays open for {} day(s).",
            match policy.approval_skip_trust {
                Some(level) => format!(" from contributors below trust {level}"),
                None => String::new(),
            },
            policy.proposal_days
        );
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "{}",
        if plans {
            "How to propose and claim:"
        } else {
            "How to claim:"
        }
    );
    if source.github {
        if plans {
            let _ = writeln!(
                out,
                "- on GitHub, comment `/owp claim` on an issue labelled `pool:ready` with your plan \
                 on the lines after it, in the same comment; `/owp withdraw` takes the plan back, \
                 and once it is approved `/owp release` gives the issue back;"
            );
        } else {
            let _ = writeln!(
                out,
                "- on GitHub, comment `/owp claim` on an issue labelled `pool:ready`; `/owp release` \
                 gives it back;"
            );
        }
    }
    if plans {
        let _ = writeln!(
            out,
            "- with the `owp` command line: `owp worker join {server}`, then `owp worker run \
             --agent '<your tool's command>'`: your tool writes the plan (`PLAN.md`), `owp` \
             proposes it, and the approved issue comes back to your tool with its plan;"
        );
        let _ = writeln!(
            out,
            "- from an MCP client: `owp mcp`; `owp_why` names the issues that want a plan, \
             `owp_task` reads one, `owp_propose` proposes, `owp_proposals` follows the answer, \
             and `owp_claim` returns the issue once approved."
        );
    } else {
        let _ = writeln!(
            out,
            "- with the `owp` command line: `owp worker join {server}`, then `owp worker run` (add \
             `--agent '<your tool's command>'` to hand each claimed issue to your tool);"
        );
        let _ = writeln!(
            out,
            "- from an MCP client: `owp mcp`, whose tools claim, renew and report."
        );
    }
    if source.github {
        let _ = writeln!(
            out,
            "\nIssues here are worked by proven GitHub accounts: a worker of `owp` links the \
             account of the person behind it once, with `owp worker link` (from an MCP client, \
             `owp_link`), or its claims are refused (`link_required`)."
        );
    }
    out.push('\n');
    let _ = writeln!(out, "What the pool asks of the work:");
    let contract = policy.contract.clone().unwrap_or_default();
    for (name, command) in contract.commands() {
        let when = if name == "setup" {
            "once, in a fresh checkout"
        } else {
            "must pass before you open the pull request"
        };
        let _ = writeln!(out, "- {name}: `{}` ({when});", one_line(command));
    }
    let _ = writeln!(
        out,
        "- say which issue the pull request resolves (`Fixes #N`) and report it to the pool \
         (`owp worker run` and `owp mcp` do this);"
    );
    if contract.disclosure_policy() == DisclosurePolicy::Required {
        let _ = writeln!(
            out,
            "- say which tool made the pull request: required here (`Made with: TOOL`, or \
             `Made with: none`);"
        );
    } else {
        let _ = writeln!(
            out,
            "- say which tool made the pull request (`Made with: TOOL`); it is welcome, not required;"
        );
    }
    if source.github {
        let _ = writeln!(
            out,
            "- commit with the git identity and signing settings already configured, and do not \
             change or disable them: where this repository asks for verified commits, GitHub \
             must verify the signature of every commit, or the pull request is not ready for \
             review (the brief of each issue says whether it does);"
        );
    }
    let _ = writeln!(
        out,
        "- report what you ran (`artifact.evidence`: the commit and each command's exit code); \
         `owp worker run --agent` fills it in."
    );
    if let Some(instructions) = contract.instructions.as_deref() {
        out.push('\n');
        let _ = writeln!(out, "From the maintainers:");
        for line in instructions.lines().take(40) {
            let _ = writeln!(out, "> {line}");
        }
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "The pool never runs code on your machine; the commands above run only where you choose \
         to run them."
    );
    let _ = writeln!(out, "{END}");
    out
}

fn one_line(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('`', "'")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(contract: serde_json::Value) -> RepoPolicy {
        serde_json::from_value(json!({
            "repo": "octo-org/hello", "max_open_prs": 3, "area_locks_enabled": false,
            "open_prs": 0, "active_leases": 0, "throttled": false,
            "contract": contract,
            "created_at": "2026-11-26T10:00:00Z", "updated_at": "2026-11-26T10:00:00Z"
        }))
        .unwrap()
    }

    #[test]
    fn a_github_repository_with_a_contract() {
        let p = policy(json!({
            "setup": "npm ci", "test": "npm test", "lint": "npm run `lint`",
            "disclosure": "required",
            "instructions": "Keep changes small.\nNo new dependencies."
        }));
        let text = render(&Source {
            policy: &p,
            server: "https://pool.example.org/",
            github: true,
        });
        assert!(text.starts_with(BEGIN) && text.trim_end().ends_with(END));
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_plan_first_github_repository_says_plan_link_and_sign() {
        let mut p = policy(json!({"test": "cargo test"}));
        p.approval = Approval::Plan;
        p.approval_skip_trust = Some(2);
        let text = render(&Source {
            policy: &p,
            server: "https://pool.example.org",
            github: true,
        });
        for part in [
            "takes **a plan first** from contributors below trust 2",
            "How to propose and claim:",
            "with your plan on the lines after it",
            "`owp_propose` proposes",
            "`owp worker link`",
            "verified commits",
        ] {
            assert!(text.contains(part), "missing {part:?} in\n{text}");
        }
        assert!(!text.contains("How to claim:"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_pool_without_github_says_nothing_of_comments() {
        let p = policy(json!({}));
        let text = render(&Source {
            policy: &p,
            server: "http://127.0.0.1:8787",
            github: false,
        });
        assert!(!text.contains("/owp claim"), "{text}");
        assert!(
            text.contains("owp worker join http://127.0.0.1:8787"),
            "{text}"
        );
        assert!(text.contains("welcome, not required"), "{text}");
    }
}
