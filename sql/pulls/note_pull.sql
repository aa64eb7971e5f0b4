-- What GitHub said at $6 (ms) of pull request $2 of repository $1: its state $3 (`missing`:
-- none), its author $5 (account $4); an older answer does not replace a newer one.
INSERT INTO gh_pr_facts (repo, number, state, author_id, author, read_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (repo, number) DO UPDATE SET state = excluded.state,
    author_id = excluded.author_id, author = excluded.author, read_at = excluded.read_at
WHERE gh_pr_facts.read_at <= excluded.read_at
