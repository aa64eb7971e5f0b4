-- Worker $2's link, made before account ids were kept, is to account $1, unless another link is.
UPDATE gh_links SET account_id = $1
WHERE worker_id = $2 AND account_id IS NULL
    AND NOT EXISTS (SELECT 1 FROM gh_links o WHERE o.account_id = $1)
