-- Specialist workers and archived repositories and workers.
--
-- `specialist`: the worker is offered only tasks that require at least one of its skills (a task
-- that requires none is not offered to it). The conformance runner registers its workers so, and
-- they never take a real task of a server in use. The claim statements test it, with rule 3.
ALTER TABLE workers ADD COLUMN specialist INTEGER NOT NULL DEFAULT 0;

-- `archived_at` (ms since the epoch, NULL while in use): an admin archived the worker (its token
-- no longer works, it is paused and holds nothing) or the repository (its open tasks were
-- cancelled; it held no leases and no opened pull requests). Archived ones are left out of the
-- admin state, the dashboard and the public board; the rows stay, since events and outcomes name
-- them. Adding an archived repository again (`POST /v1/admin/repos`) brings it back.
ALTER TABLE workers ADD COLUMN archived_at INTEGER;
ALTER TABLE repos ADD COLUMN archived_at INTEGER;
