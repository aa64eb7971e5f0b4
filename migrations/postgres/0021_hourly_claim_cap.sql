-- A repository's hourly claim cap (`repos.claims_per_hour`), enforced where a lease is written.
--
-- The claim statement's own rule counts the last hour's leases in its snapshot; two claims that
-- start together both count the same number, and both used to take a task. This trigger counts
-- again when the lease row is inserted: it first locks the repository's row (which the claim
-- has already updated for its review budget, so a second claim of the same repository waits here
-- until the first commits), then counts in a statement of its own, which sees every lease
-- committed before it. A claim over the cap fails with the constraint name
-- `repos_claims_per_hour`; the store takes that as a lost race and claims again, and the new
-- snapshot's rule leaves the repository out.
--
-- SQLite needs no trigger: its writers are serialised, so the claim's count is already current.
CREATE FUNCTION owp_claims_per_hour() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    cap bigint;
    taken bigint;
BEGIN
    -- Without a cap nothing is locked or counted; a cap takes the row lock before the count.
    SELECT claims_per_hour INTO cap FROM repos WHERE id = NEW.repo_id;
    IF cap IS NULL THEN
        RETURN NEW;
    END IF;
    SELECT claims_per_hour INTO cap FROM repos WHERE id = NEW.repo_id FOR UPDATE;
    IF cap IS NULL THEN
        RETURN NEW;
    END IF;
    SELECT COUNT(*) INTO taken FROM leases
    WHERE repo_id = NEW.repo_id AND created_at > NEW.created_at - 3600000;
    IF taken >= cap THEN
        RAISE EXCEPTION 'the repository takes at most % new claims per hour', cap
            USING ERRCODE = 'check_violation', CONSTRAINT = 'repos_claims_per_hour';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER leases_claims_per_hour BEFORE INSERT ON leases
FOR EACH ROW EXECUTE FUNCTION owp_claims_per_hour();
