//! Vouch lists (contract section 12, rule 12; schema in `migrations/*/0036_vouch_lists.sql`):
//! the entries of a repository's own list, of the lists it imports, and of its maintainers'
//! commands, and the state of each list read. The claim reads them in SQL
//! (`leases::claim_rules`); nothing here decides a claim.

use serde_json::json;

use crate::composed;
use crate::domain::vouch::VouchEntry;
use crate::engine::checked::{checked_in_tx, checked_read};
use crate::{NewEvent, Store, StoreError, WriteTx};

/// Where an entry comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VouchSource {
    /// The repository's own `VOUCHED.td`.
    File,
    /// An imported repository's list (only its denouncements count).
    Import,
    /// A maintainer's `/owp vouch`, `/owp denounce`.
    Command,
}

impl VouchSource {
    pub fn as_str(self) -> &'static str {
        match self {
            VouchSource::File => "file",
            VouchSource::Import => "import",
            VouchSource::Command => "command",
        }
    }
}

/// What reading one list found.
#[derive(Clone, Debug)]
pub enum ListOutcome {
    /// The list at `path`, parsed; `error` names its lines that are not valid entries (shown to
    /// maintainers; the valid entries apply).
    Entries {
        path: String,
        entries: Vec<VouchEntry>,
        error: Option<String>,
    },
    /// The repository has no list: no entries.
    NoFile,
    /// The list is not valid or cannot be read: not applied (the previous entries stay, and a
    /// repository with `vouch.required` takes maintainers only until it is fixed).
    Invalid { path: String, error: String },
    /// GitHub did not answer: everything stays as it was.
    NoAnswer,
}

/// A maintainer's command about a login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VouchCommand {
    Vouch,
    Unvouch,
    Denounce,
}

/// One entry of a repository's merged list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VouchRow {
    pub login: String,
    pub vouched: bool,
    pub denounced: bool,
    pub details: Option<String>,
    pub source: String,
    /// The list it came from: the file's repository, an imported repository, or '' (command).
    pub origin: String,
}

/// One list a repository reads, and why it is not applied, if it is not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VouchListState {
    pub origin: String,
    pub path: Option<String>,
    pub error: Option<String>,
    /// When GitHub last answered for it (ms); `None`: never.
    pub read_at: Option<i64>,
}

/// A digest of a list's entries: a list read again unchanged writes nothing.
fn digest(entries: &[VouchEntry]) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for e in entries {
        hasher.update(e.login.as_bytes());
        hasher.update([u8::from(e.denounced)]);
        hasher.update(e.details.as_deref().unwrap_or("").as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

async fn repo_id(tx: &mut WriteTx, repo: &str) -> Result<Option<i64>, StoreError> {
    Ok(checked_in_tx!(tx.conn(), repos::id(repo))?)
}

/// Vouch lists, their entries and a maintainer's commands, read ([`Store::vouch`]).
pub struct Vouch<'s> {
    store: &'s Store,
}

/// Vouch lists inside a caller's write transaction ([`WriteTx::vouch`]).
pub struct VouchTx<'t> {
    tx: &'t mut WriteTx,
}

impl Store {
    /// The vouch lists' view of the store.
    pub fn vouch(&self) -> Vouch<'_> {
        Vouch { store: self }
    }
}

impl WriteTx {
    /// The vouch lists' view of this transaction.
    pub fn vouch(&mut self) -> VouchTx<'_> {
        VouchTx { tx: self }
    }
}

impl VouchTx<'_> {
    /// Why each vouch list of `repo` is not (wholly) applied, one sentence each.
    pub async fn list_errors_of(&mut self, repo: &str) -> Result<Vec<String>, StoreError> {
        Ok(checked_in_tx!(self.tx.conn(), vouch::errors_of(repo))?)
    }

    /// Records `vouch.trust` and `vouch.required` of `repo`'s settings.
    pub async fn set_settings(
        &mut self,
        repo: &str,
        trust: i64,
        required: bool,
    ) -> Result<(), StoreError> {
        let required = i64::from(required);
        checked_in_tx!(self.tx.conn(), vouch::set_settings(repo, trust, required))?;
        Ok(())
    }

    /// Forgets the lists of `repo` other than `origins` (an import no longer named), with their
    /// entries.
    pub async fn keep_lists(&mut self, repo: &str, origins: &[&str]) -> Result<(), StoreError> {
        let Some(id) = repo_id(self.tx, repo).await? else {
            return Ok(());
        };
        let known = checked_in_tx!(self.tx.conn(), vouch::origins(id))?;
        for origin in known.iter().filter(|o| !origins.contains(&o.as_str())) {
            checked_in_tx!(self.tx.conn(), vouch::forget_list(id, origin))?;
            checked_in_tx!(self.tx.conn(), vouch::forget_list_entries(id, origin))?;
        }
        Ok(())
    }

    /// Records one list of `repo` as read (see [`ListOutcome`]); an audit event when its entries
    /// or its error changed.
    pub async fn record_list(
        &mut self,
        repo: &str,
        origin: &str,
        source: VouchSource,
        outcome: &ListOutcome,
    ) -> Result<(), StoreError> {
        let Some(id) = repo_id(self.tx, repo).await? else {
            return Ok(());
        };
        let before = checked_in_tx!(self.tx.conn(), vouch::list_read(id, origin))?;
        let (path, entries, error): (Option<&str>, Option<&[VouchEntry]>, Option<&str>) =
            match outcome {
                ListOutcome::NoAnswer => {
                    if before.is_none() {
                        checked_in_tx!(self.tx.conn(), vouch::list_unanswered(id, origin))?;
                    }
                    return Ok(());
                }
                ListOutcome::NoFile => (None, Some(&[]), None),
                ListOutcome::Entries {
                    path,
                    entries,
                    error,
                } => (Some(path), Some(entries), error.as_deref()),
                ListOutcome::Invalid { path, error } => (Some(path), None, Some(error)),
            };
        let new_digest = entries.map(digest);
        let (old_digest, old_error) = before.clone().unwrap_or_default();
        let changed_entries = new_digest.is_some() && new_digest != old_digest;
        if let Some(entries) = entries.filter(|_| changed_entries) {
            // The account each login was resolved to stays with the login: a denounced account
            // that renamed itself since stays denounced when the list changes.
            let kind = source.as_str();
            let resolved: std::collections::HashMap<String, i64> =
                checked_in_tx!(self.tx.conn(), vouch::resolved_logins(id, kind, origin))?
                    .into_iter()
                    .collect();
            checked_in_tx!(self.tx.conn(), vouch::clear_entries(id, kind, origin))?;
            for e in entries {
                // An imported list's vouches do not count here: only its denouncements are kept.
                if source == VouchSource::Import && !e.denounced {
                    continue;
                }
                let (vouched, denounced) = (i64::from(!e.denounced), i64::from(e.denounced));
                let (details, now) = (e.details.as_deref(), self.tx.now);
                let account = resolved.get(&e.login).copied();
                checked_in_tx!(
                    self.tx.conn(),
                    vouch::add_entry(
                        id, kind, origin, &e.login, vouched, denounced, details, now, account
                    )
                )?;
            }
        }
        // An invalid list keeps the digest of the entries still applied.
        let kept_digest = new_digest.or(old_digest);
        let (now, digest) = (self.tx.now, kept_digest.as_deref());
        checked_in_tx!(
            self.tx.conn(),
            vouch::keep_list(id, origin, path, error, now, digest)
        )?;
        if changed_entries {
            // A person the list denounces now proposes nothing here any more.
            self.tx.proposals().end_denounced(id).await?;
        }
        if changed_entries || error != old_error.as_deref() || before.is_none() {
            self.tx.event(
                NewEvent::new("github.vouch_list_read", "github")
                    .repo(repo)
                    .data(json!({
                        "origin": origin,
                        "source": source.as_str(),
                        "path": path,
                        "entries": entries.map(<[VouchEntry]>::len),
                        "error": error,
                    })),
            );
        }
        Ok(())
    }

    /// Keeps the account ids GitHub gave for logins of `repo`'s entries (`GET /users/{login}`
    /// when a list was read): each entry of such a login not resolved yet is resolved for good.
    pub async fn resolve(
        &mut self,
        repo: &str,
        accounts: &[(String, i64)],
    ) -> Result<(), StoreError> {
        if accounts.is_empty() {
            return Ok(());
        }
        let Some(id) = repo_id(self.tx, repo).await? else {
            return Ok(());
        };
        for (login, account_id) in accounts {
            let login = login.to_ascii_lowercase();
            checked_in_tx!(
                self.tx.conn(),
                vouch::resolve_in_repo(id, &login, *account_id)
            )?;
        }
        // A denouncement now resolved to its account ends that person's plans here.
        self.tx.proposals().end_denounced(id).await?;
        Ok(())
    }

    /// GitHub just said that `login` names the account `account_id` (a delivery's sender, a
    /// proof of a link): every vouch entry of that login GitHub had not resolved yet is resolved
    /// to it, in every repository, without asking GitHub.
    pub async fn person_seen(&mut self, account_id: i64, login: &str) -> Result<(), StoreError> {
        let login = login.to_ascii_lowercase();
        checked_in_tx!(
            self.tx.conn(),
            vouch::resolve_everywhere(&login, account_id)
        )?;
        Ok(())
    }

    /// Closes `repo` to all but maintainers while a list it needs was never read or is not
    /// valid (read by the claim when `vouch.required` is set).
    pub async fn update_closed(&mut self, repo: &str) -> Result<(), StoreError> {
        checked_in_tx!(self.tx.conn(), vouch::update_closed(repo))?;
        Ok(())
    }

    /// A maintainer's `/owp vouch`, `/owp unvouch` or `/owp denounce` about `login` in `repo`,
    /// kept as the repository's command entry, with its audit event. Returns whether anything
    /// changed.
    pub async fn command(
        &mut self,
        repo: &str,
        login: &str,
        command: VouchCommand,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let Some(id) = repo_id(self.tx, repo).await? else {
            return Ok(false);
        };
        let login = login.to_ascii_lowercase();
        let changed = match command {
            VouchCommand::Unvouch => checked_in_tx!(self.tx.conn(), vouch::unvouch(id, &login))?,
            VouchCommand::Vouch | VouchCommand::Denounce => {
                let denounced = command == VouchCommand::Denounce;
                let (vouched, details) = (i64::from(!denounced), reason.filter(|_| denounced));
                let (denounced, now) = (i64::from(denounced), self.tx.now);
                checked_in_tx!(
                    self.tx.conn(),
                    vouch::command_entry(id, &login, vouched, denounced, details, now)
                )?
            }
        } > 0;
        if changed && command == VouchCommand::Denounce {
            self.tx.proposals().end_denounced(id).await?;
        }
        if changed {
            let kind = match command {
                VouchCommand::Vouch => "github.vouched",
                VouchCommand::Unvouch => "github.unvouched",
                VouchCommand::Denounce => "github.denounced",
            };
            self.tx.event(
                NewEvent::new(kind, actor)
                    .repo(repo)
                    .data(json!({"login": login})),
            );
        }
        Ok(changed)
    }

    /// Whether an entry of `repo` denounces the GitHub account `account_id` (now named `login`):
    /// an entry resolved to that account, or one GitHub has not resolved yet that names `login`
    /// (it fails closed). The App answers such a person at most once per issue.
    pub async fn denounces(
        &mut self,
        repo: &str,
        account_id: i64,
        login: &str,
    ) -> Result<bool, StoreError> {
        // The rule's own text (`person_sql::denouncing_entry`), for this account and login.
        let found: Option<i64> = composed::persons::denounces()
            .query_scalar()
            .bind(repo)
            .bind(account_id)
            .bind(login.to_ascii_lowercase())
            .fetch_optional(self.tx.conn())
            .await?;
        Ok(found.is_some())
    }
}

impl Vouch<'_> {
    /// Why each vouch list of `repo` is not (wholly) applied, one sentence each.
    pub async fn list_errors_of(&self, repo: &str) -> Result<Vec<String>, StoreError> {
        Ok(checked_read!(self.store, vouch::errors_of(repo))?)
    }

    /// Why a vouch list is not (wholly) applied, for every repository with such a list: (the
    /// repository, the sentence), by repository then list.
    pub async fn list_errors(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(checked_read!(self.store, vouch::list_errors())?)
    }

    /// The state of each list `repo` reads (none before it joins).
    pub async fn lists(&self, repo: &str) -> Result<Vec<VouchListState>, StoreError> {
        match self.repo_id(repo).await? {
            Some(id) => self.lists_of(id).await,
            None => Ok(Vec::new()),
        }
    }

    async fn lists_of(&self, id: i64) -> Result<Vec<VouchListState>, StoreError> {
        let lists = checked_read!(self.store, vouch::lists(id))?;
        Ok(lists
            .into_iter()
            .map(|(origin, path, error, read_at)| VouchListState {
                origin,
                path,
                error,
                read_at,
            })
            .collect())
    }

    /// The merged list of `repo` (every entry of every source, by login then source) and the
    /// state of each list it reads; `None` when the repository is not in the pool.
    pub async fn entries(
        &self,
        repo: &str,
    ) -> Result<Option<(Vec<VouchRow>, Vec<VouchListState>)>, StoreError> {
        let Some(id) = self.repo_id(repo).await? else {
            return Ok(None);
        };
        let rows = vouch_rows(checked_read!(self.store, vouch::entries(id))?);
        let lists = self.lists_of(id).await?;
        Ok(Some((rows, lists)))
    }

    /// At most `limit` entries of `repo`'s merged list, its denouncements first (then by login
    /// and source), with how many entries it has in all and the state of each list it reads;
    /// `None` when the repository is not in the pool.
    pub async fn entries_first(
        &self,
        repo: &str,
        limit: i64,
    ) -> Result<Option<(Vec<VouchRow>, i64, Vec<VouchListState>)>, StoreError> {
        let Some(id) = self.repo_id(repo).await? else {
            return Ok(None);
        };
        let total = checked_read!(self.store, vouch::entry_count(id))?;
        let rows = vouch_rows(checked_read!(
            self.store,
            vouch::entries_denounced_first(id, limit.max(0))
        )?);
        let lists = self.lists_of(id).await?;
        Ok(Some((rows, total, lists)))
    }

    /// The logins of `repo`'s entries, each with whether GitHub resolved it to an account id
    /// (what reading its lists again need not ask).
    pub async fn logins(
        &self,
        repo: &str,
    ) -> Result<std::collections::HashMap<String, bool>, StoreError> {
        let rows = checked_read!(self.store, vouch::logins(repo))?;
        Ok(rows.into_iter().map(|(l, r)| (l, r != 0)).collect())
    }

    async fn repo_id(&self, repo: &str) -> Result<Option<i64>, StoreError> {
        Ok(checked_read!(self.store, repos::id(repo))?)
    }
}

/// The entries of a merged list as `sql/vouch` gives them.
fn vouch_rows(rows: Vec<owp_sql_sqlite::vouch::EntryFields>) -> Vec<VouchRow> {
    rows.into_iter()
        .map(
            |(login, vouched, denounced, details, source, origin)| VouchRow {
                login,
                vouched: vouched != 0,
                denounced: denounced != 0,
                details,
                source,
                origin,
            },
        )
        .collect()
}
