-- Worker $1's own trust level is $2.
UPDATE workers SET trust_level = $2 WHERE id = $1
