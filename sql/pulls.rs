//! Pull requests as the GitHub App keeps them (`owp::store::github::pulls`,
//! `owp::store::github::known_answers`): the links of pull requests to tasks, and what GitHub
//! said lately of pull requests and of logins. Their reads are in `github_rows` and `github`;
//! the writes return the rows they changed.

use super::Db;

writes! {
    /// Pull request `pr_number` of `repo` links `task_id`: its `pr_url`, `author` (account
    /// `author_id`), `state`, `draft` (1) and whether it is `acting` on the task (1), seen at
    /// `now` (ms).
    link(
        repo: &str,
        pr_number: i64,
        task_id: &str,
        pr_url: &str,
        author: &str,
        state: &str,
        draft: i64,
        acting: i64,
        now: i64,
        author_id: Option<i64>,
    ) = "../../sql/pulls/link.sql";
}

writes! {
    /// What GitHub said at `read_at` (ms) of pull request `number` of `repo`: its `state`
    /// (`missing`: none), its `author` (account `author_id`); an older answer does not replace a
    /// newer one.
    note_pull(
        repo: &str,
        number: i64,
        state: &str,
        author_id: Option<i64>,
        author: Option<&str>,
        read_at: i64,
    ) = "../../sql/pulls/note_pull.sql";
}

writes! {
    /// What GitHub answered at `asked_at` (ms) about `login` (lower-case): its `account_id`,
    /// or `missing` (1).
    login_asked(login: &str, asked_at: i64, account_id: Option<i64>, missing: i64)
        = "../../sql/pulls/login_asked.sql";
}

writes! {
    /// Forgets what GitHub said of pull requests before `before` (ms).
    sweep_pr_facts(before: i64) = "../../sql/pulls/sweep_pr_facts.sql";
}

writes! {
    /// Forgets what GitHub said of logins before `before` (ms).
    sweep_login_asks(before: i64) = "../../sql/pulls/sweep_login_asks.sql";
}

writes! {
    /// Whether the files of pull request `pr_number` of `repo`, linked to `task_id`, are too broad
    /// to lock (`too_broad`, 1 or 0); 0 when the mark did not change.
    paths_too_broad(repo: &str, pr_number: i64, task_id: &str, too_broad: i64)
        = "../../sql/pulls/paths_too_broad.sql";
}
