-- A task's events in id order straight from the index: its first event, or the few before a
-- given one, without reading and sorting its whole history (the lead-time look-ups). SQLite's
-- `events_task` already orders them so: its entries end with the rowid, which is the event id.
DROP INDEX events_task;
CREATE INDEX events_task ON events (task_id, id) WHERE task_id IS NOT NULL;
