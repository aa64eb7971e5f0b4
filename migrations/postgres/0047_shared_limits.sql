-- What a preview reads, and the limits every replica counts together.
--
-- The preview (`store::preview`) shows the first ready tasks in offer order, those that wait on
-- another task among them. The claim's index holds only the ready tasks that wait on nothing
-- (`tasks_ready_queue`), so the preview sorted every ready task to find its first: its cost grew
-- with the pool. It now reads the first of each index, at most its 50 tasks from each: this one
-- holds the ready tasks that wait, which a claim never touches.
CREATE INDEX tasks_ready_waiting ON tasks (priority DESC, seq) WHERE status = 'ready' AND waiting > 0;

-- The per-address and per-worker limits every replica counts together (`store::shared_limits`):
-- registrations and wrong credentials per address, previews per worker and per address. One row
-- per counted name, the uses of its current minute; a use is one conditional upsert.
CREATE TABLE rate_counts (
    name         TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    used         BIGINT NOT NULL
);
CREATE INDEX rate_counts_window ON rate_counts (window_start);

-- One held long poll per worker across replicas: the poll a worker began last, wherever it runs.
-- A poll that finds another named here ends (`http::leases`).
CREATE TABLE held_polls (
    worker_id TEXT PRIMARY KEY,
    holder    TEXT NOT NULL
);
