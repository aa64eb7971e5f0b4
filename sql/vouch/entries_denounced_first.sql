-- At most $2 entries of repository $1's merged list: its denouncements first, then by login,
-- source and origin.
SELECT login AS "login!", vouched AS "vouched!: i64", denounced AS "denounced!: i64",
    details AS "details?", source AS "source!", origin AS "origin!"
FROM vouch_entries
WHERE repo_id = $1
ORDER BY denounced DESC, login, source, origin
LIMIT $2
