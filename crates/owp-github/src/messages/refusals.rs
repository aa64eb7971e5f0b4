//! Why a claim is refused, in the words of the App's replies.

use super::*;

/// Why a claim was refused. The integrator maps the scheduler's refusal onto one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimRefusal {
    /// The issue is not a task (it lacks the ready label).
    NotATask { ready_label: String },
    /// Someone else holds it.
    AlreadyClaimed { holder: Holder },
    /// The commenter holds it already.
    AlreadyYours,
    /// A maintainer blocked it.
    Blocked { reason: Option<String> },
    /// A pull request for it is open.
    PrOpen { pr_url: Option<String> },
    /// It is done.
    Merged,
    /// The repository's review budget is used up.
    ReviewBudgetFull(Budget),
    /// Another task of the same area is in progress.
    AreaLocked {
        area: String,
        other_issue: Option<u64>,
    },
    /// The task's tier is above the claimer's trust level.
    TierTooHigh { tier: i64, trust_level: i64 },
    /// The task's tier is above the claimer's trust level, and the repository's trust
    /// progression would grant it after `more_merged` more merged pull requests (counted only
    /// for people who opted in).
    TierNotYetEarned {
        tier: i64,
        trust_level: i64,
        more_merged: i64,
        opted_in: bool,
    },
    /// The person holds as many tasks as one person may.
    TooManyClaims { active: u32, max: u32 },
    /// The linked worker has no room for the task's points.
    CapacityExceeded {
        estimate_points: i64,
        active_points: i64,
        capacity_points: i64,
    },
    /// The linked worker lacks skills the task needs.
    MissingSkills { missing: Vec<String> },
    /// Capabilities the task needs (`needs:NAME`) that the worker does not declare.
    MissingCapabilities { missing: Vec<String> },
    /// The repository lets only registered workers claim.
    WorkersOnly,
    /// The repository lets only an allowlist claim.
    NotOnAllowlist,
    /// The repository's hourly claim limit is reached.
    HourlyLimit { limit: u32, retry_at: DateTime<Utc> },
    /// The person gave this task back less than an hour ago.
    RecentlyReleased { retry_at: DateTime<Utc> },
    /// The claimer's GitHub account is younger than the repository asks (`claim:
    /// min_account_age_days`); it may claim from `claim_from` on.
    AccountTooNew {
        min_days: u32,
        claim_from: DateTime<Utc>,
    },
    /// The repository asks for a minimum account age and GitHub has not told the claimer's yet
    /// (the account was renamed, is hidden, or GitHub failed): refused, asked again later.
    AccountAgeUnknown { min_days: u32 },
    /// The linked worker is paused.
    WorkerPaused { worker: String },
    /// Issues that must be done first are still open (as written: `#12`, `owner/other#3`).
    Waiting { on: Vec<String> },
    /// Rule 10: issues in flight change an overlapping path, as (reference as written, pattern).
    PathsHeld { by: Vec<(String, String)> },
    /// Rule 14: the issue carries the first-timers `label`, and the claimer has `merged` merged
    /// tasks here or commented as the repository's collaborator, member or owner (`insider`).
    NotFirstTimer {
        label: String,
        merged: u32,
        insider: bool,
    },
    /// Rule 14: a claim of theirs here ended without a pull request less than `hours` ago.
    CoolingDown { hours: u32, retry_at: DateTime<Utc> },
    /// Rule 13: the repository's reviewers have room for `room` more pull requests, and
    /// `in_flight` claims already count on it.
    NoReviewerRoom { room: i64, in_flight: i64 },
    /// Rule 11: the repository takes a plan first, approved by a maintainer.
    ApprovalRequired,
    /// Beside rule 2: the worker that would hold the issue speaks for no proven GitHub account.
    LinkRequired,
    /// Rule 12: the repository's vouch list denounces the claimer (no details, ever).
    Denounced,
    /// Rule 12: only vouched people and maintainers claim here; `unread` when the list could not
    /// be read yet.
    NotVouched { unread: bool },
}

/// `#12 and owner/other#3`: the blockers a task waits on, each neutralised.
pub fn waiting_list(on: &[String]) -> String {
    // An issue reference is kept as written, so GitHub links it; anything else is neutralised.
    let is_ref = |k: &str| {
        let (repo, number) = k.rsplit_once('#').unwrap_or(("?", ""));
        let repo_ok = repo.is_empty()
            || repo.split_once('/').is_some_and(|(o, n)| {
                [o, n].iter().all(|p| {
                    !p.is_empty()
                        && p.chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                })
            });
        repo_ok && !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
    };
    let on: Vec<String> = on
        .iter()
        .map(|k| if is_ref(k) { k.clone() } else { neutralize(k) })
        .collect();
    crate::domain::rules::and_list(&on)
}

/// A key of an issue as written on `repo`'s issues: `#12` there, `owner/other#3` elsewhere.
pub fn issue_ref(repo: &str, key: &str) -> String {
    match key
        .strip_prefix(repo)
        .and_then(|rest| rest.strip_prefix('#'))
    {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => format!("#{n}"),
        _ => key.to_string(),
    }
}

/// Who holds the paths a task waits for (rule 10), for a comment: `#12 is changing `src/auth/``.
/// Keys that are issue references stay links; everything else is quoted as code, except the
/// App's own words for a pattern that covers the whole repository.
pub fn paths_waiting(by: &[(String, String)]) -> String {
    crate::domain::rules::paths_held_words(
        by,
        |key| waiting_list(&[key.to_string()]),
        |path| {
            if path == crate::domain::paths::WHOLE_REPOSITORY {
                path.to_string()
            } else {
                format!("`{}`", neutralize_code(path))
            }
        },
    )
}

/// The one sentence that says why a claim was refused.
pub fn refusal_reason(refusal: &ClaimRefusal) -> String {
    match refusal {
        ClaimRefusal::NotATask { ready_label } => format!(
            "this issue is not in the pool — a maintainer adds the `{}` label to put it there",
            neutralize_code(ready_label)
        ),
        ClaimRefusal::AlreadyClaimed { holder } => {
            format!("it is already claimed by {}", holder.describe())
        }
        ClaimRefusal::AlreadyYours => {
            "you already hold it — comment `/owp renew` to extend your claim".to_string()
        }
        ClaimRefusal::Blocked {
            reason: Some(reason),
        } => {
            format!("a maintainer blocked it: {}", neutralize(reason))
        }
        ClaimRefusal::Blocked { reason: None } => "a maintainer blocked it".to_string(),
        ClaimRefusal::PrOpen { pr_url: Some(url) } => {
            format!("a pull request for it is already open: {url}")
        }
        ClaimRefusal::PrOpen { pr_url: None } => {
            "a pull request for it is already open".to_string()
        }
        ClaimRefusal::Merged => "it is already done".to_string(),
        ClaimRefusal::ReviewBudgetFull(budget) if budget.active_leases == 0 => format!(
            "review budget full: {} of {} PRs open — try again when one merges",
            budget.open_prs, budget.max_open_prs
        ),
        ClaimRefusal::ReviewBudgetFull(budget) => format!(
            "review budget full: {} open and {} in progress use all {} review slots — \
             try again when one merges",
            plural(budget.open_prs, "PR", "PRs"),
            plural(budget.active_leases, "claim", "claims"),
            budget.max_open_prs
        ),
        ClaimRefusal::AreaLocked {
            area,
            other_issue: Some(n),
        } => format!(
            "#{n} in the same area (`{}`) is in progress — try again when it is done",
            neutralize_code(area)
        ),
        ClaimRefusal::AreaLocked {
            area,
            other_issue: None,
        } => format!(
            "another task in the same area (`{}`) is in progress — try again when it is done",
            neutralize_code(area)
        ),
        ClaimRefusal::TierTooHigh { tier, trust_level } => format!(
            "this task is tier {tier} and needs trust level {tier} or more; yours is {trust_level}"
        ),
        ClaimRefusal::TierNotYetEarned {
            tier,
            trust_level,
            more_merged,
            opted_in,
        } => {
            let start = format!(
                "this task is tier {tier} and needs trust level {tier} or more; yours here is \
                 {trust_level}"
            );
            let more = plural(
                u32::try_from((*more_merged).max(0)).unwrap_or(u32::MAX),
                "more merged pull request",
                "more merged pull requests",
            );
            match (opted_in, *more_merged > 0) {
                (true, _) => format!("{start} — {more} here will earn it"),
                (false, true) => format!(
                    "{start} — {more} here will earn it, once you comment `/owp opt-in` \
                     (merges count toward trust only for people who opted in)"
                ),
                (false, false) => format!(
                    "{start} — your merged pull requests here would earn it: comment \
                     `/owp opt-in` to have them counted"
                ),
            }
        }
        ClaimRefusal::TooManyClaims { active, max } => format!(
            "you already hold {active} of the {max} issues one person may claim at once here — \
             finish or `/owp release` one first"
        ),
        ClaimRefusal::CapacityExceeded {
            estimate_points,
            active_points,
            capacity_points,
        } => format!(
            "its {estimate_points} points do not fit your worker's capacity \
             ({active_points} of {capacity_points} points in use)"
        ),
        ClaimRefusal::MissingSkills { missing } => {
            let missing: Vec<String> = missing.iter().map(|s| neutralize(s)).collect();
            format!(
                "it needs skills your worker does not list: {}",
                missing.join(", ")
            )
        }
        ClaimRefusal::MissingCapabilities { missing } => {
            let missing: Vec<String> = missing
                .iter()
                .map(|s| format!("`{}`", neutralize_code(s)))
                .collect();
            format!(
                "it needs capabilities your worker does not declare in its `capabilities`: {}",
                missing.join(", ")
            )
        }
        ClaimRefusal::WorkersOnly => "only registered workers may claim issues here — \
             register one and link it with `owp worker link`"
            .to_string(),
        ClaimRefusal::NotOnAllowlist => {
            "only the people on this repository's allowlist may claim issues here".to_string()
        }
        ClaimRefusal::HourlyLimit { limit, retry_at } => format!(
            "this repository takes at most {} per hour — try again after {}",
            plural(*limit, "new claim", "new claims"),
            format_time(*retry_at)
        ),
        ClaimRefusal::RecentlyReleased { retry_at } => format!(
            "you gave it back less than an hour ago — you can claim it again after {}",
            format_time(*retry_at)
        ),
        ClaimRefusal::AccountTooNew {
            min_days,
            claim_from,
        } => format!(
            "this repository takes claims from GitHub accounts at least {} old — yours can \
             claim from {}",
            plural(*min_days, "day", "days"),
            format_time(*claim_from)
        ),
        ClaimRefusal::AccountAgeUnknown { min_days } => format!(
            "this repository takes claims from GitHub accounts at least {} old, and GitHub has \
             not told us how old yours is — we'll ask again within {} minutes; claim again then",
            plural(*min_days, "day", "days"),
            crate::store::accounts::ACCOUNT_RETRY_MS / 60_000
        ),
        ClaimRefusal::Waiting { on } => format!(
            "it is waiting on {} — it can be claimed once {} closed",
            waiting_list(on),
            if on.len() == 1 { "it is" } else { "they are" }
        ),
        ClaimRefusal::PathsHeld { by } => format!(
            "it changes the same files as work in flight: {} — it can be claimed once that \
             work is merged, closed or given back",
            paths_waiting(by)
        ),
        ClaimRefusal::NotFirstTimer {
            label,
            merged,
            insider,
        } => {
            let mut why = Vec::new();
            if *merged > 0 {
                why.push(format!(
                    "you already have {} here",
                    plural(*merged, "merged task", "merged tasks")
                ));
            }
            if *insider {
                why.push("GitHub lists you as a collaborator, member or owner of it".to_string());
            }
            format!(
                "its `{}` label keeps it for people new to this repository, and {} — \
                 please leave it to a newcomer",
                neutralize_code(label),
                why.join(" and ")
            )
        }
        ClaimRefusal::CoolingDown { hours, retry_at } => format!(
            "your last claim here ended without a pull request, and this repository asks for a \
             pause of {} before the next — you can claim here again after {}",
            plural(*hours, "hour", "hours"),
            format_time(*retry_at)
        ),
        ClaimRefusal::NoReviewerRoom { room, in_flight } => {
            reviewers::no_room_reason(*room, *in_flight)
        }
        ClaimRefusal::WorkerPaused { worker } => format!(
            "your worker `{}` is paused — set it back to idle first",
            neutralize_code(worker)
        ),
        ClaimRefusal::ApprovalRequired => "this repository takes a plan first — a maintainer \
             approves a proposal before anyone holds the issue"
            .to_string(),
        ClaimRefusal::LinkRequired => "the worker is linked to no GitHub account — run \
             `owp worker link` on its machine first"
            .to_string(),
        ClaimRefusal::Denounced => {
            "this repository's maintainers do not take contributions from you here".to_string()
        }
        ClaimRefusal::NotVouched { unread: false } => {
            "this repository takes claims only from people its vouch list (`VOUCHED.td`) vouches \
             for — ask a maintainer to vouch for you"
                .to_string()
        }
        ClaimRefusal::NotVouched { unread: true } => {
            "this repository takes claims only from people its vouch list (`VOUCHED.td`) vouches \
             for, and the list could not be read yet — we'll read it again within minutes"
                .to_string()
        }
    }
}

/// The reply to a refused `/owp claim`.
/// A refused claim, naming every reason (one in a sentence, several as a list).
pub fn claim_refused(login: &str, refusals: &[ClaimRefusal]) -> String {
    match refusals {
        [one] => format!(
            "@{login}, you can't claim this issue right now: {}.",
            refusal_reason(one)
        ),
        several => {
            let mut text = format!("@{login}, you can't claim this issue right now:");
            for refusal in several {
                text.push_str(&format!("\n- {}", refusal_reason(refusal)));
            }
            text
        }
    }
}
