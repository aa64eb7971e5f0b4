-- take.sql in a window that begins at the name's first use ($2: now) rather than on the clock:
-- uses close together always share one window, wherever the minute turns.
INSERT INTO rate_counts (name, window_start, used, span) VALUES ($1, $2, 1, $4)
ON CONFLICT (name) DO UPDATE SET
    used = CASE WHEN rate_counts.window_start + rate_counts.span > excluded.window_start
        THEN rate_counts.used + 1 ELSE 1 END,
    window_start = CASE WHEN rate_counts.window_start + rate_counts.span > excluded.window_start
        THEN rate_counts.window_start ELSE excluded.window_start END,
    span = excluded.span
WHERE rate_counts.window_start + rate_counts.span <= excluded.window_start
    OR rate_counts.used < $3
