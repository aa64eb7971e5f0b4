-- The hourly claim cap's recheck under the repository's row lock (replaces the function of
-- migration 0021; its trigger `leases_claims_per_hour` stays).
--
-- The rule itself is the claim's condition `HourlyRoom` (`store::leases::claim_rules::hourly_room`),
-- which every claim statement joins and every refusal is explained from. Read in the claim
-- statement's snapshot, two claims that start together both see the same count and both pass it.
-- So this trigger holds only what must be rechecked under a lock: when the lease row is written,
-- it locks the repository's row (which the claim has already updated for its review budget, so a
-- second claim of the same repository waits here until the first commits), then reads the same
-- condition again in a statement of its own, which sees every lease committed before it. The
-- condition below is a copy of that text, for the hour before the lease (a unit test of
-- `claim_rules` keeps the two equal). A claim it refuses fails with the constraint name
-- `repos_claims_per_hour`; the store takes that as a lost race and claims again, and the new
-- snapshot's condition leaves the repository out.
--
-- SQLite needs no trigger: its writers are serialised, so the claim's own condition is current.
CREATE OR REPLACE FUNCTION owp_claims_per_hour() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    cap bigint;
    room boolean;
BEGIN
    -- Without a cap nothing is locked or counted.
    SELECT claims_per_hour INTO cap FROM repos WHERE id = NEW.repo_id;
    IF cap IS NULL THEN
        RETURN NEW;
    END IF;
    -- The lock first, then the condition in a statement of its own: a statement that waited for
    -- the lock would still count in the snapshot it took before waiting.
    PERFORM 1 FROM repos WHERE id = NEW.repo_id FOR UPDATE;
    SELECT (r.claims_per_hour IS NULL OR r.claims_per_hour > (SELECT COUNT(*) FROM leases hl WHERE hl.repo_id = r.id AND hl.created_at > NEW.created_at - 3600000))
    INTO room FROM repos r WHERE r.id = NEW.repo_id;
    IF NOT room THEN
        RAISE EXCEPTION 'the repository takes at most % new claims per hour', cap
            USING ERRCODE = 'check_violation', CONSTRAINT = 'repos_claims_per_hour';
    END IF;
    RETURN NEW;
END;
$$;
