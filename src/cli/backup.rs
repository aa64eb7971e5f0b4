//! `owp backup` and `owp restore`: an SQLite database copied while `owp serve` runs, and written
//! back where none is (see README, "Backup and restore"). PostgreSQL has its own tools, named in
//! the refusal.

use std::path::PathBuf;

use clap::Args;

use crate::store::backup::{Copied, sqlite_backup, sqlite_restore};

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The SQLite database `owp serve` uses (it may be serving).
    #[arg(long, env = "OWP_DB", default_value = "./owp.db")]
    pub db: PathBuf,
    /// A PostgreSQL database: refused, with the `pg_dump` command that backs it up.
    #[arg(long, env = "OWP_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The backup file to write (it must not exist; created owner-only).
    #[arg(long)]
    pub to: PathBuf,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The backup file `owp backup` wrote.
    #[arg(long)]
    pub from: PathBuf,
    /// Where the database is written: no database (nor its -wal file) may be there.
    #[arg(long, env = "OWP_DB", default_value = "./owp.db")]
    pub db: PathBuf,
    /// A PostgreSQL database: refused, with the `pg_restore` command that restores it.
    #[arg(long, env = "OWP_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

const POSTGRES: &str = "this is for SQLite; back up PostgreSQL with `pg_dump --format=custom \
    --file=owp.dump \"$OWP_DATABASE_URL\"` and restore into an empty database with \
    `pg_restore --no-owner --dbname=\"$OWP_DATABASE_URL\" owp.dump` (README: Backup and restore)";

fn postgres(url: Option<&str>) -> anyhow::Result<()> {
    match url {
        Some(url) if !url.trim().is_empty() => anyhow::bail!("{POSTGRES}"),
        _ => Ok(()),
    }
}

fn summary(c: &Copied) -> String {
    format!(
        "{:.1} MB, schema {}, in {:.2} s",
        c.bytes as f64 / 1e6,
        c.schema,
        c.took.as_secs_f64()
    )
}

pub fn backup(args: BackupArgs) -> anyhow::Result<()> {
    postgres(args.database_url.as_deref())?;
    let copied = sqlite_backup(&args.db, &args.to)?;
    println!(
        "backed up {} to {}: {}. Keep env.local (the admin token, the GitHub App's key and \
         secrets) with it.",
        args.db.display(),
        args.to.display(),
        summary(&copied)
    );
    Ok(())
}

pub fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    postgres(args.database_url.as_deref())?;
    let copied = sqlite_restore(&args.from, &args.db)?;
    println!(
        "restored {} from {}: {}. Start owp serve on it.",
        args.db.display(),
        args.from.display(),
        summary(&copied)
    );
    Ok(())
}
