-- Gives back every delivery runner $1 claimed (the process is stopping).
UPDATE gh_deliveries SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1
