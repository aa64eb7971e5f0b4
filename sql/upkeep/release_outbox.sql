-- Gives back every outbox row runner $1 claimed (the process is stopping).
UPDATE gh_outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1
