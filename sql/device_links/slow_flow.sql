-- Worker $2's flow of digest $1 polls no sooner than every $3 ms from now on.
UPDATE worker_link_flows SET interval_ms = $3 WHERE digest = $1 AND worker_id = $2
