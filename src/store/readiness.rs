//! Readiness: whether the database can be used now, asked with a real query under a short
//! timeout (`GET /readyz`). On SQLite the file must also still be the one the process opened:
//! a database moved or deleted under a running server keeps answering from the open file, and
//! what it writes then is lost.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Store;

/// How long the probe may take before the database counts as unusable.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The SQLite file a store opened: its path and what identifies it on the file system.
#[derive(Debug)]
pub(crate) struct OpenedFile {
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

#[cfg(unix)]
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|_| (0, 0))
}

impl OpenedFile {
    pub(crate) fn new(path: PathBuf) -> OpenedFile {
        let identity = identity(&path);
        OpenedFile { path, identity }
    }
}

impl Store {
    /// `Ok` when the database answers a query of the schema within [`PROBE_TIMEOUT`] (and, on
    /// SQLite, is still the file opened at start); otherwise why not, in words.
    pub async fn ready(&self) -> Result<(), String> {
        if let Some(file) = &self.opened_file
            && identity(&file.path) != file.identity
        {
            return Err(format!(
                "the database file {} was moved or removed",
                file.path.display()
            ));
        }
        let probe = sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&self.read);
        match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("the database does not answer: {e}")),
            Err(_) => Err(format!(
                "the database did not answer within {} s",
                PROBE_TIMEOUT.as_secs()
            )),
        }
    }
}
