//! The OWP objects as they travel on the wire.

use super::contract::RepoContract;
use super::task_policy::TaskPolicy;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Ready,
    Leased,
    InProgress,
    PrOpened,
    Merged,
    Blocked,
    Cancelled,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 7] = [
        TaskStatus::Ready,
        TaskStatus::Leased,
        TaskStatus::InProgress,
        TaskStatus::PrOpened,
        TaskStatus::Merged,
        TaskStatus::Blocked,
        TaskStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Ready => "ready",
            TaskStatus::Leased => "leased",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::PrOpened => "pr_opened",
            TaskStatus::Merged => "merged",
            TaskStatus::Blocked => "blocked",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// A task holds a lease (and counts toward capacity and the review budget).
    pub fn is_active(self) -> bool {
        matches!(self, TaskStatus::Leased | TaskStatus::InProgress)
    }

    /// A task holds its area lock: from lease until its pull request is merged or closed.
    pub fn holds_area(self) -> bool {
        matches!(
            self,
            TaskStatus::Leased | TaskStatus::InProgress | TaskStatus::PrOpened
        )
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Task priority; higher is offered first.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Critical,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Numeric rank stored in the database: 0 (low) … 3 (critical).
    pub fn rank(self) -> i64 {
        self as i64
    }

    pub fn from_rank(rank: i64) -> Priority {
        Priority::ALL[rank.clamp(0, 3) as usize]
    }
}

/// A worker's own availability setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkerStatus {
    Idle,
    Working,
    Paused,
}

impl WorkerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerStatus::Idle => "idle",
            WorkerStatus::Working => "working",
            WorkerStatus::Paused => "paused",
        }
    }
    pub fn parse(s: &str) -> Option<WorkerStatus> {
        match s {
            "idle" => Some(WorkerStatus::Idle),
            "working" => Some(WorkerStatus::Working),
            "paused" => Some(WorkerStatus::Paused),
            _ => None,
        }
    }
}

/// A unit of work: usually one GitHub issue.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Task {
    pub task_id: String,
    pub repo: String,
    pub key: Option<String>,
    pub title: String,
    pub description: String,
    pub estimate_points: i64,
    pub priority: Priority,
    pub required_skills: Vec<String>,
    pub area: Option<String>,
    pub tier: i64,
    pub status: TaskStatus,
    pub assigned_worker_id: Option<String>,
    pub lease_id: Option<String>,
    pub lease_expires_at: Option<String>,
    /// What the agent working on the live lease last said it does (one line, at most
    /// 200 characters), sent by its holder with a
    /// renewal; absent when none was sent, and on the public board.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_progress: Option<String>,
    /// When `lease_progress` was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_progress_at: Option<String>,
    /// `pr_url`, `commit_sha`, …
    #[schema(value_type = Option<Object>)]
    pub artifact: Option<Value>,
    pub attempts: i64,
    /// Why the task is blocked or cancelled, when it is.
    pub status_reason: Option<String>,
    /// Its holder reported it `blocked` and it waits for an admin or a maintainer: until one moves
    /// it on, it takes a slot of its repository's review budget (counted in `open_prs`).
    #[serde(default)]
    pub awaits_maintainer: bool,
    /// The keys of the tasks (or, in GitHub mode, the issues) that must be done first.
    #[serde(default)]
    pub blocked_by: Vec<String>,
    /// The blockers that still hold it: while this is not empty the task is never offered.
    #[serde(default)]
    pub waiting_on: Vec<String>,
    /// The paths it changes (rule 10): patterns such as `src/auth/**`, declared by its import or
    /// its issue's `Paths:` line, then the files of its linked pull request.
    #[serde(default)]
    pub paths: Vec<String>,
    /// The tasks (their keys) of the same repository in flight on a path that overlaps one of
    /// this one's: while this is not empty the `ready` task is never offered.
    #[serde(default)]
    pub waiting_on_paths: Vec<String>,
    /// Capability names to the values a worker must declare in its `capabilities` to be offered
    /// the task (rule 9); `{}` when none.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub requires: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
    /// The repository's contract (null when it has none). Shown on a lease's task and to the
    /// task's holder; absent elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<RepoContract>, nullable)]
    pub contract: Option<Option<RepoContract>>,
    /// Where the repository's code is cloned from (null when unknown). Shown with `contract`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable)]
    pub clone_url: Option<Option<String>>,
    /// What the repository asks of the work (plans first, verified commits, disclosure), with
    /// the keys of its settings. Shown with `contract`; absent elsewhere (v1.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub policy: Option<TaskPolicy>,
    /// `x_*` extension fields, stored and returned unchanged.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: Map<String, Value>,
}

/// A contributor's agent (or a person) that claims tasks.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Worker {
    pub worker_id: String,
    pub name: String,
    pub skills: Vec<String>,
    pub capacity_points: i64,
    pub max_concurrent_tasks: i64,
    /// The GitHub login of the person the worker speaks for once proven (`github_verified`);
    /// otherwise the login typed at registration, which proves nothing and is shown as
    /// unverified.
    pub github_login: Option<String>,
    /// Whether `github_login` is a proven person's (a link, or their own comments), not a
    /// login typed at registration.
    #[serde(default)]
    pub github_verified: bool,
    pub status: WorkerStatus,
    pub online: bool,
    pub last_heartbeat: Option<String>,
    pub trust_level: i64,
    #[schema(value_type = Object)]
    pub capabilities: Value,
    pub active_points: i64,
    pub active_tasks: i64,
    pub created_at: String,
    /// Its task outcomes are counted (`reputation`, trust progression). Default false.
    #[serde(default)]
    pub reputation_opt_in: bool,
    /// It is listed on the leaderboard. Default false.
    #[serde(default)]
    pub leaderboard_opt_in: bool,
    /// Offered only tasks that require at least one of its skills (a task that requires none is
    /// not offered to it). Default false.
    #[serde(default)]
    pub specialist: bool,
    /// Counted outcomes; null unless `reputation_opt_in`.
    #[serde(default)]
    pub reputation: Option<Reputation>,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: Map<String, Value>,
}

/// A worker's counted task outcomes (only merges decided by an admin or GitHub count).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reputation {
    pub merged: i64,
    pub closed_unmerged: i64,
    pub expired: i64,
    pub nacked: i64,
    /// `10·merged − 4·closed_unmerged − 3·expired − nacked` (see the spec).
    pub score: i64,
}

impl Reputation {
    /// Points per outcome: a merge is the goal; an expired lease held a task from everyone for
    /// its whole lifetime; a closed pull request cost a maintainer a review; a nack gives the
    /// task back early, which is the honest way out and costs least.
    pub const MERGED: i64 = 10;
    pub const CLOSED_UNMERGED: i64 = -4;
    pub const EXPIRED: i64 = -3;
    pub const NACKED: i64 = -1;

    pub fn new(merged: i64, closed_unmerged: i64, expired: i64, nacked: i64) -> Reputation {
        Reputation {
            merged,
            closed_unmerged,
            expired,
            nacked,
            score: Self::MERGED * merged
                + Self::CLOSED_UNMERGED * closed_unmerged
                + Self::EXPIRED * expired
                + Self::NACKED * nacked,
        }
    }
}

/// A trust progression rule of a repository: a worker that opted in to reputation and has at
/// least `merged` merged tasks there has at least trust `level` there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Promotion {
    /// 1 to 1000.
    pub level: i64,
    /// 1 to 10000.
    pub merged: i64,
}

impl Promotion {
    /// Checks bounds (at most [`super::limits::MAX_PROMOTE_RULES`] rules, each level once) and
    /// returns the rules sorted by level.
    pub fn validate(rules: &[Promotion]) -> Result<Vec<Promotion>, super::limits::OutOfBounds> {
        use super::limits;
        if rules.len() > limits::MAX_PROMOTE_RULES {
            return Err(limits::OutOfBounds {
                code: "invalid_promote",
                detail: format!(
                    "`promote` has at most {} rules (got {})",
                    limits::MAX_PROMOTE_RULES,
                    rules.len()
                ),
            });
        }
        let mut sorted = rules.to_vec();
        sorted.sort_by_key(|r| r.level);
        for r in &sorted {
            limits::range(
                "promote.level",
                "invalid_promote",
                r.level,
                limits::PROMOTE_LEVEL,
            )?;
            limits::range(
                "promote.merged",
                "invalid_promote",
                r.merged,
                limits::PROMOTE_MERGED,
            )?;
        }
        if sorted.windows(2).any(|w| w[0].level == w[1].level) {
            return Err(limits::OutOfBounds {
                code: "invalid_promote",
                detail: "`promote` names a level twice".into(),
            });
        }
        Ok(sorted)
    }
}

/// Who may read a repository's board on the dashboard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Anyone, when the service runs with public boards (`OWP_PUBLIC_BOARDS`).
    Public,
    /// Only admins. Every repository is private unless GitHub or an admin says it is public.
    #[default]
    Private,
}

impl Visibility {
    pub fn from_private(private: bool) -> Visibility {
        if private {
            Visibility::Private
        } else {
            Visibility::Public
        }
    }

    pub fn is_private(self) -> bool {
        self == Visibility::Private
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }
}

/// GitHub mode: a worker's extension set on a person's implicit worker, made when they claim by
/// comment (no seat, no capacity of its own to show).
pub const CLAIMS_BY_COMMENT_FIELD: &str = "x_github_claims_by_comment";
/// GitHub mode: the repository policy's extension holding why `.github/owp.yml` is not used
/// (null when it is), so that `owp admin state` and the dashboard can show it.
pub const CONFIG_ERROR_FIELD: &str = "x_github_config_error";
/// GitHub mode: every setting of `.github/owp.yml` in force (an object of `section.key` to its
/// value, `null` for "none"; the last good file's when the present one is refused), in
/// `GET /v1/admin/state`.
pub const SETTINGS_FIELD: &str = "x_github_settings";
/// GitHub mode: why each vouch list the repository reads is not (wholly) applied, one sentence
/// each naming the lines it could not read (an array, `[]` when none), in `GET /v1/admin/state`.
pub const VOUCH_ERRORS_FIELD: &str = "x_github_vouch_errors";
/// GitHub mode: the review budget `.github/owp.yml` sets (null when it leaves it to the admin);
/// the file's value takes over again whenever the App reads it.
pub const CONFIG_BUDGET_FIELD: &str = "x_github_config_max_open_prs";

/// GitHub mode: the repository policy's extension naming the labels of the pool's conventions
/// the repository lacks (an array, `[]` when none), or `"unknown"` when GitHub did not say.
pub const LABELS_MISSING_FIELD: &str = "x_github_labels_missing";

/// One reviewer of a repository (rule 13) and their load.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReviewerLoad {
    /// Their GitHub login, as the settings write it.
    pub login: String,
    /// The pool's pull requests they review now.
    pub open: i64,
    /// How many they review at once.
    pub capacity: i64,
    /// Away (`/owp away`): assigned no new reviews; their open reviews stay.
    pub away: bool,
    /// When their absence ends, when they said (`/owp away DAYS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub away_until: Option<String>,
}

/// A repository's policy and live review-budget figures.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RepoPolicy {
    pub repo: String,
    pub max_open_prs: i64,
    pub area_locks_enabled: bool,
    pub open_prs: i64,
    pub active_leases: i64,
    /// True exactly when `open_prs + active_leases >= max_open_prs`.
    pub throttled: bool,
    /// `public` repositories' boards are readable by anyone when the service runs with public
    /// boards; `private` ones (the default) only by admins.
    #[serde(default)]
    pub visibility: Visibility,
    /// How work in the repository is done (see [`RepoContract`]); absent when none is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<RepoContract>,
    /// Where the repository's code is cloned from; absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_url: Option<String>,
    /// Trust progression rules, by level (see [`Promotion`]); absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub promote: Vec<Promotion>,
    /// What became of its work over the last 30 days (in `GET /v1/admin/state` and on the
    /// public board); absent elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcomes: Option<super::outcomes::RepoOutcomes>,
    /// GitHub mode: its reviewers (`review.reviewers` in `.github/owp.yml`, rule 13), each with
    /// their load and away state (in `GET /v1/admin/state`); absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviewers: Vec<ReviewerLoad>,
    /// Plan first (rule 11): `plan` makes a worker below `approval_skip_trust` (everyone, when
    /// null) propose a plan that a maintainer approves before it holds a task.
    #[serde(default)]
    pub approval: super::proposals::Approval,
    #[serde(default)]
    pub approval_skip_trust: Option<i64>,
    /// Days an open proposal lives (1–30).
    #[serde(default = "default_proposal_days")]
    pub proposal_days: i64,
    /// What the repository asks of the people who work its tasks, as it is in force (GitHub
    /// mode's `.github/owp.yml`: `claim:` and `vouch:`), so that a maintainer sees a setting took
    /// effect.
    #[serde(default)]
    pub people: PeopleRules,
    pub created_at: String,
    pub updated_at: String,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: Map<String, Value>,
}

/// The rules about people a repository has in force (see [`RepoPolicy::people`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PeopleRules {
    /// Tasks of a repository the GitHub App is installed on are worked only by proven persons
    /// (a person by comment, or a worker linked to one).
    #[serde(default)]
    pub persons_only: bool,
    /// `claim.min_account_age_days` (0: none).
    #[serde(default)]
    pub min_account_age_days: i64,
    /// `claim.first_timers_label`: issues with it go to people with no merged task here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_timers_label: Option<String>,
    /// `claim.cooldown_hours` (0: none).
    #[serde(default)]
    pub cooldown_hours: i64,
    /// `claim.verified_commits`: `optional` or `required`.
    #[serde(default = "optional")]
    pub verified_commits: String,
    /// `claim.verified_commits_below_trust`: verified commits asked only below this trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_commits_below_trust: Option<i64>,
    /// `vouch.required`: only vouched people and maintainers claim.
    #[serde(default)]
    pub vouch_required: bool,
    /// `vouch.trust`: the trust a vouched person counts as here.
    #[serde(default)]
    pub vouch_trust: i64,
    /// A vouch list the repository needs could not be read yet (with `vouch_required`, only
    /// maintainers claim until it is).
    #[serde(default)]
    pub vouch_list_unread: bool,
}

fn optional() -> String {
    "optional".to_string()
}

impl RepoPolicy {
    /// The rules about people in force, each in a few words (what `owp admin state` prints, as
    /// the dashboard's card says them); empty when none.
    pub fn people_in_words(&self) -> Vec<String> {
        let p = &self.people;
        let mut rules = Vec::new();
        if p.persons_only {
            rules.push("linked GitHub accounts only".to_string());
        }
        if self.approval == super::proposals::Approval::Plan {
            rules.push(match self.approval_skip_trust {
                Some(level) => format!("plan first below trust {level}"),
                None => "plan first".to_string(),
            });
        }
        if p.min_account_age_days > 0 {
            rules.push(format!("accounts {}+ days old", p.min_account_age_days));
        }
        if let Some(label) = &p.first_timers_label {
            rules.push(format!("first timers: {label}"));
        }
        if p.cooldown_hours > 0 {
            rules.push(format!("cool-down {} h", p.cooldown_hours));
        }
        if p.verified_commits == "required" {
            rules.push(match p.verified_commits_below_trust {
                Some(level) => format!("verified commits below trust {level}"),
                None => "verified commits".to_string(),
            });
        }
        if p.vouch_required {
            rules.push(if p.vouch_list_unread {
                "vouched people only (list not read yet: maintainers only)".to_string()
            } else {
                "vouched people only".to_string()
            });
        }
        if p.vouch_trust != 1 || p.vouch_required {
            rules.push(format!("vouched count as trust {}", p.vouch_trust));
        }
        rules
    }
}

fn default_proposal_days() -> i64 {
    i64::from(super::proposals::DEFAULT_PROPOSAL_DAYS)
}

/// A lease: a time-bound offer of one task to one worker.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Lease {
    pub lease_id: String,
    pub task: Task,
    pub expires_at: String,
    /// The lease must be acknowledged before this instant, or it is requeued.
    pub accept_by: String,
}

/// One entry of the audit log (also streamed over `/v1/events`).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Event {
    pub id: i64,
    /// `task.leased`, `task.status`, `lease.expired`, `worker.registered`, …
    pub kind: String,
    pub at: String,
    pub repo: Option<String>,
    pub task_id: Option<String>,
    pub worker_id: Option<String>,
    /// Who caused it: `admin`, `worker:<id>`, `system`, `github:<login>`.
    pub actor: String,
    #[schema(value_type = Object)]
    pub data: Value,
}

/// Keeps only the `x_*` fields of a JSON object.
pub fn extension_fields(value: &Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| k.starts_with("x_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        _ => Map::new(),
    }
}

/// Canonical skill list: trimmed, lower-cased, de-duplicated, sorted.
pub fn normalize_skills<I, S>(skills: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out: Vec<String> = skills
        .into_iter()
        .map(|s| s.as_ref().trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for st in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(st.as_str()), Some(st));
            let json = serde_json::to_string(&st).unwrap();
            assert_eq!(json, format!("\"{}\"", st.as_str()));
        }
        assert_eq!(TaskStatus::parse("done"), None);
    }

    #[test]
    fn priorities_order_and_rank() {
        assert!(Priority::Critical > Priority::High && Priority::High > Priority::Normal);
        for p in Priority::ALL {
            assert_eq!(Priority::from_rank(p.rank()), p);
            assert_eq!(Priority::parse(p.as_str()), Some(p));
        }
    }

    #[test]
    fn skills_are_canonical() {
        assert_eq!(
            normalize_skills([" Rust", "docs", "rust", ""]),
            vec!["docs".to_string(), "rust".to_string()]
        );
    }

    #[test]
    fn only_x_fields_are_extensions() {
        let v = serde_json::json!({"x_tool": "aider", "name": "a", "xtra": 1});
        let ext = extension_fields(&v);
        assert_eq!(ext.len(), 1);
        assert_eq!(ext["x_tool"], "aider");
    }
}
