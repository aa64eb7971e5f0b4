-- An outcome is credited to a worker (`outcomes.worker_id`): a merge may be credited to the
-- author of the pull request rather than to the worker that held the lease. The outcome belongs
-- to the person of the credited worker; the lease's person is the fallback for a worker that
-- speaks for nobody. Rows written before are corrected where the credited worker was not the
-- lease's.
DROP TRIGGER outcomes_person;
CREATE TRIGGER outcomes_person AFTER INSERT ON outcomes WHEN NEW.person_id IS NULL
BEGIN
    UPDATE outcomes SET person_id = COALESCE(
        (SELECT w.github_account_id FROM workers w WHERE w.id = NEW.worker_id),
        (SELECT l.person_id FROM leases l WHERE l.id = NEW.lease_id))
     WHERE kind = NEW.kind AND task_id = NEW.task_id AND lease_id = NEW.lease_id;
END;

UPDATE outcomes SET person_id = (SELECT w.github_account_id FROM workers w WHERE w.id = outcomes.worker_id)
 WHERE EXISTS (SELECT 1 FROM leases l WHERE l.id = outcomes.lease_id AND l.worker_id <> outcomes.worker_id)
   AND (SELECT w.github_account_id FROM workers w WHERE w.id = outcomes.worker_id) IS NOT NULL;
