-- The outbox rows due at $1 (ms) that may go out now, at most $2, by id: for each installation
-- its first row (status comments first, then the oldest), none of an installation with a row
-- claimed or one rate-limited or suspended, and none behind an older pending row of its issue
-- (a status comment waits only for an older status row).
SELECT id AS "id!: i64"
FROM (
    SELECT o.id, ROW_NUMBER() OVER (PARTITION BY o.installation_id
            ORDER BY CASE WHEN o.kind = 'status' THEN 0 ELSE 1 END, o.id) AS place
    FROM gh_outbox o
    WHERE o.state = 'pending' AND o.next_attempt_at <= $1
        AND (o.claimed_until IS NULL OR o.claimed_until <= $1)
        AND NOT EXISTS (SELECT 1 FROM gh_outbox p WHERE p.state = 'pending'
            AND p.repo = o.repo AND p.issue_number = o.issue_number AND p.id < o.id
            AND (p.kind = 'status') = (o.kind = 'status'))
        AND NOT EXISTS (SELECT 1 FROM gh_outbox c WHERE c.state = 'pending'
            AND c.installation_id = o.installation_id AND c.claimed_until > $1)
        AND NOT EXISTS (SELECT 1 FROM gh_installations i WHERE i.id = o.installation_id
            AND (i.blocked_until > $1 OR i.suspended = 1))
) due
WHERE place = 1
ORDER BY id
LIMIT $2
