-- Keeps $2 under $1, set at $3 (ms), unless a value is kept there already.
INSERT INTO shared_settings (name, value, set_at) VALUES ($1, $2, $3)
ON CONFLICT (name) DO NOTHING
