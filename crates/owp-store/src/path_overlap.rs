//! The SQL of rule 10's overlap (path locks), written once as text for every query that needs
//! it: the claim's condition (`claim_rules::paths_free`), a task's `waiting_on_paths`
//! (`rows::TASK_SELECT`), who waits on whom (`paths`) and PostgreSQL's recheck under the
//! repository's lock (the function `owp_path_locks`, as migration 0082 replaced it, which a test
//! below keeps equal to [`held_overlapping`]). It knows no other module.

/// The pairs of path rows `m` and `h` of two different tasks of one repository whose patterns
/// overlap, as one SQL query text selecting `$select` (SQL text, a literal or a macro that gives
/// one, as are the others). `$from` names the rows `m` (`"task_paths m"`, or a join that ends
/// with it), `$theirs` narrows the rows `h` (`" AND h.held = 1"`, or `""`), `$where` the rows
/// `m`.
///
/// Two patterns overlap when they share a prefix row and one of the two is exact (see
/// `domain::paths`, whose tests prove it the same as its `overlap`). The query asks that in two
/// halves so that each is an equality lookup in an index of path rows: `m`'s bases against every
/// row `h` of the same prefix (patterns at or under each base), and every prefix of `m`'s bases
/// against the bases `h` (`exact`). A single join on "one side exact" would make the empty
/// prefix, which every pattern has, read every path of the repository.
macro_rules! overlapping_paths {
    ($select:expr, $from:expr, $theirs:expr, $where:expr) => {
        concat!(
            "SELECT ",
            $select,
            " FROM ",
            $from,
            " JOIN task_paths h ON h.repo_id = m.repo_id AND h.prefix = m.prefix \
               AND h.task_seq <> m.task_seq",
            $theirs,
            " WHERE ",
            $where,
            " AND m.exact = 1 UNION ALL SELECT ",
            $select,
            " FROM ",
            $from,
            " JOIN task_paths h ON h.repo_id = m.repo_id AND h.prefix = m.prefix \
               AND h.task_seq <> m.task_seq",
            $theirs,
            " AND h.exact = 1 WHERE ",
            $where
        )
    };
}
pub(crate) use overlapping_paths;

/// The held path rows (`h.task_seq`, `h.pattern`) of other tasks that overlap a path of the task
/// whose sequence number is `$seq` (SQL text, given as a literal), as one SQL query text: the
/// claim's rule 10 is `NOT EXISTS` over it (`claim_rules::paths_free`), a task's
/// `waiting_on_paths` lists it (`rows::TASK_SELECT`), PostgreSQL's trigger rechecks it.
macro_rules! held_overlapping {
    ($seq:literal) => {
        $crate::path_overlap::overlapping_paths!(
            "h.task_seq, h.pattern",
            "task_paths m",
            " AND h.held = 1",
            concat!("m.task_seq = ", $seq)
        )
    };
}
pub(crate) use held_overlapping;

#[cfg(test)]
mod tests {
    use crate::rule_texts::{function_in_force, same_text};

    /// PostgreSQL's recheck of rule 10 under the repository's lock looks for the claim's own
    /// overlap, for the task being claimed.
    #[test]
    fn the_path_lock_trigger_rechecks_the_claims_own_overlap() {
        let body = function_in_force("owp_path_locks");
        assert!(
            same_text(&body).contains(&same_text(held_overlapping!("NEW.seq"))),
            "the trigger's overlap differs from the claim's: {}",
            held_overlapping!("NEW.seq")
        );
    }
}
