-- The earliest deadline of a live lease (one not ended), if any: `leases_live` on both backends
-- (an index without the deadline, which every renewal writes); SQLite's `leases_deadline` serves
-- this read at once.
SELECT MIN(deadline) AS "deadline?: i64"
FROM leases
WHERE ended_at IS NULL
