-- The claim's narrow queue in offer order as one ascending key, `(-priority, seq)`
-- (`claim_rules::OFFER_KEY`): the same order as `priority DESC, seq`, in a form a row comparison
-- can start a scan from. Workers claiming together pick one after the other in one statement;
-- each used to walk the queue from its head past the tasks the workers before it had picked
-- (half a batch on average, a row visit each). The pick now remembers how far the queue's head
-- is taken and starts each worker's scan there (`postgres_statement`, the pick's `past`).
DROP INDEX task_queue_offer;
CREATE INDEX task_queue_offer ON task_queue ((-priority), seq);
