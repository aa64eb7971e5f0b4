//! Rows as read from the database, and their wire form.
//!
//! Decoding refuses inconsistent rows (an unknown status is an error, not a default).

use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::columns::Columns;
use super::in_flight::holds_lease;
use super::path_overlap::held_overlapping;
use super::{StoreError, format_ts};
use crate::domain::disclosure::DisclosurePolicy;
use crate::domain::model::CLAIMS_BY_COMMENT_FIELD;
use crate::domain::model::PeopleRules;
use crate::domain::person::Person;
use crate::domain::proposals::Approval;
use crate::domain::{
    Priority, RepoContract, RepoPolicy, Task, TaskPolicy, TaskStatus, VerifiedCommits, Visibility,
    Worker, WorkerStatus,
};

/// Splits an aggregated list of dependency keys (see [`TASK_SELECT`]).
fn split_keys(s: Option<String>) -> Vec<String> {
    s.map(|s| s.split('\u{1f}').map(str::to_string).collect())
        .unwrap_or_default()
}

/// Columns of [`TaskRow`], with their `FROM`: the task `t`, its repository `r`, its skill set `s`
/// and, while it is in flight, its lease `tl` (which holds the lease's clock).
pub const TASK_SELECT: &str = concat!(
    "SELECT t.seq, t.id, t.repo_id, r.name AS repo, t.key, t.title, \
    t.description, t.estimate_points, t.priority, s.skills AS required_skills, t.area, t.tier, \
    t.status, t.status_reason, t.awaits_maintainer, t.worker_id, t.lease_id, tl.expires_at AS lease_expires_at, tl.accept_by, tl.deadline, tl.progress AS lease_progress, tl.progress_at AS lease_progress_at, t.lease_points, \
    t.artifact, t.attempts, t.extensions, t.requires, t.created_at, t.updated_at, r.contract, r.clone_url, \
    r.approval, r.approval_skip_trust, r.proposal_days, r.verified_commits, \
    r.verified_commits_below_trust, \
    (SELECT COUNT(*) FROM gh_repos g WHERE g.repo = r.name AND g.installation_id IS NOT NULL) \
      AS github_app, \
    (SELECT string_agg(d.blocker_key, '\u{1f}' ORDER BY d.position) FROM task_deps d \
      WHERE d.task_seq = t.seq) AS blocked_by, \
    (SELECT string_agg(d.blocker_key, '\u{1f}' ORDER BY d.position) FROM task_deps d \
      LEFT JOIN tasks b ON b.seq = d.blocker_seq WHERE d.task_seq = t.seq \
      AND (d.blocker_seq IS NULL AND d.holds = 1 \
        OR d.blocker_seq IS NOT NULL AND b.status NOT IN ('merged', 'cancelled'))) AS waiting_on, \
    (SELECT string_agg(p.pattern, '\u{1f}' ORDER BY p.source, p.pattern) FROM task_paths p \
      WHERE p.task_seq = t.seq AND p.exact = 1) AS paths, \
    CASE WHEN t.status = 'ready' THEN (SELECT string_agg(x.hold, '\u{1f}' ORDER BY x.hold) FROM \
      (SELECT DISTINCT COALESCE(ht.key, ht.id) || '\u{1e}' || o.pattern AS hold FROM (",
    held_overlapping!("t.seq"),
    ") o JOIN tasks ht ON ht.seq = o.task_seq LIMIT 20) x) END AS path_holds \
    FROM tasks t JOIN repos r ON r.id = t.repo_id JOIN skill_sets s ON s.id = t.skill_set_id \
    LEFT JOIN leases tl ON tl.id = t.lease_id AND ",
    holds_lease!("t.")
);

#[derive(Clone, Debug)]
pub struct TaskRow {
    pub seq: i64,
    pub id: String,
    pub repo_id: i64,
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
    pub status_reason: Option<String>,
    /// Its holder reported it `blocked`, and no admin or maintainer has moved it on since: it
    /// takes a slot of the review budget.
    pub awaits_maintainer: bool,
    pub worker_id: Option<String>,
    pub lease_id: Option<String>,
    /// The live lease's clock (its row in `leases`), while the task is in flight.
    pub lease_expires_at: Option<i64>,
    /// What the agent working on the live lease last said it does, and when (renewals carry it).
    pub lease_progress: Option<String>,
    pub lease_progress_at: Option<i64>,
    pub accept_by: Option<i64>,
    pub deadline: Option<i64>,
    pub lease_points: Option<i64>,
    pub artifact: Option<Value>,
    pub attempts: i64,
    pub extensions: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The repository's contract, as stored (JSON).
    pub contract: Option<String>,
    /// Where the repository is cloned from.
    pub clone_url: Option<String>,
    /// What the repository asks of the work, but disclosure (read from `contract`).
    pub policy: TaskPolicy,
    /// The keys of its blockers, in the order given.
    pub blocked_by: Vec<String>,
    /// The blockers that still hold it (rule 8).
    pub waiting_on: Vec<String>,
    /// Its path patterns (rule 10), declared ones first.
    pub paths: Vec<String>,
    /// While it is `ready`: the tasks in flight that hold an overlapping path, as (key, their
    /// pattern), each pair once.
    pub path_holds: Vec<(String, String)>,
    /// Rule 9: capability names to the values a worker must declare (empty: none).
    pub requires: Map<String, Value>,
    /// The GitHub App is installed on its repository: a `pr_url` reported for it must be one of
    /// the repository's pull requests.
    pub github_app: bool,
}

/// Reads a stored contract; a row that does not parse reads as none.
fn contract_of(text: Option<&str>) -> Option<RepoContract> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

/// Splits a canonical comma-separated skill list.
pub fn split_skills(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn json_map(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn bad_row(what: &str, value: &str) -> StoreError {
    StoreError::Db(sqlx::Error::Decode(
        format!("invalid {what} in database: {value:?}").into(),
    ))
}

impl TaskRow {
    pub fn decode<R: Columns>(row: &R) -> Result<TaskRow, StoreError> {
        let status: String = row.col("status")?;
        let artifact: Option<String> = row.col("artifact")?;
        let skills: String = row.col("required_skills")?;
        let ext: String = row.col("extensions")?;
        Ok(TaskRow {
            seq: row.col("seq")?,
            id: row.col("id")?,
            repo_id: row.col("repo_id")?,
            repo: row.col("repo")?,
            key: row.col("key")?,
            title: row.col("title")?,
            description: row.col("description")?,
            estimate_points: row.col("estimate_points")?,
            priority: Priority::from_rank(row.col("priority")?),
            required_skills: split_skills(&skills),
            area: row.col("area")?,
            tier: row.col("tier")?,
            status: TaskStatus::parse(&status).ok_or_else(|| bad_row("task status", &status))?,
            status_reason: row.col("status_reason")?,
            awaits_maintainer: row.col::<i64>("awaits_maintainer")? != 0,
            worker_id: row.col("worker_id")?,
            lease_id: row.col("lease_id")?,
            lease_expires_at: row.col("lease_expires_at")?,
            lease_progress: row.col("lease_progress")?,
            lease_progress_at: row.col("lease_progress_at")?,
            accept_by: row.col("accept_by")?,
            deadline: row.col("deadline")?,
            lease_points: row.col("lease_points")?,
            artifact: artifact.and_then(|a| serde_json::from_str(&a).ok()),
            attempts: row.col("attempts")?,
            extensions: json_map(&ext),
            created_at: row.col("created_at")?,
            updated_at: row.col("updated_at")?,
            contract: row.col("contract")?,
            clone_url: row.col("clone_url")?,
            policy: TaskPolicy {
                approval: Approval::parse(&row.col::<String>("approval")?),
                approval_skip_trust: row.col("approval_skip_trust")?,
                proposal_days: Some(row.col("proposal_days")?),
                verified_commits: VerifiedCommits::parse(&row.col::<String>("verified_commits")?),
                verified_commits_below_trust: row.col("verified_commits_below_trust")?,
                disclosure: DisclosurePolicy::default(),
                pull_requests: Default::default(),
            },
            blocked_by: split_keys(row.col("blocked_by")?),
            waiting_on: split_keys(row.col("waiting_on")?),
            // One list, each pattern once, in byte order whatever the database's collation
            // (section 9.3): declared and pull-request paths alike.
            paths: {
                let mut paths = split_keys(row.col("paths")?);
                paths.sort_unstable();
                paths.dedup();
                paths
            },
            path_holds: split_keys(row.col("path_holds")?)
                .into_iter()
                .filter_map(|h| {
                    h.split_once('\u{1e}')
                        .map(|(k, p)| (k.to_string(), p.to_string()))
                })
                .collect(),
            requires: json_map(&row.col::<String>("requires")?),
            github_app: row.col::<i64>("github_app")? > 0,
        })
    }

    /// The task as its holder sees it (on a lease, `GET /v1/tasks/{id}`): with the repository's
    /// contract and clone URL.
    pub fn to_holder_api(&self) -> Task {
        let mut task = self.to_api();
        let contract = contract_of(self.contract.as_deref());
        task.policy = Some(self.policy_with(contract.as_ref()));
        task.contract = Some(contract);
        task.clone_url = Some(self.clone_url.clone());
        task
    }

    /// The repository's policy for this task, with the contract's disclosure; `proposal_days`
    /// only where plans are taken.
    fn policy_with(&self, contract: Option<&RepoContract>) -> TaskPolicy {
        let plans = self.policy.plans_first();
        TaskPolicy {
            proposal_days: self.policy.proposal_days.filter(|_| plans),
            disclosure: contract
                .map(RepoContract::disclosure_policy)
                .unwrap_or_default(),
            pull_requests: contract.and_then(|c| c.pull_requests).unwrap_or_default(),
            ..self.policy
        }
    }

    /// The keys of the tasks whose paths hold it (each once, in order).
    pub fn waiting_on_paths(&self) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for (key, _) in &self.path_holds {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
        keys
    }

    pub fn to_api(&self) -> Task {
        Task {
            task_id: self.id.clone(),
            repo: self.repo.clone(),
            key: self.key.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            estimate_points: self.estimate_points,
            priority: self.priority,
            required_skills: self.required_skills.clone(),
            area: self.area.clone(),
            tier: self.tier,
            status: self.status,
            assigned_worker_id: self.worker_id.clone(),
            lease_id: self.lease_id.clone(),
            lease_expires_at: self.lease_expires_at.map(format_ts),
            lease_progress: self.lease_progress.clone(),
            lease_progress_at: self.lease_progress_at.map(format_ts),
            artifact: self.artifact.clone(),
            attempts: self.attempts,
            status_reason: self.status_reason.clone(),
            awaits_maintainer: self.awaits_maintainer,
            blocked_by: self.blocked_by.clone(),
            waiting_on: self.waiting_on.clone(),
            paths: self.paths.clone(),
            waiting_on_paths: self.waiting_on_paths(),
            requires: self.requires.clone(),
            created_at: format_ts(self.created_at),
            updated_at: format_ts(self.updated_at),
            contract: None,
            clone_url: None,
            policy: None,
            extensions: self.extensions.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct WorkerRow {
    pub id: String,
    pub name: String,
    pub skills: Vec<String>,
    pub all_skills: bool,
    pub capacity_points: i64,
    pub max_concurrent_tasks: i64,
    /// The proven login of the person it speaks for (see [`WorkerRow::person`]), as GitHub last
    /// named them.
    pub github_login: Option<String>,
    /// The person it speaks for, once proven: a link, or a person's own comment worker.
    pub github_account_id: Option<i64>,
    /// A login typed at registration: shown only, marked unverified; it proves nothing.
    pub claimed_login: Option<String>,
    pub paused: bool,
    pub last_seen_at: Option<i64>,
    pub trust_level: i64,
    pub capabilities: Value,
    pub active_points: i64,
    pub active_tasks: i64,
    pub extensions: Map<String, Value>,
    pub created_at: i64,
    /// Its outcomes are counted (reputation, trust progression).
    pub reputation_opt_in: bool,
    /// It is listed on the leaderboard.
    pub leaderboard_opt_in: bool,
    /// Offered only tasks that require at least one of its skills.
    pub specialist: bool,
    /// An admin archived it (its token no longer works; it is left out of the boards).
    pub archived: bool,
    /// Read from the database for this request, not remembered from an earlier one (see
    /// `known_workers`): its counters are as they were a moment ago.
    pub fresh: bool,
}

/// Whether the worker `id` (with `all_skills`) is a person's implicit worker, made when they
/// first claim by comment on GitHub ([`WorkerRow::claims_by_comment`]).
pub fn claims_by_comment(id: &str, all_skills: bool) -> bool {
    all_skills && id.starts_with("gh_")
}

impl WorkerRow {
    /// A test fixture: an idle, fresh worker of one slot (5 points), no skills, last seen at
    /// `last_seen`.
    #[cfg(test)]
    pub(crate) fn idle_for_tests(id: &str, last_seen: i64) -> WorkerRow {
        WorkerRow {
            id: id.into(),
            name: id.into(),
            skills: vec![],
            all_skills: false,
            capacity_points: 5,
            max_concurrent_tasks: 1,
            github_login: None,
            github_account_id: None,
            claimed_login: None,
            paused: false,
            last_seen_at: Some(last_seen),
            trust_level: 0,
            capabilities: serde_json::Value::Null,
            active_points: 0,
            active_tasks: 0,
            extensions: Default::default(),
            created_at: 0,
            reputation_opt_in: false,
            leaderboard_opt_in: false,
            specialist: false,
            archived: false,
            fresh: true,
        }
    }

    pub fn decode<R: Columns>(row: &R) -> Result<WorkerRow, StoreError> {
        let status: String = row.col("status")?;
        let skills: String = row.col("skills")?;
        let caps: String = row.col("capabilities")?;
        let ext: String = row.col("extensions")?;
        let all_skills: i64 = row.col("all_skills")?;
        Ok(WorkerRow {
            id: row.col("id")?,
            name: row.col("name")?,
            skills: split_skills(&skills),
            all_skills: all_skills != 0,
            capacity_points: row.col("capacity_points")?,
            max_concurrent_tasks: row.col("max_concurrent_tasks")?,
            github_login: row.col("github_login")?,
            github_account_id: row.col("github_account_id")?,
            claimed_login: row.col("claimed_login")?,
            paused: match WorkerStatus::parse(&status) {
                Some(s) => s == WorkerStatus::Paused,
                None => return Err(bad_row("worker status", &status)),
            },
            last_seen_at: row.col("last_seen_at")?,
            trust_level: row.col("trust_level")?,
            capabilities: serde_json::from_str(&caps).unwrap_or(Value::Object(Map::new())),
            active_points: row.col("active_points")?,
            active_tasks: row.col("active_tasks")?,
            extensions: json_map(&ext),
            created_at: row.col("created_at")?,
            reputation_opt_in: row.col::<i64>("reputation_opt_in")? != 0,
            leaderboard_opt_in: row.col::<i64>("leaderboard_opt_in")? != 0,
            specialist: row.col::<i64>("specialist")? != 0,
            archived: row.col::<Option<i64>>("archived_at")?.is_some(),
            fresh: true,
        })
    }

    /// Seen less than [`SEEN_GRANULARITY_MS`] ago: marking it seen again would
    /// move its online window by less than presence can show, so it is not written.
    pub fn seen_lately(&self, now: i64) -> bool {
        self.last_seen_at
            .is_some_and(|t| now - t < SEEN_GRANULARITY_MS && now - t >= 0)
    }

    /// Online while the last contact is younger than the heartbeat TTL.
    pub fn online(&self, now: i64, heartbeat_ttl_ms: i64) -> bool {
        self.last_seen_at
            .is_some_and(|t| now - t < heartbeat_ttl_ms)
    }

    /// The person the worker speaks for, once proven (never a typed login).
    pub fn person(&self) -> Option<Person> {
        Person::of(self.github_account_id, self.github_login.as_deref())
    }

    /// A person's implicit worker, made when they first claim by comment on GitHub: it has no
    /// seat of its own (no capacity to speak of, nothing to heartbeat).
    pub fn claims_by_comment(&self) -> bool {
        claims_by_comment(&self.id, self.all_skills)
    }

    pub fn to_api(&self, now: i64, heartbeat_ttl_ms: i64) -> Worker {
        self.clone().into_api(now, heartbeat_ttl_ms)
    }

    /// [`WorkerRow::to_api`] of a row no longer needed (its strings move, not copied).
    pub fn into_api(self, now: i64, heartbeat_ttl_ms: i64) -> Worker {
        let status = if self.paused {
            WorkerStatus::Paused
        } else if self.active_tasks > 0 {
            WorkerStatus::Working
        } else {
            WorkerStatus::Idle
        };
        let online = self.online(now, heartbeat_ttl_ms);
        let claims_by_comment = self.claims_by_comment();
        Worker {
            online,
            worker_id: self.id,
            name: self.name,
            skills: self.skills,
            capacity_points: self.capacity_points,
            max_concurrent_tasks: self.max_concurrent_tasks,
            github_verified: self.github_account_id.is_some() && self.github_login.is_some(),
            github_login: self.github_login.or(self.claimed_login),
            status,
            last_heartbeat: self.last_seen_at.map(format_ts),
            trust_level: self.trust_level,
            capabilities: self.capabilities,
            active_points: self.active_points,
            active_tasks: self.active_tasks,
            created_at: format_ts(self.created_at),
            reputation_opt_in: self.reputation_opt_in,
            leaderboard_opt_in: self.leaderboard_opt_in,
            specialist: self.specialist,
            reputation: None,
            extensions: {
                let mut extensions = self.extensions;
                if claims_by_comment {
                    extensions.insert(CLAIMS_BY_COMMENT_FIELD.into(), Value::Bool(true));
                }
                extensions
            },
        }
    }
}

/// A worker seen less than this long ago is not marked seen again (see `WorkersTx::mark_seen`).
pub const SEEN_GRANULARITY_MS: i64 = 250;

/// Columns of [`RepoRow`].
pub const REPO_SELECT: &str = concat!(
    "SELECT id, name, max_open_prs, area_locks_enabled, open_prs, \
    active_leases, private, extensions, created_at, updated_at, contract, clone_url, archived_at, \
    github_private, visibility_pinned, archived_by, approval, approval_skip_trust, proposal_days, \
    min_account_age_days, first_timers_label, cooldown_hours, verified_commits, \
    verified_commits_below_trust, vouch_required, vouch_trust, vouch_closed, \
    CAST(CASE WHEN EXISTS (SELECT 1 FROM gh_repos gr WHERE gr.repo = repos.name \
      AND gr.installation_id IS NOT NULL) THEN 1 ELSE 0 END AS BIGINT) AS persons_only, \
    ",
    crate::budget_rule::budget_full_column!(""),
    " AS throttled FROM repos"
);

#[derive(Clone, Debug)]
pub struct RepoRow {
    pub id: i64,
    pub name: String,
    pub max_open_prs: i64,
    pub area_locks_enabled: bool,
    pub open_prs: i64,
    pub active_leases: i64,
    /// The review budget has no room for another lease (rule 6's condition fails).
    pub throttled: bool,
    /// Only admins may read its board (see [`crate::domain::Visibility`]).
    pub private: bool,
    pub extensions: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
    /// How work in the repository is done.
    pub contract: Option<RepoContract>,
    /// Where the repository is cloned from.
    pub clone_url: Option<String>,
    /// An admin archived it (its open tasks were cancelled; it is left out of the boards).
    pub archived: bool,
    /// Who archived it (`admin` or `github:LOGIN`; `None` for an archive older than the record,
    /// which was the operator's).
    pub archived_by: Option<String>,
    /// What GitHub last said: private or not (`None`: it has not said).
    pub github_private: Option<bool>,
    /// A person's choice of visibility holds against GitHub's unchanged answer.
    pub visibility_pinned: bool,
    /// Plan first (rule 11).
    pub approval: crate::domain::proposals::ApprovalPolicy,
    /// The rules about people in force.
    pub people: PeopleRules,
}

impl RepoRow {
    pub fn decode(row: &AnyRow) -> Result<RepoRow, StoreError> {
        let locks: i64 = row.try_get("area_locks_enabled")?;
        let ext: String = row.try_get("extensions")?;
        let private: i64 = row.try_get("private")?;
        Ok(RepoRow {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            max_open_prs: row.try_get("max_open_prs")?,
            area_locks_enabled: locks != 0,
            open_prs: row.try_get("open_prs")?,
            active_leases: row.try_get("active_leases")?,
            throttled: row.try_get::<i64, _>("throttled")? != 0,
            // Anything but an explicit 0 reads as private.
            private: private != 0,
            extensions: json_map(&ext),
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            contract: contract_of(row.try_get::<Option<String>, _>("contract")?.as_deref()),
            clone_url: row.try_get("clone_url")?,
            archived: row.try_get::<Option<i64>, _>("archived_at")?.is_some(),
            archived_by: row.try_get("archived_by")?,
            github_private: row
                .try_get::<Option<i64>, _>("github_private")?
                .map(|p| p != 0),
            visibility_pinned: row.try_get::<i64, _>("visibility_pinned")? != 0,
            approval: crate::domain::proposals::ApprovalPolicy {
                approval: crate::domain::proposals::Approval::parse(
                    &row.try_get::<String, _>("approval")?,
                ),
                skip_trust: row.try_get("approval_skip_trust")?,
                proposal_days: row.try_get("proposal_days")?,
            },
            people: PeopleRules {
                persons_only: row.try_get::<i64, _>("persons_only")? != 0,
                min_account_age_days: row.try_get("min_account_age_days")?,
                first_timers_label: row.try_get("first_timers_label")?,
                cooldown_hours: row.try_get("cooldown_hours")?,
                verified_commits: row.try_get("verified_commits")?,
                verified_commits_below_trust: row.try_get("verified_commits_below_trust")?,
                vouch_required: row.try_get::<i64, _>("vouch_required")? != 0,
                vouch_trust: row.try_get("vouch_trust")?,
                vouch_list_unread: row.try_get::<i64, _>("vouch_closed")? != 0,
            },
        })
    }

    pub fn to_api(&self) -> RepoPolicy {
        RepoPolicy {
            repo: self.name.clone(),
            max_open_prs: self.max_open_prs,
            area_locks_enabled: self.area_locks_enabled,
            open_prs: self.open_prs,
            active_leases: self.active_leases,
            throttled: self.throttled,
            visibility: Visibility::from_private(self.private),
            contract: self.contract.clone(),
            clone_url: self.clone_url.clone(),
            promote: Vec::new(),
            outcomes: None,
            reviewers: Vec::new(),
            approval: self.approval.approval,
            approval_skip_trust: self.approval.skip_trust,
            proposal_days: self.approval.proposal_days,
            people: self.people.clone(),
            created_at: format_ts(self.created_at),
            updated_at: format_ts(self.updated_at),
            extensions: self.extensions.clone(),
        }
    }
}
