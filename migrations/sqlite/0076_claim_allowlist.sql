-- `who_may_claim: {allowlist: […]}` read by every claim (contract section 14: a rule about
-- people holds on every path): the allowlist's logins, lower-case, joined by commas, written
-- from `.github/owp.yml` with the other settings the claim reads; NULL without an allowlist.
-- The claim matches it against the login GitHub last sent for the worker's person.
ALTER TABLE repos ADD COLUMN claim_allowlist TEXT;
