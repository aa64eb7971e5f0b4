-- A verified delivery $1 of event $2 with body $3 (its SHA-256 $4), received at $5 (ms), in the
-- lane of installation $6 and repository $7: nothing when its id, or the same signed body, was
-- stored before.
INSERT INTO gh_deliveries (delivery_id, event, body, body_sha256, received_at, next_attempt_at,
    lane_installation, lane_repo)
VALUES ($1, $2, $3, $4, $5, $5, $6, $7)
ON CONFLICT DO NOTHING
