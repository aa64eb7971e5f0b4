-- A row `owp doctor` writes and rolls back, to prove that the database takes writes.
INSERT INTO settings (name, value) VALUES ('owp-doctor-probe', $1)
