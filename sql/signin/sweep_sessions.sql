-- Forgets the sessions and tokens that expired before $1 (ms).
DELETE FROM signin_sessions WHERE expires_at < $1
