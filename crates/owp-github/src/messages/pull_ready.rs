//! What a status comment says of an open pull request's proof: whether it is ready for review
//! (its checks, and its commits' signatures where the repository asks for them), and what its
//! worker reported running.

use serde_json::Value;

use super::neutralize_code;
use crate::domain::evidence::Shown;

/// What GitHub said of a pull request's commits (`artifact.commits`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commits {
    /// GitHub verified every commit's signature; `None`: GitHub has not answered yet (which is
    /// never read as verified, nor as "nobody asked").
    pub verified: Option<bool>,
    /// The first unverified commits' SHAs.
    pub unverified: Vec<String>,
    /// How many commits are unverified in all.
    pub unverified_count: usize,
}

impl Commits {
    /// Commits the repository asks to be verified, of which GitHub has not said yet.
    pub fn not_known() -> Commits {
        Commits {
            verified: None,
            unverified: Vec::new(),
            unverified_count: 0,
        }
    }

    /// Reads `artifact.commits` as the App writes it (`verified: null` when GitHub did not
    /// answer); anything else reads as nobody asking.
    pub fn of_artifact(artifact: Option<&Value>) -> Option<Commits> {
        let c = artifact?.get("commits")?;
        let verified = match c.get("verified")? {
            Value::Bool(verified) => Some(*verified),
            Value::Null => return Some(Commits::not_known()),
            _ => return None,
        };
        let unverified: Vec<String> = c
            .get("unverified")?
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        Some(Commits {
            verified,
            unverified_count: c
                .get("unverified_count")
                .and_then(Value::as_u64)
                .map_or(unverified.len(), |n| n as usize),
            unverified,
        })
    }
}

/// The sentence after "Pull request open …": ready for review only when the checks passed (or
/// none were reported) and, where asked, GitHub verified every commit; unverified commits are
/// named, and commits GitHub has not answered for are not known yet (never ready).
pub fn readiness(checks: Option<&str>, commits: Option<&Commits>) -> String {
    match commits.map(|c| (c, c.verified)) {
        Some((c, Some(false))) => not_verified(checks, c),
        Some((_, None)) => not_known(checks),
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

/// The checks in a word, before what is said of the commits.
fn checks_word(checks: Option<&str>) -> &'static str {
    match checks {
        Some("success") => " Checks passed.",
        Some("pending") => " Checks are running.",
        Some("failure") => " Checks failed.",
        _ => "",
    }
}

/// The sentence of a pull request whose commits GitHub has not said are verified.
fn not_known(checks: Option<&str>) -> String {
    format!(
        "{} Whether every commit is verified is not known yet: GitHub has not answered, and the \
         App asks again. Not ready for review yet.",
        checks_word(checks)
    )
}

/// The sentence of a pull request with unverified commits: the checks in a word, then the
/// commits named.
fn not_verified(checks: Option<&str>, commits: &Commits) -> String {
    let checks = checks_word(checks);
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
