//! Migrated SQLite files for the tests, the SQLite half of what `pg_scratch` does for PostgreSQL.
//!
//! A server or store opened on a new SQLite file runs every migration first, which took a debug
//! `owp serve` over half of its start. A test that only needs this build's schema gets a copy of
//! a template instead: one file per schema, migrated once per run by the first test that asks,
//! exactly as the store's own migrations leave an empty file. The tests of the migrations
//! themselves, and those of a first run on a missing file, keep creating theirs.

use std::path::{Path, PathBuf};

use sqlx::Connection;

use crate::pg_scratch;

/// Copies the migrated template into `to` (which must not exist yet), building the template
/// first if this run has none.
pub async fn migrated_copy(to: &Path) {
    let template = template().await;
    std::fs::copy(&template, to).unwrap_or_else(|e| {
        panic!(
            "copying the SQLite template {} to {}: {e}",
            template.display(),
            to.display()
        )
    });
}

/// The template file of this build's migrations under the test target's scratch directory. Its
/// name carries a digest of every migration's version and checksum, so a changed migration builds
/// a new one. Test processes that start together may each build one under a name of their own;
/// the rename that publishes it is atomic, so a template that exists is whole.
async fn template() -> PathBuf {
    let migrator = sqlx::migrate!("migrations/sqlite");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let name = format!("owp-sqlite-template-{}", pg_scratch::digest(&migrator));
    let path = dir.join(format!("{name}.db"));
    if path.exists() {
        return path;
    }
    std::fs::create_dir_all(dir).expect("the tests' scratch directory");
    let building = dir.join(format!("{name}-{}.building", uuid::Uuid::new_v4().simple()));
    // Owner-only, as the store creates a new database file (a copy keeps the permissions).
    owp::store::backup::create_owner_only(&building)
        .unwrap_or_else(|e| panic!("creating {}: {e}", building.display()));
    let url = format!("sqlite://{}", building.display());
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("opening {}: {e}", building.display()));
    migrator
        .run(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("the migrations on {} failed: {e}", building.display()));
    // The default rollback journal: when the connection is closed, the file is the whole database.
    conn.close().await.expect("closing the SQLite template");
    if std::fs::rename(&building, &path).is_err() {
        // Another process published its own first (a rename onto an existing file is refused on
        // some systems); theirs serves as well.
        let _ = std::fs::remove_file(&building);
        assert!(
            path.exists(),
            "the SQLite template {} is missing",
            path.display()
        );
    }
    path
}
