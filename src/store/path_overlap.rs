//! The SQL of rule 10's overlap (path locks), as text for the queries that need it: the claim's
//! condition (`leases::claim_rules::paths_free`), a task's `waiting_on_paths`
//! (`rows::TASK_SELECT`) and who waits on whom (`paths`). It knows no other module.

/// The held path rows (`h.task_seq`, `h.pattern`) of other tasks that overlap a path of the task
/// whose sequence number is `$seq` (SQL text, given as a literal), as one SQL query text.
///
/// Two patterns overlap when they share a prefix row and one of the two is exact. The query asks
/// that in two halves so that each is an equality lookup in the index of held rows: the task's
/// bases against every held row of the same prefix (held patterns at or under each base), and
/// every prefix of the task's bases against held bases (`exact`). A single join on "one side
/// exact" would make the empty prefix, which every pattern has, read every held path of the
/// repository for every candidate. The claim's rule 10 is `NOT EXISTS` over it
/// (`leases::claim_rules::paths_free`); a task's `waiting_on_paths` lists it (`rows::TASK_SELECT`).
macro_rules! held_overlapping {
    ($seq:literal) => {
        concat!(
            "SELECT h.task_seq, h.pattern FROM task_paths m JOIN task_paths h \
               ON h.repo_id = m.repo_id AND h.prefix = m.prefix AND h.held = 1 \
               AND h.task_seq <> m.task_seq WHERE m.task_seq = ",
            $seq,
            " AND m.exact = 1 UNION ALL SELECT h.task_seq, h.pattern FROM task_paths m \
               JOIN task_paths h ON h.repo_id = m.repo_id AND h.prefix = m.prefix \
               AND h.held = 1 AND h.exact = 1 AND h.task_seq <> m.task_seq WHERE m.task_seq = ",
            $seq
        )
    };
}
pub(crate) use held_overlapping;
