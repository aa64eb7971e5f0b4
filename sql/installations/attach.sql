-- Repository $1 (GitHub's id $2, kept when none is given) is reached through installation $3
-- from $4 (ms), when it joins.
INSERT INTO gh_repos (repo, github_id, installation_id, joined_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (repo) DO UPDATE SET
    github_id = COALESCE(excluded.github_id, gh_repos.github_id),
    installation_id = excluded.installation_id, left_at = NULL,
    joined_at = CASE WHEN gh_repos.installation_id IS NULL THEN excluded.joined_at
        ELSE gh_repos.joined_at END
