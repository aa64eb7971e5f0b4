-- What a preview reads, and the limits every replica counts together.
--
-- The preview (`store::preview`) shows the first ready tasks in offer order, those that wait on
-- another task among them. The claim's index holds only the ready tasks that wait on nothing
-- (`tasks_ready_queue`), so the preview sorted every ready task to find its first: its cost grew
-- with the pool. It now reads the first of each index, at most its 50 tasks from each: this one
-- holds the ready tasks that wait, which a claim never touches.
CREATE INDEX tasks_ready_waiting ON tasks (priority DESC, seq) WHERE status = 'ready' AND waiting > 0;
