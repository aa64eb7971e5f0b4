//! Proposals that end for who their proposer is (contract section 14): an archived worker's, a
//! person's once the repository's vouch list denounces them, and a worker's once it is linked to
//! a person who already proposed on the same task; and the plans a link hands to its person.

use sqlx::AssertSqlSafe;

use crate::domain::proposals::ProposalState;
use crate::leases::claim_rules::{Condition, person_conditions};
use crate::{StoreError, WriteTx};

impl WriteTx {
    /// Ends the open proposals of worker `worker_id` (an archived worker's: nobody may act on
    /// them any more), each with its audit event; `reason` is kept on each.
    pub async fn end_proposals_of_worker(
        &mut self,
        worker_id: &str,
        reason: &str,
    ) -> Result<usize, StoreError> {
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM proposals WHERE worker_id = $1 AND state = 'open' ORDER BY seq",
        )
        .bind(worker_id)
        .fetch_all(self.conn())
        .await?;
        self.end_proposals(ids, reason).await
    }

    /// Ends the open proposals on repository `repo_id`'s tasks whose proposer its vouch list
    /// now denounces (the claim's own rule, [`person_conditions`]), each with its audit event.
    pub async fn end_denounced_proposals(&mut self, repo_id: i64) -> Result<usize, StoreError> {
        let (_, not_denounced) = person_conditions("p.worker_id", "0", "0")
            .into_iter()
            .find(|(c, _)| *c == Condition::NotDenounced)
            .expect("the person's rules include rule 12's denouncements");
        let sql = format!(
            "SELECT p.id FROM proposals p JOIN tasks t ON t.seq = p.task_seq \
             WHERE t.repo_id = $1 AND p.state = 'open' AND NOT {not_denounced} ORDER BY p.seq"
        );
        let ids: Vec<(String,)> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(repo_id)
            .fetch_all(self.conn())
            .await?;
        self.end_proposals(
            ids,
            "the repository does not take contributions from the proposer",
        )
        .await
    }

    /// Ends open proposals `ids` as withdrawn for `reason` (no reply on GitHub tells of it).
    async fn end_proposals(
        &mut self,
        ids: Vec<(String,)>,
        reason: &str,
    ) -> Result<usize, StoreError> {
        let mut ended = 0;
        for (id,) in ids {
            match self
                .end_proposal(&id, ProposalState::Withdrawn, Some(reason), "system")
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
    pub async fn proposals_to_person(
        &mut self,
        worker_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let Some(person) = self.person_of_worker(worker_id).await? else {
            return Ok(Vec::new());
        };
        let key = person.proposer_key();
        let twice: Vec<(String,)> = sqlx::query_as(
            "SELECT p.id FROM proposals p WHERE p.worker_id = $1 AND p.state = 'open' \
               AND p.proposer <> $2 AND EXISTS (SELECT 1 FROM proposals o \
                 WHERE o.task_seq = p.task_seq AND o.proposer = $2 AND o.state = 'open') \
             ORDER BY p.seq",
        )
        .bind(worker_id)
        .bind(&key)
        .fetch_all(self.conn())
        .await?;
        self.end_proposals(twice, "the person already has a plan for this issue")
            .await?;
        sqlx::query(
            "UPDATE proposals SET proposer = $1, login = $2 WHERE worker_id = $3 AND state = 'open'",
        )
        .bind(&key)
        .bind(&person.login)
        .bind(worker_id)
        .execute(self.conn())
        .await?;
        // The person's plans made through another worker stay theirs and move with them: the
        // worker that speaks for them now is approved for them and answers for them.
        let moved: Vec<(String,)> = sqlx::query_as(
            "SELECT t.id FROM proposals p JOIN tasks t ON t.seq = p.task_seq \
             WHERE p.proposer = $2 AND p.state IN ('open', 'approved') AND p.worker_id <> $1 \
             ORDER BY p.seq",
        )
        .bind(worker_id)
        .bind(&key)
        .fetch_all(self.conn())
        .await?;
        sqlx::query(
            "UPDATE proposals SET worker_id = $1 WHERE proposer = $2 \
             AND state IN ('open', 'approved') AND worker_id <> $1",
        )
        .bind(worker_id)
        .bind(&key)
        .execute(self.conn())
        .await?;
        Ok(moved.into_iter().map(|(t,)| t).collect())
    }
}
