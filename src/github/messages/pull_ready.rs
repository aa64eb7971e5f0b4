//! What a status comment says of an open pull request's proof: whether it is ready for review
//! (its checks, and its commits' signatures where the repository asks for them), and what its
//! worker reported running.

use serde_json::Value;

use super::neutralize_code;
use crate::domain::evidence::Shown;

/// What GitHub said of a pull request's commits (`artifact.commits`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commits {
    /// GitHub verified every commit's signature.
    pub verified: bool,
    /// The first unverified commits' SHAs.
    pub unverified: Vec<String>,
    /// How many commits are unverified in all.
    pub unverified_count: usize,
}

impl Commits {
    /// Reads `artifact.commits` as the App writes it; anything else reads as unknown.
    pub fn of_artifact(artifact: Option<&Value>) -> Option<Commits> {
        let c = artifact?.get("commits")?;
        let unverified: Vec<String> = c
            .get("unverified")?
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        Some(Commits {
            verified: c.get("verified")?.as_bool()?,
            unverified_count: c
                .get("unverified_count")
                .and_then(Value::as_u64)
                .map_or(unverified.len(), |n| n as usize),
            unverified,
        })
    }
}

/// The sentence after "Pull request open …": ready for review only when the checks passed (or
/// none were reported) and, where asked, every commit is verified; unverified commits are named.
pub fn readiness(checks: Option<&str>, commits: Option<&Commits>) -> String {
    match commits {
        Some(c) if !c.verified => not_verified(checks, c),
        _ => {
            // Every commit verified (`Some`), or nobody asked (`None`): the checks decide.
            let verified = commits.is_some();
            match checks {
                Some("success") if verified => {
                    " Checks passed and every commit is verified — ready for review."
                }
                Some("success") => " Checks passed — ready for review.",
                Some("pending") => " Checks are running — not ready for review yet.",
                Some("failure") => " Checks failed — not ready for review until they pass.",
                _ if verified => " Every commit is verified — ready for review.",
                _ => "",
            }
            .to_string()
        }
    }
}

/// The sentence of a pull request with unverified commits: the checks in a word, then the
/// commits named.
fn not_verified(checks: Option<&str>, commits: &Commits) -> String {
    let checks = match checks {
        Some("success") => " Checks passed.",
        Some("pending") => " Checks are running.",
        Some("failure") => " Checks failed.",
        _ => "",
    };
    let named: Vec<String> = commits
        .unverified
        .iter()
        .take(5)
        .map(|sha| {
            format!(
                "`{}`",
                neutralize_code(&sha.chars().take(7).collect::<String>())
            )
        })
        .collect();
    let more = commits.unverified_count.saturating_sub(named.len());
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!(
        "{checks} Not ready for review until every commit is verified: {}{more} {} not.",
        named.join(", "),
        if commits.unverified_count == 1 {
            "is"
        } else {
            "are"
        }
    )
}

/// The commands a worker reported running, as its own report: "Tests ran on the contributor's
/// machine: `cargo test` passed in 12 s." Command lines are quoted as code, on one line.
pub fn evidence_line(evidence: &Shown) -> String {
    let ran: Vec<String> = evidence
        .runs
        .iter()
        .map(|run| {
            let how = if run.passed { "passed" } else { "failed" };
            format!(
                "`{}` {how} in {} s",
                neutralize_code(&run.command),
                run.seconds
            )
        })
        .collect();
    let short: String = evidence.head_sha.chars().take(7).collect();
    format!(
        "Tests ran on the contributor's machine (their report, on `{short}`): {}.",
        ran.join(", ")
    )
}
