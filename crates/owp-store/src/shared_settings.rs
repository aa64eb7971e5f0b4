//! Settings every replica of one pool shares (`shared_settings`, migration 0063): what one replica
//! makes once and the others must find, where no environment file of one machine can hold it.
//! A value is kept by the first replica that writes it; a replica that comes second reads the
//! first one's.

use super::engine::checked::{checked_read, checked_write};
use super::{Backend, Store, StoreError, now_ms};

/// The SHA-256 digest (hex) of the admin token a first start on PostgreSQL generated, or
/// [`RETIRED`] once `OWP_ADMIN_TOKEN` replaced it.
pub const ADMIN_TOKEN_DIGEST: &str = "admin_token_sha256";
/// What is kept in place of a retired value: the value itself is gone, and no replica may
/// generate a new one in its place.
pub const RETIRED: &str = "retired";
/// The key of the GitHub App setup page (`/github/setup?key=…`).
pub const SETUP_KEY: &str = "github_setup_key";
/// The GitHub App's credentials, as the setup page saved them (JSON).
pub const GITHUB_APP: &str = "github_app";

/// The settings every replica of one pool shares ([`Store::shared_settings`]).
pub struct SharedSettings<'s> {
    store: &'s Store,
}

impl Store {
    /// The view of the store named by [`SharedSettings`].
    pub fn shared_settings(&self) -> SharedSettings<'_> {
        SharedSettings { store: self }
    }
}

impl SharedSettings<'_> {
    /// Whether the replicas of this pool may be several processes on other machines (PostgreSQL),
    /// so that what they share must be kept in the database rather than in a file.
    pub fn is_shared(&self) -> bool {
        matches!(self.store.backend, Backend::Postgres)
    }

    /// The value kept under `name`, if any.
    pub async fn get(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(checked_read!(self.store, shared_settings::value(name))?)
    }

    /// Replaces the value kept under `name` with `value` if it is still `expected` (another
    /// replica may have replaced it first); whether this call replaced it.
    pub async fn replace(
        &self,
        name: &str,
        expected: &str,
        value: &str,
    ) -> Result<bool, StoreError> {
        let done = checked_write!(
            self.store,
            shared_settings::replace(value, now_ms(), name, expected)
        )?;
        Ok(done == 1)
    }

    /// Keeps `value` under `name` unless a value is kept there already, and returns the value
    /// kept: `value` itself when this call wrote it, else the one another replica wrote first.
    pub async fn keep(&self, name: &str, value: &str) -> Result<String, StoreError> {
        checked_write!(self.store, shared_settings::keep(name, value, now_ms()))?;
        let kept = checked_read!(self.store, shared_settings::value(name))?;
        kept.ok_or_else(|| StoreError::Config(format!("the shared setting {name} was removed")))
    }
}
