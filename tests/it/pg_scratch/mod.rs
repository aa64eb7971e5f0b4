//! Scratch databases for the tests on PostgreSQL (`OWP_TEST_DATABASE_URL`), one per test.

/// Creates an empty database named `<prefix>_<random>` on the PostgreSQL server of `server_url`
/// and returns its name.
///
/// Its commits do not wait for the disk (`synchronous_commit = off`): the tests check behaviour,
/// not durability, and on a slow disk a commit's log flush (seen: 1.4 s) would only shift the
/// timing of the time-based tests.
pub async fn create(server_url: &str, prefix: &str) -> String {
    use sqlx::Connection;
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::postgres::PgConnection::connect(server_url)
        .await
        .unwrap_or_else(|e| panic!("OWP_TEST_DATABASE_URL: cannot connect: {e}"));
    // The name is made here from a UUID, never from input.
    for sql in [
        format!("CREATE DATABASE {name}"),
        format!("ALTER DATABASE {name} SET synchronous_commit = off"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("OWP_TEST_DATABASE_URL: `{sql}` failed: {e}"));
    }
    let _ = conn.close().await;
    name
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
    use sqlx::Connection;
    let mut conn = sqlx::postgres::PgConnection::connect(server_url)
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
