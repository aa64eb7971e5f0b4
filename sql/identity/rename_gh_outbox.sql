-- Repository $2 is named $1 now, in gh_outbox.
UPDATE gh_outbox SET repo = $1 WHERE repo = $2
