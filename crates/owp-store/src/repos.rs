//! Repository policies.

use serde_json::{Map, Value, json};

use super::composed;
use super::engine::checked::checked_in_tx;
use super::rows::RepoRow;
use super::{NewEvent, Store, StoreError, WriteTx};
use crate::domain::Visibility;
use crate::domain::contract::{RepoContract, validate_clone_url};
use crate::domain::limits;
use crate::domain::proposals::{self, Approval, ApprovalPolicy};

/// Who changes a repository's policy, which decides what the change may do besides the policy
/// itself (contract sections 10 and 13).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Steering {
    /// The operator (the admin token; the service's own tools): sets any visibility, even
    /// against GitHub's answer, and brings an archived repository back.
    #[default]
    Operator,
    /// A maintainer signed in with GitHub: makes a board public only when GitHub says the
    /// repository is public, and brings back only a repository a maintainer archived
    /// (`403 not_allowed` otherwise).
    Maintainer,
    /// The repository's own `.github/owp.yml`: changes the policy only; an archived repository
    /// stays archived.
    RepoFile,
    /// The GitHub App, joining a repository: the visibility given is GitHub's answer.
    Github,
}

/// What an admin (or a repo's config file) sets on a repository.
#[derive(Clone, Debug, Default)]
pub struct RepoUpsert {
    pub name: String,
    pub max_open_prs: i64,
    pub area_locks_enabled: Option<bool>,
    pub extensions: Map<String, Value>,
    /// `None`: keep the current contract; `Some(None)`: remove it.
    pub contract: Option<Option<RepoContract>>,
    /// `None`: keep the current clone URL; `Some(None)`: remove it.
    pub clone_url: Option<Option<String>>,
    /// Who asks (the operator unless said otherwise).
    pub by: Steering,
    /// Plan first (rule 11): `None` keeps the current value of each.
    pub approval: Option<Approval>,
    /// `Some(None)`: nobody skips the plan.
    pub approval_skip_trust: Option<Option<i64>>,
    pub proposal_days: Option<i64>,
}

/// The board's visibility after `by` asks for `wanted` (`None`: keep it) on `old` (`None`: a new
/// repository, private until someone says otherwise), as `(private, pinned)`: a choice that
/// differs from GitHub's answer is pinned, so that GitHub's unchanged answer does not undo it.
/// Only the operator makes public what GitHub has not said is public.
fn chosen_visibility(
    old: Option<&RepoRow>,
    wanted: Option<Visibility>,
    by: Steering,
) -> Result<(bool, bool), StoreError> {
    let (private_now, pinned_now, github) = match old {
        Some(r) => (r.private, r.visibility_pinned, r.github_private),
        None => (true, false, None),
    };
    let Some(wanted) = wanted else {
        return Ok((private_now, pinned_now));
    };
    let private = wanted.is_private();
    if by == Steering::Github {
        let pinned = pinned_now && github == Some(private);
        return Ok((if pinned { private_now } else { private }, pinned));
    }
    if by != Steering::Operator && !private && private_now && github != Some(false) {
        return Err(StoreError::forbidden(
            "not_allowed",
            "GitHub says this repository is private (or has not said it is public): only the \
             operator (the admin token) may make its board public",
        ));
    }
    Ok((private, github.is_some_and(|g| g != private)))
}

/// Whether the change brings `old` back from its archive: the operator's does; a maintainer's
/// only when a maintainer archived it (`403 not_allowed` otherwise); a repository file's never.
fn unarchives(old: &RepoRow, by: Steering) -> Result<bool, StoreError> {
    if !old.archived {
        return Ok(false);
    }
    match by {
        Steering::Operator => Ok(true),
        Steering::RepoFile | Steering::Github => Ok(false),
        Steering::Maintainer
            if old
                .archived_by
                .as_deref()
                .is_some_and(|a| a.starts_with("github:")) =>
        {
            Ok(true)
        }
        Steering::Maintainer => Err(StoreError::forbidden(
            "not_allowed",
            "the operator archived this repository: only the operator (the admin token) may \
             bring it back",
        )),
    }
}

/// Repositories, read: by name, all; each change in a transaction of its own ([`Store::repos`]).
pub struct Repos<'s> {
    store: &'s Store,
}

/// Repositories inside a caller's write transaction: joined, their approval, contract, clone
/// address and visibility ([`WriteTx::repos`]).
pub struct ReposTx<'t> {
    tx: &'t mut WriteTx,
}

impl Store {
    /// The view of the store named by [`Repos`].
    pub fn repos(&self) -> Repos<'_> {
        Repos { store: self }
    }
}

impl WriteTx {
    /// The view of this transaction named by [`ReposTx`].
    pub fn repos(&mut self) -> ReposTx<'_> {
        ReposTx { tx: self }
    }
}

impl ReposTx<'_> {
    /// Creates or updates a repository policy. Returns the row and whether it was created. A new
    /// repository is private; an existing one keeps its visibility.
    pub async fn upsert(
        &mut self,
        input: &RepoUpsert,
        actor: &str,
    ) -> Result<(RepoRow, bool), StoreError> {
        self.upsert_with(input, None, actor).await
    }

    /// [`ReposTx::upsert`] that also sets the repository's visibility when one is given.
    pub async fn upsert_with(
        &mut self,
        input: &RepoUpsert,
        visibility: Option<Visibility>,
        actor: &str,
    ) -> Result<(RepoRow, bool), StoreError> {
        if input.name.trim().is_empty() {
            return Err(StoreError::invalid(
                "invalid_repo",
                "`repo` must not be empty",
            ));
        }
        limits::text("repo", &input.name, limits::MAX_KEY_CHARS)?;
        // The upper bound of `max_open_prs` is the API's (see `http::admin`); tools of the
        // service itself (the benchmark) may set larger budgets.
        limits::range(
            "max_open_prs",
            "invalid_max_open_prs",
            input.max_open_prs,
            (limits::MAX_OPEN_PRS.0, i64::MAX),
        )?;
        if let Some(Some(contract)) = &input.contract {
            contract
                .validate("contract")
                .map_err(|e| StoreError::invalid("invalid_contract", e.to_string()))?;
        }
        proposals::check_skip_trust(input.approval_skip_trust.flatten())?;
        if let Some(days) = input.proposal_days {
            proposals::check_proposal_days(days)?;
        }
        if let Some(Some(url)) = &input.clone_url {
            validate_clone_url(url)
                .map_err(|e| StoreError::invalid("invalid_clone_url", e.to_string()))?;
        }
        let now = self.tx.now;
        let existing = self.by_name(&input.name).await?;
        let created = existing.is_none();
        let (private, pinned) = chosen_visibility(existing.as_ref(), visibility, input.by)?;
        let github_said = (input.by == Steering::Github)
            .then(|| visibility.map(|v| i64::from(v.is_private())))
            .flatten();
        match &existing {
            None => {
                let locks = i64::from(input.area_locks_enabled.unwrap_or(true));
                let (private, pinned) = (i64::from(private), i64::from(pinned));
                let ext = Value::Object(input.extensions.clone()).to_string();
                checked_in_tx!(
                    self.tx.conn(),
                    repos::create(
                        &input.name,
                        input.max_open_prs,
                        locks,
                        private,
                        pinned,
                        github_said,
                        &ext,
                        now
                    )
                )?;
            }
            Some(old) => {
                let mut ext = old.extensions.clone();
                ext.extend(input.extensions.clone());
                let locks = input.area_locks_enabled.unwrap_or(old.area_locks_enabled);
                let back = unarchives(old, input.by)?;
                let (private, pinned) = (i64::from(private), i64::from(pinned));
                let ext = Value::Object(ext).to_string();
                checked_in_tx!(
                    self.tx.conn(),
                    repos::update(
                        old.id,
                        input.max_open_prs,
                        i64::from(locks),
                        private,
                        pinned,
                        &ext,
                        now,
                        back,
                        github_said
                    )
                )?;
                if locks != old.area_locks_enabled {
                    self.reset_area_locks(old.id, locks).await?;
                }
            }
        }
        if let Some(contract) = &input.contract {
            self.set_contract(&input.name, contract.as_ref()).await?;
        }
        if let Some(url) = &input.clone_url {
            let url = url.as_deref().map(str::trim);
            checked_in_tx!(self.tx.conn(), repos::set_clone_url(&input.name, url))?;
        }
        if input.approval.is_some()
            || input.approval_skip_trust.is_some()
            || input.proposal_days.is_some()
        {
            let old = existing.as_ref().map(|r| r.approval).unwrap_or_default();
            let policy = ApprovalPolicy {
                approval: input.approval.unwrap_or(old.approval),
                skip_trust: input.approval_skip_trust.unwrap_or(old.skip_trust),
                proposal_days: input.proposal_days.unwrap_or(old.proposal_days),
            };
            self.set_approval(&input.name, &policy).await?;
        }
        let row = self
            .by_name(&input.name)
            .await?
            .ok_or_else(|| StoreError::not_found("repo_not_found", "repo vanished"))?;
        self.tx.event(
            NewEvent::new(
                if created {
                    "repo.created"
                } else {
                    "repo.updated"
                },
                actor,
            )
            .repo(&row.name)
            .data(json!({
                "max_open_prs": row.max_open_prs,
                "area_locks_enabled": row.area_locks_enabled,
                "visibility": Visibility::from_private(row.private).as_str(),
            })),
        );
        Ok((row, created))
    }

    /// Stores a repository's approval policy (rule 11), from its `.github/owp.yml` or its REST
    /// policy.
    pub async fn set_approval(
        &mut self,
        name: &str,
        policy: &ApprovalPolicy,
    ) -> Result<(), StoreError> {
        let (approval, skip, days) = (
            policy.approval.as_str(),
            policy.skip_trust,
            policy.proposal_days,
        );
        checked_in_tx!(
            self.tx.conn(),
            repos::set_approval(name, approval, skip, days)
        )?;
        Ok(())
    }

    /// Stores a repository's contract (`None` removes it; an empty one is stored as none).
    pub async fn set_contract(
        &mut self,
        name: &str,
        contract: Option<&RepoContract>,
    ) -> Result<(), StoreError> {
        let text = contract
            .filter(|c| !c.is_empty())
            .map(|c| serde_json::to_string(c).unwrap_or_default());
        checked_in_tx!(self.tx.conn(), repos::set_contract(name, text.as_deref()))?;
        Ok(())
    }

    /// Gives a repository the clone URL `url` unless it already has one.
    pub async fn default_clone_url(&mut self, name: &str, url: &str) -> Result<(), StoreError> {
        checked_in_tx!(self.tx.conn(), repos::default_clone_url(name, url))?;
        Ok(())
    }

    /// Records what GitHub said of a repository's visibility, and the board follows it unless a
    /// person's choice is pinned against GitHub's unchanged answer (a new answer ends the pin).
    /// True when the board's visibility changed; an unknown repository is left alone.
    pub async fn set_visibility(
        &mut self,
        name: &str,
        visibility: Visibility,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let Some(repo) = self.by_name(name).await? else {
            return Ok(false);
        };
        let said = visibility.is_private();
        let (private, pinned) = chosen_visibility(Some(&repo), Some(visibility), Steering::Github)?;
        if repo.github_private == Some(said)
            && private == repo.private
            && pinned == repo.visibility_pinned
        {
            return Ok(false);
        }
        let (private_now, said_now) = (i64::from(private), i64::from(said));
        let (pinned_now, now) = (i64::from(pinned), self.tx.now);
        checked_in_tx!(
            self.tx.conn(),
            repos::set_visibility(repo.id, private_now, said_now, pinned_now, now)
        )?;
        let changed = private != repo.private;
        if changed {
            self.tx.event(
                NewEvent::new("repo.updated", actor)
                    .repo(name)
                    .data(json!({"visibility": Visibility::from_private(private).as_str()})),
            );
        }
        Ok(changed)
    }

    /// Turning area locks on gives each area's oldest in-flight task the lock; turning them off
    /// drops every lock of the repo.
    async fn reset_area_locks(&mut self, repo_id: i64, enabled: bool) -> Result<(), StoreError> {
        composed::repos::area_locks(enabled)
            .query()
            .bind(repo_id)
            .execute(self.tx.conn())
            .await?;
        Ok(())
    }

    pub async fn by_name(&mut self, name: &str) -> Result<Option<RepoRow>, StoreError> {
        let row = composed::repos::by_name()
            .query()
            .bind(name)
            .fetch_optional(self.tx.conn())
            .await?;
        row.as_ref().map(RepoRow::decode).transpose()
    }
}

impl Repos<'_> {
    pub async fn get(&self, name: &str) -> Result<Option<RepoRow>, StoreError> {
        let row = composed::repos::by_name()
            .query()
            .bind(name)
            .fetch_optional(&self.store.read)
            .await?;
        row.as_ref().map(RepoRow::decode).transpose()
    }

    pub async fn all(&self) -> Result<Vec<RepoRow>, StoreError> {
        let rows = composed::repos::all()
            .query()
            .fetch_all(&self.store.read)
            .await?;
        rows.iter().map(RepoRow::decode).collect()
    }

    /// Creates or updates a repository policy in its own transaction.
    pub async fn upsert(
        &self,
        input: &RepoUpsert,
        actor: &str,
    ) -> Result<(RepoRow, bool), StoreError> {
        self.upsert_with(input, None, actor).await
    }

    /// [`Repos::upsert`] that also sets the repository's visibility when one is given.
    pub async fn upsert_with(
        &self,
        input: &RepoUpsert,
        visibility: Option<Visibility>,
        actor: &str,
    ) -> Result<(RepoRow, bool), StoreError> {
        self.store
            .write_upsert(|mut tx| async move {
                let r = tx.repos().upsert_with(input, visibility, actor).await;
                (tx, r)
            })
            .await
    }
}
