//! Who a worker is, as SQL fragments: the one definition of the person of a worker, of what the
//! pool keeps on their record (trust, opt-ins), of their history (merges here), and of a
//! denouncement (contract section 14). Every rule about people reads these texts, on every path
//! (a REST claim, a comment, a proposal and its approval, the preview, the scorecard, the
//! leaderboard), so a second worker of a person or a relink neither loses nor resets anything.

/// The person (GitHub account id) the worker (parameter `worker`) speaks for, as a SQL
/// expression (NULL for a worker that speaks for nobody): `workers.github_account_id`, written
/// only by a proof (a link, `gh_links`, which moves the id from the worker it leaves; or the
/// person's own comments, their implicit worker). The one definition every rule reads
/// (migration 0053 cleared the ids no link backed).
pub(crate) fn person_of(worker: &str) -> String {
    format!("(SELECT pw.github_account_id FROM workers pw WHERE pw.id = {worker})")
}

/// The rows of history `x` (a lease, a give-back, an outcome) that are the worker's (parameter
/// `worker`) or its person's, whichever worker they were recorded for (`x.person_id`, written
/// with the row, migration 0053): what the pool remembers of a person follows them to a new
/// worker and through a relink.
pub(crate) fn by_person(x: &str, worker: &str) -> String {
    format!(
        "({x}.worker_id = {worker} OR {x}.person_id = {})",
        person_of(worker)
    )
}

/// What the pool keeps on a person's record rather than on one of their workers
/// (`persons`, migration 0073).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Setting {
    /// The trust an admin gave (rule 7, rule 11's `approval_skip_trust`).
    Trust,
    /// Whether merges count toward promotions and reputation is shown.
    ReputationOptIn,
    /// Whether the person is listed on the leaderboard.
    LeaderboardOptIn,
}

impl Setting {
    /// The column, of `persons` and of `workers` alike.
    pub(crate) fn column(self) -> &'static str {
        match self {
            Setting::Trust => "trust_level",
            Setting::ReputationOptIn => "reputation_opt_in",
            Setting::LeaderboardOptIn => "leaderboard_opt_in",
        }
    }
}

/// `setting` of the worker whose row is `w` (an alias of `workers`): its person's record once it
/// holds the setting (written at the person's first link and by every change made through any of
/// their workers), else the worker's own (a worker that speaks for nobody).
pub(crate) fn setting_of_row(w: &str, setting: Setting) -> String {
    let col = setting.column();
    format!(
        "COALESCE((SELECT ps.{col} FROM persons ps WHERE ps.account_id = {w}.github_account_id), \
           {w}.{col})"
    )
}

/// `setting` of the worker (parameter `worker`, a SQL expression of its id), as
/// [`setting_of_row`] reads it.
pub(crate) fn setting_of(worker: &str, setting: Setting) -> String {
    format!(
        "(SELECT {} FROM workers sw WHERE sw.id = {worker})",
        setting_of_row("sw", setting)
    )
}

/// The merged tasks of the person the worker (parameter `worker`) is in repository `repo` (a SQL
/// expression of its id; `None`: in the whole pool), on every worker of theirs, as the
/// `FROM … WHERE …` of a query over `fo`: the one meaning of "merged here" (rule 14's first
/// timers, promotions, the scorecard, the trust a reply explains).
pub(crate) fn merged_here(worker: &str, repo: Option<&str>) -> String {
    let here = repo.map_or(String::new(), |r| format!(" AND fo.repo_id = {r}"));
    format!(
        "FROM outcomes fo WHERE {} AND fo.kind = 'merged'{here}",
        by_person("fo", worker)
    )
}

/// The count of [`merged_here`].
pub(crate) fn merged_count_in(worker: &str, repo: Option<&str>) -> String {
    format!("(SELECT COUNT(*) {})", merged_here(worker, repo))
}

/// Rule 12, the one definition of "denounced": an entry of repository `repo` (a SQL expression
/// of its id; any of its lists: the file, an import or a maintainer's command) denounces the
/// person `person` (a SQL expression of an account id) by the account id the entry was resolved
/// to (a denounced account that renames itself stays denounced), or, while GitHub has not
/// resolved the entry, by one of `logins` (a SQL list or subquery of lower-case logins the
/// person is proven to have: the rule fails closed). As the `SELECT 1 …` of an `EXISTS`.
pub(crate) fn denouncing_entry(repo: &str, person: &str, logins: &str) -> String {
    format!(
        "SELECT 1 FROM vouch_entries de WHERE de.repo_id = {repo} AND de.denounced = 1 \
           AND (de.account_id = {person} OR (de.account_id IS NULL AND de.login IN ({logins})))"
    )
}
