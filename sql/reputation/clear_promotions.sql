-- Forgets repository $1's (its id) promotion rules.
DELETE FROM repo_promotions WHERE repo_id = $1
