//! The rules of OWP that are not SQL: the moves a worker or an admin may make, what an expired
//! lease becomes, and a refusal of the scheduling rules in words.
//!
//! The scheduling rules themselves (section 5 of the contract) are SQL conditions, written once
//! in `store::leases::claim_rules` and joined by every claim statement; a refusal ([`Refusal`])
//! is read from those same conditions (`store::leases::refusals`), never decided here.

use serde_json::{Map, Value};

use super::model::TaskStatus;

/// The review slots a repository uses (rule 6), as every text and page that shows the budget
/// counts them: its open pull requests (and tasks waiting for a maintainer) and its active
/// leases. The rule itself, room or not, is the SQL of `store::budget_rule`, which every claim
/// runs and whose answer (`throttled`, a refusal) the displays read; a test there keeps this
/// count equal to the rule's.
pub fn review_slots_used(open_prs: i64, active_leases: i64) -> i64 {
    open_prs.saturating_add(active_leases)
}

/// Why a task cannot be offered to a worker; one variant per rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Rule 1: the worker gave this task back less than an hour ago.
    NackedRecently,
    /// Rule 2: the worker is paused.
    Paused,
    /// Rule 3: skills the task needs that the worker lacks.
    MissingSkills(Vec<String>),
    /// Rule 4: the task's points would exceed the worker's capacity.
    CapacityPoints {
        active: i64,
        estimate: i64,
        capacity: i64,
    },
    /// Rule 4: the worker already holds its maximum number of tasks.
    ConcurrentTasks { active: i64, max: i64 },
    /// Rule 5: another task of the same area is in flight (the first of them, by its key, when
    /// it has one).
    AreaLocked {
        area: String,
        held_by: Option<String>,
    },
    /// Rule 6: the repository's review budget is used up.
    BudgetFull {
        open_prs: i64,
        active_leases: i64,
        max_open_prs: i64,
    },
    /// Rule 7: the task's risk tier is above the worker's trust level.
    TierTooHigh { tier: i64, trust_level: i64 },
    /// Rule 8: blockers that still hold the task (their keys).
    Waiting { on: Vec<String> },
    /// Rule 9: capabilities the task requires that the worker does not hold with an equal value
    /// (their names).
    MissingCapabilities(Vec<String>),
    /// Beside rule 6: the repository takes at most `limit` new claims an hour, and this hour's
    /// are taken (`pr_hourly_limit` in `.github/owp.yml`); the cap has room again `from` then
    /// (ms; when the oldest claim of the hour leaves it).
    HourlyCap { limit: i64, from: Option<i64> },
    /// Beside rule 3: a specialist worker is offered only tasks that need one of its skills.
    OutsideSpecialty,
    /// Rule 10: tasks in flight that hold a path overlapping one of the task's, as (their key,
    /// their pattern).
    PathsHeld { by: Vec<(String, String)> },
    /// Beside rule 2: the repository takes claims only from GitHub accounts at least `min_days`
    /// old, and the worker's linked account is younger (it may claim from `claim_from`, ms).
    AccountTooNew { min_days: i64, claim_from: i64 },
    /// Beside rule 2: the repository takes claims only from GitHub accounts at least `min_days`
    /// old, and GitHub has not told the worker's account's age yet (the rule fails closed; the
    /// App asks again within minutes).
    AccountAgeUnknown { min_days: i64 },
    /// Rule 14: the task's issue carries the repository's first-timers label (`label`), kept for
    /// people with no merged task in the repository; the claimer has `merged`, or claimed by a
    /// comment that GitHub marks as a collaborator's, member's or owner's (`insider`).
    NotFirstTimer {
        label: String,
        merged: i64,
        insider: bool,
    },
    /// Rule 14: a claim of the worker (or of its person) in this repository ended without a pull
    /// request less than `hours` hours ago; it may claim there again from `until` (ms).
    CoolingDown { hours: i64, until: i64 },
    /// Rule 13: the repository's reviewers who are not away have room for `room` more pull
    /// requests, and `in_flight` leases (each a future review) already count on it.
    NoReviewerRoom { room: i64, in_flight: i64 },
    /// Rule 11: the repository takes plans first (`approval: plan`), the worker's trust is
    /// below `skip_trust` (everyone's is, when `None`), and it holds no approved proposal for
    /// the task.
    ApprovalRequired { skip_trust: Option<i64> },
    /// Beside rule 2: the task's repository has the GitHub App, whose tasks are worked only by a
    /// proven person, and the worker is linked to none (contract section 14).
    LinkRequired,
    /// Rule 12: the repository's vouch list denounces the worker's GitHub login (its details are
    /// never repeated).
    Denounced,
    /// Rule 12: the repository takes claims only from logins its vouch list vouches for and from
    /// its maintainers; `unread` when a list it needs could not be read (the rule fails closed).
    NotVouched { unread: bool },
    /// `who_may_claim: {allowlist: […]}` (GitHub mode): the repository takes claims only from the
    /// people its allowlist names, and the worker's person is not one of them.
    NotOnAllowlist,
}

impl Refusal {
    /// A stable machine-readable code for the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NackedRecently => "recently_released",
            Refusal::Paused => "worker_paused",
            Refusal::MissingSkills(_) => "skills_missing",
            Refusal::CapacityPoints { .. } => "capacity_exceeded",
            Refusal::ConcurrentTasks { .. } => "concurrency_exceeded",
            Refusal::AreaLocked { .. } => "area_locked",
            Refusal::BudgetFull { .. } => "review_budget_full",
            Refusal::TierTooHigh { .. } => "tier_too_high",
            Refusal::Waiting { .. } => "task_waiting",
            Refusal::MissingCapabilities(_) => "capabilities_missing",
            Refusal::HourlyCap { .. } => "hourly_cap_reached",
            Refusal::OutsideSpecialty => "outside_specialty",
            Refusal::PathsHeld { .. } => "paths_locked",
            Refusal::AccountTooNew { .. } => "account_too_new",
            Refusal::AccountAgeUnknown { .. } => "account_age_unknown",
            Refusal::NotFirstTimer { .. } => "not_first_timer",
            Refusal::CoolingDown { .. } => "cooling_down",
            Refusal::NoReviewerRoom { .. } => "no_reviewer_room",
            Refusal::ApprovalRequired { .. } => "approval_required",
            Refusal::Denounced => "denounced",
            Refusal::LinkRequired => "link_required",
            Refusal::NotVouched { .. } => "not_vouched",
            Refusal::NotOnAllowlist => "not_on_allowlist",
        }
    }

    /// Whether it is a rule about who the worker's person is (contract section 14: a proven
    /// person, their account's age, first timers, cool-downs, vouch lists), which a proposal and
    /// an approval meet as a claim does.
    pub fn about_person(&self) -> bool {
        matches!(
            self,
            Refusal::LinkRequired
                | Refusal::AccountTooNew { .. }
                | Refusal::AccountAgeUnknown { .. }
                | Refusal::NotFirstTimer { .. }
                | Refusal::CoolingDown { .. }
                | Refusal::Denounced
                | Refusal::NotVouched { .. }
                | Refusal::NotOnAllowlist
        )
    }

    /// The rule of section 5 of the contract it breaks (the hourly cap counts with the review
    /// budget, rule 6; a specialist's reach with the skills, rule 3).
    pub fn rule(&self) -> u8 {
        match self {
            Refusal::NackedRecently => 1,
            Refusal::Paused
            | Refusal::AccountTooNew { .. }
            | Refusal::AccountAgeUnknown { .. }
            | Refusal::LinkRequired => 2,
            Refusal::MissingSkills(_) | Refusal::OutsideSpecialty => 3,
            Refusal::CapacityPoints { .. } | Refusal::ConcurrentTasks { .. } => 4,
            Refusal::AreaLocked { .. } => 5,
            Refusal::BudgetFull { .. } | Refusal::HourlyCap { .. } => 6,
            Refusal::TierTooHigh { .. } => 7,
            Refusal::Waiting { .. } => 8,
            Refusal::MissingCapabilities(_) => 9,
            Refusal::PathsHeld { .. } => 10,
            Refusal::NotFirstTimer { .. } | Refusal::CoolingDown { .. } => 14,
            Refusal::NoReviewerRoom { .. } => 13,
            Refusal::ApprovalRequired { .. } => 11,
            Refusal::Denounced | Refusal::NotVouched { .. } | Refusal::NotOnAllowlist => 12,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NackedRecently => {
                write!(f, "you gave this task back less than an hour ago")
            }
            Refusal::Paused => write!(f, "the worker is paused"),
            Refusal::MissingSkills(skills) => {
                write!(
                    f,
                    "the task needs skills you have not declared: {}",
                    skills.join(", ")
                )
            }
            Refusal::CapacityPoints {
                active,
                estimate,
                capacity,
            } => write!(
                f,
                "capacity full: {active} of {capacity} points in use and this task needs {estimate}"
            ),
            Refusal::ConcurrentTasks { active, max } => {
                write!(f, "you already hold {active} of {max} concurrent tasks")
            }
            Refusal::AreaLocked { area, .. } => {
                write!(
                    f,
                    "area `{area}` is locked: another task in it is in flight"
                )
            }
            Refusal::BudgetFull {
                open_prs,
                active_leases,
                max_open_prs,
            } => write!(
                f,
                "review budget full: {} of {max_open_prs} review slots used ({open_prs} open PRs, {active_leases} active leases)",
                review_slots_used(*open_prs, *active_leases)
            ),
            Refusal::TierTooHigh { tier, trust_level } => write!(
                f,
                "the task is risk tier {tier} and your trust level is {trust_level}"
            ),
            Refusal::Waiting { on } => write!(
                f,
                "the task is waiting on {} (it is offered once they are done)",
                and_list(on)
            ),
            Refusal::MissingCapabilities(names) => write!(
                f,
                "the task requires capabilities your worker does not declare with the same value: {}",
                names.join(", ")
            ),
            Refusal::HourlyCap { limit, .. } => write!(
                f,
                "the repository takes at most {limit} new claims per hour, and this hour's are taken"
            ),
            Refusal::OutsideSpecialty => write!(
                f,
                "the task needs none of your skills, and a specialist is offered only tasks that do"
            ),
            Refusal::AccountTooNew {
                min_days,
                claim_from,
            } => write!(
                f,
                "the repository takes claims from GitHub accounts at least {min_days} days old; \
                 your linked account may claim from {}",
                utc_minute(*claim_from)
            ),
            Refusal::AccountAgeUnknown { min_days } => write!(
                f,
                "the repository takes claims from GitHub accounts at least {min_days} days old, \
                 and GitHub has not told your linked account's age yet; it is asked again within \
                 a few minutes, then claim again"
            ),
            Refusal::PathsHeld { by } => write!(
                f,
                "waiting: {} (it is offered once they are done)",
                paths_held_list(by)
            ),
            Refusal::NotFirstTimer {
                label,
                merged,
                insider,
            } => {
                let tasks = if *merged == 1 { "task" } else { "tasks" };
                let insider_words = "the claim is a comment of a collaborator, member or owner";
                let why = match (*merged, *insider) {
                    (0, _) => insider_words.to_string(),
                    (n, false) => format!("you have {n} merged {tasks} in this repository"),
                    (n, true) => format!("you have {n} merged {tasks} here, and {insider_words}"),
                };
                write!(
                    f,
                    "the task's issue is labelled `{label}`, kept for first-time contributors: {why}"
                )
            }
            Refusal::CoolingDown { hours, until } => write!(
                f,
                "a claim of yours in this repository ended without a pull request less than \
                 {hours} hours ago; you may claim here again from {}",
                utc_minute(*until)
            ),
            Refusal::NoReviewerRoom { room, in_flight } if *room <= 0 => write!(
                f,
                "the repository's reviewers have no room for another pull request ({in_flight} \
                 in flight; it is offered once a review ends or a reviewer is back)"
            ),
            Refusal::NoReviewerRoom { room, in_flight } => write!(
                f,
                "the repository's reviewers have room for {room} more pull request{}, and \
                 {in_flight} claim{} in flight will need {} (it is offered once a review ends or \
                 a reviewer is back)",
                if *room == 1 { "" } else { "s" },
                if *in_flight == 1 { "" } else { "s" },
                if *room == 1 { "it" } else { "them" }
            ),
            Refusal::ApprovalRequired { skip_trust } => {
                write!(
                    f,
                    "the repository takes a plan first: propose one (`POST /v1/tasks/{{id}}/proposals`) \
                     and a maintainer approves it"
                )?;
                match skip_trust {
                    Some(level) => write!(f, " (trust {level} and above claims directly)"),
                    None => Ok(()),
                }
            }
            Refusal::LinkRequired => write!(
                f,
                "this repository's issues are worked by GitHub accounts, and your worker is linked \
                 to none: run `owp worker link` (or comment `/owp link CODE` with the code from \
                 `POST /v1/workers/link-code`), then claim again"
            ),
            Refusal::Denounced => write!(
                f,
                "this repository's vouch list does not take contributions from your GitHub account"
            ),
            Refusal::NotVouched { unread: false } => write!(
                f,
                "this repository takes claims only from people its vouch list vouches for, and \
                 from its maintainers"
            ),
            Refusal::NotVouched { unread: true } => write!(
                f,
                "this repository takes claims only from people its vouch list vouches for, and \
                 the list could not be read from GitHub yet; it is read again within minutes"
            ),
            Refusal::NotOnAllowlist => write!(
                f,
                "this repository takes claims only from the GitHub accounts its `who_may_claim` \
                 allowlist names, and yours is not one of them"
            ),
        }
    }
}

/// An instant (ms) as `2026-05-01 12:30 UTC`.
fn utc_minute(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// `owner/name#12 is changing src/auth/; #14 is changing docs/x.md`: who holds which path, a
/// holder named once with each of its patterns (at most three per holder).
pub fn paths_held_list(by: &[(String, String)]) -> String {
    paths_held_words(by, str::to_string, str::to_string)
}

/// [`paths_held_list`] with each holder's key and each shown pattern written by `key` and `path`
/// (a comment quotes them so that no stranger's text becomes markup).
pub fn paths_held_words(
    by: &[(String, String)],
    key: impl Fn(&str) -> String,
    path: impl Fn(&str) -> String,
) -> String {
    let mut holders: Vec<(&str, Vec<String>)> = Vec::new();
    for (holder, pattern) in by {
        let shown = super::paths::shown(pattern);
        match holders.iter_mut().find(|(k, _)| k == holder) {
            Some((_, patterns)) => {
                if !patterns.contains(&shown) {
                    patterns.push(shown);
                }
            }
            None => holders.push((holder, vec![shown])),
        }
    }
    let parts: Vec<String> = holders
        .into_iter()
        .map(|(holder, patterns)| {
            let more = patterns.len().saturating_sub(3);
            let shown: Vec<String> = patterns.iter().take(3).map(|p| path(p)).collect();
            let mut list = and_list(&shown);
            if more > 0 {
                list = format!("{list} (and {more} more)");
            }
            format!("{} is changing {list}", key(holder))
        })
        .collect();
    parts.join("; ")
}

/// `a`, `a and b`, `a, b and c`.
pub fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Rule 9's detail: the names in `requires` whose value `capabilities` does not hold equally (numbers
/// compare by value, so `1` and `1.0` are equal).
pub fn missing_capabilities(capabilities: &Value, requires: &Map<String, Value>) -> Vec<String> {
    let equal = |a: &Value, b: &Value| match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    };
    requires
        .iter()
        .filter(|(name, want)| {
            !capabilities
                .get(name.as_str())
                .is_some_and(|have| equal(have, want))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// Rule 3's detail: the required skills a worker lacks (both lists canonical).
pub fn missing_skills(worker_skills: &[String], required: &[String]) -> Vec<String> {
    required
        .iter()
        .filter(|s| !worker_skills.contains(s))
        .cloned()
        .collect()
}

/// A task's move requested by the worker that holds it (`POST /v1/tasks/{id}/status`).
///
/// Returns the status to store, or `None` when the move is not allowed from `from`. A worker
/// never decides `merged` (see [`worker_may_report`]): only an admin or GitHub do.
pub fn worker_move(from: TaskStatus, to: TaskStatus) -> Option<TaskStatus> {
    use TaskStatus::*;
    match (from, to) {
        (Leased | InProgress, InProgress) => Some(InProgress),
        (Leased | InProgress, PrOpened) => Some(PrOpened),
        (Leased | InProgress | PrOpened, Blocked) => Some(Blocked),
        _ => None,
    }
}

/// Whether a worker may ask for `to` at all: `merged` is decided only by an admin or by GitHub
/// (a linked pull request merged), so that nobody drains the queue by reporting merges.
pub fn worker_may_report(to: TaskStatus) -> bool {
    to != TaskStatus::Merged
}

/// Statuses an admin may force (leases are only ever created by claims).
pub fn admin_may_force(to: TaskStatus) -> bool {
    !to.is_active()
}

/// Decides what an expired lease becomes: `ready` again, or `blocked` once it has failed
/// `max_attempts` times (a dead-letter state a maintainer looks at).
pub fn after_expiry(attempts_after: i64, max_attempts: i64) -> TaskStatus {
    if max_attempts > 0 && attempts_after >= max_attempts {
        TaskStatus::Blocked
    } else {
        TaskStatus::Ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_state_machine() {
        use TaskStatus::*;
        assert_eq!(worker_move(Leased, InProgress), Some(InProgress));
        assert_eq!(worker_move(Leased, PrOpened), Some(PrOpened));
        assert_eq!(worker_move(InProgress, PrOpened), Some(PrOpened));
        assert_eq!(worker_move(PrOpened, Merged), None);
        assert!(!worker_may_report(Merged));
        assert!(worker_may_report(Blocked));
        assert_eq!(worker_move(InProgress, Merged), None);
        assert_eq!(worker_move(Ready, InProgress), None);
        assert_eq!(worker_move(Merged, Ready), None);
        assert_eq!(worker_move(InProgress, Ready), None);
        assert_eq!(worker_move(InProgress, Blocked), Some(Blocked));
    }

    #[test]
    fn expiry_dead_letters_after_max_attempts() {
        assert_eq!(after_expiry(1, 3), TaskStatus::Ready);
        assert_eq!(after_expiry(3, 3), TaskStatus::Blocked);
        assert_eq!(after_expiry(100, 0), TaskStatus::Ready);
    }

    #[test]
    fn refusals_explain_themselves() {
        let r = Refusal::BudgetFull {
            open_prs: 3,
            active_leases: 0,
            max_open_prs: 3,
        };
        assert_eq!(r.code(), "review_budget_full");
        assert!(r.to_string().starts_with("review budget full: 3 of 3"));
    }

    #[test]
    fn rule14_refusals_name_the_label_and_the_end() {
        let label = "good first issue".to_string();
        let merged = Refusal::NotFirstTimer {
            label: label.clone(),
            merged: 2,
            insider: false,
        };
        assert_eq!((merged.code(), merged.rule()), ("not_first_timer", 14));
        assert!(
            merged
                .to_string()
                .ends_with("you have 2 merged tasks in this repository")
        );
        let insider = Refusal::NotFirstTimer {
            label,
            merged: 0,
            insider: true,
        };
        assert!(
            insider
                .to_string()
                .contains("a collaborator, member or owner")
        );
        let cooling = Refusal::CoolingDown {
            hours: 24,
            until: 1_800_000_000_000,
        };
        assert_eq!((cooling.code(), cooling.rule()), ("cooling_down", 14));
        assert!(cooling.to_string().ends_with("from 2027-01-15 08:00 UTC"));
    }

    #[test]
    fn rule9_requirements_need_equal_values() {
        let req = |v: serde_json::Value| v.as_object().unwrap().clone();
        let caps = serde_json::json!({"tests": true, "os": "linux", "cores": 8});
        assert!(missing_capabilities(&caps, &Map::new()).is_empty());
        assert!(
            missing_capabilities(
                &caps,
                &req(serde_json::json!({"tests": true, "cores": 8.0}))
            )
            .is_empty()
        );
        assert_eq!(
            missing_capabilities(
                &caps,
                &req(serde_json::json!({"tests": 1, "os": "linux", "gpu": true}))
            ),
            ["gpu", "tests"]
        );
        assert_eq!(
            missing_capabilities(
                &serde_json::Value::Null,
                &req(serde_json::json!({"tests": true}))
            ),
            ["tests"]
        );
        assert_eq!(
            Refusal::MissingCapabilities(vec!["gpu".into()]).code(),
            "capabilities_missing"
        );
    }
}
