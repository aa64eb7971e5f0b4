//! Readiness: whether the database can be used now, asked with a real query under a short
//! timeout (`GET /readyz`). On SQLite the file must also still be the one the process opened:
//! a database moved or deleted under a running server keeps answering from the open file, and
//! what it writes then is lost. One probe runs at a time, and an answer serves every caller for a
//! second: callers of an open route never make the database do more than one query a second.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Store;
use super::engine::checked::checked_read;

/// How long the probe may take before the database counts as unusable.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one probe's answer serves.
const ANSWER_SERVES: Duration = Duration::from_secs(1);

/// What readiness keeps: the file opened (SQLite) and the last probe's answer.
#[derive(Debug, Default)]
pub(crate) struct Readiness {
    file: Option<OpenedFile>,
    last: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
}

impl Readiness {
    /// SQLite: `file` is the database file opened.
    pub(crate) fn new(file: Option<PathBuf>) -> Readiness {
        Readiness {
            file: file.map(OpenedFile::new),
            last: Default::default(),
        }
    }
}

/// The SQLite file a store opened: its path and what identifies it on the file system.
#[derive(Debug)]
struct OpenedFile {
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
    fn new(path: PathBuf) -> OpenedFile {
        let identity = identity(&path);
        OpenedFile { path, identity }
    }
}

impl Store {
    /// `Ok` when the database answers a query of the schema within [`PROBE_TIMEOUT`] (and, on
    /// SQLite, is still the file opened at start); otherwise why not, in words.
    pub async fn ready(&self) -> Result<(), String> {
        let mut last = self.readiness.last.lock().await;
        if let Some((at, answer)) = &*last
            && at.elapsed() < ANSWER_SERVES
        {
            return answer.clone();
        }
        let answer = self.probe().await;
        *last = Some((Instant::now(), answer.clone()));
        answer
    }

    async fn probe(&self) -> Result<(), String> {
        if let Some(file) = &self.readiness.file
            && identity(&file.path) != file.identity
        {
            return Err(format!(
                "the database file {} was moved or removed",
                file.path.display()
            ));
        }
        let probe = async { checked_read!(self, readiness::migrations_applied()) };
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
