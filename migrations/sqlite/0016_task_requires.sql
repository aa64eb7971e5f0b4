-- Requirements on capabilities (contract section 8, rule 9 of the scheduling rules): a JSON object
-- of capability names to scalar values; a task is offered only to workers whose `capabilities`
-- hold every one of them with an equal value. The claim statements test it, so the rule is
-- enforced in the database. '{}' when the task requires nothing.
ALTER TABLE tasks ADD COLUMN requires TEXT NOT NULL DEFAULT '{}';
