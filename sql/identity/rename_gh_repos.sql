-- Repository $2 is named $1 now, in gh_repos.
UPDATE gh_repos SET repo = $1 WHERE repo = $2
