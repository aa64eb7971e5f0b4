-- A nack of a task whose repository has no clone URL is not the worker's outcome (PostgreSQL;
-- migrations/sqlite/0019_nack_without_clone_url.sql explains why).
--
-- PostgreSQL allows no subquery in a trigger's WHEN, so the repository is read in the function,
-- and only for a `lease.nacked` event. The trigger and its WHEN (0017_hot_path.sql) stay as they
-- are: a worker's own status moves still do not call the function at all.
--
-- The function is the one of 0012_reputation.sql with the `lease.nacked` branch changed.
CREATE OR REPLACE FUNCTION owp_record_outcome() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d jsonb;
    k text;
BEGIN
    IF NEW.worker_id IS NULL OR NEW.task_id IS NULL THEN
        RETURN NULL;
    END IF;
    d := NEW.data::jsonb;
    IF NEW.kind = 'lease.expired' THEN
        k := 'expired';
    ELSIF NEW.kind = 'lease.nacked' THEN
        -- The maintainers' gap: nothing to clone, so the give-back is not the worker's.
        IF NOT EXISTS (SELECT 1 FROM repos WHERE name = NEW.repo AND clone_url IS NULL) THEN
            k := 'nacked';
        END IF;
    ELSIF NEW.kind = 'task.status' AND NEW.actor NOT LIKE 'worker:%' THEN
        IF d->>'status' = 'merged' THEN
            k := 'merged';
        ELSIF d->>'from' = 'pr_opened' AND d->>'status' IN ('ready', 'cancelled') THEN
            k := 'closed_unmerged';
        END IF;
    END IF;
    IF k IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO outcomes (kind, task_id, lease_id, worker_id, repo_id, event_id, at)
    VALUES (k, NEW.task_id, COALESCE(d->>'lease_id', ''), NEW.worker_id,
            (SELECT id FROM repos WHERE name = NEW.repo), NEW.id, NEW.at)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
