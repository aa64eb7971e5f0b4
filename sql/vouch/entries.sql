-- Every entry of repository $1's merged list, by login, then source and origin.
SELECT login AS "login!", vouched AS "vouched!: i64", denounced AS "denounced!: i64",
    details AS "details?", source AS "source!", origin AS "origin!"
FROM vouch_entries
WHERE repo_id = $1
ORDER BY login, source, origin
