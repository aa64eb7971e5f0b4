//! Every problem of a `.github/owp.yml` at once, and the settings in force key by key.
//!
//! The file is still refused as a whole when anything in it is wrong (the last good settings
//! stay), but a maintainer is told of every line that was not understood, not only the first: an
//! unknown key or a value of the wrong type is set aside (with the lines under it) and the rest
//! is read again, at most [`MAX_PROBLEMS`] times; then every range and consistency rule is
//! checked on what was understood.

use serde_json::{Map, Value};

use super::{
    MAX_COOLDOWN_HOURS, MAX_LABEL_CHARS, MAX_MIN_ACCOUNT_AGE_DAYS, MAX_TRUST_LEVEL, MAX_TTL_DAYS,
    RepoConfig, RepoConfigError, WhoMayClaim, check_shape, is_github_login,
};

/// The most problems of one file that are reported (the file is read at most this many times).
pub const MAX_PROBLEMS: usize = 10;

/// Every setting of the file, as `section.key` (or `key`), in the order the file's documentation
/// lists them: what maintainers are shown as the settings in force.
pub const SETTING_KEYS: [&str; 35] = [
    "max_open_prs",
    "pr_hourly_limit",
    "labels.ready",
    "labels.estimate",
    "labels.priority",
    "labels.skills",
    "labels.area",
    "labels.tier",
    "claim.ttl_days",
    "claim.reminder",
    "claim.min_account_age_days",
    "claim.verified_commits",
    "claim.verified_commits_below_trust",
    "claim.first_timers_label",
    "claim.cooldown_hours",
    "claim.approval",
    "claim.approval_skip_trust",
    "claim.proposal_days",
    "who_may_claim",
    "max_claims_per_user",
    "tiers.default",
    "tiers.areas",
    "trust.promote",
    "vouch.trust",
    "vouch.required",
    "vouch.import",
    "contract.setup",
    "contract.test",
    "contract.lint",
    "contract.branch",
    "contract.pr_template",
    "contract.instructions",
    "contract.disclosure",
    "contract.pull_requests",
    "review.reviewers",
];

impl RepoConfig {
    /// Parses and checks the text of `.github/owp.yml` as [`RepoConfig::parse`] does, but on
    /// refusal names every problem found (at most [`MAX_PROBLEMS`]), in the order of the file,
    /// then the rules that what was understood breaks. The first problem is the one `parse`
    /// reports.
    pub fn parse_reporting(yaml: &str) -> Result<RepoConfig, Vec<RepoConfigError>> {
        check_shape(yaml).map_err(|e| vec![e])?;
        // A value of the wrong type or an unknown key can be set aside and the rest read again;
        // text that is not YAML at all cannot.
        let well_formed = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(yaml).is_ok();
        let mut lines: Vec<String> = yaml.lines().map(str::to_string).collect();
        let mut problems: Vec<RepoConfigError> = Vec::new();
        let mut config = None;
        while problems.len() < MAX_PROBLEMS {
            match serde_yaml_ng::from_str::<Option<RepoConfig>>(&lines.join("\n")) {
                Ok(parsed) => {
                    config = Some(parsed.unwrap_or_default());
                    break;
                }
                Err(e) => {
                    let problem = RepoConfigError::from_yaml(&e);
                    let line = problem.line;
                    let repeated = problems.iter().any(|p| p.message == problem.message);
                    if !repeated {
                        problems.push(problem);
                    }
                    match line {
                        Some(line) if well_formed && !repeated => set_aside(&mut lines, line),
                        _ => break,
                    }
                }
            }
        }
        if let Some(mut config) = config {
            config.normalize();
            problems.extend(config.problems());
            if problems.is_empty() {
                return Ok(config);
            }
        }
        problems.truncate(MAX_PROBLEMS);
        Err(problems)
    }

    /// The first rule the settings break, if any.
    pub(super) fn validate(&self) -> Result<(), RepoConfigError> {
        match self.problems().into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// Every range and consistency rule the settings break.
    fn problems(&self) -> Vec<RepoConfigError> {
        let invalid = |message: String| RepoConfigError::invalid(message);
        let mut found = Vec::new();
        let mut check = |result: Result<(), RepoConfigError>| {
            if let Err(e) = result {
                found.push(e);
            }
        };
        check(self.review.validate());
        if let Some(trust) = &self.trust {
            check(
                crate::domain::Promotion::validate(&trust.promote)
                    .map(|_| ())
                    .map_err(|e| invalid(format!("trust.{}", e.detail.trim_start_matches('`')))),
            );
        }
        if let Some(contract) = &self.contract {
            check(
                contract
                    .validate("contract")
                    .map_err(|e| invalid(e.to_string())),
            );
        }
        check(self.validate_vouch());
        let claim = &self.claim;
        let ttl = claim.ttl_days;
        if !(1..=MAX_TTL_DAYS).contains(&ttl) {
            check(Err(invalid(format!(
                "claim.ttl_days must be between 1 and {MAX_TTL_DAYS} (found {ttl})"
            ))));
        }
        let age = claim.min_account_age_days;
        if age > MAX_MIN_ACCOUNT_AGE_DAYS {
            check(Err(invalid(format!(
                "claim.min_account_age_days must be between 0 and {MAX_MIN_ACCOUNT_AGE_DAYS} \
                 (found {age})"
            ))));
        }
        if let Some(n) = claim.verified_commits_below_trust
            && n > MAX_TRUST_LEVEL
        {
            check(Err(invalid(format!(
                "claim.verified_commits_below_trust must be between 0 and {MAX_TRUST_LEVEL} \
                 (found {n})"
            ))));
        }
        let hours = claim.cooldown_hours;
        if hours > MAX_COOLDOWN_HOURS {
            check(Err(invalid(format!(
                "claim.cooldown_hours must be between 0 and {MAX_COOLDOWN_HOURS} (found {hours})"
            ))));
        }
        if let Some(label) = &claim.first_timers_label
            && (label.is_empty() || label.chars().count() > MAX_LABEL_CHARS)
        {
            check(Err(invalid(format!(
                "claim.first_timers_label must be a label name of 1 to {MAX_LABEL_CHARS} \
                 characters"
            ))));
        }
        check(
            crate::domain::proposals::check_skip_trust(claim.approval_skip_trust.map(i64::from))
                .and_then(|()| {
                    crate::domain::proposals::check_proposal_days(i64::from(claim.proposal_days))
                })
                .map_err(|e| invalid(format!("claim.{}", e.detail.replacen('`', "", 2)))),
        );
        if self.max_claims_per_user.0 == 0 {
            check(Err(invalid(
                "max_claims_per_user must be at least 1 (found 0); \
                 use `who_may_claim: workers` to stop claims by people without a worker"
                    .to_string(),
            )));
        }
        check(self.label_problem());
        check(self.allowlist_problem());
        found
    }

    /// The label names: none empty, no two prefixes alike.
    fn label_problem(&self) -> Result<(), RepoConfigError> {
        if self.labels.ready.is_empty() {
            return Err(RepoConfigError::invalid("labels.ready must not be empty"));
        }
        let prefixes = self.labels.prefixes();
        for (i, (key, prefix)) in prefixes.iter().enumerate() {
            if prefix.is_empty() {
                return Err(RepoConfigError::invalid(format!(
                    "labels.{key} must not be empty"
                )));
            }
            if let Some((other, _)) = prefixes[i + 1..]
                .iter()
                .find(|(_, p)| p.eq_ignore_ascii_case(prefix))
            {
                return Err(RepoConfigError::invalid(format!(
                    "labels.{key} and labels.{other} are both `{prefix}`; give them different names"
                )));
            }
        }
        Ok(())
    }

    /// `who_may_claim: {allowlist: […]}`: not empty, GitHub logins only.
    fn allowlist_problem(&self) -> Result<(), RepoConfigError> {
        if let WhoMayClaim::Allowlist(logins) = &self.who_may_claim {
            if logins.is_empty() {
                return Err(RepoConfigError::invalid(
                    "who_may_claim.allowlist is empty, so nobody could claim; \
                     list at least one login or use `who_may_claim: workers`",
                ));
            }
            if let Some(bad) = logins.iter().find(|l| !is_github_login(l)) {
                return Err(RepoConfigError::invalid(format!(
                    "who_may_claim.allowlist: `{bad}` is not a GitHub login"
                )));
            }
        }
        Ok(())
    }

    /// Every setting of [`SETTING_KEYS`] with the value in force: what the file says, or the
    /// default (`null` where the default is "none" or "left to the admin").
    pub fn in_force(&self) -> Map<String, Value> {
        let whole = serde_json::to_value(self).unwrap_or(Value::Null);
        SETTING_KEYS
            .iter()
            .map(|key| {
                let value = key
                    .split('.')
                    .try_fold(&whole, |at, part| at.get(part))
                    .cloned()
                    .unwrap_or_else(|| match *key {
                        "contract.disclosure" => Value::from("optional"),
                        "contract.pull_requests" => Value::from("ready"),
                        "review.reviewers" => Value::Object(Map::new()),
                        _ => Value::Null,
                    });
                (key.to_string(), value)
            })
            .collect()
    }
}

/// Blanks line `number` (1-based) and the lines indented under it, keeping the line numbers of
/// the rest.
fn set_aside(lines: &mut [String], number: usize) {
    let Some(first) = number.checked_sub(1).filter(|&i| i < lines.len()) else {
        return;
    };
    let indent = |line: &str| line.len() - line.trim_start().len();
    let own = indent(&lines[first]);
    lines[first].clear();
    for line in lines.iter_mut().skip(first + 1) {
        let content = line.trim();
        if !content.is_empty() && !content.starts_with('#') && indent(line) <= own {
            break;
        }
        line.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str) -> Vec<String> {
        RepoConfig::parse_reporting(yaml)
            .expect_err("should be refused")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn every_line_not_understood_is_named() {
        let yaml = "max_open_pr: 3\nclaim:\n  ttl: 3\n  cooldown_hours: 500\n  approval: maybe\n\
                    labels:\n  ready: 'pool:ready'\ncolour: blue\n";
        let found = problems(yaml);
        assert_eq!(found.len(), 5, "{found:#?}");
        assert!(
            found[0].starts_with(".github/owp.yml line 1 column 1: unknown field `max_open_pr`")
        );
        assert!(
            found[1].starts_with(".github/owp.yml line 3 column 3: claim: unknown field `ttl`")
        );
        assert!(
            found[2].contains("line 5") && found[2].contains("maybe"),
            "{found:#?}"
        );
        assert!(
            found[3].contains("line 8") && found[3].contains("`colour`"),
            "{found:#?}"
        );
        assert_eq!(
            found[4],
            ".github/owp.yml: claim.cooldown_hours must be between 0 and 168 (found 500)"
        );
        // `parse` reports the first of them.
        assert_eq!(RepoConfig::parse(yaml).unwrap_err().to_string(), found[0]);
    }

    #[test]
    fn rule_problems_are_all_named() {
        let found = problems(
            "claim:\n  ttl_days: 0\n  cooldown_hours: 999\nvouch:\n  trust: 9\n\
             max_claims_per_user: 0\nlabels:\n  ready: ''\n",
        );
        assert_eq!(found.len(), 5, "{found:#?}");
        for part in [
            "vouch.trust",
            "ttl_days",
            "cooldown_hours",
            "max_claims_per_user",
            "labels.ready",
        ] {
            assert!(found.iter().any(|p| p.contains(part)), "{part}: {found:#?}");
        }
    }

    #[test]
    fn broken_yaml_is_one_problem_and_counts_are_bounded() {
        assert_eq!(problems("max_open_prs: 3\nlabels: [unclosed\n").len(), 1);
        assert_eq!(problems("- just\n- a list\n").len(), 1);
        let many: String = (0..40).map(|i| format!("unknown{i}: 1\n")).collect();
        assert_eq!(problems(&many).len(), MAX_PROBLEMS);
        assert!(RepoConfig::parse_reporting("").is_ok());
        assert!(RepoConfig::parse_reporting("max_open_prs: 2\n").is_ok());
    }

    #[test]
    fn a_wrong_section_is_set_aside_with_its_lines() {
        let found = problems(
            "contract: 3\nreview:\n  reviewer:\n    alice: 2\n    bob: 3\nmax_open_prs: x\n",
        );
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(found[1].contains("`reviewer`"), "{found:#?}");
        assert!(found[2].contains("max_open_prs"), "{found:#?}");
    }

    #[test]
    fn every_setting_is_in_force_with_its_default() {
        let defaults = RepoConfig::default().in_force();
        assert_eq!(defaults.len(), SETTING_KEYS.len());
        assert_eq!(defaults["claim.ttl_days"], 7);
        assert_eq!(defaults["claim.approval"], "none");
        assert_eq!(defaults["who_may_claim"], "anyone");
        assert_eq!(defaults["contract.disclosure"], "optional");
        assert_eq!(defaults["review.reviewers"], serde_json::json!({}));
        assert_eq!(defaults["max_open_prs"], Value::Null);
        assert_eq!(defaults["vouch.trust"], 1);
        let set = RepoConfig::parse(
            "claim:\n  approval: plan\n  first_timers_label: good first issue\n\
             vouch:\n  required: true\nreview:\n  reviewers:\n    alice: 2\n\
             contract:\n  test: cargo test\n  disclosure: required\n",
        )
        .unwrap()
        .in_force();
        assert_eq!(set["claim.approval"], "plan");
        assert_eq!(set["claim.first_timers_label"], "good first issue");
        assert_eq!(set["vouch.required"], true);
        assert_eq!(set["review.reviewers"], serde_json::json!({"alice": 2}));
        assert_eq!(set["contract.test"], "cargo test");
        assert_eq!(set["contract.disclosure"], "required");
    }
}
