//! Scratch databases for the tests on PostgreSQL (`OWP_TEST_DATABASE_URL`), one per test.

use sha2::{Digest, Sha256};
use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// Creates an empty database named `<prefix>_<random>` on the PostgreSQL server of `server_url`
/// and returns its name (for a test that builds an older schema itself).
pub async fn create(server_url: &str, prefix: &str) -> String {
    create_from(server_url, prefix, false).await
}

/// Creates a database named `<prefix>_<random>` holding this build's schema, as a store opened
/// on an empty one would leave it (every migration applied and recorded), and returns its name.
/// It is a copy of a template the first test of a run builds (see [`template`]): a copy costs the
/// server a fraction of running the migrations again for each of hundreds of tests.
pub async fn create_migrated(server_url: &str, prefix: &str) -> String {
    create_from(server_url, prefix, true).await
}

/// Its commits do not wait for the disk (`synchronous_commit = off`): the tests check behaviour,
/// not durability, and on a slow disk a commit's log flush (seen: 1.4 s) would only shift the
/// timing of the time-based tests. Its prepared statements are planned once per connection
/// (`plan_cache_mode = force_generic_plan`) rather than for each of their first five runs: a
/// plan never changes what a statement answers, and the planning of a test's short-lived
/// connections was a tenth of the server's CPU over the API tests (docs/performance.md). (A
/// database's settings are its own, never copied from its template.) One connection finds the
/// template, or builds it, and makes the copy: a connection costs the server a process of its
/// own, and a run makes hundreds of these databases.
async fn create_from(server_url: &str, prefix: &str, migrated: bool) -> String {
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut conn = connect(server_url).await;
    let template = match migrated {
        true => Some(template(&mut conn, server_url).await),
        false => None,
    };
    for sql in [
        create_database(&name, template.as_deref()),
        format!("ALTER DATABASE {name} SET synchronous_commit = off"),
        format!("ALTER DATABASE {name} SET plan_cache_mode = force_generic_plan"),
    ] {
        run(&mut conn, &sql).await;
    }
    let _ = conn.close().await;
    name
}

/// The template database of this build's migrations on the server of `server_url`, built once
/// per server and schema: its name carries a digest of every migration's version and checksum,
/// so a changed migration builds a new one. Test processes that start together wait for one of
/// them to build it (an advisory lock); it is migrated under a name of its own and renamed when
/// whole, so a template that exists is complete (found without the lock), and it takes no
/// connections (a connected template cannot be copied).
async fn template(conn: &mut PgConnection, server_url: &str) -> String {
    let migrator = sqlx::migrate!("migrations/postgres");
    // A template in the scratch tablespace is one of its own (`_m`): the copies stay there.
    let name = match tablespace() {
        Some(_) => format!("owp_template_{}_m", digest(&migrator)),
        None => format!("owp_template_{}", digest(&migrator)),
    };
    if database_exists(conn, &name).await {
        return name;
    }
    run(conn, "SELECT pg_advisory_lock(7143001)").await;
    if !database_exists(conn, &name).await {
        let building = format!("{name}_building");
        // What a run killed while building left behind.
        run(conn, &format!("DROP DATABASE IF EXISTS {building}")).await;
        run(conn, &create_database(&building, None)).await;
        sqlx::any::install_default_drivers();
        let url = owp::store::database_url::url_with_database(server_url, &building);
        let mut target = sqlx::AnyConnection::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("OWP_TEST_DATABASE_URL: cannot connect to {building}: {e}"));
        migrator
            .run(&mut target)
            .await
            .unwrap_or_else(|e| panic!("the migrations on {building} failed: {e}"));
        let _ = target.close().await;
        run(conn, &format!("ALTER DATABASE {building} RENAME TO {name}")).await;
        run(
            conn,
            &format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"),
        )
        .await;
        // Templates of earlier schemas are of no use now (a drop that fails is left alone).
        let earlier: Vec<String> = sqlx::query_scalar(
            "SELECT datname FROM pg_database WHERE datname LIKE 'owp\\_template\\_%' \
             AND datname NOT LIKE '%\\_building' AND datname <> $1",
        )
        .bind(&name)
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_default();
        for old in earlier {
            let sql = format!("DROP DATABASE IF EXISTS {old}");
            let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *conn)
                .await;
        }
    }
    run(conn, "SELECT pg_advisory_unlock(7143001)").await;
    name
}

async fn database_exists(conn: &mut PgConnection, name: &str) -> bool {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("OWP_TEST_DATABASE_URL: the template's lookup failed: {e}"));
    found.is_some()
}

/// The statement creating database `name`, a copy of `template` or empty, in the scratch
/// tablespace when there is one. The names are made here from a UUID and a digest, never from
/// input (the tablespace's is checked by [`tablespace`]).
fn create_database(name: &str, template: Option<&str>) -> String {
    match (template, tablespace()) {
        // A copy of a template in memory: its files copied as they are, not written to the
        // server's log (a database's worth of log per test, on the disk).
        (Some(template), Some(space)) => format!(
            "CREATE DATABASE {name} TEMPLATE {template} TABLESPACE {space} STRATEGY FILE_COPY"
        ),
        (Some(template), None) => format!("CREATE DATABASE {name} TEMPLATE {template}"),
        (None, Some(space)) => format!("CREATE DATABASE {name} TABLESPACE {space}"),
        (None, None) => format!("CREATE DATABASE {name}"),
    }
}

/// Environment variable naming a tablespace of the test server for the scratch databases and
/// their template: `.ci/run` makes one in memory (`/dev/shm`), since a database per test written
/// and removed on the disk costs the server more than most tests do.
pub const TABLESPACE_VAR: &str = "OWP_TEST_PG_TABLESPACE";

/// The scratch tablespace [`TABLESPACE_VAR`] names, if any (a name of letters, digits and `_`,
/// since it is written into the statements).
fn tablespace() -> Option<String> {
    let space = std::env::var(TABLESPACE_VAR).ok()?;
    let space = space.trim();
    if space.is_empty() {
        return None;
    }
    assert!(
        space.len() <= 63
            && space
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "{TABLESPACE_VAR}: {space:?} is not a tablespace name of lower-case letters, digits and _"
    );
    Some(space.to_string())
}

/// 20 hex digits of a digest of every migration's version and checksum: the name of a template
/// of `migrator`'s schema (here and in `sqlite_scratch`), which a changed migration changes.
pub fn digest(migrator: &sqlx::migrate::Migrator) -> String {
    let mut digest = Sha256::new();
    for m in migrator.iter() {
        digest.update(m.version.to_le_bytes());
        digest.update(&m.checksum);
    }
    hex::encode(digest.finalize())[..20].to_string()
}

/// How long a connection to the server waits for a free slot (`too many clients`: the
/// replicas of the tests running beside this one hold them all).
const SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

async fn connect(server_url: &str) -> PgConnection {
    connect_when_free(server_url)
        .await
        .unwrap_or_else(|e| panic!("OWP_TEST_DATABASE_URL: cannot connect: {e}"))
}

/// A connection to the server, waiting up to [`SLOT_WAIT`] while it is full.
async fn connect_when_free(server_url: &str) -> Result<PgConnection, sqlx::Error> {
    let deadline = std::time::Instant::now() + SLOT_WAIT;
    loop {
        match PgConnection::connect(server_url).await {
            Err(e) if too_many_clients(&e) && std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            connected => return connected,
        }
    }
}

/// PostgreSQL's `too_many_connections` (SQLSTATE 53300).
fn too_many_clients(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == "53300")
}

async fn run(conn: &mut PgConnection, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("OWP_TEST_DATABASE_URL: `{sql}` failed: {e}"));
}

/// How long dropping a scratch database may take before the test gives up on it.
const DROP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Drops the scratch database `name` (made by [`create`]) on the server of `server_url`, with
/// `WITH (FORCE)`, which ends the connections a service still holds. For `Drop` impls, which run
/// inside a test's runtime: the work runs on a thread with a runtime of its own. A service on
/// another thread may reconnect between the forced end of its connections and the drop, so a
/// refused drop is tried again; the whole is bounded by [`DROP_TIMEOUT`]. A database that could
/// not be dropped is reported on stderr, never a panic (a `Drop` may run while unwinding).
pub fn drop_blocking(server_url: &str, name: &str) {
    let (server_url, owned_name) = (server_url.to_string(), name.to_string());
    let dropped = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            tokio::time::timeout(DROP_TIMEOUT, drop_database(&server_url, &owned_name))
                .await
                .map_err(|_| format!("no answer in {DROP_TIMEOUT:?}"))?
        })
    })
    .join();
    match dropped {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("the scratch database {name} was not dropped: {e}"),
        Err(_) => eprintln!("the scratch database {name} was not dropped"),
    }
}

async fn drop_database(server_url: &str, name: &str) -> Result<(), String> {
    let mut conn = connect_when_free(server_url)
        .await
        .map_err(|e| e.to_string())?;
    // The name was made from a UUID by `create`.
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    let mut last = String::new();
    for _ in 0..10 {
        match sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .execute(&mut conn)
            .await
        {
            Ok(_) => {
                let _ = conn.close().await;
                return Ok(());
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let _ = conn.close().await;
    Err(last)
}
