-- Repository $1's `.github/owp.yml` is read again at its next delivery or reconciliation.
UPDATE gh_repos SET config_checked_at = 0 WHERE repo = $1
