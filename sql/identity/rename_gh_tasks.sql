-- Repository $2 is named $1 now, in gh_tasks.
UPDATE gh_tasks SET repo = $1 WHERE repo = $2
