//! Proposals that end for who their proposer is (contract section 14): an archived worker's, a
//! person's once the repository's vouch list denounces them, and a worker's once it is linked to
//! a person who already proposed on the same task; and the plans a link hands to its person.

use super::ProposalsTx;
use crate::StoreError;
use crate::composed;
use crate::domain::proposals::ProposalState;
use crate::engine::checked::checked_in_tx;

impl ProposalsTx<'_> {
    /// Ends the open proposals of worker `worker_id` (an archived worker's: nobody may act on
    /// them any more), each with its audit event; `reason` is kept on each.
    pub async fn end_of_worker(
        &mut self,
        worker_id: &str,
        reason: &str,
    ) -> Result<usize, StoreError> {
        let ids = checked_in_tx!(self.tx.conn(), proposals::open_of_worker(worker_id))?;
        self.end_all(ids, reason).await
    }

    /// Ends the open proposals on repository `repo_id`'s tasks whose proposer its vouch list
    /// now denounces (the claim's own rule), each with its audit event.
    pub async fn end_denounced(&mut self, repo_id: i64) -> Result<usize, StoreError> {
        let ids: Vec<(String,)> = composed::proposals::denounced()
            .query_as()
            .bind(repo_id)
            .fetch_all(self.tx.conn())
            .await?;
        self.end_all(
            ids.into_iter().map(|(id,)| id).collect(),
            "the repository does not take contributions from the proposer",
        )
        .await
    }

    /// Ends open proposals `ids` as withdrawn for `reason` (no reply on GitHub tells of it).
    async fn end_all(&mut self, ids: Vec<String>, reason: &str) -> Result<usize, StoreError> {
        let mut ended = 0;
        for id in ids {
            match self
                .end(&id, ProposalState::Withdrawn, Some(reason), "system")
                .await
            {
                Ok(_) => ended += 1,
                // Past its days already: the sweep ends it as expired.
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ended)
    }

    /// Worker `worker_id` was just linked to a person: its open proposals become the person's
    /// (contract section 14), counted and named as theirs. Where the person already has an open
    /// proposal on the same task, the worker's ends (a person proposes once per task). Returns
    /// the tasks whose plans of the person moved here from another worker of theirs.
    pub async fn to_person(&mut self, worker_id: &str) -> Result<Vec<String>, StoreError> {
        let Some(person) = self.tx.person_links().person_of_worker(worker_id).await? else {
            return Ok(Vec::new());
        };
        let key = person.proposer_key();
        let twice = checked_in_tx!(self.tx.conn(), proposals::twice(worker_id, &key))?;
        self.end_all(twice, "the person already has a plan for this issue")
            .await?;
        checked_in_tx!(
            self.tx.conn(),
            proposals::to_person(&key, &person.login, worker_id)
        )?;
        // The person's plans made through another worker stay theirs and move with them: the
        // worker that speaks for them now is approved for them and answers for them.
        let moved = checked_in_tx!(self.tx.conn(), proposals::moved(worker_id, &key))?;
        checked_in_tx!(self.tx.conn(), proposals::move_to(worker_id, &key))?;
        Ok(moved)
    }
}
