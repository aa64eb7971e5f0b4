-- Forgets the counts of windows that ended before $1 (ms).
DELETE FROM rate_counts WHERE window_start + span < $1
