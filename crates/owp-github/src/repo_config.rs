//! The per-repository configuration file, `.github/owp.yml` on the default branch.
//!
//! Every key is optional; a missing or empty file means the defaults. Unknown keys are errors (a
//! typo must not silently change nothing), and every error carries a message a maintainer can act
//! on, with the line when the YAML parser knows it:
//!
//! ```yaml
//! max_open_prs: 3          # review budget: open PRs + active claims (omit to keep the admin's value)
//! pr_hourly_limit: 2       # at most this many new claims per hour (omit for no limit)
//! labels:                  # label names, if the repository uses others than the defaults
//!   ready: "pool:ready"
//!   estimate: estimate     # labels look like `estimate:3`
//!   priority: priority
//!   skills: skills
//!   area: area
//!   tier: tier
//! claim:
//!   ttl_days: 7            # a comment claim ends after this many days without activity
//!   reminder: true         # remind the claimer at half time
//!   min_account_age_days: 0  # GitHub accounts younger than this cannot claim (0 to 3650)
//!   verified_commits: optional  # required: a pull request is ready for review only when
//!                               # GitHub verified every commit's signature
//!   verified_commits_below_trust: 2  # or: only for holders below this trust (0 to 3)
//!   first_timers_label: "good first issue"  # such issues: only people with no merge here
//!   cooldown_hours: 24     # a claim given back or expired: no claim here for this long (0 to 168)
//!   approval: none         # plan: a plan first, approved by a maintainer, then the claim
//!   approval_skip_trust: 2 # trust that claims directly in a `plan` repository (0 to 3)
//!   proposal_days: 7       # an open proposal expires after this many days (1 to 30)
//! who_may_claim: anyone    # anyone | workers | {allowlist: [alice, bob]}
//! max_claims_per_user: 2   # concurrent claims of one person without a linked worker
//! tiers:
//!   default: 0             # tier of a task without a `tier:N` label
//!   areas:                 # lowest tier of tasks in an area
//!     security: 2
//! trust:                   # trust progression (counts only people who opted in: `/owp opt-in`)
//!   promote:
//!     - {level: 1, merged: 3}   # three merged pull requests here: tier 1 tasks too
//! vouch:                   # VOUCHED.td (else .github/VOUCHED.td) of the default branch
//!   trust: 1               # a vouched login counts as this trust here, at least (0 to 3)
//!   required: false        # true: only vouched logins and maintainers claim
//!   import: [owner/name]   # at most 10 repositories whose denouncements apply here too
//! contract:                # how work is done here; every lease carries it
//!   setup: npm ci
//!   test: npm test
//!   lint: npm run lint
//!   branch: "owp/{number}-{slug}"
//!   pr_template: "## What changed\n\n## How it was tested\n"
//!   instructions: Keep changes small; update CHANGELOG.md.
//!   disclosure: required   # every pull request says which tool made it (default optional)
//!   pull_requests: draft   # the runner opens drafts, ready once its checks pass (default ready)
//! review:
//!   reviewers:             # at most 50; each reviews 1 to 20 pool pull requests at once
//!     alice: 2
//! ```

use std::fmt;
use std::num::NonZeroU32;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::domain::RepoContract;
pub use crate::domain::labels::{LabelNames, TierRules};

mod claim;
pub use claim::{ClaimConfig, MAX_TRUST_LEVEL, VerifiedCommits};
mod review;
pub use review::{MAX_REVIEWERS, MAX_REVIEWS_AT_ONCE, ReviewConfig};
mod vouch;
pub use vouch::{MAX_VOUCH_IMPORTS, VouchConfig};
mod problems;
pub use problems::{MAX_PROBLEMS, SETTING_KEYS};

/// Where the file lives in a repository.
pub const CONFIG_PATH: &str = ".github/owp.yml";

/// A repository's review budget when nothing else says otherwise.
pub const DEFAULT_MAX_OPEN_PRS: u32 = 3;

/// Longest accepted claim TTL, in days.
pub const MAX_TTL_DAYS: u32 = 365;

/// Largest accepted `claim.min_account_age_days` (ten years).
pub const MAX_MIN_ACCOUNT_AGE_DAYS: u32 = 3650;

/// Largest accepted `claim.cooldown_hours` (a week).
pub const MAX_COOLDOWN_HOURS: u32 = 168;

/// GitHub's longest label name.
const MAX_LABEL_CHARS: usize = 50;

/// The whole `.github/owp.yml`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RepoConfig {
    /// Review budget (open linked PRs + active claims). `None`: keep the current policy's value
    /// (3 for a new repository, or what an admin set).
    pub max_open_prs: Option<u32>,
    /// At most this many new claims per hour in the repository, so that pull requests arrive at a
    /// pace reviewers can follow. `None`: no limit.
    pub pr_hourly_limit: Option<NonZeroU32>,
    /// Label names.
    pub labels: LabelNames,
    /// Comment claims: lifetime and reminder.
    pub claim: ClaimConfig,
    /// Who may claim by comment.
    pub who_may_claim: WhoMayClaim,
    /// How many tasks one GitHub login without a linked worker may hold at once.
    pub max_claims_per_user: MaxClaims,
    /// How tasks get their tier.
    pub tiers: TierRules,
    /// How work in the repository is done (commands, branch name, PR template, instructions).
    pub contract: Option<RepoContract>,
    /// Trust progression. `None`: keep the rules the repository has (an admin's, or none).
    pub trust: Option<TrustConfig>,
    /// Reviewers with room (rule 13): none unless the file names them.
    #[serde(skip_serializing_if = "ReviewConfig::is_empty")]
    pub review: ReviewConfig,
    /// Vouch lists (rule 12): the trust a vouched login counts as, whether only vouched logins
    /// claim, and the lists imported.
    pub vouch: VouchConfig,
}

/// `trust:` of the file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrustConfig {
    /// `[{level, merged}]`: people who opted in earn trust `level` here with `merged` merges.
    pub promote: Vec<crate::domain::Promotion>,
}

/// How many concurrent tasks one person may claim by comment; at least 1, default 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct MaxClaims(pub u32);

impl Default for MaxClaims {
    fn default() -> Self {
        MaxClaims(2)
    }
}

/// Who may claim an issue by commenting `/owp claim`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum WhoMayClaim {
    /// Everyone; a person without a linked worker claims as an implicit worker of their login.
    #[default]
    Anyone,
    /// Only GitHub logins linked to a registered worker (`/owp link`).
    Workers,
    /// Only these GitHub logins (compared case-insensitively).
    Allowlist(Vec<String>),
}

impl WhoMayClaim {
    /// Whether `login` may claim; `has_linked_worker` tells whether the login is linked to a
    /// registered worker.
    /// The allowlist as the claim reads it (`repos.claim_allowlist`): its logins, lower-case,
    /// joined by commas; `None` without an allowlist.
    pub fn allowlist_column(&self) -> Option<String> {
        match self {
            WhoMayClaim::Allowlist(logins) => Some(
                logins
                    .iter()
                    .map(|l| l.to_lowercase())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            _ => None,
        }
    }

    pub fn allows(&self, login: &str, has_linked_worker: bool) -> bool {
        match self {
            WhoMayClaim::Anyone => true,
            WhoMayClaim::Workers => has_linked_worker,
            WhoMayClaim::Allowlist(logins) => logins.iter().any(|l| l.eq_ignore_ascii_case(login)),
        }
    }
}

impl Serialize for WhoMayClaim {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            WhoMayClaim::Anyone => serializer.serialize_str("anyone"),
            WhoMayClaim::Workers => serializer.serialize_str("workers"),
            WhoMayClaim::Allowlist(logins) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("allowlist", logins)?;
                map.end()
            }
        }
    }
}

const WHO_EXPECTED: &str = "`anyone`, `workers` or `{allowlist: [login, …]}`";

impl<'de> Deserialize<'de> for WhoMayClaim {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct WhoVisitor;

        impl<'de> Visitor<'de> for WhoVisitor {
            type Value = WhoMayClaim;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(WHO_EXPECTED)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<WhoMayClaim, E> {
                match v {
                    "anyone" => Ok(WhoMayClaim::Anyone),
                    "workers" => Ok(WhoMayClaim::Workers),
                    "allowlist" => Err(E::custom(
                        "`allowlist` needs the logins: write `who_may_claim: {allowlist: [alice, bob]}`",
                    )),
                    other => Err(E::custom(format!(
                        "`{other}` is not a choice for who_may_claim; expected {WHO_EXPECTED}"
                    ))),
                }
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WhoMayClaim, A::Error> {
                let mut logins: Option<Vec<String>> = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key != "allowlist" {
                        return Err(de::Error::custom(format!(
                            "unknown key `{key}` in who_may_claim; expected {WHO_EXPECTED}"
                        )));
                    }
                    if logins.is_some() {
                        return Err(de::Error::duplicate_field("allowlist"));
                    }
                    logins = Some(map.next_value()?);
                }
                logins
                    .map(WhoMayClaim::Allowlist)
                    .ok_or_else(|| de::Error::custom(format!("expected {WHO_EXPECTED}")))
            }
        }

        deserializer.deserialize_any(WhoVisitor)
    }
}

/// Why a `.github/owp.yml` was not accepted. The `Display` text is written for the maintainer who
/// has to fix the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{CONFIG_PATH}{}: {message}", location_text(*.line, *.column))]
pub struct RepoConfigError {
    /// 1-based line of the problem, when known.
    pub line: Option<usize>,
    /// 1-based column of the problem, when known.
    pub column: Option<usize>,
    /// What is wrong, and where possible how to fix it.
    pub message: String,
}

fn location_text(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" line {line} column {column}"),
        (Some(line), None) => format!(" line {line}"),
        _ => String::new(),
    }
}

impl RepoConfigError {
    fn invalid(message: impl Into<String>) -> Self {
        RepoConfigError {
            line: None,
            column: None,
            message: message.into(),
        }
    }

    fn from_yaml(err: &serde_yaml_ng::Error) -> Self {
        let location = err.location();
        let mut message = err.to_string();
        if location.is_some()
            && let Some(at) = message.rfind(" at line ")
        {
            message.truncate(at);
        }
        for name in [
            "RepoConfig",
            "LabelNames",
            "ClaimConfig",
            "TierRules",
            "RepoContract",
            "ReviewConfig",
        ] {
            message = message.replace(
                &format!("struct {name}"),
                "a mapping of settings (`key: value` lines)",
            );
        }
        if let Some(hint) = unknown_field_hint(&message) {
            message.push_str(&hint);
        }
        RepoConfigError {
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            message,
        }
    }
}

/// The settings that live in one section, which people put in another: the key, and the
/// section it belongs to.
const SECTION_OF: [(&str, &str); 19] = [
    ("ttl_days", "claim"),
    ("reminder", "claim"),
    ("min_account_age_days", "claim"),
    ("verified_commits", "claim"),
    ("verified_commits_below_trust", "claim"),
    ("first_timers_label", "claim"),
    ("cooldown_hours", "claim"),
    ("approval", "claim"),
    ("approval_skip_trust", "claim"),
    ("proposal_days", "claim"),
    ("setup", "contract"),
    ("test", "contract"),
    ("lint", "contract"),
    ("branch", "contract"),
    ("pr_template", "contract"),
    ("instructions", "contract"),
    ("disclosure", "contract"),
    ("pull_requests", "contract"),
    ("reviewers", "review"),
];

/// For serde's "unknown field `x`, expected one of `a`, `b`": a " (did you mean `a`?)" when one
/// of the expected names is close to the unknown one, or, for a setting of another section, where
/// it belongs (" (`disclosure` belongs under `contract:`: `contract.disclosure`)").
fn unknown_field_hint(message: &str) -> Option<String> {
    let after = message.split("unknown field `").nth(1)?;
    let (unknown, rest) = after.split_once('`')?;
    let here = message
        .split_once(": unknown field")
        .map(|(section, _)| section.trim());
    if let Some((_, section)) = SECTION_OF.iter().find(|(key, _)| *key == unknown)
        && here != Some(*section)
    {
        return Some(format!(
            " (`{unknown}` belongs under `{section}:` — did you mean `{section}.{unknown}`?)"
        ));
    }
    let best = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|candidate| {
            // A shortened name (`ttl` for `ttl_days`) counts as close.
            let distance = if unknown.len() >= 3 && candidate.starts_with(unknown) {
                1
            } else {
                strsim::damerau_levenshtein(unknown, candidate)
            };
            (distance, candidate)
        })
        .filter(|(distance, _)| *distance <= 3)
        .min_by_key(|(distance, _)| *distance)?;
    Some(format!(" (did you mean `{}`?)", best.1))
}

/// The largest `.github/owp.yml` read, in bytes; a bigger file is a settings error.
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;

/// The deepest nesting of `[ ]`/`{ }` accepted in `.github/owp.yml` (the settings need 3).
pub const MAX_CONFIG_FLOW_DEPTH: usize = 16;

/// The most indentation levels accepted in `.github/owp.yml` (the settings need 4).
pub const MAX_CONFIG_INDENT_LEVELS: usize = 16;

/// Refuses what could make reading the file slow or large before the YAML parser sees it: more
/// than [`MAX_CONFIG_BYTES`], nesting deeper than the settings ever need, and YAML anchors and
/// aliases (`&name`, `*name`), which could repeat one value many times.
fn check_shape(yaml: &str) -> Result<(), RepoConfigError> {
    if yaml.len() > MAX_CONFIG_BYTES {
        return Err(RepoConfigError::invalid(format!(
            "the file is {} bytes; at most {MAX_CONFIG_BYTES} are read",
            yaml.len()
        )));
    }
    let too_deep = || {
        RepoConfigError::invalid(format!(
            "nested deeper than {MAX_CONFIG_FLOW_DEPTH} levels; the settings need far fewer"
        ))
    };
    // Lines inside a block scalar (`key: |`) are text, not YAML: they are skipped.
    let mut block_scalar_indent: Option<usize> = None;
    let mut indents: Vec<usize> = Vec::new();
    for (index, line) in yaml.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        let content = line.trim();
        if let Some(owner) = block_scalar_indent {
            if content.is_empty() || indent > owner {
                continue;
            }
            block_scalar_indent = None;
        }
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        indents.retain(|&i| i < indent);
        indents.push(indent);
        if indents.len() > MAX_CONFIG_INDENT_LEVELS {
            return Err(too_deep());
        }
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        let mut value_start = true;
        let mut previous = ' ';
        for c in content.chars() {
            match quote {
                Some(q) => {
                    if c == q {
                        quote = None;
                    }
                }
                None => match c {
                    '#' if previous == ' ' => break,
                    '"' | '\'' if value_start => quote = Some(c),
                    '[' | '{' => {
                        depth += 1;
                        if depth > MAX_CONFIG_FLOW_DEPTH {
                            return Err(too_deep());
                        }
                    }
                    ']' | '}' => depth = depth.saturating_sub(1),
                    '&' | '*' if value_start => {
                        return Err(RepoConfigError {
                            line: Some(index + 1),
                            column: None,
                            message: "YAML anchors and aliases (`&name`, `*name`) are not \
                                      accepted here; write each value out"
                                .into(),
                        });
                    }
                    _ => {}
                },
            }
            // A new value may start after these (a plain scalar cannot start with `&` or `*`
            // other than as an anchor or alias).
            value_start = quote.is_none()
                && (matches!(c, '[' | '{' | ',' | '-' | '?')
                    || (c == ' ' && matches!(previous, ':' | '-' | ',' | '[' | '{' | ' ') && {
                        value_start || previous != ' '
                    }));
            previous = c;
        }
        let trimmed = content.split(" #").next().unwrap_or("").trim_end();
        if trimmed.ends_with('|')
            || trimmed.ends_with('>')
            || trimmed.ends_with("|-")
            || trimmed.ends_with(">-")
            || trimmed.ends_with("|+")
            || trimmed.ends_with(">+")
        {
            block_scalar_indent = Some(indent);
        }
    }
    Ok(())
}

impl RepoConfig {
    /// Parses and checks the text of `.github/owp.yml`. An empty file (or one with only comments)
    /// means the defaults. A file over [`MAX_CONFIG_BYTES`], nested too deep or using YAML
    /// anchors or aliases is refused before it is parsed.
    pub fn parse(yaml: &str) -> Result<RepoConfig, RepoConfigError> {
        check_shape(yaml)?;
        let parsed: Option<RepoConfig> =
            serde_yaml_ng::from_str(yaml).map_err(|e| RepoConfigError::from_yaml(&e))?;
        let mut config = parsed.unwrap_or_default();
        config.normalize();
        config.validate()?;
        Ok(config)
    }

    /// The review budget this file asks for, or `current` when it does not say.
    pub fn max_open_prs_or(&self, current: u32) -> u32 {
        self.max_open_prs.unwrap_or(current)
    }

    /// Forgives harmless spellings: a trailing colon on a label prefix, `@` before a login.
    fn normalize(&mut self) {
        let labels = &mut self.labels;
        for prefix in [
            &mut labels.estimate,
            &mut labels.priority,
            &mut labels.skills,
            &mut labels.area,
            &mut labels.tier,
        ] {
            *prefix = prefix.trim().trim_end_matches(':').trim_end().to_string();
        }
        labels.ready = labels.ready.trim().to_string();
        if let Some(label) = &mut self.claim.first_timers_label {
            *label = label.trim().to_string();
        }
        if let WhoMayClaim::Allowlist(logins) = &mut self.who_may_claim {
            for login in logins.iter_mut() {
                *login = login.trim().trim_start_matches('@').to_string();
            }
        }
        self.review.normalize();
    }
}

/// GitHub logins: 1–39 letters, digits or hyphens (bots add `[bot]`), not starting with a hyphen.
pub(crate) fn is_github_login(login: &str) -> bool {
    let name = login.strip_suffix("[bot]").unwrap_or(login);
    !name.is_empty()
        && name.len() <= 39
        && !name.starts_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn parse(yaml: &str) -> RepoConfig {
        RepoConfig::parse(yaml).unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(yaml: &str) -> RepoConfigError {
        RepoConfig::parse(yaml).expect_err("should be refused")
    }

    #[test]
    fn empty_file_means_defaults() {
        for yaml in ["", "\n", "# nothing here\n", "---\n"] {
            assert_eq!(parse(yaml), RepoConfig::default(), "{yaml:?}");
        }
    }

    #[test]
    fn contract_round_trip() {
        let c = parse(
            "contract:\n  setup: npm ci\n  test: npm test\n  lint: npm run lint\n  \
             branch: \"owp/{number}-{slug}\"\n  pr_template: |\n    ## What changed\n  \
             instructions: Keep it small.\n",
        );
        let contract = c.contract.clone().expect("a contract");
        assert_eq!(contract.setup.as_deref(), Some("npm ci"));
        assert_eq!(contract.test.as_deref(), Some("npm test"));
        assert_eq!(contract.lint.as_deref(), Some("npm run lint"));
        assert_eq!(contract.branch.as_deref(), Some("owp/{number}-{slug}"));
        assert_eq!(contract.pr_template.as_deref(), Some("## What changed\n"));
        assert_eq!(contract.instructions.as_deref(), Some("Keep it small."));
        // What is stored (JSON) reads back the same.
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<RepoConfig>(&json).unwrap(), c);
        assert_eq!(parse("max_open_prs: 2\n").contract, None);
    }

    #[test]
    fn drafts_first_is_a_contract_setting() {
        use crate::domain::contract::PullRequestStart;
        let c = parse("contract:\n  pull_requests: draft\n");
        assert_eq!(
            c.contract.and_then(|c| c.pull_requests),
            Some(PullRequestStart::Draft)
        );
        let e = error("contract:\n  pull_requests: maybe\n");
        assert!(e.message.contains("pull_requests"), "{e}");
        let e = error("pull_requests: draft\n");
        assert!(e.message.contains("contract.pull_requests"), "{e}");
    }

    #[test]
    fn contract_errors_name_the_field() {
        let e = error("contract:\n  tests: npm test\n");
        assert!(e.message.contains("unknown field `tests`"), "{e}");
        assert!(e.message.contains("did you mean `test`"), "{e}");
        assert_eq!(e.line, Some(2), "{e}");
        let e = error("contract:\n  branch: \"owp/{issue}\"\n");
        assert!(e.message.contains("contract.branch"), "{e}");
        let long = "x".repeat(crate::domain::contract::MAX_COMMAND_CHARS + 1);
        let e = error(&format!("contract:\n  test: {long}\n"));
        assert!(e.message.contains("contract.test"), "{e}");
        assert!(e.message.contains("longer than"), "{e}");
        let e = error("contract: npm test\n");
        assert!(e.message.contains("a mapping of settings"), "{e}");
    }

    #[test]
    fn defaults() {
        let c = RepoConfig::default();
        assert_eq!(c.max_open_prs, None);
        assert_eq!(c.max_open_prs_or(DEFAULT_MAX_OPEN_PRS), 3);
        assert_eq!(c.pr_hourly_limit, None);
        assert_eq!(c.labels.ready, "pool:ready");
        assert_eq!(c.claim.ttl(), TimeDelta::days(7));
        assert_eq!(c.claim.reminder_after(), Some(TimeDelta::hours(84)));
        assert_eq!(c.who_may_claim, WhoMayClaim::Anyone);
        assert_eq!(c.max_claims_per_user, MaxClaims(2));
        assert_eq!(c.tiers, TierRules::default());
    }

    #[test]
    fn full_file() {
        let c = parse(
            r#"
max_open_prs: 5
pr_hourly_limit: 2
labels:
  ready: "help wanted"
  estimate: size
  priority: prio
  skills: lang
  area: component
  tier: level
claim:
  ttl_days: 14
  reminder: false
who_may_claim: workers
max_claims_per_user: 1
tiers:
  default: 1
  areas:
    security: 3
"#,
        );
        assert_eq!(c.max_open_prs, Some(5));
        assert_eq!(c.max_open_prs_or(3), 5);
        assert_eq!(c.pr_hourly_limit, NonZeroU32::new(2));
        assert_eq!(c.labels.ready, "help wanted");
        assert_eq!(c.labels.estimate, "size");
        assert_eq!(c.labels.tier, "level");
        assert_eq!(c.claim.ttl(), TimeDelta::days(14));
        assert_eq!(c.claim.reminder_after(), None);
        assert_eq!(c.who_may_claim, WhoMayClaim::Workers);
        assert_eq!(c.max_claims_per_user, MaxClaims(1));
        assert_eq!(c.tiers.default, 1);
        assert_eq!(c.tiers.areas.get("security"), Some(&3));
    }

    #[test]
    fn partial_sections_keep_other_defaults() {
        let c = parse("claim:\n  ttl_days: 3\nlabels:\n  area: component\n");
        assert!(c.claim.reminder);
        assert_eq!(c.claim.ttl_days, 3);
        assert_eq!(c.labels.area, "component");
        assert_eq!(c.labels.ready, "pool:ready");
    }

    #[test]
    fn allowlist() {
        let c = parse("who_may_claim:\n  allowlist: [alice, '@Bob']\n");
        assert_eq!(
            c.who_may_claim,
            WhoMayClaim::Allowlist(vec!["alice".into(), "Bob".into()])
        );
        assert!(c.who_may_claim.allows("ALICE", false));
        assert!(c.who_may_claim.allows("bob", false));
        assert!(!c.who_may_claim.allows("mallory", true));
        let flow = parse("who_may_claim: {allowlist: [carol]}");
        assert_eq!(
            flow.who_may_claim,
            WhoMayClaim::Allowlist(vec!["carol".into()])
        );
    }

    #[test]
    fn who_may_claim_rules() {
        assert!(WhoMayClaim::Anyone.allows("x", false));
        assert!(WhoMayClaim::Workers.allows("x", true));
        assert!(!WhoMayClaim::Workers.allows("x", false));
    }

    #[test]
    fn trailing_colon_on_a_prefix_is_forgiven() {
        let c = parse("labels:\n  estimate: 'size:'\n");
        assert_eq!(c.labels.estimate, "size");
    }

    #[test]
    fn tier_rules() {
        let rules = parse("tiers:\n  default: 1\n  areas:\n    Security: 3\n").tiers;
        assert_eq!(rules.effective_tier(None, None), 1);
        assert_eq!(rules.effective_tier(Some(0), None), 0);
        assert_eq!(rules.effective_tier(Some(2), Some("docs")), 2);
        assert_eq!(rules.effective_tier(Some(0), Some("security")), 3);
        assert_eq!(rules.effective_tier(Some(5), Some("SECURITY")), 5);
    }

    #[test]
    fn round_trips_through_yaml() {
        let c = parse("who_may_claim: {allowlist: [carol]}\nmax_open_prs: 4\n");
        let yaml = serde_yaml_ng::to_string(&c).unwrap();
        assert_eq!(parse(&yaml), c);
    }

    // --- errors a maintainer reads ----------------------------------------------------------

    #[test]
    fn a_setting_of_another_section_says_where_it_belongs() {
        let e = RepoConfig::parse("claim:\n  disclosure: required\n").unwrap_err();
        assert!(
            e.message.contains("did you mean `contract.disclosure`?"),
            "{e}"
        );
        let e = RepoConfig::parse("approval: plan\n").unwrap_err();
        assert!(e.message.contains("did you mean `claim.approval`?"), "{e}");
        // A close name of the section itself is still the suggestion.
        let e = RepoConfig::parse("claim:\n  ttl: 3\n").unwrap_err();
        assert!(e.message.contains("did you mean `ttl_days`"), "{e}");
    }

    #[test]
    fn unknown_top_level_key_names_the_line_and_suggests() {
        let e = error("max_open_prs: 2\nmax_open_pr: 3\n");
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("unknown field `max_open_pr`"), "{e}");
        assert!(e.message.ends_with("(did you mean `max_open_prs`?)"), "{e}");
        assert!(
            e.to_string()
                .starts_with(".github/owp.yml line 2 column 1: "),
            "{e}"
        );
    }

    #[test]
    fn unknown_nested_key_names_its_section() {
        let e = error("claim:\n  ttl: 3\n");
        assert_eq!(e.line, Some(2));
        assert!(e.message.starts_with("claim: unknown field `ttl`"), "{e}");
        assert!(e.message.contains("did you mean `ttl_days`"), "{e}");
    }

    #[test]
    fn unknown_key_far_from_every_name_has_no_hint() {
        let e = error("colour: blue\n");
        assert!(e.message.contains("unknown field `colour`"), "{e}");
        assert!(!e.message.contains("did you mean"), "{e}");
    }

    #[test]
    fn wrong_types() {
        let e = error("max_open_prs: three\n");
        assert_eq!(e.line, Some(1));
        assert!(e.message.contains("max_open_prs"), "{e}");
        let e = error("max_open_prs: -1\n");
        assert!(e.message.contains("max_open_prs"), "{e}");
        let e = error("claim:\n  reminder: sometimes\n");
        assert!(e.message.contains("reminder"), "{e}");
    }

    #[test]
    fn zero_hourly_limit_is_refused() {
        let e = error("pr_hourly_limit: 0\n");
        assert!(e.message.contains("pr_hourly_limit"), "{e}");
    }

    #[test]
    fn ttl_out_of_range() {
        assert_eq!(
            error("claim:\n  ttl_days: 0\n").message,
            "claim.ttl_days must be between 1 and 365 (found 0)"
        );
        assert!(error("claim:\n  ttl_days: 400\n").message.contains("400"));
    }

    #[test]
    fn verified_commits_settings() {
        let c = parse("claim:\n  verified_commits: required\n");
        assert!(c.claim.verified_commits_for(|| 3));
        let c = parse("claim:\n  verified_commits_below_trust: 2\n");
        assert!(c.claim.verified_commits_for(|| 1));
        assert!(!c.claim.verified_commits_for(|| 2));
        assert!(c.claim.asks_for_verified_commits());
        assert!(!parse("").claim.asks_for_verified_commits());
        assert!(!parse("").claim.verified_commits_for(|| 0));
        let e = error("claim:\n  verified_commits_below_trust: 4\n");
        assert!(e.message.contains("between 0 and 3"), "{e:?}");
        let e = error("claim:\n  verified_commits: always\n");
        assert!(e.message.contains("verified_commits"), "{e:?}");
    }

    #[test]
    fn first_timers_and_cooldown_settings() {
        let c = parse("claim:\n  first_timers_label: \" good \"\n  cooldown_hours: 168\n").claim;
        assert_eq!(
            (c.first_timers_label.as_deref(), c.cooldown_hours),
            (Some("good"), 168)
        );
        assert_eq!(parse("").claim.cooldown_hours, 0);
        let e = error("claim:\n  cooldown_hours: 500\n");
        assert_eq!(
            e.message,
            "claim.cooldown_hours must be between 0 and 168 (found 500)"
        );
        for bad in [
            "cooldown_hours: -1",
            "cooldown_hours: x",
            "first_timers_label: ''",
        ] {
            let e = error(&format!("claim:\n  {bad}\n"));
            assert!(e.message.contains(bad.split(':').next().unwrap()), "{e}");
        }
    }

    #[test]
    fn account_age_in_range() {
        let c = parse("claim:\n  min_account_age_days: 3650\n");
        assert_eq!(c.claim.min_account_age_days, 3650);
        assert_eq!(parse("").claim.min_account_age_days, 0);
        assert_eq!(
            error("claim:\n  min_account_age_days: 3651\n").message,
            "claim.min_account_age_days must be between 0 and 3650 (found 3651)"
        );
        let e = error("claim:\n  min_account_age_days: -1\n");
        assert!(e.message.contains("min_account_age_days"), "{e}");
    }

    #[test]
    fn zero_claims_per_user_is_refused() {
        let e = error("max_claims_per_user: 0\n");
        assert!(
            e.message
                .starts_with("max_claims_per_user must be at least 1"),
            "{e}"
        );
        assert_eq!(e.to_string(), format!(".github/owp.yml: {}", e.message));
    }

    #[test]
    fn who_may_claim_errors() {
        let e = error("who_may_claim: everybody\n");
        assert!(e.message.contains("`everybody` is not a choice"), "{e}");
        assert_eq!(e.line, Some(1));
        let e = error("who_may_claim: allowlist\n");
        assert!(e.message.contains("needs the logins"), "{e}");
        let e = error("who_may_claim:\n  allowlist: []\n");
        assert!(e.message.contains("allowlist is empty"), "{e}");
        let e = error("who_may_claim:\n  allow: [a]\n");
        assert!(e.message.contains("unknown key `allow`"), "{e}");
        let e = error("who_may_claim:\n  allowlist: ['not a login']\n");
        assert!(
            e.message.contains("`not a login` is not a GitHub login"),
            "{e}"
        );
    }

    #[test]
    fn clashing_label_prefixes_are_refused() {
        let e = error("labels:\n  skills: area\n");
        assert_eq!(
            e.message,
            "labels.skills and labels.area are both `area`; give them different names"
        );
    }

    #[test]
    fn empty_label_names_are_refused() {
        assert_eq!(
            error("labels:\n  ready: ''\n").message,
            "labels.ready must not be empty"
        );
        assert_eq!(
            error("labels:\n  tier: ':'\n").message,
            "labels.tier must not be empty"
        );
    }

    #[test]
    fn broken_yaml_names_the_line() {
        let e = error("max_open_prs: 3\nlabels: [unclosed\n");
        assert!(e.line.is_some(), "{e:?}");
        assert!(e.to_string().starts_with(".github/owp.yml line "), "{e}");
    }

    #[test]
    fn big_deep_or_aliased_files_are_refused_quickly() {
        let started = std::time::Instant::now();
        let big = format!("max_open_prs: 3\n# {}\n", "x".repeat(MAX_CONFIG_BYTES));
        assert!(
            RepoConfig::parse(&big)
                .unwrap_err()
                .message
                .contains("at most 65536")
        );
        let deep = "[".repeat(MAX_CONFIG_BYTES - 1);
        assert!(
            RepoConfig::parse(&deep)
                .unwrap_err()
                .message
                .contains("nested deeper")
        );
        let deep_block: String = (0..40)
            .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
            .collect();
        assert!(RepoConfig::parse(&deep_block).is_err());
        let laughs = "labels:\n  ready: &a \"pool:ready\"\n  area: *a\n";
        let err = RepoConfig::parse(laughs).unwrap_err();
        assert!(err.message.contains("anchors and aliases"), "{err}");
        assert_eq!(err.line, Some(2));
        let flow = "who_may_claim: {allowlist: [*a]}\n";
        assert!(
            RepoConfig::parse(flow)
                .unwrap_err()
                .message
                .contains("aliases")
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Stars and ampersands inside text are fine.
        let text = "labels:\n  ready: >-\n    *pool* &\n    *ready*\n  area: \"area *\"\n  skills: skills & *more*\n";
        let config = RepoConfig::parse(text).unwrap();
        assert_eq!(config.labels.ready, "*pool* & *ready*");
    }

    #[test]
    fn not_a_mapping() {
        let e = error("- just\n- a list\n");
        assert_eq!(
            e.message,
            "invalid type: sequence, expected a mapping of settings (`key: value` lines)"
        );
    }

    #[test]
    fn github_logins() {
        for ok in ["a", "octo-cat", "dependabot[bot]", "A1"] {
            assert!(is_github_login(ok), "{ok}");
        }
        for bad in ["", "-x", "a b", "a_b", &"x".repeat(40)] {
            assert!(!is_github_login(bad), "{bad}");
        }
    }
}
