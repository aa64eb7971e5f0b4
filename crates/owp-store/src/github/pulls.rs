//! Pull requests linked to tasks (`gh_linked_prs`): their state, author and whether they act on
//! the task.

use owp_sql_sqlite::github_rows::LinkFields;

use crate::engine::checked::{checked_in_tx, checked_read};
use crate::{Store, StoreError, WriteTx};

/// State of a pull request linked to a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrState {
    Open,
    Closed,
    Merged,
}

impl PrState {
    pub fn as_str(self) -> &'static str {
        match self {
            PrState::Open => "open",
            PrState::Closed => "closed",
            PrState::Merged => "merged",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<PrState, StoreError> {
        match s {
            "open" => Ok(PrState::Open),
            "closed" => Ok(PrState::Closed),
            "merged" => Ok(PrState::Merged),
            other => Err(StoreError::Db(sqlx::Error::Decode(
                format!("invalid pull request state in database: {other:?}").into(),
            ))),
        }
    }
}

/// A pull request linked to a task by a closing keyword.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedPr {
    pub repo: String,
    pub pr_number: i64,
    pub task_id: String,
    pub pr_url: String,
    pub author: String,
    /// The author's GitHub account id (`None` for a link recorded before ids were kept).
    pub author_id: Option<i64>,
    pub state: PrState,
    pub draft: bool,
    /// Whether it may act on the task (false: recorded for maintainers, but another person's
    /// while the task was claimed, or a draft that is not the holder's).
    pub acting: bool,
}

/// A linked pull request as the statements of `sql/github_rows/` read it.
fn decode_linked_pr(fields: LinkFields) -> Result<LinkedPr, StoreError> {
    let (repo, pr_number, task_id, pr_url, author, author_id, state, draft, acting) = fields;
    Ok(LinkedPr {
        repo,
        pr_number,
        task_id,
        pr_url,
        author,
        author_id,
        state: PrState::parse(&state)?,
        draft: draft != 0,
        acting: acting != 0,
    })
}

/// Each of `rows` decoded.
fn decode_links(rows: Vec<LinkFields>) -> Result<Vec<LinkedPr>, StoreError> {
    rows.into_iter().map(decode_linked_pr).collect()
}

/// Pull requests linked to tasks, read ([`Store::pulls`]).
pub struct Pulls<'s> {
    store: &'s Store,
}

/// Pull requests linked to tasks inside a caller's write transaction ([`WriteTx::pulls`]).
pub struct PullsTx<'t> {
    tx: &'t mut WriteTx,
}

impl Store {
    /// The view of the store named by [`Pulls`].
    pub fn pulls(&self) -> Pulls<'_> {
        Pulls { store: self }
    }
}

impl WriteTx {
    /// The view of this transaction named by [`PullsTx`].
    pub fn pulls(&mut self) -> PullsTx<'_> {
        PullsTx { tx: self }
    }
}

impl PullsTx<'_> {
    /// Records (or updates) the link of a pull request to a task.
    pub async fn upsert_linked(&mut self, pr: &LinkedPr) -> Result<(), StoreError> {
        let now = self.tx.now;
        let (draft, acting) = (i64::from(pr.draft), i64::from(pr.acting));
        let (repo, number, task, url) = (&pr.repo, pr.pr_number, &pr.task_id, &pr.pr_url);
        let (author, state, author_id) = (&pr.author, pr.state.as_str(), pr.author_id);
        checked_in_tx!(
            self.tx.conn(),
            pulls::link(
                repo, number, task, url, author, state, draft, acting, now, author_id
            )
        )?;
        Ok(())
    }

    /// Marks whether a linked pull request's files are too broad to lock; returns whether the
    /// mark changed.
    pub async fn set_paths_too_broad(
        &mut self,
        pr: &LinkedPr,
        too_broad: bool,
    ) -> Result<bool, StoreError> {
        let (repo, number, task) = (&pr.repo, pr.pr_number, &pr.task_id);
        let too_broad = i64::from(too_broad);
        let changed = checked_in_tx!(
            self.tx.conn(),
            pulls::paths_too_broad(repo, number, task, too_broad)
        )?;
        Ok(changed > 0)
    }

    /// The tasks a pull request is linked to.
    pub async fn links_of_pr(
        &mut self,
        repo: &str,
        number: i64,
    ) -> Result<Vec<LinkedPr>, StoreError> {
        let rows = checked_in_tx!(self.tx.conn(), github_rows::links_of_pr(repo, number))?;
        decode_links(rows)
    }

    /// The open pull requests linked to a task.
    pub async fn open_links_of_task(&mut self, task_id: &str) -> Result<Vec<LinkedPr>, StoreError> {
        let rows = checked_in_tx!(self.tx.conn(), github_rows::open_links_of_task(task_id))?;
        decode_links(rows)
    }
}

impl Pulls<'_> {
    /// The open pull requests linked to a task.
    pub async fn open_links_of_task(&self, task_id: &str) -> Result<Vec<LinkedPr>, StoreError> {
        decode_links(checked_read!(
            self.store,
            github_rows::open_links_of_task(task_id)
        )?)
    }

    /// The open pull requests that link a task but do not act on it (recorded for maintainers).
    pub async fn recorded_links_of_task(&self, task_id: &str) -> Result<Vec<LinkedPr>, StoreError> {
        decode_links(checked_read!(
            self.store,
            github_rows::recorded_links_of_task(task_id)
        )?)
    }

    /// The open pull requests linked to the tasks of a repository (acting or only recorded).
    pub async fn open_links_of_repo(&self, repo: &str) -> Result<Vec<LinkedPr>, StoreError> {
        decode_links(checked_read!(
            self.store,
            github_rows::open_links_of_repo(repo)
        )?)
    }
}
