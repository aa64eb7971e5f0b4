-- Repository $1's `.github/owp.yml` read at $3 (ms) could not be used ($2): the settings in
-- force stay.
UPDATE gh_repos SET config_error = $2, config_checked_at = $3 WHERE repo = $1
