-- The value kept under the name $1, if any.
SELECT value AS "value!" FROM shared_settings WHERE name = $1
