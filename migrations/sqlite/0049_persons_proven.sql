-- One person, proven (contract section 14; SQLite, the same change for PostgreSQL is in
-- migrations/postgres).
--
-- A login typed at registration proves nothing: it moves to `claimed_login`, shown only as
-- unverified, and `github_login` holds only a proven login (a link, or a person's own comment
-- worker), always beside the account id it belongs to.
ALTER TABLE workers ADD COLUMN claimed_login TEXT;
UPDATE workers SET claimed_login = github_login, github_login = NULL
 WHERE github_login IS NOT NULL AND github_account_id IS NULL AND token_hash IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM gh_links l WHERE l.worker_id = workers.id);

-- A proposal's proposer is a person, `github:ACCOUNT_ID`, or an unlinked worker, `worker:ID`;
-- `login` is the person's login when proposed (for the words of replies only). Proposals
-- recorded under a login take their worker's account id, or become the worker's own.
UPDATE proposals SET proposer = COALESCE(
        (SELECT 'github:' || w.github_account_id FROM workers w
          WHERE w.id = proposals.worker_id AND w.github_account_id IS NOT NULL),
        'worker:' || worker_id),
    login = (SELECT w.github_login FROM workers w
              WHERE w.id = proposals.worker_id AND w.github_account_id IS NOT NULL)
 WHERE proposer LIKE 'github:%';
