-- Dependencies: a task waits for its blockers (contract section 8, rule 8 of the scheduling rules).
--
-- One row per (task, blocker), in the order the blockers were given. A blocker is either a task of
-- the pool (`blocker_seq`; it holds until that task is `merged` or `cancelled`) or something outside
-- it, such as a GitHub issue that is not a task (`blocker_seq` NULL; it holds while `holds` = 1).
-- The claim statements test `NOT EXISTS` over this table, so the rule is enforced in the database.
CREATE TABLE task_deps (
    task_seq    INTEGER NOT NULL REFERENCES tasks (seq),
    blocker_key TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    blocker_seq INTEGER REFERENCES tasks (seq),
    holds       INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (task_seq, blocker_key)
);

-- The dependants of a task, to find who a merge or a cancellation frees.
CREATE INDEX task_deps_blocker ON task_deps (blocker_seq) WHERE blocker_seq IS NOT NULL;
