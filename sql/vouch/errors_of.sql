-- Why each list repository $1 reads is not (wholly) applied, by list.
SELECT l.error AS "error!"
FROM vouch_lists l
JOIN repos r ON r.id = l.repo_id
WHERE r.name = $1 AND l.error IS NOT NULL
ORDER BY l.origin
