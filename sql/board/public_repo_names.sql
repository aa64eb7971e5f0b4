-- The repositories whose boards anyone may read: public, not archived.
SELECT name AS "name!" FROM repos WHERE private = 0 AND archived_at IS NULL
