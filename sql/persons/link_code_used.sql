-- The link code of hash $1 was used at $2 (ms) by login $3.
UPDATE gh_link_codes SET used_at = $2, used_by = $3 WHERE code_hash = $1
