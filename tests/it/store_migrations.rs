//! Migrations are append-only, and a database made by any earlier commit of main starts on this
//! build: the migration set of every earlier commit (`fixtures/migration_states.txt`, their earlier
//! texts in `fixtures/earlier_migrations/`) whose upgrade is not a new database's is applied to a
//! new database, the store opens it, and its schema is the one a new database gets. A database
//! made by a newer owp is refused in one sentence, by `owp serve` itself.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha384};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, AssertSqlSafe, SqlSafeStr};

use reqwest::Method;

use crate::store_support::{fast_timing, fresh_pg_database};
use crate::support::{Server, TestDatabase};
use owp::store::Store;

const BACKENDS: [&str; 2] = ["sqlite", "postgres"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sha384(bytes: &[u8]) -> String {
    hex::encode(Sha384::digest(bytes))
}

/// `backend/file` → SHA-384 of each line of a list under `migrations/`.
fn list(name: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("migrations").join(name)).expect(name);
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (path, sum) = l.split_once(' ').expect("`path sha384`");
            (path.to_string(), sum.trim().to_string())
        })
        .collect()
}

/// This build's migration files: `backend/file` → text.
fn current_files() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for backend in BACKENDS {
        let dir = root().join("migrations").join(backend);
        for entry in std::fs::read_dir(&dir).expect("migrations dir") {
            let path = entry.expect("entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.insert(
                format!("{backend}/{name}"),
                std::fs::read(&path).expect("read"),
            );
        }
    }
    files
}

/// Every landed migration file is listed with its text's checksum, and no listed file was edited,
/// renamed or removed; a new file must be added to the list (which `.ci/lint` keeps append-only).
#[test]
fn landed_migrations_are_never_edited_or_renamed() {
    let files = current_files();
    let landed: BTreeMap<String, String> = list("landed.txt").into_iter().collect();
    for (path, sum) in &landed {
        let text = files.get(path).unwrap_or_else(|| {
            panic!("migrations/{path} landed and is gone: a landed migration is never renamed or removed")
        });
        assert_eq!(
            &sha384(text),
            sum,
            "migrations/{path} was edited after it landed: add a new migration instead"
        );
    }
    for path in files.keys() {
        assert!(
            landed.contains_key(path),
            "migrations/{path} is not in migrations/landed.txt: add `{path} {}` to it",
            sha384(&files[path])
        );
    }
    // Each earlier text is kept for the upgrade test, and is not a current text.
    for (path, sum) in list("earlier.txt") {
        let (backend, file) = path.split_once('/').unwrap();
        let stem = file.strip_suffix(".sql").unwrap();
        let kept = earlier_text(&files, backend, stem, &sum[..12]);
        assert_eq!(sha384(&kept), sum, "{path}");
        assert_ne!(landed.get(&path), Some(&sum), "{path} is landed as it is");
    }
}

/// The text of `backend`'s migration `stem` whose checksum begins with `prefix`: a current file
/// (the same text under this name or, renamed, under another), or one kept in the fixtures.
fn earlier_text(
    current: &BTreeMap<String, Vec<u8>>,
    backend: &str,
    stem: &str,
    prefix: &str,
) -> Vec<u8> {
    let same = |path: &String, text: &Vec<u8>| {
        path.starts_with(&format!("{backend}/")) && sha384(text).starts_with(prefix)
    };
    let here = format!("{backend}/{stem}.sql");
    match current.get(&here).filter(|text| same(&here, text)) {
        Some(text) => text.clone(),
        None => match current.iter().find(|(path, text)| same(path, text)) {
            Some((_, text)) => text.clone(),
            None => std::fs::read(fixture(backend, stem, prefix)).expect("an earlier text"),
        },
    }
}

fn fixture(backend: &str, stem: &str, prefix: &str) -> PathBuf {
    root()
        .join("tests/it/fixtures/earlier_migrations")
        .join(backend)
        .join(format!("{stem}.{prefix}.sql"))
}

/// The migrations of one earlier commit, as that build resolved them.
fn earlier_migrator(backend: &str, files: &[&str]) -> Migrator {
    let current = current_files();
    let mut migrations: Vec<Migration> = files
        .iter()
        .map(|entry| {
            let (file, prefix) = entry.split_once(':').expect("file:sha");
            let stem = file.strip_suffix(".sql").unwrap();
            let text = earlier_text(&current, backend, stem, prefix);
            let (version, description) = stem.split_once('_').unwrap();
            let no_tx = text.starts_with(b"-- no-transaction");
            Migration::new(
                version.parse().unwrap(),
                Cow::Owned(description.replace('_', " ")),
                MigrationType::Simple,
                AssertSqlSafe(String::from_utf8(text).unwrap()).into_sql_str(),
                no_tx,
            )
        })
        .collect();
    migrations.sort_by_key(|m| m.version);
    let mut migrator = Migrator::DEFAULT;
    migrator.migrations = Cow::Owned(migrations);
    migrator
}

/// A new database of `backend`: its URL (None where PostgreSQL is not configured). PostgreSQL's
/// are dropped when the test ends.
async fn new_database(backend: &str, dir: &Path, name: &str) -> Option<String> {
    if backend == "sqlite" {
        return Some(format!(
            "sqlite://{}?mode=rwc",
            dir.join(format!("{name}.db")).display()
        ));
    }
    let server = crate::services::postgres_url()?;
    let (url, name) = fresh_pg_database(&server).await;
    std::fs::write(dir.join(format!("pg-{name}")), "").expect("note the database");
    Some(url)
}

/// Drops the PostgreSQL databases [`new_database`] made in `dir`.
fn drop_databases(dir: &Path) {
    let Some(server) = crate::services::postgres_url() else {
        return;
    };
    for entry in std::fs::read_dir(dir).expect("dir") {
        let file = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if let Some(name) = file.strip_prefix("pg-") {
            crate::pg_scratch::drop_blocking(&server, name);
        }
    }
}

/// What a schema is made of, as comparable lines: columns, indexes, triggers, views, functions,
/// constraints and sequences (not the order of a table's columns).
async fn schema(pool: &owp::store::DbPool, backend: &str) -> BTreeSet<String> {
    let queries: &[&str] = if backend == "sqlite" {
        &[
            "SELECT m.name || '.' || p.name || ' ' || p.type || ' ' || p.\"notnull\" || ' ' || \
               COALESCE(p.dflt_value, '-') || ' ' || p.pk \
             FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
            "SELECT m.name || ' ' || f.\"from\" || ' -> ' || f.\"table\" || '.' || COALESCE(f.\"to\", '') \
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'",
            "SELECT type || ' ' || name || ' ' || sql FROM sqlite_master \
             WHERE type IN ('index', 'trigger', 'view') AND sql IS NOT NULL",
        ]
    } else {
        &[
            "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable \
               || ' ' || COALESCE(column_default, '-') \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'",
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()",
            "SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t \
             JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE NOT t.tgisinternal AND n.nspname = current_schema()",
            "SELECT p.proname || ' ' || p.prosrc FROM pg_proc p \
             JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema()",
            "SELECT CAST(conrelid::regclass AS TEXT) || ' ' || pg_get_constraintdef(c.oid) \
             FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
             WHERE n.nspname = current_schema()",
            "SELECT CAST(sequence_name AS TEXT) FROM information_schema.sequences \
             WHERE sequence_schema = current_schema()",
        ]
    };
    let mut lines = BTreeSet::new();
    for query in queries {
        let rows: Vec<(String,)> = sqlx::query_as(*query)
            .fetch_all(pool)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        for (line,) in rows {
            lines.insert(line.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    lines
}

/// The earlier states (`(index, line)` of `fixtures/migration_states.txt`) whose upgrade is
/// not a new database's: those holding an earlier text of a file, and those whose files are not
/// this build's first ones in order (a file landed out of order). Each of the others holds this
/// build's texts of its first files, so its upgrade applies the same statements, in the same
/// order, as a new database: the newest of them stands for all (it is the upgrade every later
/// commit makes, now that migrations are append-only).
fn upgrades_of_their_own<'a>(
    backend: &str,
    states: Vec<(usize, &'a str)>,
) -> Vec<(usize, &'a str)> {
    let current: Vec<(String, String)> = current_files()
        .into_iter()
        .filter_map(|(path, text)| {
            let file = path.strip_prefix(&format!("{backend}/"))?.to_string();
            Some((file, sha384(&text)[..12].to_string()))
        })
        .collect();
    let prefix = |line: &str| {
        let files: Vec<(String, String)> = line
            .split(' ')
            .skip(2)
            .map(|entry| {
                let (file, sum) = entry.split_once(':').expect("file:sha");
                (file.to_string(), sum.to_string())
            })
            .collect();
        current.starts_with(&files)
    };
    let (prefixes, mut own): (Vec<_>, Vec<_>) =
        states.into_iter().partition(|(_, line)| prefix(line));
    own.extend(prefixes.last());
    own
}

/// A database made by every earlier commit of main (those holding an earlier text of a landed
/// migration file, and those that landed one out of order, and the newest of the others: see
/// [`upgrades_of_their_own`]) starts on this build, and then has the schema of a new database.
/// Several earlier databases are upgraded at once.
async fn earlier_databases_start_with_todays_schema(backend: &'static str) {
    use futures_util::StreamExt;

    sqlx::any::install_default_drivers();
    let states = std::fs::read_to_string(root().join("tests/it/fixtures/migration_states.txt"))
        .expect("states");
    let dir = tempfile::tempdir().expect("dir");
    let Some(url) = new_database(backend, dir.path(), "new").await else {
        crate::services::missing("postgres", "earlier databases", "no PostgreSQL");
        return;
    };
    let store = Store::open(&url, fast_timing())
        .await
        .expect("a new database");
    let expected = schema(store.read_pool(), backend).await;
    store.close().await;
    let earlier: Vec<(usize, &str)> = states
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(' ').nth(1) == Some(backend))
        .enumerate()
        .collect();
    assert!(!earlier.is_empty(), "no earlier {backend} databases listed");
    let earlier = upgrades_of_their_own(backend, earlier);
    let (dir_path, expected) = (dir.path(), &expected);
    let failures: Vec<String> = futures_util::stream::iter(earlier)
        .map(|(i, line)| async move {
            let mut words = line.split(' ');
            let commit = words.next().unwrap();
            words.next();
            let files: Vec<&str> = words.collect();
            let url = new_database(backend, dir_path, &format!("earlier{i}"))
                .await
                .unwrap();
            let pool = AnyPool::connect(&url).await.expect("connect");
            earlier_migrator(backend, &files)
                .run(&pool)
                .await
                .unwrap_or_else(|e| panic!("{backend} {commit}: its migrations: {e}"));
            pool.close().await;
            let store = match Store::open(&url, fast_timing()).await {
                Ok(store) => store,
                Err(e) => return Some(format!("{backend}: a database of {commit} starts: {e}")),
            };
            let got = schema(store.read_pool(), backend).await;
            store.close().await;
            let missing: Vec<_> = expected.difference(&got).collect();
            let extra: Vec<_> = got.difference(expected).collect();
            // Opening it again changes nothing and is not refused.
            Store::open(&url, fast_timing())
                .await
                .unwrap_or_else(|e| panic!("{backend}: {commit} a second start: {e}"))
                .close()
                .await;
            (!missing.is_empty() || !extra.is_empty()).then(|| {
                format!(
                    "{backend}: the database of {commit} after the upgrade differs from a new \
                     one:\nmissing: {missing:#?}\nextra: {extra:#?}"
                )
            })
        })
        .buffer_unordered(4)
        .filter_map(|failure| async move { failure })
        .collect()
        .await;
    drop_databases(dir.path());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn databases_of_earlier_commits_start_with_todays_schema_sqlite() {
    earlier_databases_start_with_todays_schema("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn databases_of_earlier_commits_start_with_todays_schema_postgres() {
    earlier_databases_start_with_todays_schema("postgres").await;
}

/// PostgreSQL keeps the schema's numbers as BIGINT, as SQLite's INTEGER is 64 bits: a statement
/// the compiler checks (`sql/`) binds `i64` for a column on both backends. The columns still
/// INTEGER are counts and flags of the claim's hot tables that no fixed statement binds; a new
/// one fails here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_numbers_are_bigint_as_on_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let Some(url) = new_database("postgres", dir.path(), "numbers").await else {
        crate::services::missing("postgres", "column types", "no PostgreSQL");
        return;
    };
    let store = Store::open(&url, fast_timing())
        .await
        .expect("a new database");
    let integers: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name || '.' || column_name FROM information_schema.columns \
         WHERE table_schema = current_schema() AND data_type = 'integer' \
         ORDER BY table_name, column_name",
    )
    .fetch_all(store.read_pool())
    .await
    .expect("columns");
    store.close().await;
    let integers: Vec<String> = integers.into_iter().map(|(c,)| c).collect();
    assert_eq!(
        integers,
        ["task_paths.exact", "task_paths.held", "tasks.waiting"],
        "a number PostgreSQL holds as INTEGER: make it BIGINT, as its SQLite twin is 64 bits"
    );
    drop_databases(dir.path());
}

/// The oldest database of each backend, as an operator meets it: `owp serve` starts on it and the
/// pool works (its first writes append to the audit log, whose ids came from an identity column
/// then).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owp_serve_starts_on_the_oldest_database_and_serves() {
    sqlx::any::install_default_drivers();
    let states = std::fs::read_to_string(root().join("tests/it/fixtures/migration_states.txt"))
        .expect("states");
    let dir = tempfile::tempdir().expect("dir");
    for backend in BACKENDS {
        let Some(url) = new_database(backend, dir.path(), "oldest").await else {
            crate::services::missing("postgres", "the oldest database", "no PostgreSQL");
            continue;
        };
        let oldest = states
            .lines()
            .find(|l| !l.starts_with('#') && l.split(' ').nth(1) == Some(backend))
            .expect("a state");
        let files: Vec<&str> = oldest.split(' ').skip(2).collect();
        let pool = AnyPool::connect(&url).await.expect("connect");
        earlier_migrator(backend, &files)
            .run(&pool)
            .await
            .expect("the oldest schema");
        pool.close().await;
        let database = match crate::services::postgres_url().filter(|_| backend == "postgres") {
            Some(server_url) => {
                let name = url.rsplit('/').next().unwrap().split('?').next().unwrap();
                TestDatabase::Postgres {
                    url: url.clone(),
                    server_url,
                    name: name.to_string(),
                }
            }
            None => TestDatabase::Sqlite(dir.path().join("oldest.db")),
        };
        let server = Server::start_on(database, "an-upgrade-admin-token-0123456789", &[]).await;
        server.req(Method::GET, "/readyz").send().await.expect(200);
        server.upsert_repo("acme/old", 3, false).await;
        server
            .import_ids(
                "acme/old",
                serde_json::json!([{"title": "After the upgrade"}]),
            )
            .await;
        let (_, token) = server.register_worker("upgraded", &[], 5, 2).await;
        let (lease, _, _) = server.claim_ok(&token).await;
        server.ack(&token, &lease).await.expect(200);
    }
    drop_databases(dir.path());
}

/// A landed migration whose recorded checksum is neither this build's nor a known earlier one is
/// refused by its number, once, and the record is left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_text_of_a_landed_migration_is_refused() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().expect("dir");
    for backend in BACKENDS {
        let Some(url) = new_database(backend, dir.path(), "unknown").await else {
            crate::services::missing("postgres", "an unknown migration text", "no PostgreSQL");
            continue;
        };
        let store = Store::open(&url, fast_timing()).await.expect("new");
        sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 8")
            .bind(vec![1u8; 48])
            .execute(store.read_pool())
            .await
            .expect("change the record");
        store.close().await;
        let refused = Store::open(&url, fast_timing())
            .await
            .err()
            .expect("refused");
        let said = format!("{:#}", anyhow::Error::new(refused));
        assert_eq!(
            said.matches("migration 8 was previously applied but has been modified")
                .count(),
            1,
            "{backend}: {said}"
        );
        let pool = AnyPool::connect(&url).await.expect("connect");
        let (kept,): (Vec<u8>,) =
            sqlx::query_as("SELECT checksum FROM _sqlx_migrations WHERE version = 8")
                .fetch_one(&pool)
                .await
                .expect("the record");
        assert_eq!(kept, vec![1u8; 48], "{backend}: left as it was");
        pool.close().await;
    }
    drop_databases(dir.path());
}

/// A database a newer owp migrated further is refused by `owp serve` in one sentence, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_a_newer_owp_is_refused_in_words() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().expect("dir");
    for backend in BACKENDS {
        let Some(url) = new_database(backend, dir.path(), "newer").await else {
            crate::services::missing("postgres", "a newer database", "no PostgreSQL");
            continue;
        };
        let store = Store::open(&url, fast_timing()).await.expect("new");
        let known: i64 = list("landed.txt")
            .iter()
            .filter(|(p, _)| p.starts_with(backend))
            .map(|(p, _)| p.split('/').nth(1).unwrap()[..4].parse::<i64>().unwrap())
            .max()
            .unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
               execution_time) VALUES (9001, 'from the future', TRUE, $1, 1)",
        )
        .bind(vec![7u8; 48])
        .execute(store.read_pool())
        .await
        .expect("a newer migration");
        drop(store);
        let mut serve = Command::new(env!("CARGO_BIN_EXE_owp"));
        serve
            .current_dir(dir.path())
            .arg("serve")
            .env("OWP_ADMIN_TOKEN", "a-token-of-some-length-0123456789");
        serve.args(["--port", "0"]);
        match backend {
            "sqlite" => serve.args(["--db", &dir.path().join("newer.db").display().to_string()]),
            _ => serve.args(["--database-url", &url]),
        };
        let out = serve.output().expect("owp serve");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{backend}: refused: {stderr}");
        let sentence =
            format!("the database was made by a newer owp: schema 9001, this build knows {known}");
        assert_eq!(
            stderr.matches(&sentence).count(),
            1,
            "{backend}: said once: {stderr}"
        );
        assert!(!stderr.contains("previously applied"), "{stderr}");
    }
    drop_databases(dir.path());
}
