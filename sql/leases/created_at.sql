-- When the lease $1 was granted (ms).
SELECT created_at AS "created_at!: i64" FROM leases WHERE id = $1
