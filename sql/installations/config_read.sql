-- Repository $1's `.github/owp.yml` read at $4 (ms): in force as $2 (JSON; none: the
-- defaults), with the error $3 if any.
UPDATE gh_repos SET config = $2, config_error = $3, config_checked_at = $4 WHERE repo = $1
