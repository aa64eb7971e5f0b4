-- One use of name $1 in the window starting at $2 (of $4 ms), counted only while the window holds
-- fewer than $3 uses: the one statement every count on the clock's windows runs.
INSERT INTO rate_counts (name, window_start, used, span) VALUES ($1, $2, 1, $4)
ON CONFLICT (name) DO UPDATE SET
    used = CASE WHEN rate_counts.window_start = excluded.window_start
        THEN rate_counts.used + 1 ELSE 1 END,
    window_start = excluded.window_start,
    span = excluded.span
WHERE rate_counts.window_start <> excluded.window_start OR rate_counts.used < $3
