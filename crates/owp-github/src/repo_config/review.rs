//! `review:` of `.github/owp.yml`: the repository's reviewers (rule 13, "Reviewers with room").
//!
//! ```yaml
//! review:
//!   reviewers:           # at most 50 logins, each reviewing 1 to 20 pool pull requests at once
//!     alice: 2
//!     bob: 1
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{RepoConfigError, is_github_login};

/// The most reviewers a repository names.
pub const MAX_REVIEWERS: usize = 50;

/// The most pool pull requests one reviewer reviews at once.
pub const MAX_REVIEWS_AT_ONCE: u32 = 20;

/// `review:` of the file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReviewConfig {
    /// Each reviewer's login and how many of the pool's pull requests they review at once. While
    /// there is one, a claim is granted only when they have room for its pull request.
    pub reviewers: BTreeMap<String, u32>,
}

impl ReviewConfig {
    /// Whether it names no reviewer.
    pub fn is_empty(&self) -> bool {
        self.reviewers.is_empty()
    }

    /// The reviewers as (login, how many at once), by login.
    pub fn list(&self) -> Vec<(String, u32)> {
        self.reviewers
            .iter()
            .map(|(login, n)| (login.clone(), *n))
            .collect()
    }

    /// Forgives `@` before a login and spaces around it.
    pub(super) fn normalize(&mut self) {
        self.reviewers = std::mem::take(&mut self.reviewers)
            .into_iter()
            .map(|(login, n)| (login.trim().trim_start_matches('@').to_string(), n))
            .collect();
    }

    pub(super) fn validate(&self) -> Result<(), RepoConfigError> {
        let count = self.reviewers.len();
        if count > MAX_REVIEWERS {
            return Err(RepoConfigError::invalid(format!(
                "review.reviewers names {count} reviewers; at most {MAX_REVIEWERS} are accepted"
            )));
        }
        let mut seen: Vec<String> = Vec::with_capacity(count);
        for (login, &n) in &self.reviewers {
            if !is_github_login(login) || login.ends_with("[bot]") {
                return Err(RepoConfigError::invalid(format!(
                    "review.reviewers: `{login}` is not a GitHub login"
                )));
            }
            if !(1..=MAX_REVIEWS_AT_ONCE).contains(&n) {
                return Err(RepoConfigError::invalid(format!(
                    "review.reviewers.{login} must be between 1 and {MAX_REVIEWS_AT_ONCE} \
                     (found {n}): how many of the pool's pull requests they review at once"
                )));
            }
            let key = login.to_lowercase();
            if seen.contains(&key) {
                return Err(RepoConfigError::invalid(format!(
                    "review.reviewers names `{login}` twice (logins are compared without case)"
                )));
            }
            seen.push(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::RepoConfig;

    fn error(yaml: &str) -> String {
        RepoConfig::parse(yaml)
            .expect_err("should be refused")
            .to_string()
    }

    #[test]
    fn reviewers_are_read_with_their_number() {
        let c = RepoConfig::parse("review:\n  reviewers:\n    alice: 2\n    '@Bob': 1\n").unwrap();
        assert_eq!(
            c.review.list(),
            [("Bob".to_string(), 1), ("alice".to_string(), 2)]
        );
        assert!(RepoConfig::parse("").unwrap().review.list().is_empty());
        let c = RepoConfig::parse("review: {reviewers: {alice: 20}}\n").unwrap();
        assert_eq!(c.review.list(), [("alice".to_string(), 20)]);
    }

    #[test]
    fn out_of_range_and_ill_typed_reviewers_are_settings_errors() {
        assert!(error("review:\n  reviewers:\n    alice: 0\n").contains("between 1 and 20"));
        assert!(error("review:\n  reviewers:\n    alice: 21\n").contains("between 1 and 20"));
        assert!(error("review:\n  reviewers:\n    alice: -1\n").contains("review"));
        assert!(error("review:\n  reviewers:\n    alice: two\n").contains("review"));
        assert!(error("review:\n  reviewers: [alice]\n").contains("review"));
        assert!(error("review:\n  reviewer:\n    alice: 1\n").contains("unknown field"));
        assert!(error("review:\n  reviewers:\n    'al ice': 1\n").contains("not a GitHub login"));
        assert!(error("review:\n  reviewers:\n    alice: 1\n    Alice: 2\n").contains("twice"));
        let many: String = (0..51).map(|i| format!("    r{i}: 1\n")).collect();
        let e = error(&format!("review:\n  reviewers:\n{many}"));
        assert!(e.contains("51 reviewers; at most 50"), "{e}");
        let fifty: String = (0..50).map(|i| format!("    r{i}: 1\n")).collect();
        assert!(RepoConfig::parse(&format!("review:\n  reviewers:\n{fifty}")).is_ok());
    }
}
