-- Why a vouch list is not (wholly) applied, for every repository with such a list: the
-- repository and the sentence, by repository, then list.
SELECT r.name AS "repo!", l.error AS "error!"
FROM vouch_lists l
JOIN repos r ON r.id = l.repo_id
WHERE l.error IS NOT NULL
ORDER BY r.name, l.origin
