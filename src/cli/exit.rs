//! How an `owp` command ends when something outside it fails: a reader that closed its pipe
//! early (`owp conformance --list | head -5`) ends the command quietly (the conformance crate's
//! [`owp_conformance::closed_pipe`], which its own command uses too), and an error is one plain
//! line saying what to do.

use std::path::Path;

use super::present::plain;
use crate::config::ServeConfig;

/// The line printed for a command's error: its message (with causes), made [`plain`] so a
/// server's text cannot drive the terminal.
pub fn error_line(e: &anyhow::Error) -> String {
    plain(&format!("error: {e:#}")).into_owned()
}

/// `owp serve`'s start-up error in words a newcomer can act on, where the library's own is
/// obscure: SQLite's "(code: 14) unable to open database file" for a database in a folder that
/// does not exist.
pub fn explain_serve_error(e: anyhow::Error, config: &ServeConfig) -> anyhow::Error {
    let sqlite_cannot_open = config.database_url.is_none()
        && e.chain()
            .any(|cause| cause.to_string().contains("unable to open database file"));
    if !sqlite_cannot_open {
        return e;
    }
    let db = &config.db;
    match db.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(folder) if !folder.is_dir() => anyhow::anyhow!(
            "cannot create the database {}: the folder {} does not exist (create it, or pass --db with a file in an existing folder)",
            db.display(),
            folder.display()
        ),
        parent => anyhow::anyhow!(
            "cannot open the database {}: check that {} may be written by this user (or pass --db with another file)",
            db.display(),
            parent.unwrap_or(Path::new(".")).display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_carry_no_terminal_controls() {
        let e = anyhow::anyhow!("Bad title \u{1b}]0;owned\u{7}: \u{1b}[2Jcleared");
        assert_eq!(error_line(&e), "error: Bad title ]0;owned: [2Jcleared");
    }
}
