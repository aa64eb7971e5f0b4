-- GitHub asked installation $1 to wait: no request of it before $2 (ms), or a later time it
-- was given.
UPDATE gh_installations
SET blocked_until = CASE WHEN blocked_until < $2 THEN $2 ELSE blocked_until END
WHERE id = $1
