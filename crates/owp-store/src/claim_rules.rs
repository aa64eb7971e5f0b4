//! The scheduling rules of a claim as SQL fragments, shared by both backends' claim statements
//! (`leases/sqlite_batch.rs`, [`crate::leases::postgres_statement`]), which the named claim
//! (`leases/named_claim.rs`) runs too, narrowed to its task ([`Pick`]), and by the preview: a rule
//! changed here changes for every claim.

pub(crate) mod person_sql;

use crate::budget_rule::budget_has_room;
use crate::domain::rules::Refusal;
use crate::in_flight::in_flight_statuses;
use crate::path_overlap::held_overlapping;
use crate::rows::WorkerRow;
use crate::{Backend, DAY_MS, HOUR_MS};

use person_sql::{Setting, denouncing_entry, merged_count_in, merged_here, setting_of};
pub(crate) use person_sql::{by_person, person_of};

/// What a claim statement takes: the first eligible task in offer order (`POST /v1/work`), or one
/// named task (`/owp claim`), with the same rules but for a specialist's reach, which does not
/// limit a person's own pick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pick {
    First,
    /// One task by its sequence number; `insider`: the claim is a comment whose author GitHub
    /// calls a collaborator, member or owner of the repository (its `author_association`).
    Named {
        seq: i64,
        insider: bool,
    },
}

impl Pick {
    /// The condition on the candidate `t` that this pick adds (` AND t.seq = N` for a named task;
    /// the sequence number is an integer, so it is written into the text).
    pub(super) fn condition(self) -> String {
        match self {
            Pick::First => String::new(),
            Pick::Named { seq, .. } => format!(" AND t.seq = {seq}"),
        }
    }

    /// The claim's `insider` as an SQL value (see [`first_timer_rule`]): 1 for a comment of a
    /// collaborator, member or owner, 0 for every other claim.
    pub(super) fn insider(self) -> &'static str {
        match self {
            Pick::Named { insider: true, .. } => "1",
            _ => "0",
        }
    }

    /// The worker's skills as the skill rule reads them: a named pick is not held to a
    /// specialist's reach.
    pub(super) fn skills(self, worker: &WorkerRow) -> Skills {
        let mut skills = Skills::of(worker);
        if let Pick::Named { .. } = self {
            skills.specialist = false;
        }
        skills
    }
}

/// The order in which eligible tasks are offered to a worker: higher priority first, then the
/// order they entered the pool (`seq`), for the candidates `t` of [`worker_fits`].
pub(crate) const OFFER_ORDER: &str = "ORDER BY t.priority DESC, t.seq";

/// [`OFFER_ORDER`] as one ascending key of the candidate `t`, `(-priority, seq)`: the same order
/// (`priority` is never NULL), and the key of PostgreSQL's narrow queue index `task_queue_offer`
/// (migration 0044), which a row comparison with the key can start a scan from. Read in that
/// order with [`OFFER_KEY_ORDER`].
pub(super) const OFFER_KEY: &str = "(-t.priority, t.seq)";

/// [`OFFER_ORDER`] by [`OFFER_KEY`].
pub(super) const OFFER_KEY_ORDER: &str = "ORDER BY -t.priority, t.seq";

/// Where a claim statement finds its candidates `t`, and what makes a row there claimable: a
/// task that is `ready` and waits on nothing (rule 8). On PostgreSQL that is the narrow queue
/// `task_queue` (migration 0027), which holds only such tasks, with every column the rules read;
/// on SQLite `tasks` itself, through the partial index that holds just those tasks.
pub(super) fn candidates(backend: Backend) -> (&'static str, &'static str) {
    match backend {
        Backend::Postgres => ("task_queue t", ""),
        Backend::Sqlite => ("tasks t", "t.status = 'ready' AND t.waiting = 0 AND "),
    }
}

/// What a candidate `t` in repository `r` asks of the worker `w`: its skills are still those its
/// request was authenticated with (parameter `skills`, so that a claim takes nothing if they
/// changed since), the task is claimable ([`candidates`]), and the worker's own limits hold
/// ([`worker_conditions`]). Which skills it needs is [`skill_rule`].
pub(super) fn worker_fits(backend: Backend, skills: &str) -> String {
    let limits: Vec<String> = worker_conditions()
        .into_iter()
        .map(|(_, sql)| sql)
        .collect();
    let claimable = candidates(backend).1;
    format!(
        "w.skills = {skills} AND {claimable}r.id = t.repo_id AND {}",
        limits.join(" AND ")
    )
}

/// Rules 2 and 4 on the worker `w` and the candidate `t`, each on its own: the worker is not
/// paused, holds fewer tasks than it may, and the task fits in its free capacity.
pub(crate) fn worker_conditions() -> Vec<(Condition, String)> {
    vec![
        (Condition::NotPaused, "w.status <> 'paused'".into()),
        (
            Condition::TasksRoom,
            "w.active_tasks < w.max_concurrent_tasks".into(),
        ),
        (
            Condition::PointsRoom,
            "t.estimate_points <= w.capacity_points - w.active_points".into(),
        ),
    ]
}

/// The leases of repository `r` granted after `hour` (the hourly claim cap counts them), as the
/// `FROM … WHERE …` of a query over `hl`.
fn hour_leases(hour: &str) -> String {
    format!("FROM leases hl WHERE hl.repo_id = r.id AND hl.created_at > {hour}")
}

/// Beside rule 6: the hourly claim cap of repository `r` (`claims_per_hour`, from
/// `pr_hourly_limit`), if it has one, has room, counting the leases granted after `hour`.
/// PostgreSQL reads it again under the repository's row lock when the lease is written
/// (migration 0033, a copy of this text that a test keeps equal).
pub(crate) fn hourly_room(hour: &str) -> String {
    format!(
        "({HOURLY_OFF} OR r.claims_per_hour > (SELECT COUNT(*) {}))",
        hour_leases(hour)
    )
}

/// When the oldest lease counted by [`hourly_room`] leaves the hour (NULL when none): what
/// explains a refusal of the cap.
pub(crate) fn hourly_room_from(hour: &str) -> String {
    format!(
        "(SELECT MIN(hl.created_at) + {HOUR_MS} {})",
        hour_leases(hour)
    )
}

/// The other tasks of the candidate `t`'s repository and area that hold the area (in flight:
/// leased, in progress or with an open pull request), as the `FROM … WHERE …` of a query over
/// `h`.
fn area_holders() -> String {
    format!(
        "FROM tasks h WHERE h.repo_id = t.repo_id AND h.area = t.area AND h.status IN ({})",
        in_flight_statuses()
    )
}

/// Rule 5: the candidate `t`'s area is free, or not locked.
fn area_free() -> String {
    format!(
        "({AREA_OFF} OR r.area_locks_enabled = 0 OR NOT EXISTS (SELECT 1 {}))",
        area_holders()
    )
}

/// The key of the first task holding the candidate `t`'s area (see [`area_free`]): what
/// explains a refusal of rule 5.
pub(crate) fn area_holder() -> String {
    format!("(SELECT h.key {} ORDER BY h.seq LIMIT 1)", area_holders())
}

/// Which rule of the claim a SQL condition states (see [`claim_conditions`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Condition {
    /// Rule 2: the worker is not paused.
    NotPaused,
    /// Rule 4: the worker holds fewer tasks than it may.
    TasksRoom,
    /// Rule 4: the task fits in the worker's free capacity points.
    PointsRoom,
    /// Rule 8: nothing the task depends on still holds it.
    NotWaiting,
    /// Rule 6: the repository's review budget has room.
    BudgetRoom,
    /// Rule 6's companion: the repository's hourly claim cap has room.
    HourlyRoom,
    /// Rule 5: no other task of the area is in flight (when area locks are on).
    AreaFree,
    /// Rule 1: the worker did not give the task back within the hour.
    NotNackedRecently,
    /// Rule 7: the task's tier is within the worker's effective trust.
    TierTrusted,
    /// Rule 9: the worker holds every capability the task requires.
    CapabilitiesHeld,
    /// Rule 3: the worker has every skill the task needs.
    SkillsHeld,
    /// Rule 3 for a specialist: the task needs one of its skills.
    InSpecialty,
    /// Rule 10: no other task of the repository in flight holds an overlapping path.
    PathsFree,
    /// Beside rule 2: in a repository the GitHub App is installed on, the worker speaks for a
    /// proven person (contract section 14).
    PersonProven,
    /// Beside rule 2: the worker's linked GitHub account is as old as the repository asks
    /// (`claim.min_account_age_days`).
    AccountOldEnough,
    /// Rule 14: a task of the first-timers label goes only to a person with no merged task in
    /// its repository, and by comment only to one who is not the repository's insider.
    FirstTimer,
    /// Rule 14: the person's last claim in the repository that ended without a pull request
    /// ended at least `cooldown_hours` ago.
    CooledDown,
    /// Rule 13: the repository's reviewers who are not away have room for one more pull request
    /// beyond the leases in flight.
    ReviewerRoom,
    /// Rule 11: in a repository that takes plans first, the worker's trust skips the plan or it
    /// holds an approved proposal for the task.
    Approved,
    /// `max_claims_per_user`: the person holds fewer claims in the repository than it allows,
    /// on all their workers and by comment together.
    PersonClaimsRoom,
    /// Rule 12: the repository's vouch list does not denounce the worker's GitHub login.
    NotDenounced,
    /// `who_may_claim: {allowlist: […]}`: the worker's person is on the repository's allowlist
    /// (by the login GitHub last sent for the account), on every path as by comment.
    OnAllowlist,
    /// Rule 12: the repository takes claims from vouched logins and maintainers only
    /// (`vouch.required`), and the worker is one of them.
    VouchedIfRequired,
}

/// What switches a rule of repository `r` off: `claims_per_hour` unset (no hourly cap).
const HOURLY_OFF: &str = "r.claims_per_hour IS NULL";
/// … `min_account_age_days` 0 (no minimum account age).
const ACCOUNT_AGE_OFF: &str = "r.min_account_age_days = 0";
/// … `cooldown_hours` 0 (no cool-down).
const COOLDOWN_OFF: &str = "r.cooldown_hours = 0";
/// … no reviewers (rule 13 has nobody to count).
const REVIEWERS_OFF: &str = "r.reviewers = 0";
/// … claims taken without a plan first (rule 11).
const APPROVAL_OFF: &str = "r.approval = 'none'";
/// … no vouch required (rule 12's `vouch.required`).
const VOUCH_OFF: &str = "r.vouch_required = 0";
/// … no `who_may_claim` allowlist.
const ALLOWLIST_OFF: &str = "r.claim_allowlist IS NULL";
/// What makes a rule hold for the candidate `t` itself, whoever claims it: no area (rule 5).
const AREA_OFF: &str = "t.area IS NULL";
/// … no paths (rule 10).
const PATHS_OFF: &str = "t.has_paths = 0";
/// … the lowest tier, within every worker's trust (rule 7).
const TIER_OFF: &str = "t.tier = 0";
/// … no capability required (rule 9).
const REQUIRES_OFF: &str = "t.requires = '{}'";
/// … no first-timers label (rule 14).
const FIRST_TIMERS_OFF: &str = "t.first_timers = 0";

/// The rules that a setting of the candidate `t` or of its repository `r` can switch off, each
/// with the condition under which it is off: the rule's text is `(OFF OR …)`, so while `OFF`
/// holds, the rule holds whoever claims the task. Most pools use few of them; the plain claim
/// statement ([`RuleSet::Plain`]) leaves them out.
const SWITCHED_RULES: [(Condition, &str); 13] = [
    (Condition::PersonClaimsRoom, PERSON_CLAIMS_OFF),
    (Condition::HourlyRoom, HOURLY_OFF),
    (Condition::AccountOldEnough, ACCOUNT_AGE_OFF),
    (Condition::CooledDown, COOLDOWN_OFF),
    (Condition::ReviewerRoom, REVIEWERS_OFF),
    (Condition::Approved, APPROVAL_OFF),
    (Condition::VouchedIfRequired, VOUCH_OFF),
    (Condition::OnAllowlist, ALLOWLIST_OFF),
    (Condition::AreaFree, AREA_OFF),
    (Condition::PathsFree, PATHS_OFF),
    (Condition::TierTrusted, TIER_OFF),
    (Condition::CapabilitiesHeld, REQUIRES_OFF),
    (Condition::FirstTimer, FIRST_TIMERS_OFF),
];

/// Which rules a claim statement joins (see [`repo_rules`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RuleSet {
    /// Every rule, each in full.
    Full,
    /// Every rule but those of [`SWITCHED_RULES`]: the statement picks the first task in offer
    /// order that passes the others, and takes it only if [`switched_off`] holds for it (then
    /// those rules hold for it too, and every task before it failed another rule: it is the task
    /// the full statement picks). Otherwise the full statement must run. The statement is much
    /// smaller: PostgreSQL starts every node of a plan and locks every table a plan names for
    /// each run, whether a row reaches it or not.
    Plain,
}

/// The condition on the candidate `t` in repository `r` that every rule of [`SWITCHED_RULES`]
/// is off (see [`RuleSet::Plain`]).
pub(super) fn switched_off() -> String {
    let off: Vec<&str> = SWITCHED_RULES.iter().map(|(_, off)| *off).collect();
    format!("({})", off.join(" AND "))
}

/// The conditions of rules 1, 5–11, 13 and 14 on a candidate `t` in repository `r`, each on its
/// own: nothing it depends on still holds it (its `waiting` count, kept by the triggers of
/// migration 0020, is 0), the review budget has room, the repository's hourly claim cap
/// (`pr_hourly_limit`), if it has one, counting leases granted after `hour`, the area is not
/// held, no overlapping path is held ([`paths_free`]), the worker (parameter `worker`) did not
/// nack it since `since`, its tier is within the worker's effective trust ([`trust_rule`]) and the
/// worker holds what it requires ([`requires_rule`]); rule 14: a first-timers task goes to a first
/// timer who is no insider (`insider`, an SQL value: see [`Pick::insider`])
/// ([`first_timer_rule`]), and the person is not cooling down ([`cooled_down`]); rule 13: the
/// repository's reviewers have room ([`reviewer_room`]); rule 11: in a repository that takes plans
/// first, the worker may skip the plan or holds an approved proposal ([`approved`]). The claim
/// statements join them ([`repo_rules`]); the preview (`store::preview`) reads each one.
pub(crate) fn claim_conditions(
    backend: Backend,
    worker: &str,
    since: &str,
    hour: &str,
    insider: &str,
) -> Vec<(Condition, String)> {
    vec![
        (Condition::NotWaiting, "t.waiting = 0".into()),
        (Condition::BudgetRoom, budget_has_room!("r.").into()),
        (Condition::HourlyRoom, hourly_room(hour)),
        (Condition::AreaFree, area_free()),
        (Condition::PathsFree, paths_free()),
        (
            Condition::NotNackedRecently,
            format!(
                "NOT EXISTS (SELECT 1 FROM nacks n WHERE n.task_seq = t.seq \
                   AND {} AND n.at > {since})",
                by_person("n", worker)
            ),
        ),
        (Condition::TierTrusted, trust_rule(worker)),
        (Condition::CapabilitiesHeld, requires_rule(backend, worker)),
        (
            Condition::ReviewerRoom,
            reviewer_room(&format!("{hour} + {HOUR_MS}"), "r.active_leases"),
        ),
        (Condition::Approved, approved(worker)),
    ]
    .into_iter()
    .chain(person_conditions(worker, hour, insider))
    .collect()
}

/// The rules about the person the worker (parameter `worker`) is, on a candidate `t` in
/// repository `r` (contract section 14): a task of a repository the GitHub App is installed on
/// is worked by a proven person ([`person_proven`]), whose account is old enough, who is a first
/// timer where the task asks for one, is not cooling down, not denounced, and vouched for where
/// the repository requires it. A claim joins them with its other rules ([`claim_conditions`]);
/// a proposal and an approval join these same texts (`store::proposals`), so every path a person
/// takes meets the same rules.
pub(crate) fn person_conditions(
    worker: &str,
    hour: &str,
    insider: &str,
) -> Vec<(Condition, String)> {
    vec![
        (Condition::PersonProven, person_proven(worker)),
        (
            Condition::AccountOldEnough,
            account_old_enough(worker, hour),
        ),
        (Condition::FirstTimer, first_timer_rule(worker, insider)),
        (Condition::CooledDown, cooled_down(worker, hour)),
        (
            Condition::PersonClaimsRoom,
            person_claims_room(&person_of(worker)),
        ),
        (Condition::NotDenounced, not_denounced(worker)),
        (Condition::OnAllowlist, on_allowlist(worker)),
        (
            Condition::VouchedIfRequired,
            vouched_if_required(worker, hour),
        ),
    ]
}

/// Contract section 14: repository `r` is not one the GitHub App is installed on, or the worker
/// (parameter `worker`) speaks for a proven person (`workers.github_account_id`, written only by
/// a proof: a link, or the person's own comments; never by a login typed at registration).
fn person_proven(worker: &str) -> String {
    format!(
        "(EXISTS (SELECT 1 FROM workers pp WHERE pp.id = {worker} \
             AND pp.github_account_id IS NOT NULL) \
          OR NOT EXISTS (SELECT 1 FROM gh_repos gr WHERE gr.repo = r.name \
             AND gr.installation_id IS NOT NULL))"
    )
}

/// `who_may_claim: {allowlist: […]}`: repository `r` has no allowlist (`r.claim_allowlist`, its
/// lower-case logins joined by commas, written from `.github/owp.yml`), or the person of the
/// worker (parameter `worker`) is on it by the login GitHub last sent for their account
/// (`persons.login`): the same list a `/owp claim` comment meets, read for a REST claim, `owp mcp`
/// and `owp worker run` alike. A GitHub login holds no comma, `%` or `_`.
fn on_allowlist(worker: &str) -> String {
    format!(
        "({ALLOWLIST_OFF} OR EXISTS (SELECT 1 FROM persons ap WHERE ap.account_id = {} \
             AND (',' || r.claim_allowlist || ',') LIKE ('%,' || LOWER(ap.login) || ',%')))",
        person_of(worker)
    )
}

/// What switches `max_claims_per_user` of repository `r` off: a repository without the App.
const PERSON_CLAIMS_OFF: &str = "r.max_claims_per_user IS NULL";

/// `max_claims_per_user`: repository `r` has no such limit, or `person` (an SQL expression of an
/// account id) is nobody, or the person holds fewer live leases there than it allows, on every
/// worker of theirs and by comment alike. PostgreSQL reads it again under the person's row lock
/// when the lease is written (migration 0053, a copy of this text that a test keeps equal).
pub(crate) fn person_claims_room(person: &str) -> String {
    format!(
        "({PERSON_CLAIMS_OFF} OR {person} IS NULL OR (SELECT COUNT(*) {}) < r.max_claims_per_user)",
        person_live_leases(person)
    )
}

/// The live leases of `person` in repository `r`, as the `FROM … WHERE …` of a query over `ml`.
fn person_live_leases(person: &str) -> String {
    format!(
        "FROM leases ml WHERE ml.person_id = {person} AND ml.repo_id = r.id \
           AND ml.ended_at IS NULL"
    )
}

/// How many live leases the person of the worker (parameter `worker`) holds in repository `r`:
/// what explains a refusal of [`person_claims_room`].
pub(crate) fn person_claims(worker: &str) -> String {
    format!(
        "(SELECT COUNT(*) {})",
        person_live_leases(&person_of(worker))
    )
}

/// Rule 14, first timers: the candidate `t` carries no first-timers label (`t.first_timers`,
/// set from the labels and `claim.first_timers_label`), or the claim is no insider's
/// comment (`insider`, an SQL value) and the person the worker (parameter `worker`) is has no
/// merged task in the repository ([`merged_here`]).
fn first_timer_rule(worker: &str, insider: &str) -> String {
    format!(
        "({FIRST_TIMERS_OFF} OR ({insider} = 0 AND NOT EXISTS (SELECT 1 {})))",
        merged_here(worker, Some("t.repo_id"))
    )
}

/// How many merged tasks the person the worker (parameter `worker`) is has in the candidate
/// `t`'s repository: what explains a refusal of [`first_timer_rule`].
pub(crate) fn merged_count(worker: &str) -> String {
    merged_count_in(worker, Some("t.repo_id"))
}

/// The claims of the person the worker (parameter `worker`) is ([`person`]) in repository `r`
/// that ended without a pull request (given back, released by comment, expired: the lease's
/// outcome) within the repository's `cooldown_hours` before the claim's instant (`hour` plus an
/// hour), as the `FROM … WHERE …` of a query over `cl` (the partial index of migration 0034).
///
/// [`person`]: crate::composed::persons::person
fn recent_ends(worker: &str, hour: &str) -> String {
    format!(
        "FROM leases cl WHERE {} AND cl.repo_id = r.id \
           AND cl.outcome IN ('nacked', 'expired') \
           AND cl.ended_at > {hour} + {HOUR_MS} - CAST(r.cooldown_hours AS BIGINT) * {HOUR_MS}",
        by_person("cl", worker)
    )
}

/// Rule 14, cool-downs: repository `r` has none (`cooldown_hours` 0), or no claim of the person
/// the worker (parameter `worker`) is ended there without a pull request within it
/// ([`recent_ends`]).
fn cooled_down(worker: &str, hour: &str) -> String {
    format!(
        "({COOLDOWN_OFF} OR NOT EXISTS (SELECT 1 {}))",
        recent_ends(worker, hour)
    )
}

/// When the person's cool-down in repository `r` ends (NULL when none): what explains a refusal
/// of [`cooled_down`].
pub(crate) fn cooldown_ends(worker: &str, hour: &str) -> String {
    format!(
        "((SELECT MAX(cl.ended_at) {}) + CAST(r.cooldown_hours AS BIGINT) * {HOUR_MS})",
        recent_ends(worker, hour)
    )
}

/// The open reviews of the reviewer `rv` (a row of `repo_reviewers`): the tasks of its
/// repository still `pr_opened` (found through `tasks (repo_id, status)`, so as many as the
/// repository has pull requests open, never its history) whose pull request they review
/// (`task_reviews`, by the reviewer's GitHub account id: a rename keeps them, a new account on
/// a freed login has none), as a `SELECT COUNT(*)`.
pub(crate) const OPEN_REVIEWS: &str = "SELECT COUNT(*) FROM tasks rt \
    JOIN task_reviews tr ON tr.task_seq = rt.seq \
    WHERE rt.repo_id = rv.repo_id AND rt.status = 'pr_opened' AND tr.reviewer_id = rv.account_id";

/// A reviewer `{rv}` who is a person (their listed login is resolved to a GitHub account id: one
/// not resolved yet counts as no reviewer, the rule fails closed) and not away at the instant
/// `now`: the one SQL text of "not away", read by rule 13 and by the assignment of a reviewer
/// (`store/github/reviewers.rs`).
pub(crate) fn present(rv: &str, now: &str) -> String {
    format!(
        "({rv}.account_id IS NOT NULL AND ({rv}.away_until IS NULL OR {rv}.away_until <= {now}))"
    )
}

/// The room left among repository `r`'s reviewers at the instant `now`: the sum, over reviewers
/// who are [`present`] then, of their number (`capacity`) minus their open reviews; 0 without
/// reviewers. Two aggregates, over at most 50 reviewers and over the repository's tasks in
/// `pr_opened` (each one probe of `task_reviews`).
pub(crate) fn reviewer_room_left(now: &str) -> String {
    format!(
        "((SELECT CAST(COALESCE(SUM(rv.capacity), 0) AS BIGINT) FROM repo_reviewers rv \
             WHERE rv.repo_id = r.id AND {here}) \
          - (SELECT COUNT(*) FROM tasks rt JOIN task_reviews tr ON tr.task_seq = rt.seq \
             JOIN repo_reviewers rv ON rv.repo_id = rt.repo_id AND rv.account_id = tr.reviewer_id \
             WHERE rt.repo_id = r.id AND rt.status = 'pr_opened' AND {here}))",
        here = present("rv", now)
    )
}

/// Rule 13: repository `r` has no reviewers (`r.reviewers`, their count, is 0: the condition
/// costs nothing), or the room left among them at `now` ([`reviewer_room_left`]) is greater than
/// its leases in flight (`in_flight`, each a future review), so that no claim is granted whose
/// pull request no reviewer could take. PostgreSQL reads it again under the repository's row lock
/// once the lease is written (migration 0035, a copy of this text that a test keeps equal).
pub(crate) fn reviewer_room(now: &str, in_flight: &str) -> String {
    format!(
        "({REVIEWERS_OFF} OR {} > {in_flight})",
        reviewer_room_left(now)
    )
}

/// Rule 11: repository `r` takes claims as before (`approval = 'none'`), or the worker
/// (parameter `worker`) has an effective trust of at least `approval_skip_trust` there (nobody
/// has, when it is NULL), or it holds an approved proposal for the candidate `t` (the approval
/// writes it in the transaction that takes the task, `store::proposals`) that is not spent: an
/// approval is used up once a lease of the worker on the task since the approval ended without
/// a pull request (expired, given back, released, ended by an admin), so a task that returns to
/// the pool needs a new plan.
fn approved(worker: &str) -> String {
    format!(
        "({APPROVAL_OFF} OR {trust} >= r.approval_skip_trust \
           OR EXISTS (SELECT 1 FROM proposals ap WHERE ap.task_seq = t.seq \
             AND (ap.worker_id = {worker} OR ap.proposer = 'github:' || {person}) \
             AND ap.state = 'approved' \
             AND NOT EXISTS (SELECT 1 FROM leases al WHERE al.task_seq = t.seq \
               AND {spent} AND al.created_at >= ap.ended_at \
               AND al.ended_at IS NOT NULL \
               AND COALESCE(al.outcome, '') NOT IN ('pr_opened', 'merged'))))",
        trust = effective_trust(worker, "t.repo_id"),
        person = person_of(worker),
        spent = by_person("al", worker),
    )
}

/// Rule 10: the candidate `t` has no paths (`has_paths`, migration 0043), or none of them
/// overlaps a path held by another task of its repository ([`held_overlapping`], two lookups in
/// the index of held rows per path of the task).
fn paths_free() -> String {
    format!(
        "({PATHS_OFF} OR NOT EXISTS ({}))",
        held_overlapping!("t.seq")
    )
}

/// The account age rule: repository `r` asks for no minimum (`min_account_age_days`), or the
/// worker (parameter `worker`) speaks for nobody ([`person_of`]), or its person's account age is
/// KNOWN (`gh_accounts`, by account id) and old enough at the claim's instant (`hour` plus an
/// hour). An account whose age GitHub did not give refuses: the rule fails closed.
pub(crate) fn account_old_enough(worker: &str, hour: &str) -> String {
    format!(
        "({ACCOUNT_AGE_OFF} OR {person} IS NULL OR EXISTS (SELECT 1 FROM gh_accounts ga \
           WHERE ga.account_id = {person} AND ga.created_at \
             + CAST(r.min_account_age_days AS BIGINT) * {DAY_MS} <= {hour} + {HOUR_MS}))",
        person = person_of(worker)
    )
}

/// When the GitHub account the worker (parameter `worker`) speaks for was created, as far as
/// `gh_accounts` knows (NULL when unknown): what explains a refusal of [`account_old_enough`].
pub(crate) fn account_created(worker: &str) -> String {
    format!(
        "(SELECT ga.created_at FROM gh_accounts ga WHERE ga.account_id = {})",
        person_of(worker)
    )
}

/// A refusal of [`account_old_enough`] in words: the account is too new, or its age is not known
/// yet (the App asks GitHub again within [`crate::accounts::ACCOUNT_RETRY_MS`]).
pub(crate) fn account_refusal(min_days: i64, created: Option<i64>) -> Refusal {
    match created {
        Some(created) => Refusal::AccountTooNew {
            min_days,
            claim_from: created + min_days * DAY_MS,
        },
        None => Refusal::AccountAgeUnknown { min_days },
    }
}

/// [`claim_conditions`] as one `AND …` clause of a claim statement for `pick`, but for rule 8,
/// which its candidates already hold ([`candidates`]); with [`RuleSet::Plain`], but for those
/// of [`SWITCHED_RULES`].
pub(super) fn repo_rules(
    backend: Backend,
    worker: &str,
    since: &str,
    hour: &str,
    pick: Pick,
    set: RuleSet,
) -> String {
    claim_conditions(backend, worker, since, hour, pick.insider())
        .into_iter()
        .filter(|(c, _)| *c != Condition::NotWaiting)
        .filter(|(c, _)| set == RuleSet::Full || SWITCHED_RULES.iter().all(|(s, _)| s != c))
        .map(|(_, sql)| format!("AND {sql} "))
        .collect()
}

/// Rule 9: the worker (parameter `worker`) holds every capability that the candidate `t`
/// requires, with an equal value (numbers by value; `true` is not `1` nor `"true"`).
fn requires_rule(backend: Backend, worker: &str) -> String {
    match backend {
        Backend::Postgres => format!(
            "({REQUIRES_OFF} OR CAST((SELECT cw.capabilities FROM workers cw \
               WHERE cw.id = {worker}) AS jsonb) @> CAST(t.requires AS jsonb))"
        ),
        Backend::Sqlite => format!(
            "({REQUIRES_OFF} OR NOT EXISTS (SELECT 1 FROM json_each(t.requires) rq \
               WHERE NOT EXISTS (SELECT 1 FROM workers cw, json_each(cw.capabilities) cc \
                 WHERE cw.id = {worker} AND cc.key = rq.key AND cc.atom = rq.atom \
                   AND (cc.type = rq.type OR (cc.type IN ('integer', 'real') \
                     AND rq.type IN ('integer', 'real'))))))"
        ),
    }
}

/// The effective trust of the worker (parameter `worker`) in the repository `repo` (a SQL
/// expression of its id): the larger of its person's trust (its own `trust_level` when it speaks
/// for nobody, [`setting_of`]) and the highest level a promotion rule of the repository grants
/// the person (when they opted in to reputation) for their merges there ([`merged_count_in`]),
/// and the repository's `vouch.trust` when its own vouch list (the file or a
/// maintainer's command; an import's vouches do not count) vouches for the worker's person
/// (rule 12). Every rule that reads trust reads it here (rule 7, [`trust_rule`]; rule 11's
/// `approval_skip_trust`).
pub(crate) fn effective_trust(worker: &str, repo: &str) -> String {
    format!(
        "(SELECT MAX(e.level) FROM (SELECT {trust} AS level \
           UNION ALL SELECT p.level FROM repo_promotions p \
             WHERE p.repo_id = {repo} AND {opted_in} = 1 AND p.merged <= {merges} \
           UNION ALL SELECT vr.vouch_trust {vouched}) e)",
        trust = setting_of(worker, Setting::Trust),
        opted_in = setting_of(worker, Setting::ReputationOptIn),
        vouched = vouched_entries(worker, repo),
        merges = merged_count_in(worker, Some(repo)),
    )
}

/// Rule 7 with trust progression: the candidate `t`'s tier is at most the effective trust of
/// the worker (parameter `worker`) in the task's repository ([`effective_trust`], which counts
/// its promotions and its vouch list); its person's trust is compared first, which the
/// statement reads once. Read in the statement that takes the task, so two claims never see a
/// trust the database does not hold.
fn trust_rule(worker: &str) -> String {
    format!(
        "({TIER_OFF} OR t.tier <= {} OR t.tier <= {})",
        setting_of(worker, Setting::Trust),
        effective_trust(worker, "t.repo_id")
    )
}

/// The GitHub logins (lower-case) the worker (parameter `worker`) proved it speaks for, as
/// GitHub last sent them: the login of its link (`gh_links`, proven by the account), or the
/// login of a person's implicit worker (made only by that person's own comments). A worker's
/// self-declared `github_login` is never one: anybody can type a login. Read only where a login
/// is all there is (a maintainer's permission; a denouncement GitHub has not resolved yet).
fn worker_logins(worker: &str) -> String {
    format!(
        "SELECT gl.login FROM gh_links gl WHERE gl.worker_id = {worker} \
         UNION ALL SELECT LOWER(iw.github_login) FROM workers iw WHERE iw.id = {worker} \
           AND iw.token_hash IS NULL AND substr(iw.id, 1, 3) = 'gh_'"
    )
}

/// Rule 12: the entries of repository `repo` (a SQL expression of its id; its row is `vr`) that
/// vouch for the person of the worker (parameter `worker`), by the account id each entry's login
/// was resolved to when the list was read (an entry GitHub has not resolved vouches for nobody),
/// in the repository's own file or a maintainer's command (an imported list's vouches do not
/// count here), as the `FROM … WHERE …` of a query.
fn vouched_entries(worker: &str, repo: &str) -> String {
    format!(
        "FROM vouch_entries ve JOIN repos vr ON vr.id = ve.repo_id \
         WHERE ve.repo_id = {repo} AND ve.vouched = 1 AND ve.source <> 'import' \
           AND ve.account_id = {}",
        person_of(worker)
    )
}

/// Rule 12: whether repository `repo`'s own list (its file or a maintainer's command) vouches
/// for the person of the worker (parameter `worker`), as a SQL condition (the scorecard's
/// `vouched`).
pub(crate) fn vouched_for(worker: &str, repo: &str) -> String {
    format!("EXISTS (SELECT 1 {})", vouched_entries(worker, repo))
}

/// Rule 12: no entry of the candidate `t`'s repository (its file, an import or a maintainer's
/// command) denounces the person of the worker (parameter `worker`): by the account id the
/// entry was resolved to (a denounced account that renames itself stays denounced), or, while
/// GitHub has not resolved the entry, by a login of the worker (the rule fails closed).
fn not_denounced(worker: &str) -> String {
    format!(
        "NOT EXISTS ({})",
        denouncing_entry("t.repo_id", &person_of(worker), &worker_logins(worker))
    )
}

/// How long what GitHub said of a person's permission counts for a claim (the App's permission
/// lookup trusts an answer as long, `github::permissions::PERMISSION_MAX_AGE_MS`).
pub const MAINTAINER_ANSWER_MS: i64 = 5 * 60_000;

/// Rule 12 with `vouch.required`: repository `r` does not require a vouch, or the worker
/// (parameter `worker`) is a maintainer there by what GitHub said within the last five minutes
/// at the claim's instant (`hour` plus an hour; `signin_permissions`, kept by every permission
/// asked), or its lists could all be read and one vouches for it. A list GitHub never gave
/// (`r.vouch_closed`) refuses everyone but maintainers: the rule fails closed.
fn vouched_if_required(worker: &str, hour: &str) -> String {
    let fresh = HOUR_MS - MAINTAINER_ANSWER_MS;
    format!(
        "({VOUCH_OFF} \
          OR EXISTS (SELECT 1 FROM signin_permissions sp WHERE sp.repo = LOWER(r.name) \
            AND sp.permission IN ('admin', 'maintain', 'write') \
            AND sp.fetched_at > {hour} + {fresh} AND sp.login IN ({logins})) \
          OR (r.vouch_closed = 0 AND EXISTS (SELECT 1 {vouched})))",
        logins = worker_logins(worker),
        vouched = vouched_entries(worker, "t.repo_id"),
    )
}

/// What the text of a worker's [`skill_conditions`] depends on: whether it takes every skill,
/// and whether it is a specialist. Workers of one shape share a claim statement's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Skills {
    pub all: bool,
    pub specialist: bool,
}

impl Skills {
    /// Every shape, for the tests that prepare each text.
    pub(crate) const ALL: [Skills; 3] = [
        Skills {
            all: true,
            specialist: false,
        },
        Skills {
            all: false,
            specialist: false,
        },
        Skills {
            all: false,
            specialist: true,
        },
    ];

    pub(crate) fn of(worker: &WorkerRow) -> Skills {
        Skills {
            all: worker.all_skills,
            specialist: worker.specialist,
        }
    }
}

/// Rule 3 as SQL conditions on the task `t`: every skill of the task is one of the worker's,
/// which come as one JSON array parameter (`param`), so the statement's text does not depend on
/// how many skills the worker has; for a specialist, also at least one. None when the worker
/// takes every skill.
pub(crate) fn skill_conditions(
    backend: Backend,
    worker: Skills,
    param: &str,
) -> Vec<(Condition, String)> {
    if worker.all {
        return Vec::new();
    }
    let skills = match backend {
        Backend::Sqlite => format!("SELECT value FROM json_each({param})"),
        Backend::Postgres => format!("SELECT jsonb_array_elements_text(CAST({param} AS jsonb))"),
    };
    // The skill sets a worker may take are found once per statement: on PostgreSQL as an array
    // built before the scan (a plain `IN` would join them again for every candidate walked);
    // SQLite builds a non-correlated `IN` list once by itself.
    let once = |sets: String| match backend {
        Backend::Sqlite => format!("t.skill_set_id IN ({sets})"),
        Backend::Postgres => format!("t.skill_set_id = ANY(ARRAY({sets}))"),
    };
    let mut conditions = vec![(
        Condition::SkillsHeld,
        once(format!(
            "SELECT s.id FROM skill_sets s WHERE NOT EXISTS \
               (SELECT 1 FROM skill_set_members m WHERE m.skill_set_id = s.id \
                AND m.skill NOT IN ({skills}))"
        )),
    )];
    if worker.specialist {
        // A specialist is offered only tasks that require at least one of its skills (a claim
        // by name, `/owp claim`, is a person's own pick and is not limited so).
        conditions.push((
            Condition::InSpecialty,
            once(format!(
                "SELECT o.skill_set_id FROM skill_set_members o WHERE o.skill IN ({skills})"
            )),
        ));
    }
    conditions
}

/// [`skill_conditions`] as ` AND …` clauses of a claim statement.
pub(super) fn skill_rule(backend: Backend, worker: Skills, param: &str) -> String {
    skill_conditions(backend, worker, param)
        .into_iter()
        .map(|(_, sql)| format!(" AND {sql}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule_texts::{function_in_force, same_text};

    /// The plain claim statement leaves out the rules that a setting switches off, and takes a
    /// task only when their `OFF` conditions hold for it: that is exact only if each rule's
    /// whole text is `(OFF OR …)`, with the `OR` at its top level, so that `OFF` alone makes it
    /// hold.
    #[test]
    fn a_switched_rule_holds_whenever_it_is_off() {
        for backend in [Backend::Postgres, Backend::Sqlite] {
            for insider in ["0", "1"] {
                let conditions = claim_conditions(backend, "$1", "$2", "$3", insider);
                for (condition, off) in SWITCHED_RULES {
                    let (_, sql) = conditions
                        .iter()
                        .find(|(c, _)| *c == condition)
                        .expect("every switched rule is a condition of the claim");
                    let head = format!("({off} OR ");
                    assert!(
                        sql.starts_with(&head),
                        "{condition:?} does not start with {head}"
                    );
                    // The parenthesis opened first closes last: nothing is joined beside it.
                    let mut depth = 0;
                    for (i, ch) in sql.char_indices() {
                        match ch {
                            '(' => depth += 1,
                            ')' => depth -= 1,
                            _ => {}
                        }
                        assert!(
                            depth > 0 || i == sql.len() - 1,
                            "{condition:?} is more than (OFF OR …): {sql}"
                        );
                    }
                }
            }
        }
    }

    /// The plain rules are the full ones but for the switched rules, and the condition that
    /// they are off names each of them.
    #[test]
    fn plain_rules_leave_out_only_the_switched_rules() {
        let args = (Backend::Postgres, "$2", "$6", "$10", Pick::First);
        let full = repo_rules(args.0, args.1, args.2, args.3, args.4, RuleSet::Full);
        let plain = repo_rules(args.0, args.1, args.2, args.3, args.4, RuleSet::Plain);
        let mut expected = full.clone();
        for (condition, _) in SWITCHED_RULES {
            let (_, sql) = claim_conditions(args.0, args.1, args.2, args.3, "0")
                .into_iter()
                .find(|(c, _)| *c == condition)
                .expect("a condition of the claim");
            let clause = format!("AND {sql} ");
            assert!(
                expected.contains(&clause),
                "{condition:?} is not in the full rules"
            );
            expected = expected.replacen(&clause, "", 1);
        }
        assert_eq!(plain, expected);
        let off = switched_off();
        for (_, each) in SWITCHED_RULES {
            assert!(off.contains(each), "{off} does not check {each}");
        }
    }

    /// PostgreSQL's recheck of the hourly cap under the repository's lock (a trigger, which a
    /// migration holds) reads the claim's own condition, for the hour before the lease.
    #[test]
    fn the_hourly_cap_trigger_rechecks_the_claims_own_condition() {
        let trigger = function_in_force("owp_claims_per_hour");
        let condition = hourly_room(&format!("NEW.created_at - {HOUR_MS}"));
        assert!(
            same_text(&trigger).contains(&same_text(&format!("SELECT {condition} INTO room"))),
            "the trigger's condition differs from the claim's: {condition}"
        );
    }

    /// PostgreSQL's recheck of rule 13 under the repository's lock (a trigger run once the lease
    /// is written, so its own lease is among the repository's `active_leases`) reads the claim's
    /// own condition, at the lease's instant.
    #[test]
    fn the_reviewer_room_trigger_rechecks_the_claims_own_condition() {
        let trigger = function_in_force("owp_reviewer_room");
        let condition = reviewer_room("NEW.created_at", "r.active_leases - 1");
        assert!(
            same_text(&trigger).contains(&same_text(&format!("SELECT {condition} INTO room"))),
            "the trigger's condition differs from the claim's: {condition}"
        );
    }

    /// PostgreSQL's recheck of `max_claims_per_user` under the person's lock (a trigger run
    /// before the lease is written) reads the claim's own condition, for the lease's person.
    #[test]
    fn the_person_claims_trigger_rechecks_the_claims_own_condition() {
        let trigger = function_in_force("owp_person_claims");
        let condition = person_claims_room("NEW.person_id");
        assert!(
            same_text(&trigger).contains(&same_text(&format!("SELECT {condition} INTO room"))),
            "the trigger's condition differs from the claim's: {condition}"
        );
    }
}
