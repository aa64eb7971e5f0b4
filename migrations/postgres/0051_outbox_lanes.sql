-- Writes to GitHub go out for many installations at once, one at a time within each
-- (PostgreSQL; the same change for the other backend is in migrations/sqlite).
--
-- A content-creating request reserved by a sender and not yet answered by GitHub is in flight
-- until `in_flight_until` (NULL once answered, or for a write that was only counted): no other
-- write of its installation goes out meanwhile, in any replica. A sender that dies mid-write
-- leaves it to run out, as its claim on the outbox row does.
ALTER TABLE gh_write_log ADD COLUMN in_flight_until BIGINT;

-- The outbox rows being sent (claimed), found per installation: a sender takes no row of an
-- installation another sender is writing for.
CREATE INDEX gh_outbox_claimed ON gh_outbox (installation_id, claimed_until) WHERE state = 'pending';
