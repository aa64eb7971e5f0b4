-- Forgets the sign-ins that expired before $1 (ms).
DELETE FROM signin_flows WHERE expires_at < $1
