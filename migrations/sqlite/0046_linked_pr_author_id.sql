-- The GitHub account id of a linked pull request's author (contract section 14: a person is an
-- account id). Whether a pull request acts on a claimed task compares people by it, so that a new
-- account that took a freed login is someone else; links recorded before it was kept have none,
-- and are compared by login until GitHub sends the pull request again.
ALTER TABLE gh_linked_prs ADD COLUMN author_id INTEGER;
