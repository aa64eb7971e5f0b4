-- The App asked GitHub to redeliver delivery $1 (GitHub's attempt $2) at $3 (ms).
INSERT INTO gh_redeliveries (guid, attempt_id, requested_at) VALUES ($1, $2, $3)
ON CONFLICT (guid) DO NOTHING
