-- $2 is the long poll worker $1 began last, in place of any other.
INSERT INTO held_polls (worker_id, holder) VALUES ($1, $2)
ON CONFLICT (worker_id) DO UPDATE SET holder = excluded.holder
