-- Repository $2 is named $1 now, in gh_linked_prs.
UPDATE gh_linked_prs SET repo = $1 WHERE repo = $2
