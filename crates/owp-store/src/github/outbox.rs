//! The comment outbox (`gh_outbox`): status comments, replies and reactions queued in the
//! transaction of the change they report, then claimed and sent: each row by one process, each
//! installation's rows one at a time, many installations at once.

use crate::engine::tx_conn::TxConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::composed;
use crate::engine::checked::{checked_in_tx, checked_read};
use crate::github::write_pacing::WritePacing;
use crate::{Store, StoreError, WriteTx};

/// What an outbox row asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxKind {
    /// Create or edit the living status comment of a task (its text is made when sent).
    Status,
    /// Post a new comment.
    Comment,
    /// React to a command comment.
    Reaction,
}

impl OutboxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Status => "status",
            OutboxKind::Comment => "comment",
            OutboxKind::Reaction => "reaction",
        }
    }

    fn parse(s: &str) -> Result<OutboxKind, StoreError> {
        match s {
            "status" => Ok(OutboxKind::Status),
            "comment" => Ok(OutboxKind::Comment),
            "reaction" => Ok(OutboxKind::Reaction),
            other => Err(StoreError::Db(sqlx::Error::Decode(
                format!("invalid outbox kind in database: {other:?}").into(),
            ))),
        }
    }
}

/// An outbox row claimed by a sender.
#[derive(Clone, Debug)]
pub struct OutboxRow {
    pub id: i64,
    pub uid: String,
    pub installation_id: i64,
    pub repo: String,
    pub issue_number: i64,
    pub kind: OutboxKind,
    pub task_id: Option<String>,
    pub comment_id: Option<i64>,
    pub body: String,
    pub revision: i64,
    /// Attempts so far, this one included.
    pub attempts: i64,
    /// When the row's write was reserved in its installation's pace (it is sent then, not
    /// before), by the claim that took it.
    pub write_at: i64,
}

/// A row the claim updated, its write to go at `write_at` (the claim puts the time its pace
/// took in its place before the row leaves it).
fn decode_outbox(row: &AnyRow, write_at: i64) -> Result<OutboxRow, StoreError> {
    let kind: String = row.try_get("kind")?;
    Ok(OutboxRow {
        id: row.try_get("id")?,
        uid: row.try_get("uid")?,
        installation_id: row.try_get("installation_id")?,
        repo: row.try_get("repo")?,
        issue_number: row.try_get("issue_number")?,
        kind: OutboxKind::parse(&kind)?,
        task_id: row.try_get("task_id")?,
        comment_id: row.try_get("comment_id")?,
        body: row.try_get("body")?,
        revision: row.try_get("revision")?,
        attempts: row.try_get("attempts")?,
        write_at,
    })
}

/// Where an outbox row goes.
#[derive(Clone, Debug)]
pub struct OutboxTarget<'a> {
    pub installation_id: i64,
    pub repo: &'a str,
    pub issue_number: i64,
}

/// Asks for the status comment of `task_id` to be written `window_ms` from now; pending requests
/// of one task collapse into one row (its revision goes up, so a sender busy with it sends
/// again), which keeps the time of the first: the changes within the window make one edit. The
/// outbox's commit step ([`super::on_commit`]) is its one caller: a transaction asks for a task to
/// be shown again with `WriteTx::show_again`.
pub async fn enqueue_status(
    conn: &mut TxConnection,
    now: i64,
    target: &OutboxTarget<'_>,
    task_id: &str,
    window_ms: i64,
) -> Result<(), StoreError> {
    let (uid, key) = (new_uid(), format!("status:{task_id}"));
    let OutboxTarget {
        installation_id,
        repo,
        issue_number,
    } = *target;
    let due = now + window_ms.max(0);
    checked_in_tx!(
        conn,
        outbox::enqueue_status(
            &uid,
            installation_id,
            repo,
            issue_number,
            task_id,
            now,
            due,
            &key
        )
    )?;
    Ok(())
}

/// Asks for a new comment.
pub async fn enqueue_comment(
    conn: &mut TxConnection,
    now: i64,
    target: &OutboxTarget<'_>,
    task_id: Option<&str>,
    body: &str,
) -> Result<(), StoreError> {
    enqueue_once(conn, now, target, OutboxKind::Comment, task_id, None, body).await
}

/// Asks for a reaction (`+1`, `eyes`, …) on a comment.
pub async fn enqueue_reaction(
    conn: &mut TxConnection,
    now: i64,
    target: &OutboxTarget<'_>,
    comment_id: i64,
    content: &str,
) -> Result<(), StoreError> {
    let comment_id = Some(comment_id);
    enqueue_once(
        conn,
        now,
        target,
        OutboxKind::Reaction,
        None,
        comment_id,
        content,
    )
    .await
}

/// Queues an outbox row that is sent once (never collapsed with another): a comment or a reaction.
async fn enqueue_once(
    conn: &mut TxConnection,
    now: i64,
    target: &OutboxTarget<'_>,
    kind: OutboxKind,
    task_id: Option<&str>,
    comment_id: Option<i64>,
    body: &str,
) -> Result<(), StoreError> {
    let uid = new_uid();
    let OutboxTarget {
        installation_id,
        repo,
        issue_number,
    } = *target;
    let kind = kind.as_str();
    checked_in_tx!(
        conn,
        outbox::enqueue_once(
            &uid,
            installation_id,
            repo,
            issue_number,
            kind,
            task_id,
            comment_id,
            body,
            now
        )
    )?;
    Ok(())
}

/// The comment outbox's view of the store: rows claimed by the comment sender, sent, retried
/// or given up, each in a transaction of its own ([`Store::outbox`]).
pub struct Outbox<'s> {
    store: &'s Store,
}

/// The outbox inside a caller's write transaction ([`WriteTx::outbox`]): replies and reactions
/// queued with the change they answer.
pub struct OutboxTx<'t> {
    tx: &'t mut WriteTx,
}

impl Store {
    /// The comment outbox's view of the store.
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox { store: self }
    }
}

impl WriteTx {
    /// The comment outbox's view of this transaction.
    pub fn outbox(&mut self) -> OutboxTx<'_> {
        OutboxTx { tx: self }
    }
}

impl OutboxTx<'_> {
    /// Whether the same reply text was queued for the same issue since `since` (ms).
    pub async fn recent_reply(
        &mut self,
        target: &OutboxTarget<'_>,
        body: &str,
        since: i64,
    ) -> Result<bool, StoreError> {
        let (repo, number) = (target.repo, target.issue_number);
        Ok(checked_in_tx!(
            self.tx.conn(),
            outbox::recent_reply(repo, number, body, since)
        )?)
    }

    /// Whether a reply to `login` (a comment that starts `@login,`) was ever queued on the issue.
    pub async fn replied_to(
        &mut self,
        target: &OutboxTarget<'_>,
        login: &str,
    ) -> Result<bool, StoreError> {
        let (repo, number) = (target.repo, target.issue_number);
        let pattern = format!("@{},%", login.to_ascii_lowercase());
        Ok(checked_in_tx!(
            self.tx.conn(),
            outbox::replied_to(repo, number, &pattern)
        )?)
    }

    /// Queues a new comment.
    pub async fn enqueue_comment(
        &mut self,
        target: &OutboxTarget<'_>,
        task_id: Option<&str>,
        body: &str,
    ) -> Result<(), StoreError> {
        let now = self.tx.now;
        enqueue_comment(self.tx.conn(), now, target, task_id, body).await
    }

    /// Queues a reaction on a comment.
    pub async fn enqueue_reaction(
        &mut self,
        target: &OutboxTarget<'_>,
        comment_id: i64,
        content: &str,
    ) -> Result<(), StoreError> {
        let now = self.tx.now;
        enqueue_reaction(self.tx.conn(), now, target, comment_id, content).await
    }

    /// Drops the pending comments about one issue (it was deleted).
    pub async fn drop_issue(&mut self, repo: &str, number: i64) -> Result<(), StoreError> {
        checked_in_tx!(self.tx.conn(), outbox::drop_issue(repo, number))?;
        Ok(())
    }
}

impl Outbox<'_> {
    /// Claims up to `limit` outbox rows that are due, for `runner` until `until`, each with its
    /// write reserved in its installation's pace (`pacing`, [`InstallationPacingTx::take`]), in one
    /// transaction: at most one row of an installation, and none of an installation that has a
    /// row claimed (being sent, here or by another replica), so that each installation's writes
    /// go out one at a time while installations go side by side. A row whose write would have to
    /// wait more than `ahead_ms` is given back untried, to be claimed when it may go
    /// ([`Outbox::wait`]); one that waits less is reserved at the end of its wait
    /// ([`OutboxRow::write_at`]), and its sender reads for it meanwhile. Within an installation
    /// status comments go first, then the oldest row; across installations, the oldest first. A
    /// reply or reaction waits while an older one about the same issue is pending (replies arrive
    /// in order), a status comment only for an older status row, and every row while its
    /// installation is rate-limited or suspended. Each row is claimed with a conditional update,
    /// so with several replicas exactly one sends it.
    ///
    /// [`InstallationPacingTx::take`]: super::write_pacing::InstallationPacingTx::take
    pub async fn claim(
        &self,
        runner: &str,
        now: i64,
        until: i64,
        limit: i64,
        pacing: &WritePacing,
        ahead_ms: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let ids = checked_read!(self.store, github::outbox_due(now, limit))?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Every row in one statement: each is claimed only if no one claimed it since it was read.
        let mut tx = self.store.begin().await?;
        let mut claim = composed::github::claim_outbox(ids.len())
            .query()
            .bind(runner)
            .bind(until)
            .bind(now);
        for id in &ids {
            claim = claim.bind(*id);
        }
        let rows = claim.fetch_all(tx.conn()).await?;
        let mut claimed = rows
            .iter()
            .map(|r| decode_outbox(r, now))
            .collect::<Result<Vec<_>, _>>()?;
        // Installations in one order, so that two replicas' claims never wait for each other's
        // installation rows in a circle.
        claimed.sort_by_key(|r| (r.installation_id, r.id));
        let mut out = Vec::with_capacity(claimed.len());
        for row in claimed {
            let status = row.kind == OutboxKind::Status;
            match tx
                .pacing()
                .take(row.installation_id, status, pacing, ahead_ms)
                .await?
            {
                Ok(write_at) => out.push(OutboxRow { write_at, ..row }),
                Err(at) => wait_untried(&mut tx, &row, runner, at).await?,
            }
        }
        tx.commit().await?;
        out.sort_by_key(|r| r.id);
        Ok(out)
    }

    /// An outbox row was sent (its write at `sent_at`; `None`: it needed none). For a status
    /// row, `revision` must still be the row's: when the task changed meanwhile, the row stays
    /// pending (and is sent again) and false is returned. The row's reserved write is settled in
    /// the same transaction ([`InstallationPacingTx::settled`]).
    ///
    /// [`InstallationPacingTx::settled`]: super::write_pacing::InstallationPacingTx::settled
    pub async fn sent(
        &self,
        row: &OutboxRow,
        runner: &str,
        github_id: Option<i64>,
        sent_at: Option<i64>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.store.begin().await?;
        let now = crate::now_ms().max(tx.now);
        settle(&mut tx, row, sent_at).await?;
        let sent = mark_sent(&mut tx, row, runner, github_id, now).await?;
        tx.commit().await?;
        Ok(sent)
    }

    /// A status row was sent, writing `body` to the task's status comment `comment_id` at
    /// `sent_at` (`None`: the comment already said it): the comment is remembered as the task's,
    /// the row marked sent (as [`Outbox::sent`] does: false when the task changed
    /// meanwhile) and its write settled in one transaction, one turn of the writer.
    pub async fn status_sent(
        &self,
        row: &OutboxRow,
        runner: &str,
        task_id: &str,
        comment_id: i64,
        body: &str,
        sent_at: Option<i64>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.store.begin().await?;
        let now = crate::now_ms().max(tx.now);
        tx.issues()
            .set_status_comment(task_id, Some(comment_id), Some(body))
            .await?;
        settle(&mut tx, row, sent_at).await?;
        let sent = mark_sent(&mut tx, row, runner, Some(comment_id), now).await?;
        tx.commit().await?;
        Ok(sent)
    }

    /// Gives a claimed outbox row back, to be tried again at `at`, its write settled (sent at
    /// `sent_at`, or never sent).
    pub async fn retry(
        &self,
        row: &OutboxRow,
        runner: &str,
        at: i64,
        error: Option<&str>,
        sent_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        settle(&mut tx, row, sent_at).await?;
        checked_in_tx!(tx.conn(), outbox::give_back(row.id, runner, at, error))?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives a claimed outbox row back untried, to be sent at `at` (its installation's budget
    /// is used up until then, or another of its writes is on its way): the claim does not count
    /// as an attempt, and its reserved write is taken back. The installation's other rows due
    /// before then, which would wait as well, wait until then too (only replies and reactions
    /// when `row` is one: status comments have more of the budget), so that they are not each
    /// claimed only to be given back.
    pub async fn wait(&self, row: &OutboxRow, runner: &str, at: i64) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        settle(&mut tx, row, None).await?;
        wait_untried(&mut tx, row, runner, at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An outbox row cannot be sent (the issue is gone, GitHub refuses it for good); its write
    /// is settled (sent at `sent_at`, or never sent).
    pub async fn failed(
        &self,
        row: &OutboxRow,
        runner: &str,
        error: &str,
        sent_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        settle(&mut tx, row, sent_at).await?;
        checked_in_tx!(tx.conn(), outbox::fail(row.id, runner, error))?;
        tx.commit().await?;
        Ok(())
    }

    /// The outbox rows of an issue (any state), oldest first: `(kind, state, body)`.
    pub async fn of_issue(
        &self,
        repo: &str,
        number: i64,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        Ok(checked_read!(
            self.store,
            github::outbox_of_issue(repo, number)
        )?)
    }
}

/// Settles the write `row` reserved: sent at `sent_at`, or never sent.
async fn settle(tx: &mut WriteTx, row: &OutboxRow, sent_at: Option<i64>) -> Result<(), StoreError> {
    tx.pacing()
        .settled(row.installation_id, row.write_at, sent_at)
        .await
}

/// Marks a claimed row sent at `now`, or gives it back when its task changed meanwhile (a
/// status row's revision moved since its claim); whether it was marked.
async fn mark_sent(
    tx: &mut WriteTx,
    row: &OutboxRow,
    runner: &str,
    github_id: Option<i64>,
    now: i64,
) -> Result<bool, StoreError> {
    let (id, revision) = (row.id, row.revision);
    let n = checked_in_tx!(
        tx.conn(),
        outbox::mark_sent(id, runner, revision, now, github_id)
    )?;
    if n == 0 {
        checked_in_tx!(tx.conn(), outbox::give_back(id, runner, now, None))?;
    }
    Ok(n == 1)
}

/// Gives `row` back untried, to be sent at `at`, and holds its installation's other due rows
/// until then (see [`Outbox::wait`]).
async fn wait_untried(
    tx: &mut WriteTx,
    row: &OutboxRow,
    runner: &str,
    at: i64,
) -> Result<(), StoreError> {
    let replies_only = row.kind != OutboxKind::Status;
    let now = crate::now_ms().max(tx.now);
    let installation = row.installation_id;
    checked_in_tx!(
        tx.conn(),
        outbox::hold_installation(installation, at, now, replies_only)
    )?;
    checked_in_tx!(tx.conn(), outbox::give_back_untried(row.id, runner, at))?;
    Ok(())
}

/// A new outbox row's `uid`.
fn new_uid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
