-- An outcome is credited to a worker (`outcomes.worker_id`): a merge may be credited to the
-- author of the pull request rather than to the worker that held the lease. The outcome belongs
-- to the person of the credited worker; the lease's person is the fallback for a worker that
-- speaks for nobody. Rows written before are corrected where the credited worker was not the
-- lease's.
CREATE OR REPLACE FUNCTION owp_outcome_person() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.person_id IS NULL THEN
        NEW.person_id := COALESCE(
            (SELECT w.github_account_id FROM workers w WHERE w.id = NEW.worker_id),
            (SELECT l.person_id FROM leases l WHERE l.id = NEW.lease_id));
    END IF;
    RETURN NEW;
END;
$$;

UPDATE outcomes SET person_id = w.github_account_id
  FROM workers w, leases l
 WHERE w.id = outcomes.worker_id AND l.id = outcomes.lease_id
   AND l.worker_id <> outcomes.worker_id AND w.github_account_id IS NOT NULL;
