-- Deliveries applied side by side (PostgreSQL; the same change for SQLite is in
-- migrations/sqlite).
--
-- A delivery waits only for the earlier pending deliveries it depends on, named by its lane,
-- taken from the payload when it is stored:
--   lane_repo          GitHub's id of the repository the event is about; NULL for an event that
--                      spans its installation (`installation`, `installation_repositories`) or
--                      names no repository;
--   lane_installation  the installation the delivery came through; NULL for a delivery that
--                      names none (`ping`), which waits for every earlier delivery and holds every
--                      later one (its lane_repo is NULL too).
-- Deliveries stored before this change have no lane: each waits for all before it, as they all
-- did, so an upgrade with a backlog applies it in the order it arrived.
ALTER TABLE gh_deliveries ADD COLUMN lane_installation BIGINT;
ALTER TABLE gh_deliveries ADD COLUMN lane_repo BIGINT;

-- The claim asks, for each candidate, whether an earlier pending delivery of its repository, of
-- its installation as a whole, or of no installation exists: each question is one probe of these.
CREATE INDEX gh_deliveries_pending_repo ON gh_deliveries (lane_repo, seq)
    WHERE state = 'pending';
CREATE INDEX gh_deliveries_pending_installation
    ON gh_deliveries (lane_installation, lane_repo, seq) WHERE state = 'pending';
