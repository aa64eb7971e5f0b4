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
