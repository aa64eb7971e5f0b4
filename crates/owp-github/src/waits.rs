//! What the webhook appliers and the comment sender spend their time on, step by step
//! (`owp_github_waited_microseconds_total{on}`): the waits for a limit they share with others
//! (an applier's room, the database's writer, an installation's pace) beside the time GitHub
//! takes to answer. `owp bench --github-installations` reads them from each server at the end of
//! a run, so that a limit that holds one side back shows as the time spent waiting for it.

use std::future::Future;
use std::time::Instant;

/// Waiting for room among the process's appliers (`OWP_GITHUB_APPLIERS`).
pub const APPLIER_ROOM: &str = "applier_room";
/// Claiming the next delivery (the database statement, with its wait for the writer).
pub const INBOX_CLAIM: &str = "inbox_claim";
/// A delivery's reads: GitHub and the database, before its transaction.
pub const APPLY_READ: &str = "apply_read";
/// A delivery's transaction, with its wait for the writer.
pub const APPLY_WRITE: &str = "apply_write";
/// The comment sender claiming the rows due (the query and each row's claim).
pub const OUTBOX_CLAIM: &str = "outbox_claim";
/// A row waiting for its installation's pace (a second between writes, one in flight).
pub const OUTBOX_PACE: &str = "outbox_pace";
/// The sender's requests to GitHub (its reads and its writes), from sent to answered.
pub const OUTBOX_GITHUB: &str = "outbox_github";
/// A row's whole send: its pace and GitHub's answers above, and rendering and recording it in
/// the database.
pub const OUTBOX_SEND: &str = "outbox_send";

/// Every step, in the order reports show them.
pub const STEPS: [&str; 8] = [
    APPLIER_ROOM,
    INBOX_CLAIM,
    APPLY_READ,
    APPLY_WRITE,
    OUTBOX_CLAIM,
    OUTBOX_PACE,
    OUTBOX_GITHUB,
    OUTBOX_SEND,
];

/// Awaits `work`, counting the time it took to `on`.
pub async fn timed<T>(on: &'static str, work: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let out = work.await;
    crate::observe::report(|o| o.waited(on, started.elapsed()));
    out
}
