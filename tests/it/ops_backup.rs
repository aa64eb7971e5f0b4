//! The README's "Backup and restore" recipe, run as written against a serving pool: back it up
//! while workers heartbeat (SQLite: `owp backup`; PostgreSQL: `pg_dump`), wipe the database, restore
//! it (`owp restore`; `pg_restore` into an empty database), start `owp serve` again. The same
//! tasks, leases, workers, persons and GitHub state come back, and new events continue the log's
//! ids. The times of the backup and the restore are printed (`OWP_BACKUP_TASKS` sizes the pool).

#![cfg(unix)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::AnyPool;

use crate::pg_scratch;
use crate::support::{Server, TestDatabase};

const TOKEN: &str = "backup-test-admin-token-0123456789";

/// Runs a command of the recipe, panicking with its output when it fails; returns its stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn owp() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_owp"));
    for (key, _) in std::env::vars() {
        if key.starts_with("OWP_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// What must come back: tasks (status, holder), leases, workers, repositories.
fn pool_of(state: &Value) -> Value {
    let pick = |list: &Value, keys: &[&str]| -> Vec<Value> {
        let mut rows: Vec<Value> = list
            .as_array()
            .expect("a list")
            .iter()
            .map(|row| keys.iter().map(|k| row[*k].clone()).collect())
            .collect();
        rows.sort_by_key(|r| r.to_string());
        rows
    };
    json!({
        "tasks": pick(&state["tasks"], &["task_id", "status", "worker_id", "lease_id", "title"]),
        "workers": pick(&state["workers"], &["worker_id", "name", "capacity_points"]),
        "repos": pick(&state["repos"], &["repo", "max_open_prs"]),
    })
}

/// The persons and the GitHub state, as rows: kept by the App, written here as it would.
const GITHUB_ROWS: [&str; 3] = [
    "INSERT INTO gh_installations (id, account, suspended, blocked_until, created_at, updated_at) \
     VALUES (77, 'acme', 0, 0, 1, 2)",
    "INSERT INTO gh_accounts (account_id, login, created_at, read_at) VALUES (9001, 'mona', 3, 4)",
    "INSERT INTO gh_repos (repo, github_id, installation_id, joined_at) \
     VALUES ('acme/elsewhere', 555, 77, 5)",
];

async fn github_state(url: &str) -> Vec<(String, i64)> {
    let pool = AnyPool::connect(url).await.expect("connect");
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT login, account_id FROM gh_accounts UNION ALL \
         SELECT account, id FROM gh_installations UNION ALL \
         SELECT repo, installation_id FROM gh_repos ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("GitHub state");
    pool.close().await;
    rows
}

async fn event_ids(url: &str) -> Vec<i64> {
    let pool = AnyPool::connect(url).await.expect("connect");
    let ids: Vec<(i64,)> = sqlx::query_as("SELECT id FROM events ORDER BY id")
        .fetch_all(&pool)
        .await
        .expect("events");
    pool.close().await;
    ids.into_iter().map(|(id,)| id).collect()
}

/// A serving pool of `tasks` tasks in `repos`, two workers, one of them holding an acknowledged
/// lease; returns that worker's token.
async fn fill(server: &Server, tasks: usize) -> String {
    server.upsert_repo("acme/backup", 5, false).await;
    for chunk in (0..tasks).collect::<Vec<_>>().chunks(500) {
        let list: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"title": format!("Task {i}"), "estimate_points": 1}))
            .collect();
        server.import_ids("acme/backup", Value::Array(list)).await;
    }
    let (_, token) = server.register_worker("kept", &[], 5, 3).await;
    server.register_worker("idle", &[], 5, 3).await;
    let (lease, _, _) = server.claim_ok(&token).await;
    server.ack(&token, &lease).await.expect(200);
    token
}

/// `owp serve` on `database` with a pool in it ([`fill`]) and GitHub state: the server, the busy
/// worker's token, and what must come back.
async fn serving_pool(
    database: &TestDatabase,
    url: &str,
) -> (Server, String, Value, Vec<(String, i64)>) {
    let server = Server::start_on(database.clone(), TOKEN, &[]).await;
    let token = fill(&server, size()).await;
    let pool = AnyPool::connect(url).await.expect("connect");
    for row in GITHUB_ROWS {
        sqlx::query(row).execute(&pool).await.expect(row);
    }
    pool.close().await;
    let before = pool_of(&server.state().await);
    let github = github_state(url).await;
    (server, token, before, github)
}

/// Heartbeats from `token` until told to stop: the pool serves during the backup.
fn keep_busy(server: &Server, token: &str) -> tokio::sync::oneshot::Sender<()> {
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let (client, url, token) = (
        server.client.clone(),
        server.url("/v1/workers/heartbeat"),
        token.to_string(),
    );
    tokio::spawn(async move {
        while stopped.try_recv().is_err() {
            let _ = client
                .post(&url)
                .bearer_auth(&token)
                .json(&json!({}))
                .send()
                .await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    stop
}

/// The commands this test runs are the README's, word for word.
#[test]
fn the_readme_writes_the_recipe_this_test_runs() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for line in [
        "owp backup --db /data/owp.db --to ",
        "owp restore --from /data/owp-backup.db --db /data/owp.db",
        "pg_dump --format=custom --file=owp.dump \"$OWP_DATABASE_URL\"",
        "-c 'DROP DATABASE owp WITH (FORCE)' -c 'CREATE DATABASE owp'",
        "pg_restore --no-owner --dbname=\"$OWP_DATABASE_URL\" owp.dump",
    ] {
        assert!(readme.contains(line), "README.md: {line}");
    }
}

fn size() -> usize {
    std::env::var("OWP_BACKUP_TASKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backup_of_a_serving_pool_restores_it() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("owp.db");
    let url = format!("sqlite://{}", db.display());
    let database = TestDatabase::Sqlite(db.clone());
    let (server, token, before, github) = serving_pool(&database, &url).await;
    // The database and its -wal and -shm files are the owner's alone, like env.local.
    for suffix in ["", "-wal", "-shm"] {
        owner_only(Path::new(&format!("{}{suffix}", db.display())));
    }

    // Back up while it serves.
    let busy = keep_busy(&server, &token);
    let backup = dir.path().join("owp-backup.db");
    let started = Instant::now();
    let said = run(owp()
        .arg("backup")
        .arg("--db")
        .arg(&db)
        .arg("--to")
        .arg(&backup));
    let backup_took = started.elapsed();
    let _ = busy.send(());
    assert!(said.contains("env.local"), "{said}");
    let ids = event_ids(&format!("sqlite://{}?mode=ro", backup.display())).await;
    drop(server);

    // Wipe, restore, start again.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let started = Instant::now();
    run(owp()
        .arg("restore")
        .arg("--from")
        .arg(&backup)
        .arg("--db")
        .arg(&db));
    let restore_took = started.elapsed();
    owner_only(&backup);
    owner_only(&db);
    eprintln!(
        "sqlite, {} tasks, {} events, {:.1} MB: backup {:.2} s, restore {:.2} s",
        size(),
        ids.len(),
        std::fs::metadata(&backup).unwrap().len() as f64 / 1e6,
        backup_took.as_secs_f64(),
        restore_took.as_secs_f64()
    );
    // A restore never overwrites a database.
    let again = owp()
        .arg("restore")
        .arg("--from")
        .arg(&backup)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    check_restored(database, &url, &before, &github, &ids).await;
}

fn owner_only(file: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "{} is {:o}",
        file.display(),
        mode & 0o777
    );
}

/// The restored pool serves what it held, and new events continue its log.
async fn check_restored(
    database: TestDatabase,
    url: &str,
    before: &Value,
    github: &[(String, i64)],
    ids: &[i64],
) {
    let server = Server::start_on(database, TOKEN, &[]).await;
    assert_eq!(&pool_of(&server.state().await), before, "the same pool");
    assert_eq!(github_state(url).await, github, "the same GitHub state");
    let (_, token) = server.register_worker("after", &[], 5, 3).await;
    let (lease, _, _) = server.claim_ok(&token).await;
    server.ack(&token, &lease).await.expect(200);
    let after = event_ids(url).await;
    assert_eq!(&after[..ids.len()], ids, "the log is kept");
    let last = *ids.last().expect("events");
    assert!(
        after.len() > ids.len() && after[ids.len()..].iter().all(|id| *id > last),
        "new events continue the ids after {last}: {:?}",
        &after[ids.len()..]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backup_of_a_serving_pool_restores_it() {
    let Some(server_url) = crate::services::postgres_url() else {
        crate::services::missing("postgres", "pg_dump backup", "no PostgreSQL");
        return;
    };
    for tool in ["pg_dump", "pg_restore", "psql"] {
        if Command::new(tool).arg("--version").output().is_err() {
            crate::services::missing("postgres", "pg_dump backup", &format!("no {tool}"));
            return;
        }
    }
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().expect("dir");
    let name = pg_scratch::create(&server_url, "owp_backup").await;
    let url = owp::store::database_url::url_with_database(&server_url, &name);
    let database = TestDatabase::Postgres {
        url: url.clone(),
        server_url: server_url.clone(),
        name: name.clone(),
    };
    let (server, token, before, github) = serving_pool(&database, &url).await;

    let busy = keep_busy(&server, &token);
    let dump = dir.path().join("owp.dump");
    let started = Instant::now();
    run(Command::new("pg_dump")
        .arg("--format=custom")
        .arg(format!("--file={}", dump.display()))
        .arg(&url));
    let backup_took = started.elapsed();
    let _ = busy.send(());
    drop(server);
    let ids = restore_postgres(&server_url, &name, &url, &dump, backup_took).await;
    check_restored(database, &url, &before, &github, &ids).await;
    pg_scratch::drop_blocking(&server_url, &name);
}

/// Wipes the database `name` and restores the dump into it, empty, as the README says.
async fn restore_postgres(
    server_url: &str,
    name: &str,
    url: &str,
    dump: &Path,
    backup_took: Duration,
) -> Vec<i64> {
    run(Command::new("psql")
        .arg(server_url)
        .arg("-c")
        .arg(format!("DROP DATABASE {name} WITH (FORCE)"))
        .arg("-c")
        .arg(format!("CREATE DATABASE {name}")));
    let started = Instant::now();
    run(Command::new("pg_restore")
        .arg("--no-owner")
        .arg(format!("--dbname={url}"))
        .arg(dump));
    let restore_took = started.elapsed();
    let ids = event_ids(url).await;
    eprintln!(
        "postgres, {} tasks, {} events, dump {:.1} MB: pg_dump {:.2} s, pg_restore {:.2} s",
        size(),
        ids.len(),
        std::fs::metadata(dump).unwrap().len() as f64 / 1e6,
        backup_took.as_secs_f64(),
        restore_took.as_secs_f64()
    );
    ids
}
